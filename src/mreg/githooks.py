"""The git pre-push hook: installing it, removing it, and what it does when git runs it.

``install`` writes a small POSIX shell script as the repository's ``pre-push`` hook (in the folder
``git rev-parse --git-path hooks`` names, so ``core.hooksPath`` and linked worktrees are honoured).
A hook that was there before is moved aside to ``pre-push.local`` and run first, with the same
arguments and input; its failure fails the push. ``uninstall`` puts it back byte for byte (a
rename, so its mode too). Installing twice changes nothing.

On ``git push`` the script runs ``mreg hooks pre-push REMOTE URL`` (``pre_push`` here), which reads
git's lines ``<local ref> <local sha> <remote ref> <remote sha>``, finds the version files of the
store that the pushed commits add or change, reads them from git's objects (never from the working
tree) with the store's own record parsers, and pushes the objects they name to the default mreg
remote, as git-lfs does for its files. A branch the remote does not have yet counts the commits
that no remote-tracking ref of REMOTE holds (``git rev-list <local> --not --remotes=REMOTE``).
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mreg import gitinfo
from mreg.errors import AlreadyExists, InvalidInput, MregError
from mreg.store import files
from mreg.store.layout import MODELS, parse_rel
from mreg.store.records import VersionRecord, parse_version

HOOK = "pre-push"
LOCAL_HOOK = "pre-push.local"
MARKER = "# mreg-hook: pre-push"
KEPT_MARKER = "# mreg-hook-kept: pre-push.local"
MAX_HOOK_BYTES = 1024 * 1024


class NotInGit(MregError):
    """The command needs a git repository and there is none."""


# ------------------------------------------------------------------------------- installing


@dataclass(frozen=True)
class HookChange:
    """What ``install`` or ``uninstall`` did. ``action``: installed, updated, unchanged (install);
    removed, not_installed (uninstall). ``local_hook``: where the hook that was there before
    mreg's now lives (install), or the hook put back in place (uninstall); None if there is none."""

    action: str
    hook: Path
    local_hook: Path | None

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.action,
            "hook": str(self.hook),
            "local_hook": None if self.local_hook is None else str(self.local_hook),
        }


@dataclass(frozen=True)
class HookPlace:
    """Where the hooks of the repository holding ``start`` live, and the store's path from the
    repository's top folder (None when no store is known: the hook then finds it by itself)."""

    hooks: Path
    store_rel: str | None


def locate_hooks(start: Path, store: Path | None) -> HookPlace:
    """The hooks folder of the git repository holding ``start``; NotInGit outside one."""
    try:
        found = gitinfo.run_git(["rev-parse", "--show-toplevel", "--git-path", "hooks"], start, check=False)
    except MregError as err:
        raise NotInGit(f"cannot ask git about {start}: {err}") from None
    lines = found.stdout.decode("utf-8", "surrogateescape").splitlines()
    if found.returncode != 0 or len(lines) != 2:
        raise NotInGit(f"{start} is not inside a git work tree (run `git init` first, or pass --store)")
    top, hooks = Path(lines[0]), start / lines[1]  # --git-path answers relative to the working folder
    store_rel = None
    if store is not None:
        try:
            store_rel = store.relative_to(Path(os.path.realpath(top))).as_posix()
        except ValueError:
            store_rel = None  # a store outside the work tree: the hook looks for one itself
    return HookPlace(Path(os.path.abspath(hooks)), store_rel)


def mreg_fallback() -> list[str]:
    """The command that runs this mreg when ``mreg`` is not on PATH in the shell git starts:
    the ``mreg`` script beside this interpreter, else the interpreter with ``-m mreg``."""
    script = Path(sys.executable).parent / "mreg"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "mreg"]


