"""What mreg learns from git.

* The commit of the working tree, read from ``.git`` directly so that every event can carry it
  without starting a process (``head_state``).
* The full lineage of a new version: one ``git status --porcelain=v2 --branch`` gives the
  commit, the branch and whether the tree is dirty, whatever the ref storage (loose, packed,
  reftable) or the checkout (worktree, submodule, detached HEAD, no commit yet).
* Reading a store as it is in a revision, without checking anything out (``GitRepo``): which
  store files differ between two revisions or a revision and the working tree, and their bytes
  through one ``git cat-file --batch``. ``mreg diff`` and ``mreg merge`` build on it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mreg.entities import Lineage
from mreg.errors import MregError, NotFound, StoreError

GIT_TIMEOUT = 120.0
_ZERO_SHA = frozenset("0")


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


def _common_dir(git_dir: Path) -> Path:
    commondir = git_dir / "commondir"
    if commondir.is_file():
        return git_dir / commondir.read_text(encoding="utf-8").strip()
    return git_dir


def _read_ref(git_dir: Path, ref: str) -> str | None:
    common = _common_dir(git_dir)
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
    the first commit. Reads files only, except in a reftable repository, where refs are not
    files and git itself is asked."""
    found = find_git_dir(start)
    if found is None:
        return None, None
    top, git_dir = found
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
        reftable = (_common_dir(git_dir) / "reftable").is_dir()
    except OSError:
        return None, None
    if reftable:
        return _head_state_from_git(top)
    if head.startswith("ref:"):
        ref = head[4:].strip()
        branch = ref.removeprefix("refs/heads/")
        return _read_ref(git_dir, ref), branch
    return head or None, None


def _head_state_from_git(top: Path) -> tuple[str | None, str | None]:
    answers = []
    for args in (
        ["rev-parse", "--verify", "--quiet", "HEAD"],
        ["symbolic-ref", "--quiet", "--short", "HEAD"],
    ):
        try:
            result = subprocess.run(["git", *args], cwd=top, capture_output=True, timeout=30, env=_git_env())
        except (OSError, subprocess.TimeoutExpired):
            return None, None
        answers.append(
            result.stdout.decode("utf-8", "replace").strip() or None if result.returncode == 0 else None
        )
    return answers[0], answers[1]


def head_commit(start: Path) -> str | None:
    return head_state(start)[0]


def _status_v2(top: Path, pathspec: Sequence[str]) -> tuple[str | None, str | None, bool] | None:
    """(commit, branch, dirty) from ``git status --porcelain=v2 --branch``; None if git fails.
    Untracked files do not count as dirty: build outputs and the model file itself usually are."""
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no", "-z", *pathspec],
            cwd=top,
            capture_output=True,
            timeout=30,
            env=_git_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if status.returncode != 0:
        return None
    commit: str | None = None
    branch: str | None = None
    dirty = False
    for entry in status.stdout.split(b"\0"):
        if entry.startswith(b"# branch.oid "):
            value = entry[len(b"# branch.oid ") :].decode("ascii", "replace")
            commit = None if value == "(initial)" else value
        elif entry.startswith(b"# branch.head "):
            value = entry[len(b"# branch.head ") :].decode("utf-8", "replace")
            branch = None if value == "(detached)" else value
        elif entry[:2] in (b"1 ", b"2 ", b"u "):
            dirty = True
    return commit, branch, dirty


def lineage(start: Path, source: Path | None, store: Path | None = None) -> Lineage:
    """Commit, branch and dirtiness of the repository holding ``start``, and ``source``'s path
    relative to its root. Changes inside the store itself do not make the tree dirty: they are
    the registry, not the code. Empty outside a git repository."""
    found = find_git_dir(start)
    if found is None:
        return Lineage()
    top, _ = found
    pathspec = ["--", "."]
    if store is not None:
        with contextlib.suppress(ValueError):
            pathspec.append(f":(exclude,literal){store.absolute().relative_to(top).as_posix()}")
    status = _status_v2(top, pathspec)
    if status is None:  # git missing or refusing the repository: what the files say, dirtiness unknown
        commit, branch = head_state(start)
        dirty: bool | None = None
    else:
        commit, branch, dirty = status
    source_path = None
    if source is not None:
        try:
            source_path = source.absolute().relative_to(top).as_posix()
        except ValueError:
            source_path = None
    return Lineage(git_commit=commit, git_branch=branch, git_dirty=dirty, source_path=source_path)


