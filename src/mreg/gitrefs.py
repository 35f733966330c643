"""What the store holds in git beyond the working tree.

Objects are usually ignored by git, so one ``objects/`` folder serves every branch of a working
copy: an object that no version file of the checked-out branch names may still be the only copy of
an artifact registered on another branch, kept in a tag or a stash, or staged in the index.
``referenced_digests_in_git`` finds every sha256 digest that the version files name in any ref
(branches, tags, remote-tracking refs, every stash entry, a detached HEAD) and in the index, so
that ``mreg gc`` keeps those objects.

The cost does not grow with the number of refs that share files: each ref costs one line to
``git cat-file``; trees and version files are read once per distinct object id, level by level
(models → model → versions → files), through a fixed number of git processes (about ten).

``committed_debris`` lists working files of the store (``cache/``, ``tmp/``, ``trash/``, ``lock``)
that a revision or the index tracks: git should never carry them, and a commit that does can
change what a checkout holds there (see docs/reliability.md).

Everything read from git is untrusted: version files are parsed with ``tomllib`` within a size
limit, and one that does not parse is skipped with a warning naming it.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

from mreg import gitinfo
from mreg.errors import MregError, NotFound
from mreg.store import layout
from mreg.store.files import MAX_METADATA_BYTES
from mreg.store.layout import version_from_filename

MAX_WARNINGS = 20
MAX_TREE_BYTES = 64 * 1024 * 1024
DEBRIS = layout.LOCAL_ENTRIES

_HEX64 = re.compile(r"[0-9a-f]{64}")
_TREE_MODE = b"40000"
_FILE_MODES = (b"100644", b"100755")


class GitUnavailable(MregError):
    """git could not be asked (missing, failing, timing out)."""


def _run(work_tree: Path, args: Sequence[str], stdin: bytes | None = None) -> bytes:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_NO_LAZY_FETCH": "1", "GIT_TERMINAL_PROMPT": "0"}
    try:
        done = subprocess.run(
            ["git", "--literal-pathspecs", *args],
            cwd=work_tree,
            input=stdin,
            capture_output=True,
            timeout=gitinfo.GIT_TIMEOUT,
            env=env,
        )
    except FileNotFoundError:
        raise GitUnavailable("git is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        raise GitUnavailable(f"git {args[0]} took longer than {gitinfo.GIT_TIMEOUT:.0f} s") from None
    except OSError as err:
        raise GitUnavailable(f"cannot run git: {err.strerror or err}") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitUnavailable(f"git {args[0]} failed: {detail[-1] if detail else f'exit {done.returncode}'}")
    return done.stdout


def _models_path(store_rel: str) -> str:
    store_rel = store_rel.strip("/")
    return f"{store_rel}/{layout.MODELS}" if store_rel else layout.MODELS


class _Warnings:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, text: str) -> None:
        if len(self.items) < MAX_WARNINGS:
            self.items.append(text)
        else:
            self.dropped += 1

    def result(self) -> list[str]:
        more = [f"… and {self.dropped} more warnings like these"] if self.dropped else []
        return self.items + more


# ------------------------------------------------------------------------------- git objects


def _batch_check(work_tree: Path, names: Sequence[str]) -> list[tuple[str, str, int] | None]:
    """(id, type, size) of each object name (``<rev>:<path>`` allowed), None when missing."""
    if not names:
        return []
    request = "".join(f"{name}\n" for name in names).encode("utf-8", "surrogateescape")
    lines = _run(work_tree, ["cat-file", "--batch-check"], stdin=request).split(b"\n")
    found: list[tuple[str, str, int] | None] = []
    for line in lines[: len(names)]:
        fields = line.decode("utf-8", "replace").split(" ")
        if len(fields) == 3 and fields[2].isdigit() and gitinfo.is_commit_id(fields[0]):
            found.append((fields[0], fields[1], int(fields[2])))
        else:  # "<name> missing", "<name> ambiguous", or a line git did not write for us
            found.append(None)
    return found


def _read_objects(
    work_tree: Path, ids: Iterable[str], kind: str, limit: int, warnings: _Warnings, what: dict[str, str]
) -> dict[str, bytes]:
    """The contents of objects of type ``kind`` within ``limit`` bytes, in two git processes."""
    wanted = sorted(set(ids))
    sizes = _batch_check(work_tree, wanted)
    readable = []
    for object_id, info in zip(wanted, sizes, strict=True):
        if info is None or info[1] != kind:
            warnings.add(
                f"{what.get(object_id, object_id)}: git object {object_id[:12]} is not a readable {kind}"
            )
        elif info[2] > limit:
            warnings.add(
                f"{what.get(object_id, object_id)}: git {kind} {object_id[:12]} is {info[2]} bytes, "
                f"over the {limit}-byte limit; skipped"
            )
        else:
            readable.append(object_id)
    if not readable:
        return {}
    out = _run(work_tree, ["cat-file", "--batch"], stdin="".join(f"{i}\n" for i in readable).encode("ascii"))
    contents: dict[str, bytes] = {}
    pos = 0
    for object_id in readable:
        end = out.find(b"\n", pos)
        header = out[pos:end].split(b" ") if end >= 0 else []
        if len(header) != 3 or header[0].decode("ascii", "replace") != object_id or not header[2].isdigit():
            raise GitUnavailable(f"git cat-file answered {out[pos : pos + 80]!r} for {object_id}")
        size = int(header[2])
        contents[object_id] = out[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1
    return contents


def _tree_entries(data: bytes, id_bytes: int) -> list[tuple[bytes, str, str]]:
    """(mode, name, id) of each entry of a raw tree object; stops at the first malformed entry."""
    entries = []
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        nul = data.find(b"\0", space + 1) if space >= 0 else -1
        if space < 0 or nul < 0 or nul + 1 + id_bytes > len(data):
            break
        mode = data[pos:space]
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        entries.append((mode, name, data[nul + 1 : nul + 1 + id_bytes].hex()))
        pos = nul + 1 + id_bytes
    return entries


# ------------------------------------------------------------------------------ where to look


def _tips(work_tree: Path) -> list[str]:
    """Every commit a ref or a stash entry keeps alive, as object names for ``cat-file``."""
    refs = _run(work_tree, ["for-each-ref", "--format=%(objectname) %(refname)"]).decode("utf-8", "replace")
    tips = ["HEAD"]  # a detached HEAD is no ref
    has_stash = False
    for line in refs.splitlines():
        object_id, _, name = line.partition(" ")
        if gitinfo.is_commit_id(object_id):
            tips.append(object_id)
            has_stash = has_stash or name == "refs/stash"
    if has_stash:
        # Older stash entries live only in the stash's reflog. A stash commit's tree is the
        # working tree; its second parent holds the index, its third the untracked files (-u).
        log = _run(work_tree, ["log", "--walk-reflogs", "--format=%H", "refs/stash", "--"]).decode(
            "ascii", "replace"
        )
        for object_id in log.split():
            if gitinfo.is_commit_id(object_id):
                tips += [object_id, f"{object_id}^2", f"{object_id}^3"]
    return list(dict.fromkeys(tips))


def _version_blobs_in_refs(work_tree: Path, models: str, warnings: _Warnings) -> dict[str, str]:
    """blob id → a path (for messages) of each version file in any ref's tree."""
    tips = _tips(work_tree)
    found = _batch_check(work_tree, [f"{tip}:{models}" for tip in tips])
    what: dict[str, str] = {}
    for info in found:
        if info is not None and info[1] == "tree":
            what.setdefault(info[0], models)
    if not what:
        return {}
    id_bytes = len(next(iter(what))) // 2
    blobs: dict[str, str] = {}
    # Level by level, each distinct tree read once: 100 branches that share a model cost one read.
    level = what
    for depth in ("models", "model", "versions"):
        trees = _read_objects(work_tree, level, "tree", MAX_TREE_BYTES, warnings, level)
        below: dict[str, str] = {}
        for tree_id, data in trees.items():
            for mode, name, object_id in _tree_entries(data, id_bytes):
                path = f"{level[tree_id]}/{name}"
                is_folder = mode == _TREE_MODE
                if is_folder and (depth == "models" or (depth == "model" and name == "versions")):
                    below.setdefault(object_id, path)
                elif depth == "versions" and mode in _FILE_MODES and version_from_filename(name) is not None:
                    blobs.setdefault(object_id, path)
        level = below
    return blobs