def hook_script(fallback: list[str], store_rel: str | None, *, kept: bool) -> str:
    """The text of mreg's pre-push hook. ``kept``: a hook that was there before was moved to
    pre-push.local by ``install`` (``uninstall`` then puts it back)."""
    command = shlex.join(fallback)
    store = f" --store {shlex.quote(store_rel)}" if store_rel is not None else ""
    return f"""#!/bin/sh
{MARKER}
{KEPT_MARKER if kept else "# (no earlier hook was moved aside)"}
# Pushes the objects of the model versions in the commits being pushed to the default mreg
# remote. Written by `mreg hooks install`; `mreg hooks uninstall` removes it and puts back the
# hook that was here before. Put other pre-push steps in pre-push.local: it runs first.
refs=$(cat)
send_refs() {{
    if [ -n "$refs" ]; then printf '%s\\n' "$refs"; fi
}}
here=$(dirname -- "$0")
if [ -x "$here/{LOCAL_HOOK}" ]; then
    send_refs | "$here/{LOCAL_HOOK}" "$@" || exit $?
fi
if command -v mreg >/dev/null 2>&1; then
    send_refs | mreg{store} hooks pre-push "$@"
elif [ -x {shlex.quote(fallback[0])} ]; then
    send_refs | {command}{store} hooks pre-push "$@"
else
    echo "error: the mreg pre-push hook cannot find mreg (not on PATH, nor {command}):" \\
        "install it, or run 'mreg hooks uninstall'; 'git push --no-verify' skips the hook" >&2
    exit 1
fi
"""


def _read_hook(path: Path) -> bytes | None:
    """The bytes of a hook file, None when absent; a symlink or a folder is someone else's hook."""
    if not os.path.lexists(path):
        return None
    if path.is_symlink() or not path.is_file():
        return b""
    with open(path, "rb") as handle:
        return handle.read(MAX_HOOK_BYTES)


def is_mreg_hook(data: bytes | None) -> bool:
    return data is not None and MARKER.encode() in data.splitlines()[:3]


def _write_hook(path: Path, text: str) -> None:
    """Write a hook atomically, executable: a temp file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".pre-push.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(text.encode("utf-8"))
        os.chmod(temp, 0o755)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def install(place: HookPlace, fallback: list[str] | None = None) -> HookChange:
    """Install mreg's pre-push hook in ``place``; see the module's docstring."""
    hook, local = place.hooks / HOOK, place.hooks / LOCAL_HOOK
    fallback = fallback or mreg_fallback()
    current = _read_hook(hook)
    if is_mreg_hook(current):
        kept = KEPT_MARKER.encode() in (current or b"").splitlines()[:3]
        text = hook_script(fallback, place.store_rel, kept=kept)
        shown = local if kept else None
        if current == text.encode("utf-8") and os.access(hook, os.X_OK):
            return HookChange("unchanged", hook, shown)
        _write_hook(hook, text)
        return HookChange("updated", hook, shown)
    if current is None:
        _write_hook(hook, hook_script(fallback, place.store_rel, kept=False))
        return HookChange("installed", hook, None)
    if os.path.lexists(local):
        raise AlreadyExists(
            f"both {hook} and {local} exist: mreg's hook would take the place of the first and run "
            "the second; merge them into pre-push.local (or remove one), then install again"
        )
    os.rename(hook, local)  # a rename keeps its bytes and mode: uninstall puts it back as it was
    try:
        _write_hook(hook, hook_script(fallback, place.store_rel, kept=True))
    except BaseException:
        os.rename(local, hook)
        raise
    return HookChange("installed", hook, local)


def uninstall(place: HookPlace) -> HookChange:
    """Remove mreg's pre-push hook and put back the hook it moved aside, if any. A hook that is
    not mreg's is left alone (``not_installed``)."""
    hook, local = place.hooks / HOOK, place.hooks / LOCAL_HOOK
    current = _read_hook(hook)
    if not is_mreg_hook(current):
        return HookChange("not_installed", hook, None)
    kept = KEPT_MARKER.encode() in (current or b"").splitlines()[:3]
    if kept and os.path.lexists(local):
        os.replace(local, hook)
        return HookChange("removed", hook, hook)
    hook.unlink()
    return HookChange("removed", hook, None)


# --------------------------------------------------------------------------------- a push


ZERO = frozenset("0")


@dataclass(frozen=True)
class PushedRef:
    """One line git gives a pre-push hook."""

    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str

    @property
    def deletes(self) -> bool:
        return set(self.local_sha) <= ZERO


def parse_push_lines(text: str) -> list[PushedRef]:
    """git's pre-push input: ``<local ref> SP <local sha> SP <remote ref> SP <remote sha> LF``."""
    pushed = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split(" ")
        if len(fields) != 4 or not all(gitinfo.is_commit_id(f) for f in (fields[1], fields[3])):
            shown = line if len(line) <= 200 else line[:200] + "…"
            raise InvalidInput(
                f"line {number} of the pre-push input is not '<local ref> <sha> <remote ref> <sha>': "
                f"{shown!r}"
            )
        pushed.append(PushedRef(*fields))
    return pushed


@dataclass(frozen=True)
class PushedVersion:
    """A live version whose file a pushed commit adds or changes, read from git."""

    model: str
    version: int
    record: VersionRecord
    where: str  # ``<commit>:<path>`` for messages


