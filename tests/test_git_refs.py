"""Objects the store names in git beyond the working tree (other branches, tags, remote-tracking
refs, stash entries, the index), and store working files committed by mistake. Real git
repositories throughout."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import Repo, git, run_mreg, sha256_of

from mreg import Registry, gitrefs
from mreg.errors import NotFound

STORE = ".mreg"


def _found(top: Path, store: str = STORE) -> set[str]:
    digests, warnings = gitrefs.referenced_digests_in_git(top, store)
    assert warnings == []
    return digests


def _version_file(repo: Repo, model: str, version: int) -> Path:
    return repo.top / STORE / "models" / model / "versions" / f"{version}.toml"


def test_a_version_committed_on_another_branch(isolated: Path) -> None:
    repo = Repo(isolated)
    repo.register("fraud", "on main")
    repo.commit("v1 on main")
    repo.git("checkout", "-q", "-b", "experiment")
    assert repo.register("fraud", "only on experiment") == 2
    repo.commit("v2 on experiment")
    repo.git("checkout", "-q", "main")
    assert not _version_file(repo, "fraud", 2).exists()

    assert _found(isolated) == {sha256_of("on main"), sha256_of("only on experiment")}


@pytest.mark.parametrize("annotated", [False, True], ids=["lightweight", "annotated"])
def test_a_version_kept_only_by_a_tag(isolated: Path, annotated: bool) -> None:
    repo = Repo(isolated)
    repo.git("checkout", "-q", "-b", "release")
    repo.register("fraud", "tagged")
    repo.commit("v1")
    repo.git("tag", *(["-a", "-m", "release 1"] if annotated else []), "r1")
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "release")

    assert _found(isolated) == {sha256_of("tagged")}


def test_every_stash_entry_and_its_index_and_untracked_parts(isolated: Path) -> None:
    repo = Repo(isolated)
    repo.register("fraud", "committed")
    repo.commit("v1")
    repo.register("fraud", "stashed first, untracked")
    repo.git("stash", "push", "-q", "-u")
    assert repo.register("fraud", "stashed second, staged") == 2
    repo.git("add", "-A")
    repo.git("stash", "push", "-q")
    assert not _version_file(repo, "fraud", 2).exists()
    assert len(repo.git("stash", "list").splitlines()) == 2

    assert _found(isolated) == {
        sha256_of("committed"),
        sha256_of("stashed first, untracked"),
        sha256_of("stashed second, staged"),
    }


def test_a_remote_tracking_ref(isolated: Path) -> None:
    origin = Repo(isolated / "origin")
    origin.register("fraud", "v1")
    origin.commit("v1")
    clone = isolated / "clone"
    git("clone", "-q", str(origin.top), str(clone), cwd=isolated)
    origin.git("checkout", "-q", "-b", "experiment")
    origin.register("fraud", "pushed by a teammate")
    origin.commit("v2")
    git("fetch", "-q", "origin", cwd=clone)
    assert "experiment" not in git("branch", cwd=clone)

    assert _found(clone) == {sha256_of("v1"), sha256_of("pushed by a teammate")}


def test_the_index_staged_but_not_committed(isolated: Path) -> None:
    repo = Repo(isolated)
    repo.register("fraud", "staged")
    repo.git("add", "-A")
    repo.registry.delete_model_version("fraud", 1)  # a tombstone in the working tree only

    assert _found(isolated) == {sha256_of("staged")}


def test_an_uncommitted_delete_still_names_the_committed_version(isolated: Path) -> None:
    # `versions delete` then `git checkout .mreg` brings the version back: its object must stay.
    repo = Repo(isolated)
    repo.register("fraud", "deleted, not yet committed")
    repo.commit("v1")
    repo.registry.delete_model_version("fraud", 1)
    assert "DELETED" in _version_file(repo, "fraud", 1).read_text()

    assert _found(isolated) == {sha256_of("deleted, not yet committed")}


def test_for_a_store_folder(isolated: Path) -> None:
    repo = Repo(isolated / "project")
    repo.register("fraud", "v1")
    repo.commit("v1")
    assert gitrefs.referenced_digests_for_store(repo.registry.root) == ({sha256_of("v1")}, [])
    outside = Registry.init(isolated / "elsewhere")
    assert gitrefs.referenced_digests_for_store(outside.root) == (set(), [])


def test_a_directory_artifact_names_each_file_and_its_manifest(isolated: Path) -> None:
    repo = Repo(isolated)
    folder = isolated / "artifact"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.json").write_text("{}\n")
    (folder / "sub" / "b.txt").write_text("b\n")
    mv = repo.registry.create_model_version("bert", folder)
    repo.commit("folder")
    assert mv.artifact.digest is not None

    assert _found(isolated) == {mv.artifact.digest, sha256_of("{}\n"), sha256_of("b\n")}


def test_a_store_in_a_subfolder(isolated: Path) -> None:
    git("init", "-q", "-b", "main", cwd=isolated)
    registry = Registry.init(isolated / "ml" / "registry")
    source = isolated / "model.bin"
    source.write_text("deep")
    registry.create_model_version("fraud", source)
    git("add", "-A", cwd=isolated)
    git("commit", "-q", "-m", "v1", cwd=isolated)

    assert _found(isolated, "ml/registry/.mreg") == {sha256_of("deep")}
    assert _found(isolated, STORE) == set()


def test_uri_artifacts_and_tombstones_name_no_object(isolated: Path) -> None:
    repo = Repo(isolated)
    repo.registry.create_model_version("remote", "s3://bucket/model.bin")
    repo.register("fraud", "deleted")
    repo.registry.delete_model_version("fraud", 1)
    repo.commit("a uri and a tombstone")

    assert _found(isolated) == set()


def test_outside_git_nothing_and_no_warning(isolated: Path) -> None:
    Registry.init(isolated)
    assert gitrefs.referenced_digests_in_git(isolated, STORE) == (set(), [])


def test_without_git_a_warning(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Repo(isolated)
    empty = isolated / "no-git-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    digests, warnings = gitrefs.referenced_digests_in_git(isolated, STORE)
    assert digests == set()
    assert len(warnings) == 1
    assert "git is not installed" in warnings[0]


def _commit_raw_version(repo: Repo, path: str, data: bytes) -> None:
    target = repo.top / STORE / "models" / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    repo.commit(f"plant {path}")


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"[artifact\nkind = ", "not a readable version file"),
        (b"\xff\xfe\x00", "not a readable version file"),
        (b"a = [" * 100_000, "not a readable version file"),
        (b"x = '" + b"y" * 2_000_000 + b"'\n", "over the"),
        (b'version = 9\n[artifact]\nkind = "file"\ndigest = "sha256:../../etc"\n', "is not a sha256 digest"),
        (b"version = 9\nartifact = 3\n", "no [artifact] table"),
    ],
    ids=["truncated", "not-utf8", "deeply-nested", "two-megabytes", "bad-digest", "artifact-not-a-table"],
)
def test_a_bad_version_file_in_a_branch_is_skipped_with_a_warning(
    isolated: Path, data: bytes, says: str
) -> None:
    repo = Repo(isolated)
    repo.register("fraud", "good")
    repo.commit("good")
    repo.git("checkout", "-q", "-b", "hostile")
    _commit_raw_version(repo, "fraud/versions/9.toml", data)
    repo.git("checkout", "-q", "main")

    digests, warnings = gitrefs.referenced_digests_in_git(isolated, STORE)

    assert digests == {sha256_of("good")}
    assert len(warnings) == 1
    assert ".mreg/models/fraud/versions/9.toml" in warnings[0]
    assert says in warnings[0]


def test_files_that_are_no_version_file_are_not_read(isolated: Path) -> None:
    repo = Repo(isolated)
    repo.register("fraud", "good")
    _commit_raw_version(repo, "fraud/versions/notes.txt", b"not toml at all [")
    _commit_raw_version(repo, "fraud/versions/.9.toml.1a2b3c4d.tmp", b"[")
    _commit_raw_version(repo, "fraud/model-extra/versions/1.toml", b"[")
    assert _found(isolated) == {sha256_of("good")}


def test_warnings_are_bounded(isolated: Path) -> None:
    repo = Repo(isolated)
    for n in range(1, 31):
        target = isolated / STORE / "models" / f"m{n}" / "versions" / "1.toml"
        target.parent.mkdir(parents=True)
        target.write_bytes(f"[{n}".encode())  # thirty distinct blobs
    repo.commit("thirty broken files")
    _, warnings = gitrefs.referenced_digests_in_git(isolated, STORE)
    assert len(warnings) == gitrefs.MAX_WARNINGS + 1
    assert warnings[-1] == f"… and {30 - gitrefs.MAX_WARNINGS} more warnings like these"


def _count_git_processes(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []
    real_run = subprocess.run

    def counting_run(args, *rest, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(list(args))
        return real_run(args, *rest, **kwargs)

    monkeypatch.setattr(gitrefs.subprocess, "run", counting_run)
    return calls


def test_the_number_of_git_processes_does_not_grow_with_refs(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repo(isolated)
    repo.register("fraud", "shared")
    repo.commit("v1")
    calls = _count_git_processes(monkeypatch)
    assert _found(isolated) == {sha256_of("shared")}
    few = len(calls)

    for n in range(40):
        repo.git("checkout", "-q", "-b", f"b{n}", "main")
        repo.register(f"model{n % 4}", f"branch {n}")
        repo.commit(f"on b{n}")
        repo.git("tag", f"t{n}")
    repo.git("checkout", "-q", "main")
    calls.clear()
    assert _found(isolated) == {sha256_of("shared")} | {sha256_of(f"branch {n}") for n in range(40)}

    assert len(calls) == few  # 41 branches and 40 tags: not one git process more than for one
    assert all(call[:3] != ["git", "--literal-pathspecs", "ls-tree"] for call in calls)
    assert few <= 12


# ---------------------------------------------------------------------------- committed debris


def test_working_files_committed_by_mistake(isolated: Path) -> None:
    repo = Repo(isolated)
    repo.register("cache", "a model named like a working folder")  # models/cache is no debris
    planted = ["cache/trees/" + "ab" * 32 + "/config.json", "tmp/partial", "trash/old/model.toml", "lock"]
    for rel in planted:
        path = isolated / STORE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    assert gitrefs.committed_debris(isolated, STORE, "HEAD") == []
    repo.git("add", "-f", *(f"{STORE}/{rel}" for rel in planted))

    assert gitrefs.committed_debris(isolated, STORE, None) == sorted(planted)
    assert gitrefs.committed_debris(isolated, STORE, "HEAD") == []
    repo.commit("oops")
    assert gitrefs.committed_debris(isolated, STORE, "HEAD") == sorted(planted)
    assert gitrefs.committed_debris(isolated, STORE, "HEAD~1") == []


def test_committed_debris_of_an_unknown_revision(isolated: Path) -> None:
    Repo(isolated)
    with pytest.raises(NotFound, match="no-such-rev"):
        gitrefs.committed_debris(isolated, STORE, "no-such-rev")


# --------------------------------------------------------------------------- the whole scenario


def test_gc_keeps_objects_of_versions_committed_on_another_branch(isolated: Path) -> None:
    repo = Repo(isolated)
    repo.git("checkout", "-q", "-b", "experiment")
    repo.register("fraud", "only on experiment")
    repo.commit("v1 on experiment")
    repo.git("checkout", "-q", "main")

    done = run_mreg("gc", "--yes", cwd=isolated, timeout=60)
    assert done.returncode == 0, done.stderr

    repo.git("checkout", "-q", "experiment")
    got = run_mreg("get", "fraud/1", "-o", str(isolated / "out.bin"), cwd=isolated, timeout=60)
    assert got.returncode == 0, got.stderr
    assert (isolated / "out.bin").read_text() == "only on experiment"
    assert os.path.exists(isolated / STORE / "objects" / "sha256" / sha256_of("only on experiment")[:2])