def _version_blobs_in_index(work_tree: Path, models: str) -> dict[str, str]:
    """blob id → path of each version file in the index, every merge stage included."""
    out = _run(work_tree, ["ls-files", "-s", "-z", "--", models])
    blobs: dict[str, str] = {}
    for entry in out.split(b"\0"):
        meta, tab, raw_path = entry.partition(b"\t")
        fields = meta.split(b" ")
        if not tab or len(fields) != 3 or fields[0] not in _FILE_MODES:
            continue
        path = raw_path.decode("utf-8", "surrogateescape")
        parts = path[len(models) + 1 :].split("/") if path.startswith(models + "/") else []
        object_id = fields[1].decode("ascii", "replace")
        if (
            len(parts) == 3
            and parts[1] == "versions"
            and version_from_filename(parts[2]) is not None
            and gitinfo.is_commit_id(object_id)
        ):
            blobs.setdefault(object_id, path)
    return blobs


def _digests_of_version(data: bytes, where: str, warnings: _Warnings) -> set[str]:
    try:
        record = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError, ValueError) as err:
        warnings.add(
            f"{where}: not a readable version file ({str(err).splitlines()[0] if str(err) else err!r})"
        )
        return set()
    artifact = record.get("artifact")
    if artifact is None and record.get("status") == "DELETED":
        return set()  # a tombstone
    if not isinstance(artifact, dict):
        warnings.add(f"{where}: no [artifact] table")
        return set()
    if artifact.get("kind") == "uri":
        return set()
    values: list[object] = [artifact.get("digest")]
    entries = artifact.get("files")
    if isinstance(entries, list):
        values += [entry.get("sha256") for entry in entries if isinstance(entry, dict)]
    digests = set()
    for value in values:
        hexpart = value.removeprefix("sha256:") if isinstance(value, str) else ""
        if _HEX64.fullmatch(hexpart):
            digests.add(hexpart)
        else:
            warnings.add(f"{where}: {value!r} is not a sha256 digest")
    return digests