# ------------------------------------------------------------------------- reading revisions


def _git_env() -> dict[str, str]:
    # No optional locks: a read must never block, or be blocked by, the user's own git commands.
    return {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}


def run_git(
    args: Sequence[str], cwd: Path, *, stdin: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run git; a failure (with ``check``) becomes an MregError quoting git's own message."""
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, input=stdin, capture_output=True, timeout=GIT_TIMEOUT, env=_git_env()
        )
    except FileNotFoundError:
        raise MregError("git is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        raise MregError(f"git {args[0]} took longer than {GIT_TIMEOUT:.0f} s") from None
    if check and result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MregError(f"git {args[0]} failed: {detail[-1] if detail else f'exit {result.returncode}'}")
    return result


@dataclass(frozen=True)
class TreeChange:
    """A store file that differs between two sides: its path inside the store and the blob on
    each side (None: absent; ``WORKTREE``: read it from disk)."""

    path: str
    old: str | None
    new: str | None


WORKTREE = "worktree"


@dataclass(frozen=True)
class GitRepo:
    """The git repository holding a store: its work tree root and the store's path inside it."""

    top: Path
    store: Path
    prefix: str  # the store's path relative to ``top``, POSIX, "" when the store is the top

    @classmethod
    def of_store(cls, store: Path) -> GitRepo:
        """The repository holding ``store``; NotFound outside git."""
        if find_git_dir(store) is None:
            raise NotFound(f"the store {store} is not inside a git repository")
        out = run_git(["rev-parse", "--show-toplevel", "--show-prefix"], store).stdout
        lines = out.decode("utf-8").split("\n")
        top = Path(lines[0])
        return cls(top=top, store=store, prefix=lines[1].rstrip("/"))

    def git(self, *args: str, stdin: bytes | None = None, check: bool = True) -> bytes:
        return run_git(["--literal-pathspecs", *args], self.top, stdin=stdin, check=check).stdout

    def repo_path(self, store_path: str) -> str:
        """A path inside the store → the path inside the repository."""
        return f"{self.prefix}/{store_path}" if self.prefix else store_path

    def store_path(self, repo_path: str) -> str | None:
        """A path inside the repository → the path inside the store (None if outside it)."""
        if not self.prefix:
            return repo_path
        head = self.prefix + "/"
        return repo_path[len(head) :] if repo_path.startswith(head) else None

    def commit_of(self, rev: str) -> str | None:
        """The commit ``rev`` names; None if it names nothing (an unborn HEAD included)."""
        out = self.git(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False
        )
        text = out.decode("ascii", "replace").strip()
        return text or None

    def require_commit(self, rev: str) -> str:
        commit = self.commit_of(rev)
        if commit is None:
            raise NotFound(f"revision {rev!r} not found in the git repository at {self.top}")
        return commit

    def empty_tree(self) -> str:
        return self.git("hash-object", "-t", "tree", "--stdin", stdin=b"").decode("ascii").strip()

    def changes(self, old: str, new: str | None, subdirs: Sequence[str]) -> list[TreeChange]:
        """Store files under ``subdirs`` that differ between the tree-ish ``old`` and the
        tree-ish ``new`` (None: the working tree, untracked files included)."""
        specs = [self.repo_path(d) for d in subdirs]
        inside = tuple(f"{d}/" for d in subdirs)
        if new is None:
            # No pathspec: git 2.39 takes five times longer with one (measured on a 24,000-file
            # store); the paths outside the store are dropped below.
            raw = self.git("diff-index", "-z", "--raw", "--no-renames", old)
        else:
            raw = self.git("diff-tree", "-r", "-z", "--raw", "--no-renames", old, new, "--", *specs)
        found: dict[str, TreeChange] = {}
        for repo_path, old_mode, new_mode, old_sha, new_sha in _parse_raw(raw):
            path = self.store_path(repo_path)
            if path is None or not path.startswith(inside):
                continue
            _check_mode(old_mode, repo_path, old)
            if new is not None:
                _check_mode(new_mode, repo_path, new)
            found[path] = TreeChange(
                path,
                None if set(old_sha) <= _ZERO_SHA else old_sha,
                WORKTREE if new is None else (None if set(new_sha) <= _ZERO_SHA else new_sha),
            )
        if new is None:
            others = self.git("ls-files", "-z", "--others", "--", *specs)
            for repo_path in others.decode("utf-8", "surrogateescape").split("\0"):
                path = self.store_path(repo_path) if repo_path else None
                if path is not None and path not in found:
                    found[path] = TreeChange(path, None, WORKTREE)
        return [found[p] for p in sorted(found)]

    def read_blobs(self, shas: Iterable[str], limit: int) -> dict[str, bytes]:
        """The bytes of each blob, through one ``git cat-file --batch``."""
        wanted = sorted(set(shas))
        if not wanted:
            return {}
        out = self.git("cat-file", "--batch", stdin="".join(f"{s}\n" for s in wanted).encode("ascii"))
        blobs: dict[str, bytes] = {}
        pos = 0
        for sha in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end].decode("ascii", "replace").split()
            if len(header) != 3 or header[1] != "blob":
                raise StoreError(f"git object {sha} is not a readable blob ({' '.join(header[1:])})")
            size = int(header[2])
            if size > limit:
                raise StoreError(f"git blob {sha} is {size} bytes, over the {limit}-byte limit for a record")
            blobs[sha] = out[end + 1 : end + 1 + size]
            pos = end + 1 + size + 1
        return blobs

    def read_at(self, rev: str, store_paths: Iterable[str], limit: int) -> dict[str, bytes | None]:
        """The bytes of store files as they are in ``rev`` (None: absent), in one batch."""
        wanted = sorted({p for p in store_paths if "\n" not in p})
        if not wanted:
            return {}
        request = "".join(f"{rev}:{self.repo_path(p)}\n" for p in wanted).encode("utf-8", "surrogateescape")
        out = self.git("cat-file", "--batch", stdin=request)
        found: dict[str, bytes | None] = {}
        pos = 0
        for path in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end]
            pos = end + 1
            if header.endswith(b" missing") or header.endswith(b" ambiguous"):
                found[path] = None
                continue
            fields = header.rsplit(b" ", 2)
            if len(fields) != 3 or fields[1] != b"blob":
                raise StoreError(f"{rev}:{self.repo_path(path)} is not a file")
            size = int(fields[2])
            if size > limit:
                raise StoreError(f"{rev}:{self.repo_path(path)} is over the {limit}-byte limit for a record")
            found[path] = out[pos : pos + size]
            pos += size + 1
        return found

    def list_names(self, rev: str, store_dir: str) -> list[str]:
        """The names in a store folder as it is in ``rev`` ([] when absent)."""
        out = self.git("ls-tree", "-z", "--name-only", f"{rev}", "--", self.repo_path(store_dir) + "/")
        names = []
        for repo_path in out.decode("utf-8", "surrogateescape").split("\0"):
            if repo_path:
                names.append(repo_path.rsplit("/", 1)[-1])
        return sorted(names)


def _parse_raw(raw: bytes) -> list[tuple[str, str, str, str, str]]:
    """``git diff --raw -z`` → (path, old mode, new mode, old sha, new sha)."""
    items = raw.split(b"\0")
    result = []
    i = 0
    while i + 1 < len(items):
        meta = items[i].decode("ascii", "replace")
        path = items[i + 1].decode("utf-8", "surrogateescape")
        i += 2
        if not meta.startswith(":"):
            continue
        old_mode, new_mode, old_sha, new_sha, _status = meta[1:].split(" ")
        result.append((path, old_mode, new_mode, old_sha, new_sha))
    return result


def _check_mode(mode: str, repo_path: str, rev: str) -> None:
    if mode in ("000000", "100644", "100755"):
        return
    what = "a symlink" if mode == "120000" else f"not a regular file (mode {mode})"
    raise StoreError(f"refusing {rev}:{repo_path}: it is {what}")
