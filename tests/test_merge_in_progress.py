"""Writes while git has an unresolved merge of the store: refused (exit 4, pointing at
`mreg merge`), so `mreg merge --renumber` never renumbers over a version registered meanwhile;
the merge renumbers around anything already in the working tree; fsck reports history that
disagrees with the records."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import Repo, run_mreg, sha256_of

from mreg import Conflict, Registry
from mreg.store import layout


@pytest.fixture
def repo(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """main and feature each registered m/2; `git merge feature` stopped on the conflict."""
    monkeypatch.setenv("MREG_USER", "alice")
    repo = Repo(isolated)
    repo.register("m", "m-1")
    repo.commit("base")
    repo.both_branches_register("m", 2)
    assert repo.try_git("merge", "--no-edit", "feature").returncode != 0
    assert repo.unmerged() == [".mreg/models/m/versions/2.toml"]
    return repo


def test_register_during_an_unresolved_merge_is_refused(repo: Repo) -> None:
    source = repo.write("c.bin", "c")
    files_before = sorted(p.relative_to(repo.top).as_posix() for p in (repo.top / ".mreg").rglob("*"))

    result = run_mreg("register", str(source), "--name", "m", cwd=repo.top)

    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "unresolved git merge" in lines[0] and "mreg merge" in lines[0]
    files_after = sorted(p.relative_to(repo.top).as_posix() for p in (repo.top / ".mreg").rglob("*"))
    assert [f for f in files_after if "/objects/" not in f and "/tmp/" not in f] == [
        f for f in files_before if "/objects/" not in f and "/tmp/" not in f
    ]
    for args in (
        ["alias", "set", "m", "champion", "1"],
        ["tag", "set", "m", "k=v"],
        ["models", "create", "other"],
    ):
        refused = run_mreg(*args, cwd=repo.top)
        assert refused.returncode == 4 and "mreg merge" in refused.stderr, (args, refused.stderr)
    with pytest.raises(Conflict, match="mreg merge"):
        Registry(repo.top).set_registered_model_alias("m", "champion", 1)

    resolved = run_mreg("merge", "--renumber", cwd=repo.top)

    assert resolved.returncode == 0, resolved.stderr
    registry = Registry(repo.top)
    assert {v.version: v.artifact.digest for v in registry.list_model_versions("m")} == {
        1: sha256_of("m-1"),
        2: sha256_of("main-2"),
        3: sha256_of("feature-2"),
    }
    after = run_mreg("register", str(source), "--name", "m", "-q", cwd=repo.top)  # allowed again
    assert after.returncode == 0 and after.stdout.strip() == "4", after.stderr


def test_writes_are_allowed_when_the_store_merged_cleanly(isolated: Path) -> None:
    repo = Repo(isolated)
    repo.register("m", "m-1")
    repo.write("code.py", "base\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("code.py", "feature\n")
    repo.commit("feature")
    repo.git("checkout", "-q", "main")
    repo.write("code.py", "main\n")
    repo.commit("main")
    assert repo.try_git("merge", "--no-edit", "feature").returncode != 0  # code.py conflicts
    assert (repo.top / ".git" / "MERGE_HEAD").is_file()

    assert repo.register("m", "m-2") == 2


def test_merge_renumbers_around_a_version_already_in_the_working_tree(repo: Repo) -> None:
    """Written behind mreg's back (an older mreg, a copied file), version 3 already exists when
    the merge is resolved: the incoming version 2 goes to 4, and version 3 is kept."""
    registry = repo.registry
    folder = registry.root / "models" / "m" / "versions"
    (folder / "3.toml").write_bytes((folder / "1.toml").read_bytes())
    one = registry.get_model_version("m", 1)

    resolved = run_mreg("merge", "--renumber", cwd=repo.top)

    assert resolved.returncode == 0, resolved.stderr
    versions = {v.version: v.artifact.digest for v in Registry(repo.top).list_model_versions("m")}
    assert versions == {
        1: sha256_of("m-1"),
        2: sha256_of("main-2"),
        3: one.artifact.digest,
        4: sha256_of("feature-2"),
    }


def _event_file(registry: Registry, version: int) -> Path:
    for event in registry.get_history("m"):
        if event.action == "version_registered" and event.version == version:
            return registry.root / layout.rel_event_file("m", event.id)
    raise AssertionError(f"no version_registered event for version {version}")


def test_fsck_reports_events_that_disagree_with_the_version_record(
    registry: Registry, isolated: Path
) -> None:
    for n in (1, 2):
        (isolated / f"v{n}.bin").write_text(f"v{n}")
        registry.create_model_version("m", isolated / f"v{n}.bin")
    assert [f for f in registry.fsck() if f.severity == "error"] == []
    one = _event_file(registry, 1)
    two = _event_file(registry, 2)
    # A second "registered version 2" event with version 1's artifact (what a renumbering over a
    # version registered meanwhile left behind), and version 1's event naming another artifact.
    copy = one.with_name(one.name.rsplit("-", 1)[0] + "-abcdef.toml")  # its time, another id
    copy.write_text(one.read_text().replace("version = 1", "version = 2"))
    assert two.is_file()

    findings = [f for f in registry.fsck() if f.severity == "error"]

    assert [(f.kind, Path(f.path).name) for f in findings] == [("history", copy.name)], findings
    assert "version 2" in findings[0].message and "artifact" in findings[0].message
    result = run_mreg("fsck", cwd=isolated)
    assert result.returncode == 5 and copy.name in result.stdout + result.stderr


def test_fsck_reports_two_registrations_of_a_deleted_version(registry: Registry, isolated: Path) -> None:
    for n in (1, 2):
        (isolated / f"v{n}.bin").write_text(f"v{n}")
        registry.create_model_version("m", isolated / f"v{n}.bin")
    one, two = _event_file(registry, 1), _event_file(registry, 2)
    registry.delete_model_version("m", 2)
    assert [f for f in registry.fsck() if f.severity == "error"] == []
    copy = two.with_name(two.name.rsplit("-", 1)[0] + "-ffffff.toml")  # sorts after it
    first, second = (registry.store.events("m", [p.stem])[0].new for p in (one, two))
    assert isinstance(first, str) and isinstance(second, str)
    copy.write_text(two.read_text().replace(second, first))

    findings = [f for f in registry.fsck() if f.severity == "error"]

    assert [(f.kind, Path(f.path).name) for f in findings] == [("history", copy.name)], findings
    assert "an earlier event registered it" in findings[0].message
