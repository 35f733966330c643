"""What mreg learns from git.

* The commit of the working tree, read from ``.git`` directly so that every event can carry it
  without starting a process (``head_state``).
* The full lineage of a new version: one ``git status --porcelain=v2 --branch`` gives the
  commit, the branch and whether the tree is dirty, whatever the ref storage (loose, packed,
  reftable) or the checkout (worktree, submodule, detached HEAD, no commit yet).
* Reading a store as it is in a revision, without checking anything out (``GitRepo``): which
  store files differ between two revisions or a revision and the working tree, and their bytes
  through one ``git cat-file --batch``. ``mreg diff`` and ``mreg merge`` build on it.

``.git`` is untrusted input, like the store: a tarball or a hostile checkout can hold a crafted
``.git`` file or folder. Every file read here is a regular file of bounded size, opened without
blocking; a ref is read only inside the git directory, under a name git itself would accept, and
a commit id is recorded only when it is 40 or 64 lowercase hex digits. Anything else is unknown
(None), never a file's content.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mreg.entities import Lineage
from mreg.errors import DamagedStore, MregError, NotFound
from mreg.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

GIT_TIMEOUT = 120.0
_ZERO_SHA = frozenset("0")

MAX_GIT_FILE_BYTES = 4096  # a .git file, HEAD, a loose ref, commondir: one short line each
MAX_PACKED_REFS_BYTES = 64 * 1024 * 1024  # about 700,000 refs
MAX_SYMREF_DEPTH = 5  # git gives up after 5 levels too (SYMREF_MAXDEPTH)
MAX_REF_NAME = 1024

_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def is_commit_id(text: str) -> bool:
    """40 (SHA-1) or 64 (SHA-256) lowercase hex digits, nothing else."""
    return _COMMIT_ID.fullmatch(text) is not None


def check_ref_format(name: str) -> bool:
    """Whether git would accept ``name`` as a ref (``git check-ref-format`` rules): no ``..``,
    no control characters, space or any of ``~^:?*[\\``, no component that starts with ``.`` or
    ends with ``.lock``, no ``@{``, not ``@``, no empty component, not ending with ``/`` or ``.``."""
    if not name or len(name) > MAX_REF_NAME or name == "@":
        return False
    if ".." in name or "@{" in name or _BAD_REF_CHARS.search(name) or name.endswith("."):
        return False
    return all(part and not part.startswith(".") and not part.endswith(".lock") for part in name.split("/"))


def read_git_file(path: Path, limit: int = MAX_GIT_FILE_BYTES) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes, else None
    (missing, a folder, a FIFO, a device, too big, unreadable). A FIFO is opened without
    blocking and refused by its type, so no read can hang."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, limit + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return None if total > limit else b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _first_line(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8").split("\n", 1)[0].strip()
    except UnicodeDecodeError:
        return None


def _inside(base: Path, relative: str) -> Path | None:
    """``base / relative`` if it stays inside ``base`` once every symlink is resolved."""
    if relative.startswith("/") or "\0" in relative:
        return None
    real_base = os.path.realpath(base)
    real = os.path.realpath(os.path.join(real_base, relative))
    return Path(real) if real.startswith(real_base.rstrip(os.sep) + os.sep) else None


def find_git_dir(start: Path) -> tuple[Path, Path] | None:
    """(work tree root, git dir) of the repository holding ``start``, or None. A ``.git`` file
    (a worktree or a submodule) names its git dir in a ``gitdir:`` line, as git writes it."""
    current = start.absolute()
    for folder in (current, *current.parents):
        dotgit = folder / ".git"
        if dotgit.is_dir():
            return folder, dotgit
        if dotgit.is_file():
            line = _first_line(read_git_file(dotgit))
            if line is None or not line.startswith("gitdir:"):
                return None
            target = Path(line[len("gitdir:") :].strip())
            return folder, target if target.is_absolute() else folder / target
    return None


def _common_dir(git_dir: Path) -> Path:
    line = _first_line(read_git_file(git_dir / "commondir"))
    return git_dir / line if line else git_dir


def _read_ref(git_dir: Path, common: Path, ref: str) -> str | None:
    """The commit a ref names, following symbolic refs a few levels; None when the ref is
    missing, malformed, outside the git directory, or holds anything but a commit id."""
    for _ in range(MAX_SYMREF_DEPTH):
        if not ref.startswith("refs/") or not check_ref_format(ref):
            return None
        value: str | None = None
        for base in (git_dir, common):
            path = _inside(base, ref)
            if path is None:
                return None
            if os.path.lexists(path):
                value = _first_line(read_git_file(path))
                if value is None:  # a folder, a FIFO, a huge file: a broken ref
                    return None
                break
        if value is None:
            return _read_packed_ref(common, ref)
        if value.startswith("ref:"):
            ref = value[4:].strip()
            continue
        return value if is_commit_id(value) else None
    return None


def _read_packed_ref(common: Path, ref: str) -> str | None:
    path = _inside(common, "packed-refs")
    data = None if path is None else read_git_file(path, MAX_PACKED_REFS_BYTES)
    if data is None:
        return None
    wanted = b" " + ref.encode("utf-8") + b"\n"
    for line in data.splitlines(keepends=True):
        if line.endswith(wanted):
            sha = line[: -len(wanted)].decode("ascii", "replace")
            return sha if is_commit_id(sha) else None
    return None


def _read_head(git_dir: Path) -> str | None:
    """HEAD's one line, when HEAD is a small regular file inside the git dir; else None."""
    path = _inside(git_dir, "HEAD")
    return None if path is None else _first_line(read_git_file(path))


def head_state(start: Path) -> tuple[str | None, str | None]:
    """(commit, branch) of HEAD of the repository holding ``start``; Nones outside git, before
    the first commit, or when ``.git`` holds anything git itself would not write. Reads files
    only, except in a reftable repository, where refs are not files and git itself is asked."""
    found = find_git_dir(start)
    if found is None:
        return None, None
    top, git_dir = found
    head = _read_head(git_dir)
    if head is None:
        return None, None
    common = _common_dir(git_dir)
    if (common / "reftable").is_dir():
        return _head_state_from_git(top)
    if head.startswith("ref:"):
        ref = head[4:].strip()
        if not ref.startswith("refs/") or not check_ref_format(ref):
            return None, None
        return _read_ref(git_dir, common, ref), ref.removeprefix("refs/heads/")
    return (head, None) if is_commit_id(head) else (None, None)


def _head_state_from_git(top: Path) -> tuple[str | None, str | None]:
    answers = []
    for args in (
        ["rev-parse", "--verify", "--quiet", "HEAD"],
        ["symbolic-ref", "--quiet", "--short", "HEAD"],
    ):
        import subprocess  # here: an event reads HEAD from .git without running git

        try:
            result = subprocess.run(["git", *args], cwd=top, capture_output=True, timeout=30, env=_git_env())
        except (OSError, subprocess.TimeoutExpired):
            return None, None
        answers.append(
            result.stdout.decode("utf-8", "replace").strip() or None if result.returncode == 0 else None
        )
    commit, branch = answers
    return (
        commit if commit is not None and is_commit_id(commit) else None,
        branch if branch is not None and check_ref_format(f"refs/heads/{branch}") else None,
    )


def head_commit(start: Path) -> str | None:
    return head_state(start)[0]


# Files git opens for `git status`: if one is a FIFO git hangs (until the timeout), so git is
# not asked at all when one of them is anything but a regular file.
_FILES_GIT_READS = (
    "HEAD",
    "index",
    "commondir",
    "gitdir",
    "info/exclude",
    "info/attributes",
    "info/sparse-checkout",
)
_COMMON_FILES_GIT_READS = ("config", "packed-refs", "objects/info/alternates", "config.worktree", "shallow")


def _git_would_block(git_dir: Path) -> bool:
    """Whether a file git reads for ``git status`` is not a regular file (a FIFO would hang git, a
    folder or a huge file would make it fail), or HEAD is not one git would accept."""
    common = _common_dir(git_dir)
    paths = [git_dir / name for name in _FILES_GIT_READS] + [
        common / name for name in _COMMON_FILES_GIT_READS
    ]
    ref = _read_head(git_dir)
    if ref is None:
        return True
    for _ in range(MAX_SYMREF_DEPTH):  # the loose refs HEAD leads to
        if not ref.startswith("ref:"):
            break
        ref = ref[4:].strip()
        if not ref.startswith("refs/") or not check_ref_format(ref):
            return True
        inside = [path for path in (_inside(git_dir, ref), _inside(common, ref)) if path is not None]
        if len(inside) != 2:
            return True
        paths += inside
        ref = next(filter(None, (_first_line(read_git_file(path)) for path in inside)), "")
    for path in paths:
        try:
            mode = os.stat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue
        except (OSError, ValueError):
            return True
        if not stat.S_ISREG(mode):
            return True
    return False


# What git leaves in the git dir while a merge, rebase or cherry-pick waits for a person.
_OPERATION_MARKERS = ("MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD", "rebase-merge", "rebase-apply")


def unmerged_store_files(store: Path) -> list[str]:
    """Files of ``store`` that git left unmerged (a merge, rebase or cherry-pick stopped on a
    conflict in the registry), as git names them; [] outside git or when none. Costs a few stats
    unless one of git's in-progress markers exists; only then is git asked."""
    found = find_git_dir(store)
    if found is None:
        return []
    top, git_dir = found
    if not any(os.path.lexists(git_dir / marker) for marker in _OPERATION_MARKERS):
        return []
    if _git_would_block(git_dir):
        return []
    result = run_git(["ls-files", "-u", "-z", "--", str(store)], top, check=False)
    if result.returncode != 0:
        return []
    unmerged = (item.partition("\t")[2] for item in result.stdout.decode("utf-8", "replace").split("\0"))
    return sorted({path for path in unmerged if path})


def _status_v2(top: Path, pathspec: Sequence[str]) -> tuple[str | None, str | None, bool] | None:
    """(commit, branch, dirty) from ``git status --porcelain=v2 --branch``; None if git fails.
    Untracked files do not count as dirty: build outputs and the model file itself usually are."""
    import subprocess

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
            commit = value if is_commit_id(value) else None
        elif entry.startswith(b"# branch.head "):
            value = entry[len(b"# branch.head ") :].decode("utf-8", "replace")
            valid = value != "(detached)" and check_ref_format(f"refs/heads/{value}")
            branch = value if valid else None
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
    top, git_dir = found
    pathspec = ["--", "."]
    if store is not None:
        with contextlib.suppress(ValueError):
            pathspec.append(f":(exclude,literal){store.absolute().relative_to(top).as_posix()}")
    status = None if _git_would_block(git_dir) else _status_v2(top, pathspec)
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
    import subprocess

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


@dataclass(frozen=True, eq=False, repr=False)
class TreeChange(Value):
    """A store file that differs between two sides: its path inside the store and the blob on
    each side (None: absent; ``WORKTREE``: read it from disk)."""

    path: str
    old: str | None
    new: str | None


WORKTREE = "worktree"


@dataclass(frozen=True, eq=False, repr=False)
class GitRepo(Value):
    """The git repository holding a store: its work tree root and the store's path inside it."""

    top: Path
    store: Path
    prefix: str  # the store's path relative to ``top``, POSIX, "" when the store is the top

    @classmethod
    def of_store(cls, store: Path) -> GitRepo:
        """The repository holding ``store``; NotFound outside git."""
        if find_git_dir(store) is None:
            raise NotFound(f"the store {store} is not inside a git repository")
        try:
            out = run_git(["rev-parse", "--show-toplevel", "--show-prefix"], store).stdout
        except MregError as err:  # a .git that git does not take for a repository
            raise NotFound(f"the store {store} is not inside a git repository git can read: {err}") from None
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

    def changes_in_commits(self, commits: Sequence[str], subdirs: Sequence[str]) -> list[TreeChange]:
        """Store files under ``subdirs`` that each of ``commits`` changes against its parents
        (a merge against each parent, a root commit against nothing), in one ``git diff-tree``.
        A path changed by several commits is listed once per distinct new blob."""
        if not commits:
            return []
        specs = [self.repo_path(d) for d in subdirs]
        inside = tuple(f"{d}/" for d in subdirs)
        raw = self.git(
            "diff-tree", "--stdin", "-m", "-r", "-z", "--raw", "--no-renames", "--no-commit-id", "--root",
            "--", *specs, stdin="".join(f"{c}\n" for c in commits).encode("ascii"),
        )  # fmt: skip
        found: dict[tuple[str, str | None], TreeChange] = {}
        for repo_path, old_mode, new_mode, old_sha, new_sha in _parse_raw(raw):
            path = self.store_path(repo_path)
            if path is None or not path.startswith(inside):
                continue
            _check_mode(old_mode, repo_path, "a pushed commit")
            _check_mode(new_mode, repo_path, "a pushed commit")
            new = None if set(new_sha) <= _ZERO_SHA else new_sha
            found.setdefault(
                (path, new), TreeChange(path, None if set(old_sha) <= _ZERO_SHA else old_sha, new)
            )
        return [found[key] for key in sorted(found, key=lambda k: (k[0], k[1] or ""))]

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
                raise DamagedStore(f"git object {sha} is not a readable blob ({' '.join(header[1:])})")
            size = int(header[2])
            if size > limit:
                raise DamagedStore(
                    f"git blob {sha} is {size} bytes, over the {limit}-byte limit for a record"
                )
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
                raise DamagedStore(f"{rev}:{self.repo_path(path)} is not a file")
            size = int(fields[2])
            if size > limit:
                raise DamagedStore(
                    f"{rev}:{self.repo_path(path)} is over the {limit}-byte limit for a record"
                )
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
    raise DamagedStore(f"refusing {rev}:{repo_path}: it is {what}")
