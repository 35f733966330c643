"""What the tests share besides fixtures (those are in conftest.py): the repository's folder, ways to
run ``mreg`` (in-process, as a process, as processes forked from a warm one), a snapshot of a store's
files, and a git repository holding a store with the scenarios the git tests build on it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from mreg import Registry
from mreg.cli.app import app

REPO = Path(__file__).resolve().parent.parent
WORKERS = Path(__file__).with_name("workers.py")

# ------------------------------------------------------------------------------- running mreg


class Cli:
    """Runs ``mreg`` in-process through Typer's CliRunner, stdout and stderr apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return self.runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)


def run_mreg(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``mreg`` as a real process (for what only a process shows: exit codes, locks, crashes)."""
    return subprocess.run(
        [sys.executable, "-m", "mreg", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class CliProcesses:
    """Runs ``mreg`` command lines one after another, each in a process of its own forked from a
    server that has the command line imported already (``workers.py cli-serve``): what
    ``run_mreg`` does, without a Python start-up per command. For tests that run many commands
    as concurrent processes (locks, compare-and-swap); start-up itself is tested with
    ``run_mreg``. Not thread-safe: one per thread."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKERS), "cli-serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        request = {"args": list(args), "cwd": str(cwd), "env": dict(os.environ)}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the command server died: {self.close()}"
        done = json.loads(line)
        return subprocess.CompletedProcess(["mreg", *args], done["code"], done["stdout"], done["stderr"])

    def close(self) -> str:
        """Stop the server; return what it wrote to stderr."""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()  # the server ends at the end of its input
        self.proc.wait(timeout=60)
        return self.proc.stderr.read()


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


# --------------------------------------------------------------------------- store snapshots

WORKING_FOLDERS = ("tmp", "cache", "trash")


def snapshot(store: Path, *, everything: bool = False) -> dict[str, str]:
    """Relative path → sha256 (or ``-> target`` for a symlink) of every file under ``store``, to
    assert that a failed command changed nothing.

    The store's working files are left out (the lock file, tmp/, cache/ and trash/): they hold
    nothing that is not recorded elsewhere, are never committed, and may be created by any
    command. A leftover temp file elsewhere, or a stray blob in objects/, does count. With
    ``everything``, for input that mreg refuses before it starts: every folder too (as
    ``folder``), and every file but the lock file, working files included."""
    found: dict[str, str] = {}
    for folder, dirnames, filenames in os.walk(store):
        for name in dirnames if everything else ():
            found[Path(folder, name).relative_to(store).as_posix()] = "folder"
        for filename in filenames:
            path = Path(folder) / filename
            rel = path.relative_to(store).as_posix()
            if rel == "lock" or (rel.split("/", 1)[0] in WORKING_FOLDERS and not everything):
                continue
            if path.is_symlink():
                found[rel] = f"-> {os.readlink(path)}"
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


# ------------------------------------------------------------------------------------------- git


class Repo:
    """A git repository (branch ``main``) with a store at ``.mreg`` and a first commit."""

    def __init__(self, top: Path) -> None:
        self.top = top
        top.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "-b", "main", cwd=top)
        self.registry = Registry.init(top)
        self.commit("empty registry")

    def git(self, *args: str) -> str:
        return git(*args, cwd=self.top)

    def try_git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=self.top, capture_output=True, text=True)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def write(self, name: str, content: str) -> Path:
        path = self.top / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        return path

    def register(self, model: str, content: str, **kwargs: object) -> int:
        """Register ``content`` (a small file) as a new version; returns its number."""
        source = self.write(f"artifacts/{model}-{sha256_of(content)[:12]}.bin", content)
        return self.registry.create_model_version(model, source, **kwargs).version  # type: ignore[arg-type]

    def both_branches_register(
        self,
        model: str,
        number: int,
        *,
        feature: Callable[[], object] = lambda: None,
        main: Callable[[], object] = lambda: None,
        messages: tuple[str, str] | None = None,
    ) -> None:
        """The two-branch scenario: a branch ``feature`` off main registers version ``number``
        of ``model`` (a file holding ``feature-NUMBER``), runs ``feature()`` and commits; then
        ``main`` registers its own ``number`` (``main-NUMBER``), runs ``main()`` and commits.
        Ends on main, nothing merged yet. ``messages``: the two commit messages (by default
        ``feature: MODEL NUMBER`` and ``main: MODEL NUMBER``)."""
        feature_message, main_message = messages or (f"feature: {model} {number}", f"main: {model} {number}")
        self.git("checkout", "-q", "-b", "feature")
        assert self.register(model, f"feature-{number}") == number
        feature()
        self.commit(feature_message)
        self.git("checkout", "-q", "main")
        assert self.register(model, f"main-{number}") == number
        main()
        self.commit(main_message)

    def store_files(self) -> list[str]:
        return self.git("ls-files", "--", ".mreg").splitlines()

    def unmerged(self) -> list[str]:
        return sorted(set(self.git("diff", "--name-only", "--diff-filter=U").splitlines()))


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def assert_consistent(registry: Registry) -> None:
    """Every alias points at a live version, and each model's history ends where its alias files
    say (checked through the public API), and ``mreg fsck --full`` finds no error."""
    errors = [f for f in registry.fsck(full=True) if f.severity == "error"]
    assert errors == [], errors
    for model in registry.list_registered_models():
        live = {v.version for v in registry.list_model_versions(model.name)}
        for alias, version in model.aliases.items():
            assert version in live, f"{model.name}@{alias} points at missing version {version}"
        spans = registry.get_alias_history(model.name)
        current = {s.alias: s.version for s in spans if s.until is None}
        assert current == model.aliases, f"history of {model.name} disagrees with its alias files"
        for version in registry.list_model_versions(model.name):
            registry.check_integrity(version)
