"""``mreg hooks install`` / ``uninstall``: idempotent, honouring core.hooksPath, keeping a hook that
was there before working (run first, with the same arguments and input) and putting it back
byte for byte."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from helpers import Cli, Repo, git, run_mreg

from mreg import githooks

FOREIGN = """#!/bin/sh
# a team's own pre-push step
echo "$@" > "$(dirname -- "$0")/../../foreign-args"
cat > "$(dirname -- "$0")/../../foreign-input"
exit "${FOREIGN_EXIT:-0}"
"""


def hooks_state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file in a hooks folder: its bytes and permission bits."""
    return {
        p.name: (p.read_bytes(), stat.S_IMODE(p.lstat().st_mode))
        for p in sorted(folder.iterdir())
        if not p.name.endswith(".sample")
    }


@pytest.fixture
def repo(isolated: Path) -> Repo:
    return Repo(isolated / "proj")


def install(cli: Cli, repo: Repo, *args: str) -> dict[str, object]:
    result = cli("--store", str(repo.top), "hooks", "install", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def uninstall(cli: Cli, repo: Repo) -> dict[str, object]:
    result = cli("--store", str(repo.top), "hooks", "uninstall", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_install_writes_an_executable_hook_and_twice_changes_nothing(cli: Cli, repo: Repo) -> None:
    hooks = repo.top / ".git" / "hooks"
    first = install(cli, repo)
    hook = hooks / "pre-push"
    assert first == {"action": "installed", "hook": str(hook), "local_hook": None}
    assert os.access(hook, os.X_OK)
    text = hook.read_text()
    assert text.startswith("#!/bin/sh\n") and githooks.MARKER in text
    assert "--store .mreg hooks pre-push" in text  # the store the hook pushes from
    before = hooks_state(hooks)
    mtime = hook.stat().st_mtime_ns
    assert install(cli, repo)["action"] == "unchanged"
    assert hooks_state(hooks) == before and hook.stat().st_mtime_ns == mtime


def test_uninstall_removes_only_its_own_hook(cli: Cli, repo: Repo) -> None:
    hooks = repo.top / ".git" / "hooks"
    before = hooks_state(hooks)
    install(cli, repo)
    assert uninstall(cli, repo)["action"] == "removed"
    assert hooks_state(hooks) == before
    assert uninstall(cli, repo) == {
        "action": "not_installed",
        "hook": str(hooks / "pre-push"),
        "local_hook": None,
    }


def test_a_foreign_hook_is_kept_run_first_and_restored_exactly(cli: Cli, repo: Repo) -> None:
    hooks = repo.top / ".git" / "hooks"
    (hooks / "pre-push").write_text(FOREIGN)
    os.chmod(hooks / "pre-push", 0o750)
    before = hooks_state(hooks)

    done = install(cli, repo)
    assert done["action"] == "installed" and done["local_hook"] == str(hooks / "pre-push.local")
    assert hooks_state(hooks)["pre-push.local"] == before["pre-push"]
    assert githooks.MARKER in (hooks / "pre-push").read_text()
    installed = hooks_state(hooks)
    assert install(cli, repo)["action"] == "unchanged"
    assert hooks_state(hooks) == installed

    # The foreign hook runs first with git's arguments and input; mreg's part finds no store
    # change in a push of a commit without one, so the hook succeeds.
    head = repo.git("rev-parse", "HEAD").strip()
    line = f"refs/heads/main {head} refs/heads/main {'0' * 40}\n"
    ran = subprocess.run(
        [str(hooks / "pre-push"), "origin", "/srv/origin.git"],
        cwd=repo.top,
        input=line,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0, ran.stderr
    assert (repo.top / "foreign-args").read_text() == "origin /srv/origin.git\n"
    assert (repo.top / "foreign-input").read_text() == line

    # Its failure fails the hook, before mreg runs.
    ran = subprocess.run(
        [str(hooks / "pre-push"), "origin", "/srv/origin.git"],
        cwd=repo.top,
        input=line,
        capture_output=True,
        text=True,
        env={**os.environ, "FOREIGN_EXIT": "3"},
    )
    assert ran.returncode == 3

    assert uninstall(cli, repo) == {
        "action": "removed",
        "hook": str(hooks / "pre-push"),
        "local_hook": str(hooks / "pre-push"),
    }
    assert hooks_state(hooks) == before


def test_uninstall_leaves_a_foreign_hook_alone(cli: Cli, repo: Repo) -> None:
    hooks = repo.top / ".git" / "hooks"
    (hooks / "pre-push").write_text(FOREIGN)
    before = hooks_state(hooks)
    result = cli("--store", str(repo.top), "hooks", "uninstall")
    assert result.exit_code == 0
    assert "is not mreg's: left as it is" in result.stderr
    assert hooks_state(hooks) == before


def test_a_foreign_hook_and_a_local_one_both_present_is_a_conflict(cli: Cli, repo: Repo) -> None:
    hooks = repo.top / ".git" / "hooks"
    (hooks / "pre-push").write_text(FOREIGN)
    (hooks / "pre-push.local").write_text(FOREIGN.replace("team's", "second"))
    before = hooks_state(hooks)
    result = cli("--store", str(repo.top), "hooks", "install")
    assert result.exit_code == 4
    assert result.stderr.startswith("error: both ") and result.stderr.count("\n") == 1
    assert hooks_state(hooks) == before


def test_core_hooks_path_is_honoured(cli: Cli, repo: Repo) -> None:
    repo.git("config", "core.hooksPath", "githooks")  # relative: to the top of the work tree
    done = install(cli, repo)
    assert done["hook"] == str(repo.top / "githooks" / "pre-push")
    assert githooks.MARKER in (repo.top / "githooks" / "pre-push").read_text()
    assert not (repo.top / ".git" / "hooks" / "pre-push").exists()
    assert uninstall(cli, repo)["action"] == "removed"
    assert list((repo.top / "githooks").iterdir()) == []


def test_a_linked_worktree_shares_the_repository_hooks(cli: Cli, repo: Repo, isolated: Path) -> None:
    repo.git("worktree", "add", "-q", str(isolated / "other"), "-b", "other")
    result = cli("--store", str(isolated / "other"), "hooks", "install", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["hook"] == str(repo.top / ".git" / "hooks" / "pre-push")


def test_outside_a_git_repository_is_one_error_line(isolated: Path) -> None:
    (isolated / "plain").mkdir()
    for verb in ("install", "uninstall"):
        done = run_mreg("hooks", verb, cwd=isolated / "plain")
        assert done.returncode == 1
        assert done.stderr.startswith("error: ") and "not inside a git work tree" in done.stderr
        assert done.stderr.count("\n") == 1
        assert done.stdout == ""


def test_the_hook_finds_mreg_off_the_path_through_the_installing_interpreter(
    cli: Cli, repo: Repo, isolated: Path
) -> None:
    install(cli, repo)
    hook = repo.top / ".git" / "hooks" / "pre-push"
    fallback = githooks.mreg_fallback()
    assert Path(fallback[0]).is_absolute() and fallback[0] in hook.read_text()
    # A PATH with git and the shell's tools but no mreg: the hook must use the fallback.
    tools = isolated / "tools"
    tools.mkdir()
    for name in ("git", "sh", "cat", "dirname", "printf"):
        found = shutil.which(name)
        if found is not None:
            (tools / name).symlink_to(found)
    assert shutil.which("mreg", path=str(tools)) is None
    head = repo.git("rev-parse", "HEAD").strip()
    ran = subprocess.run(
        [str(hook), "origin", "/srv/origin.git"],
        cwd=repo.top,
        input=f"refs/heads/main {head} refs/heads/main {'0' * 40}\n",
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(tools)},
    )
    assert ran.returncode == 0, ran.stderr
    # and a hook whose mreg is gone says so in one line and stops the push
    hook.write_text(hook.read_text().replace(fallback[0], str(isolated / "gone" / "mreg")))
    ran = subprocess.run(
        [str(hook), "origin", "/srv/origin.git"],
        cwd=repo.top,
        input="",
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(tools)},
    )
    assert ran.returncode == 1
    assert ran.stderr.startswith("error: the mreg pre-push hook cannot find mreg")


def test_pre_push_outside_any_store_lets_the_push_go_on(isolated: Path) -> None:
    top = isolated / "nostore"
    top.mkdir()
    git("init", "-q", "-b", "main", cwd=top)
    git("commit", "-q", "--allow-empty", "-m", "x", cwd=top)
    head = git("rev-parse", "HEAD", cwd=top).strip()
    done = subprocess.run(
        [*githooks.mreg_fallback(), "hooks", "pre-push", "origin", "/srv/x.git"],
        cwd=top,
        input=f"refs/heads/main {head} refs/heads/main {'0' * 40}\n",
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_pre_push_refuses_input_that_is_not_gits(repo: Repo) -> None:
    done = run_mreg("hooks", "pre-push", "origin", "url", cwd=repo.top, env={})
    assert done.returncode == 0  # no input: nothing is pushed
    bad = subprocess.run(
        [*githooks.mreg_fallback(), "hooks", "pre-push", "origin", "url"],
        cwd=repo.top,
        input="refs/heads/main not-a-sha\n",
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: line 1 of the pre-push input") and bad.stderr.count("\n") == 1
