"""What mreg learns from git: the commit of the working tree (read from ``.git`` directly, so every
event can carry it without starting a process) and the full lineage for a new version."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from mreg.entities import Lineage


def find_git_dir(start: Path) -> tuple[Path, Path] | None:
    """(work tree root, git dir) of the repository holding ``start``, or None."""
    current = start.absolute()
    for folder in (current, *current.parents):
        dotgit = folder / ".git"
        if dotgit.is_dir():
            return folder, dotgit
        if dotgit.is_file():  # a worktree or submodule: "gitdir: <path>"
            try:
                text = dotgit.read_text(encoding="utf-8").strip()
            except OSError:
                return None
            if text.startswith("gitdir:"):
                target = Path(text[len("gitdir:") :].strip())
                return folder, target if target.is_absolute() else folder / target
            return None
    return None


def _read_ref(git_dir: Path, ref: str) -> str | None:
    common = git_dir
    commondir = git_dir / "commondir"
    if commondir.is_file():
        common = git_dir / commondir.read_text(encoding="utf-8").strip()
    for base in (git_dir, common):
        try:
            return (base / ref).read_text(encoding="utf-8").strip() or None
        except OSError:
            continue
    try:
        packed = (common / "packed-refs").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in packed.splitlines():
        sha, _, name = line.partition(" ")
        if name == ref:
            return sha
    return None


def head_state(start: Path) -> tuple[str | None, str | None]:
    """(commit, branch) of HEAD of the repository holding ``start``; Nones outside git or before
    the first commit. Reads files only."""
    found = find_git_dir(start)
    if found is None:
        return None, None
    _, git_dir = found
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None, None
    if head.startswith("ref:"):
        ref = head[4:].strip()
        branch = ref.removeprefix("refs/heads/")
        return _read_ref(git_dir, ref), branch
    return head or None, None


def head_commit(start: Path) -> str | None:
    return head_state(start)[0]


def lineage(start: Path, source: Path | None, store: Path | None = None) -> Lineage:
    """Commit, branch and dirtiness of the repository holding ``start``, and ``source``'s path
    relative to its root. Changes inside the store itself do not make the tree dirty: they are
    the registry, not the code. Empty outside a git repository."""
    found = find_git_dir(start)
    if found is None:
        return Lineage()
    top, _ = found
    commit, branch = head_state(start)
    dirty: bool | None = None
    command = ["git", "status", "--porcelain", "--untracked-files=no"]
    if store is not None:
        with contextlib.suppress(ValueError):
            command += ["--", ".", f":(exclude){store.absolute().relative_to(top).as_posix()}"]
    try:
        status = subprocess.run(
            command,
            cwd=top,
            capture_output=True,
            timeout=30,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
        if status.returncode == 0:
            dirty = bool(status.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        dirty = None
    source_path = None
    if source is not None:
        try:
            source_path = source.absolute().relative_to(top).as_posix()
        except ValueError:
            source_path = None
    return Lineage(git_commit=commit, git_branch=branch, git_dirty=dirty, source_path=source_path)