def _changed_version_files(repo: gitinfo.GitRepo, remote: str, ref: PushedRef) -> list[gitinfo.TreeChange]:
    """The version files (paths inside the store, with their new blob) that pushing ``ref`` adds
    or changes; deletions are left out (they push nothing)."""
    base = None if set(ref.remote_sha) <= ZERO else repo.commit_of(ref.remote_sha)
    if base is not None:
        changes = repo.changes(base, ref.local_sha, (MODELS,))
    else:
        # A new branch, or a remote tip this clone does not have: the commits that no
        # remote-tracking ref of the remote holds, as git-lfs counts them.
        listed = repo.git(
            "rev-list", "--full-history", ref.local_sha, "--not", f"--remotes={remote}", "--",
            repo.repo_path(MODELS),
        )  # fmt: skip
        commits = [c for c in listed.decode("ascii", "replace").split() if gitinfo.is_commit_id(c)]
        changes = repo.changes_in_commits(commits, (MODELS,))
    return [c for c in changes if c.new is not None and _is_version_file(c.path)]


def _is_version_file(path: str) -> bool:
    what = parse_rel(path)
    return what is not None and what.kind == "version"


def pushed_versions(store: Path, remote: str, refs: Iterable[PushedRef]) -> list[PushedVersion]:
    """The live versions whose files the pushed commits add or change, parsed from git's objects
    as untrusted input (DamagedStore names the commit and path of a file that is not what mreg
    writes). Deleted branches and tombstones push nothing."""
    wanted = [ref for ref in refs if not ref.deletes]
    if not wanted:
        return []
    repo = gitinfo.GitRepo.of_store(store)
    # blob id -> (the store path, "<commit>:<repository path>" for messages)
    where: dict[str, tuple[str, str]] = {}
    for ref in wanted:
        for change in _changed_version_files(repo, remote, ref):
            assert change.new is not None
            where.setdefault(change.new, (change.path, f"{ref.local_sha[:12]}:{repo.repo_path(change.path)}"))
    contents = repo.read_blobs(where, files.MAX_METADATA_BYTES)
    found = []
    for blob, (path, shown) in sorted(where.items(), key=lambda item: item[1]):
        what = parse_rel(path)
        assert what is not None and isinstance(what.key, int)
        record = parse_version(Path(shown), files.parse_toml(Path(shown), contents[blob]))
        if isinstance(record, VersionRecord):  # a tombstone pushes nothing
            found.append(PushedVersion(what.model, what.key, record, shown))
    return found


def digests_of(versions: Iterable[PushedVersion]) -> dict[str, int]:
    """sha256 (hex) → size of every blob the versions name (references name none)."""
    blobs: dict[str, int] = {}
    for pushed in versions:
        for entry in pushed.record.artifact.files:
            blobs.setdefault(entry.sha256, entry.size)
    return blobs


@dataclass(frozen=True)
class PrePushResult:
    """What the hook did: ``versions`` found in the pushed commits, ``remote`` the mreg remote's
    name (None when none is configured: nothing was pushed), and the transfer's counts."""

    versions: int
    remote: str | None = None
    pushed: int = 0
    skipped: int = 0
    bytes: int = 0


def pre_push(store: Path, remote: str, lines: str, *, lock_timeout: float | None = None) -> PrePushResult:
    """What the pre-push hook does (see the module's docstring). Raises an MregError when an
    object could not be pushed, so that git aborts the push. ``remote`` is the git remote's
    name (or URL) git gives the hook; the objects go to the default mreg remote."""
    versions = pushed_versions(store, remote, parse_push_lines(lines))
    blobs = digests_of(versions)
    if not blobs:
        return PrePushResult(len(versions))
    # Only now: fsspec and the remotes package are imported by pushes that carry models.
    from mreg.remotes import config, transfer
    from mreg.remotes.backend import RemoteObjects
    from mreg.store.objects import FileEntry
    from mreg.store.store import Store

    opened = Store(store, lock_timeout=lock_timeout)
    target = config.default_or_none(opened)
    if target is None:
        return PrePushResult(len(versions))
    entries = [FileEntry(sha256, sha256, size) for sha256, size in sorted(blobs.items())]
    report = transfer.push(opened, RemoteObjects(target, opened.root.parent), entries)
    report.check()
    return PrePushResult(len(versions), target.name, len(report.done), len(report.skipped), report.bytes)
