"""The team scenario through the pre-push hook: ``git push`` pushes the objects of the versions in
the pushed commits to the folder remote, a clone gets byte-identical artifacts, a failing upload
stops the push before git sends anything, and a push without model changes is left alone."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import Repo, git, run_mreg

pytestmark = pytest.mark.slow


def mreg_in(top: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = run_mreg(*args, cwd=top)
    assert done.returncode == 0, done.stderr
    return done


def push_env() -> dict[str, str]:
    # the hook runs `mreg` from PATH: this interpreter's, as a user's shell would have it
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def git_push(top: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "push", *args], cwd=top, capture_output=True, text=True, env=push_env())


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def remote_objects(shared: Path) -> dict[str, bytes]:
    """sha256 → bytes of every object on a folder remote (temp names left out)."""
    found = {}
    for path in (shared / "objects" / "sha256").glob("*/*"):
        if not path.name.startswith(".tmp"):
            found[path.parent.name + path.name] = path.read_bytes()
    return found


class Team:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.origin = root / "origin.git"
        self.shared = root / "shared-models"
        git("init", "-q", "--bare", "-b", "main", str(self.origin), cwd=root)
        self.a = Repo(root / "a")
        self.a.git("remote", "add", "origin", str(self.origin))
        mreg_in(self.a.top, "remote", "add", "team", str(self.shared), "--default")
        mreg_in(self.a.top, "hooks", "install")
        self.a.commit("the team's remote")
        done = git_push(self.a.top, "-q", "-u", "origin", "main")
        assert done.returncode == 0, done.stderr

    def origin_head(self) -> str | None:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", "refs/heads/main"],
            cwd=self.origin,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip() or None


@pytest.fixture
def team(isolated: Path) -> Team:
    return Team(isolated)


def make_folder(root: Path) -> Path:
    folder = root / "export"
    (folder / "weights").mkdir(parents=True)
    (folder / "config.json").write_text('{"layers": 3}')
    (folder / "weights" / "w.bin").write_bytes(os.urandom(4096))
    return folder


def test_git_push_pushes_the_models_and_a_clone_gets_them(team: Team, isolated: Path) -> None:
    model = team.a.write("model.bin", "weights of the May model")
    folder = make_folder(team.a.top)
    mreg_in(team.a.top, "register", str(model), "--name", "fraud")
    mreg_in(team.a.top, "register", str(folder), "--name", "ranker")
    head = team.a.commit("fraud 1 and ranker 1")

    pushed = git_push(team.a.top)
    assert pushed.returncode == 0, pushed.stderr
    assert "mreg: pushed 3 object(s)" in pushed.stderr and "to remote 'team'" in pushed.stderr
    assert team.origin_head() == head
    on_remote = remote_objects(team.shared)
    wanted = {
        sha256_file(model): model.read_bytes(),
        sha256_file(folder / "config.json"): (folder / "config.json").read_bytes(),
        sha256_file(folder / "weights" / "w.bin"): (folder / "weights" / "w.bin").read_bytes(),
    }
    assert on_remote == wanted

    # a second push of the same commits has nothing to send
    again = git_push(team.a.top)
    assert again.returncode == 0
    assert not [line for line in again.stderr.splitlines() if line.startswith("mreg:")]

    git("clone", "-q", str(team.origin), str(isolated / "b"), cwd=isolated)
    b = isolated / "b"
    pulled = run_mreg("pull", cwd=b)
    assert pulled.returncode == 0, pulled.stderr
    mreg_in(b, "get", "fraud/1", "-o", str(isolated / "out.bin"))
    assert (isolated / "out.bin").read_bytes() == model.read_bytes()
    mreg_in(b, "get", "ranker/1", "-o", str(isolated / "out-dir"))
    for rel in ("config.json", "weights/w.bin"):
        assert (isolated / "out-dir" / rel).read_bytes() == (folder / rel).read_bytes()
    assert run_mreg("fsck", "--full", cwd=b).returncode == 0


def test_a_failing_upload_stops_the_push(team: Team) -> None:
    before = team.origin_head()
    # Something in the way of the remote's objects folder: every upload fails (a read-only folder
    # would not stop a test run as root).
    team.shared.mkdir(exist_ok=True)
    (team.shared / "objects").write_text("not a folder")
    model = team.a.write("model.bin", "weights")
    mreg_in(team.a.top, "register", str(model), "--name", "fraud")
    team.a.commit("fraud 1")

    pushed = git_push(team.a.top)
    assert pushed.returncode != 0
    errors = [line for line in pushed.stderr.splitlines() if line.startswith("error:")]
    assert errors and "team" in errors[0]
    assert "failed to push some refs" in pushed.stderr  # git's own line: it sent nothing
    assert team.origin_head() == before

    (team.shared / "objects").unlink()
    retried = git_push(team.a.top)
    assert retried.returncode == 0, retried.stderr
    assert sha256_file(model) in remote_objects(team.shared)
    assert team.origin_head() == team.a.git("rev-parse", "HEAD").strip()


def test_a_push_without_model_changes_never_touches_the_remote(team: Team) -> None:
    team.shared.mkdir(exist_ok=True)
    (team.shared / "objects").write_text("a remote that would fail every upload")
    team.a.write("README.md", "docs only")
    head = team.a.commit("docs")
    pushed = git_push(team.a.top)
    assert pushed.returncode == 0, pushed.stderr
    assert not [line for line in pushed.stderr.splitlines() if line.startswith(("mreg", "error"))]
    assert team.origin_head() == head


def test_a_new_branch_pushes_only_what_the_remote_tracking_refs_lack(team: Team) -> None:
    first = team.a.write("one.bin", "one")
    mreg_in(team.a.top, "register", str(first), "--name", "fraud")
    team.a.commit("fraud 1")
    assert git_push(team.a.top).returncode == 0
    os.remove(team.shared / "objects" / "sha256" / sha256_file(first)[:2] / sha256_file(first)[2:])

    team.a.git("checkout", "-q", "-b", "feature")
    second = team.a.write("two.bin", "two")
    mreg_in(team.a.top, "register", str(second), "--name", "fraud")
    team.a.commit("fraud 2")
    pushed = git_push(team.a.top, "-u", "origin", "feature")
    assert pushed.returncode == 0, pushed.stderr
    # fraud 1 is on origin/main already: the hook does not look at it again
    assert set(remote_objects(team.shared)) == {sha256_file(second)}


def test_without_an_mreg_remote_the_push_goes_on_with_one_line(isolated: Path) -> None:
    git("init", "-q", "--bare", "-b", "main", str(isolated / "origin.git"), cwd=isolated)
    a = Repo(isolated / "a")
    a.git("remote", "add", "origin", str(isolated / "origin.git"))
    mreg_in(a.top, "hooks", "install")
    model = a.write("model.bin", "weights")
    mreg_in(a.top, "register", str(model), "--name", "fraud")
    a.commit("fraud 1")
    pushed = git_push(a.top, "origin", "main")
    assert pushed.returncode == 0, pushed.stderr
    lines = [line for line in pushed.stderr.splitlines() if line.startswith(("mreg", "error"))]
    assert len(lines) == 1 and "no mreg remote is configured" in lines[0]
