"""Which model versions a ``git push`` carries: the version files that the pushed commits add or
change, read from git's objects (not the working tree) as untrusted input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import Repo, git

from mreg import githooks
from mreg.errors import DamagedStore, InvalidInput

ZERO = "0" * 40


@pytest.fixture
def repo(isolated: Path) -> Repo:
    repo = Repo(isolated / "proj")
    git("init", "-q", "--bare", str(isolated / "origin.git"), cwd=isolated)
    repo.git("remote", "add", "origin", str(isolated / "origin.git"))
    return repo


def head(repo: Repo, rev: str = "HEAD") -> str:
    return repo.git("rev-parse", rev).strip()


def pushed(repo: Repo, *lines: tuple[str, str, str, str], remote: str = "origin") -> list[tuple[str, int]]:
    refs = githooks.parse_push_lines("".join(" ".join(line) + "\n" for line in lines))
    return [(v.model, v.version) for v in githooks.pushed_versions(repo.top / ".mreg", remote, refs)]


def test_a_new_branch_carries_the_commits_no_remote_tracking_ref_holds(repo: Repo) -> None:
    repo.register("fraud", "one")
    repo.commit("fraud 1")
    line = ("refs/heads/main", head(repo), "refs/heads/main", ZERO)
    assert pushed(repo, line) == [("fraud", 1)]
    repo.git("push", "-q", "origin", "main")  # origin/main now holds fraud 1

    repo.git("checkout", "-q", "-b", "feature")
    repo.register("fraud", "two")
    repo.register("churn", "one")
    repo.commit("two more")
    line = ("refs/heads/feature", head(repo), "refs/heads/feature", ZERO)
    assert pushed(repo, line) == [("churn", 1), ("fraud", 2)]
    # pushed to another remote, whose tracking refs hold nothing: everything is new there
    assert pushed(repo, line, remote="backup") == [("churn", 1), ("fraud", 1), ("fraud", 2)]


def test_an_update_carries_what_differs_from_the_remote_tip(repo: Repo) -> None:
    repo.register("fraud", "one")
    old = repo.commit("fraud 1")
    repo.register("fraud", "two")
    repo.commit("fraud 2")
    repo.registry.update_model_version("fraud", 1, description="changed")  # a changed file counts
    repo.commit("describe 1")
    line = ("refs/heads/main", head(repo), "refs/heads/main", old)
    assert pushed(repo, line) == [("fraud", 1), ("fraud", 2)]


def test_deletions_push_nothing(repo: Repo) -> None:
    repo.register("fraud", "one")
    repo.register("fraud", "two")
    old = repo.commit("fraud 1 and 2")
    repo.registry.delete_model_version("fraud", 2)  # leaves a tombstone
    repo.commit("delete 2")
    assert pushed(repo, ("refs/heads/main", head(repo), "refs/heads/main", old)) == []
    # a branch deletion: git gives a zero local sha
    assert pushed(repo, ("(delete)", ZERO, "refs/heads/old", old)) == []
    assert pushed(repo) == []


def test_a_push_without_store_changes_reads_no_version(repo: Repo) -> None:
    repo.register("fraud", "one")
    old = repo.commit("fraud 1")
    repo.write("README.md", "hello")
    repo.commit("docs")
    assert pushed(repo, ("refs/heads/main", head(repo), "refs/heads/main", old)) == []


def test_version_files_are_read_from_the_commit_not_the_working_tree(repo: Repo) -> None:
    repo.register("fraud", "one")
    repo.commit("fraud 1")
    committed = githooks.pushed_versions(
        repo.top / ".mreg", "origin", githooks.parse_push_lines(f"refs/heads/main {head(repo)} x {ZERO}\n")
    )
    version_file = repo.top / ".mreg" / "models" / "fraud" / "versions" / "1.toml"
    version_file.write_text("not = [toml")
    again = githooks.pushed_versions(
        repo.top / ".mreg", "origin", githooks.parse_push_lines(f"refs/heads/main {head(repo)} x {ZERO}\n")
    )
    assert again == committed and githooks.digests_of(again) == {
        f.sha256: f.size for f in committed[0].record.artifact.files
    }


def test_a_crafted_version_file_in_a_pushed_commit_is_refused_naming_it(repo: Repo) -> None:
    repo.register("fraud", "one")
    version_file = repo.top / ".mreg" / "models" / "fraud" / "versions" / "1.toml"
    text = version_file.read_text()
    version_file.write_text(text.replace("sha256:", "sha256:zz", 1))
    commit = repo.commit("crafted")
    with pytest.raises(DamagedStore) as caught:
        pushed(repo, ("refs/heads/main", commit, "refs/heads/main", ZERO))
    assert f"{commit[:12]}:.mreg/models/fraud/versions/1.toml" in str(caught.value)


def test_a_symlinked_version_file_in_a_pushed_commit_is_refused(repo: Repo) -> None:
    repo.register("fraud", "one")
    repo.commit("fraud 1")
    versions = repo.top / ".mreg" / "models" / "fraud" / "versions"
    (versions / "2.toml").symlink_to("1.toml")
    commit = repo.commit("a link")
    with pytest.raises(DamagedStore, match="symlink"):
        pushed(repo, ("refs/heads/main", commit, "refs/heads/main", ZERO))


def test_directory_artifacts_push_every_blob(repo: Repo, isolated: Path) -> None:
    folder = isolated / "export"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"a" * 10)
    (folder / "sub" / "b.bin").write_bytes(b"b" * 20)
    mv = repo.registry.create_model_version("fraud", folder)
    commit = repo.commit("a folder")
    refs = githooks.parse_push_lines(f"refs/heads/main {commit} refs/heads/main {ZERO}\n")
    found = githooks.pushed_versions(repo.top / ".mreg", "origin", refs)
    assert githooks.digests_of(found) == {f.sha256: f.size for f in mv.artifact.files}
    assert sorted(githooks.digests_of(found).values()) == [10, 20]


def test_a_merge_of_a_branch_made_elsewhere_carries_its_versions(repo: Repo) -> None:
    repo.register("fraud", "one")
    repo.commit("fraud 1")
    repo.git("push", "-q", "origin", "main")
    repo.both_branches_register("churn", 1)
    merged = subprocess.run(["git", "merge", "-q", "--no-edit", "feature"], cwd=repo.top, capture_output=True)
    assert merged.returncode != 0  # both registered churn 1: a conflict
    repo.git("checkout", "--theirs", "--", ".mreg")
    repo.commit("keep feature's churn 1")
    line = ("refs/heads/main", head(repo), "refs/heads/main", head(repo, "origin/main"))
    assert pushed(repo, line) == [("churn", 1)]
    refs = githooks.parse_push_lines(" ".join(line) + "\n")
    (found,) = githooks.pushed_versions(repo.top / ".mreg", "origin", refs)
    assert found.record.artifact.digest == repo.registry.get_model_version("churn", 1).artifact.digest


def test_input_that_is_not_gits_is_refused() -> None:
    with pytest.raises(InvalidInput, match="line 2"):
        githooks.parse_push_lines(f"refs/heads/a {'1' * 40} refs/heads/a {ZERO}\nrefs/heads/b oops\n")
