"""``mreg gc``: remove what ``mreg fsck`` calls leftovers, under the store lock.

gc removes exactly the findings of severity ``leftover``, and nothing while the store has errors
(an unreadable version file could be the only reference to an object). A registration copies its
artifact into the store before it takes the store lock; while any writer holds the objects pin,
gc leaves unreferenced objects and temp files of that kind alone and says so.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mreg import fsck
from mreg.errors import IntegrityError
from mreg.fsck import Finding
from mreg.store import files
from mreg.store.layout import Layout

if TYPE_CHECKING:
    from mreg.remotes.backend import RemoteObjects
    from mreg.store.store import Store


@dataclass(frozen=True)
class GcReport:
    """What gc removed (or, in a dry run, would remove), and what it left for a later run."""

    deleted: bool
    removed: tuple[Finding, ...]
    kept: tuple[Finding, ...]
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "deleted": self.deleted,
            "bytes": self.bytes,
            "removed": [f.to_dict() for f in self.removed],
            "kept": [f.to_dict() for f in self.kept],
        }


def _size(path: Path) -> int:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return 0
    if not stat.S_ISDIR(info.st_mode):
        return info.st_size
    total = 0
    for folder, _, filenames in os.walk(path):
        for name in filenames:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _remove(layout: Layout, path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        files.remove_tree(layout.root, path)
    else:
        files.remove_file(layout.root, path)
    if path.parent.parent == layout.objects:
        files.remove_file(layout.root, layout.verified_marker(path.parent.name + path.name))
        with contextlib.suppress(OSError):
            os.rmdir(path.parent)  # the fan-out folder, once empty


@contextlib.contextmanager
def _pin_unless_dry_run_on_read_only(store: Store, delete: bool) -> Iterator[bool]:
    """The objects pin, exclusively if no writer holds it (yields whether none does). A dry run
    on a store that cannot be written goes without: no writer can have objects in flight there."""
    with contextlib.ExitStack() as stack:
        try:
            no_writer = stack.enter_context(store.pin.exclusive_if_free())
        except OSError as err:
            if delete or err.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            no_writer = True
        yield no_writer


def _pushed_objects(scan: fsck.Scan, remote: RemoteObjects) -> list[Finding]:
    """The objects of live versions that are here and that ``remote`` holds with the same size:
    removable with ``gc --pushed`` (lazy fetch brings them back). Asked before any removal."""
    layout = scan.layout
    here = {}
    for sha256 in scan.referenced_blobs:
        with contextlib.suppress(OSError):
            info = os.lstat(layout.blob(sha256))
            if stat.S_ISREG(info.st_mode):
                here[sha256] = info.st_size
    held = remote.sizes(list(here))
    return [
        Finding(
            fsck.LEFTOVER,
            "pushed-object",
            layout.rel(layout.blob(sha256)),
            f"{files.display_path(layout.blob(sha256))}: on {remote.where()}",
        )
        for sha256, size in sorted(here.items())
        if held.get(sha256) == size
    ]


def collect_garbage(store: Store, *, delete: bool = False, remote: RemoteObjects | None = None) -> GcReport:
    """Find the leftovers and, with ``delete``, remove them. Raises IntegrityError (exit 5) when
    the store has errors, so that nothing is removed on a misreading of it. A dry run needs no
    write access: on a store that cannot be written it runs without the lock (as fsck does).
    With ``remote`` (``gc --pushed``), the objects that remote holds are removable too."""
    layout = store.layout
    with store.locked() if delete else fsck.locked_unless_read_only(store):
        scan, findings = fsck.scan_store(store)
        problems = fsck.errors(findings)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise IntegrityError(
                f"gc removes nothing while the store has errors: {problems[0].message}{more}; see `mreg fsck`"
            )
        leftovers = [f for f in findings if f.severity == fsck.LEFTOVER]
        if remote is not None:
            leftovers += _pushed_objects(scan, remote)
        with _pin_unless_dry_run_on_read_only(store, delete) as no_writer:
            removed: list[Finding] = []
            kept: list[Finding] = []
            for finding in leftovers:
                (removed if no_writer or finding.kind not in fsck.IN_FLIGHT_KINDS else kept).append(finding)
            size = sum(_size(layout.path(f.path)) for f in removed)
            if delete:
                for finding in removed:
                    _remove(layout, layout.path(finding.path))
    return GcReport(deleted=delete, removed=tuple(removed), kept=tuple(kept), bytes=size)