# ------------------------------------------------------------------------------ the answers


def referenced_digests_in_git(work_tree: Path, store_rel: str) -> tuple[set[str], list[str]]:
    """The sha256 digests (hex) named by the store's version files in every git ref (branches,
    tags, remote-tracking refs, each stash entry, a detached HEAD) and in the index, with
    warnings about what could not be read. ``work_tree`` is the repository's top folder and
    ``store_rel`` the store's path inside it (``.mreg``). Outside a git repository: nothing, and
    no warning. Any warning means the set may be incomplete."""
    if gitinfo.find_git_dir(work_tree) is None:
        return set(), []
    warnings = _Warnings()
    models = _models_path(store_rel)
    try:
        blobs = _version_blobs_in_refs(work_tree, models, warnings)
        for blob_id, path in _version_blobs_in_index(work_tree, models).items():
            blobs.setdefault(blob_id, f"{path} (index)")
        contents = _read_objects(work_tree, blobs, "blob", MAX_METADATA_BYTES, warnings, blobs)
    except GitUnavailable as err:
        return set(), [f"{err}: objects used by other branches, tags or stashes cannot be seen"]
    digests: set[str] = set()
    for blob_id, data in contents.items():
        digests |= _digests_of_version(data, blobs[blob_id], warnings)
    return digests, warnings.result()


def referenced_digests_for_store(store_root: Path) -> tuple[set[str], list[str]]:
    """``referenced_digests_in_git`` for the repository holding the store folder ``store_root``
    (the ``.mreg`` folder). A store outside git, or one whose folder lies outside the work tree
    of the repository found above it (a symlinked ``.mreg``), gives nothing and no warning."""
    found = gitinfo.find_git_dir(store_root)
    if found is None:
        return set(), []
    top, _ = found
    try:
        store_rel = store_root.absolute().relative_to(top).as_posix()
    except ValueError:
        return set(), []
    return referenced_digests_in_git(top, "" if store_rel == "." else store_rel)


def committed_debris(work_tree: Path, store_rel: str, rev: str | None) -> list[str]:
    """Working files of the store (under ``cache/``, ``tmp/``, ``trash/``, and ``lock``) that
    the revision ``rev`` tracks, or the index when ``rev`` is None: paths inside the store,
    sorted. NotFound for a revision git does not know; MregError when git cannot be asked."""
    prefix = store_rel.strip("/")
    specs = [f"{prefix}/{name}" if prefix else name for name in DEBRIS]
    if rev is None:
        out = _run(work_tree, ["ls-files", "-z", "--", *specs])
    else:
        try:
            found = _run(
                work_tree, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{tree}}"]
            )
        except GitUnavailable:
            raise NotFound(f"revision {rev!r} not found in the git repository at {work_tree}") from None
        tree = found.decode("ascii", "replace").strip()
        out = _run(work_tree, ["ls-tree", "-r", "-z", "--name-only", "--full-tree", tree, "--", *specs])
    inside = f"{prefix}/" if prefix else ""
    paths = []
    for raw in out.split(b"\0"):
        path = raw.decode("utf-8", "surrogateescape")
        if path.startswith(inside) and path[len(inside) :].split("/")[0] in DEBRIS:
            paths.append(path[len(inside) :])
    return sorted(paths)
