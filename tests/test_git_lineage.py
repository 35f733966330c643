"""Lineage from git, with real repositories: commit, branch, dirtiness and the source's path
relative to the repository root, recorded with each version and shown by `versions show`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Repo, git

from mreg import Registry, gitinfo
from mreg.entities import Lineage


def _show(cli, name: str = "fraud", version: str = "1") -> str:  # type: ignore[no-untyped-def]
    result = cli("versions", "show", name, version)
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


def test_clean_tree(isolated: Path, cli) -> None:  # type: ignore[no-untyped-def]
    repo = Repo(isolated)
    repo.write("src/train.py", "print('train')\n")
    head = repo.commit("code")
    source = repo.write("build/model.bin", "weights")  # untracked output: not dirt

    mv = repo.registry.create_model_version("fraud", source)

    assert mv.lineage == Lineage(
        git_commit=head, git_branch="main", git_dirty=False, source_path="build/model.bin"
    )
    assert mv.source == "build/model.bin"
    out = _show(cli)
    assert f"git          {head} on main (clean)" in out
    assert "repo path    build/model.bin" in out
    data = json.loads(cli("versions", "show", "fraud", "1", "--json").stdout)
    assert data["lineage"] == mv.lineage.to_dict()


def test_dirty_tree_tracked_change(isolated: Path, cli) -> None:  # type: ignore[no-untyped-def]
    repo = Repo(isolated)
    code = repo.write("src/train.py", "v1\n")
    repo.commit("code")
    code.write_text("v2, not committed\n")

    mv = repo.registry.create_model_version("fraud", repo.write("model.bin", "w"))

    assert mv.lineage.git_dirty is True
    assert "(dirty: uncommitted changes)" in _show(cli)


def test_staged_change_is_dirty(isolated: Path) -> None:
    repo = Repo(isolated)
    repo.write("src/train.py", "v1\n")
    repo.git("add", "src/train.py")
    assert repo.register("fraud", "w") == 1
    assert repo.registry.get_model_version("fraud", 1).lineage.git_dirty is True


def test_changes_inside_the_store_are_not_dirt(isolated: Path) -> None:
    repo = Repo(isolated)
    repo.register("fraud", "w1")
    repo.commit("v1")
    repo.registry.set_registered_model_alias("fraud", "champion", 1)  # store changed, not committed
    repo.register("fraud", "w2")
    assert repo.registry.get_model_version("fraud", 2).lineage.git_dirty is False


def test_detached_head(isolated: Path, cli) -> None:  # type: ignore[no-untyped-def]
    repo = Repo(isolated)
    head = repo.commit("second")
    repo.git("checkout", "-q", "--detach")

    mv = repo.registry.create_model_version("fraud", repo.write("model.bin", "w"))

    assert (mv.lineage.git_commit, mv.lineage.git_branch) == (head, None)
    assert f"{head} on detached HEAD" in _show(cli)


def test_no_commit_yet(isolated: Path, cli) -> None:  # type: ignore[no-untyped-def]
    git("init", "-q", "-b", "trunk", cwd=isolated)
    registry = Registry.init(isolated)
    source = isolated / "model.bin"
    source.write_text("w")

    mv = registry.create_model_version("fraud", source)

    assert (mv.lineage.git_commit, mv.lineage.git_branch) == (None, "trunk")
    assert mv.lineage.source_path == "model.bin"
    assert "no commit yet on trunk" in _show(cli)


def test_worktree_records_its_own_branch_and_commit(isolated: Path) -> None:
    repo = Repo(isolated / "main")
    repo.register("fraud", "w1")
    repo.commit("v1")
    other = isolated / "wt"
    repo.git("worktree", "add", "-q", "-b", "experiment", str(other))
    git("commit", "-q", "--allow-empty", "-m", "on the branch", cwd=other)
    head = git("rev-parse", "HEAD", cwd=other).strip()
    (other / "model.bin").write_text("w2")

    mv = Registry(other).create_model_version("fraud", other / "model.bin")

    assert mv.version == 2
    assert mv.lineage == Lineage(
        git_commit=head, git_branch="experiment", git_dirty=False, source_path="model.bin"
    )
    event = Registry(other).get_history("fraud")[-1]
    assert event.git_commit == head  # events read HEAD from the worktree's own files


def test_packed_refs(isolated: Path) -> None:
    repo = Repo(isolated)
    head = repo.commit("second")
    repo.git("pack-refs", "--all")
    assert not (isolated / ".git" / "refs" / "heads" / "main").exists()
    assert gitinfo.head_state(isolated) == (head, "main")
    repo.register("fraud", "w")
    assert repo.registry.get_history("fraud")[-1].git_commit == head
    assert repo.registry.get_model_version("fraud", 1).lineage.git_commit == head


def test_store_in_a_subfolder_and_source_elsewhere_in_the_repo(isolated: Path) -> None:
    git("init", "-q", "-b", "main", cwd=isolated)
    registry = Registry.init(isolated / "ml" / "registry")
    source = isolated / "training" / "out" / "model.bin"
    source.parent.mkdir(parents=True)
    source.write_text("w")

    mv = registry.create_model_version("fraud", source)

    assert mv.lineage.source_path == "training/out/model.bin"
    assert mv.lineage.git_branch == "main"


def test_source_outside_the_repo(isolated: Path, tmp_path: Path) -> None:
    repo = Repo(isolated / "repo")
    outside = tmp_path / "elsewhere" / "model.bin"
    outside.parent.mkdir()
    outside.write_text("w")
    mv = repo.registry.create_model_version("fraud", outside)
    assert mv.lineage.source_path is None
    assert mv.lineage.git_branch == "main"
    assert mv.source == str(outside)


def test_outside_git_lineage_is_empty(registry: Registry, model_file: Path, cli) -> None:  # type: ignore[no-untyped-def]
    mv = registry.create_model_version("fraud", model_file)
    assert mv.lineage == Lineage()
    out = _show(cli)
    assert "git " not in out and "repo path" not in out


@pytest.mark.parametrize(
    ("head", "expected"),
    [("ref: refs/heads/.invalid\n", (None, None))],
)
def test_reftable_repository_asks_git(isolated: Path, head: str, expected: tuple[None, None]) -> None:
    # A reftable repository keeps refs outside files; HEAD names a placeholder branch. The
    # placeholder must never be reported as the branch (git itself is asked instead, and here,
    # where the fake repository is no real one, git answers nothing).
    fake = isolated / "fake"
    (fake / ".git" / "reftable").mkdir(parents=True)
    (fake / ".git" / "HEAD").write_text(head)
    assert gitinfo.head_state(fake) == expected


def test_the_git_summary_the_cli_and_the_page_show() -> None:
    from mreg.entities import Lineage

    assert Lineage().git_summary() is None
    assert Lineage(source_path="model.bin").git_summary() is None
    assert Lineage("abc", "main", False).git_summary() == "abc on main (clean)"
    assert Lineage("abc", None, True).git_summary() == "abc on detached HEAD (dirty: uncommitted changes)"
    assert Lineage(None, "trunk", None).git_summary() == "no commit yet on trunk"
