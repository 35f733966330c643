"""Push and pull: which blobs, skip what is there (one listing), a pool of ``jobs`` threads.

A push uploads the blobs of the named versions that the remote lacks, each one checked against
its sha256 first (a local blob that does not hash to its name is never pushed). A pull streams
the blobs that are not here from the remote into ``tmp/``, checks them on the way and renames
them into ``objects/`` (``objects.fetch_into_store``), holding the objects pin as register does.
One object failing does not stop the others: the report lists it, and a re-run completes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from mreg.errors import IntegrityError, InvalidInput, MregError, RemoteError
from mreg.remotes.backend import RemoteObjects, describe
from mreg.store.objects import FileEntry, fetch_into_store, verified_blob
from mreg.store.records import VersionRecord

if TYPE_CHECKING:
    from mreg.entities import Artifact
    from mreg.store.store import Store

DEFAULT_JOBS = 8
JOBS_MAX = 256


class TransferProgress(Protocol):
    """What a push or pull reports while it runs (the command line draws a bar with it)."""

    def start(self, files: int, total: int) -> None:
        """The plan: ``files`` objects, ``total`` bytes to move."""

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more moved (called from the worker threads)."""

    def file_done(self) -> None:
        """One more object done (or failed)."""


@dataclass
class TransferReport:
    """What a push or pull did. ``done`` are the objects moved (``pushed`` or ``pulled``),
    ``skipped`` those already there, ``failed`` those that could not be moved, with the error
    of each; ``bytes`` the bytes moved. ``check()`` raises the error a command exits with."""

    direction: str
    remote: str
    url: str
    done: list[FileEntry] = field(default_factory=list)
    skipped: list[FileEntry] = field(default_factory=list)
    failed: list[tuple[FileEntry, MregError]] = field(default_factory=list)
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def error(self) -> MregError | None:
        """None when every object was moved or skipped; else one error for the whole transfer:
        IntegrityError (exit 5) when any object had bad content, RemoteError (exit 1) otherwise,
        its message the first failure's with a count of the others."""
        if not self.failed:
            return None
        bad = [(e, err) for e, err in self.failed if isinstance(err, IntegrityError)]
        first = (bad or self.failed)[0][1]
        more = f" ({len(self.failed) - 1} more object(s) failed too)" if len(self.failed) > 1 else ""
        cls = IntegrityError if bad else type(first) if isinstance(first, RemoteError) else MregError
        error = cls(f"{first}{more}")
        error.exit_code = first.exit_code if not bad else IntegrityError.exit_code
        return error

    def check(self) -> None:
        """Raise ``error()`` when some object failed."""
        error = self.error()
        if error is not None:
            raise error

    def to_dict(self) -> dict[str, Any]:
        def item(entry: FileEntry) -> dict[str, Any]:
            return {"sha256": entry.sha256, "size": entry.size}

        return {
            "remote": self.remote,
            "url": self.url,
            ("pushed" if self.direction == "push" else "pulled"): [item(e) for e in self.done],
            "skipped": [item(e) for e in self.skipped],
            "failed": [{**item(e), "error": str(err)} for e, err in self.failed],
            "bytes": self.bytes,
        }


def check_jobs(jobs: int | None) -> int:
    if jobs is None:
        return DEFAULT_JOBS
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= JOBS_MAX:
        raise InvalidInput(f"jobs must be a number from 1 to {JOBS_MAX}")
    return jobs


def live_versions(store: Store) -> Iterator[tuple[str, int, VersionRecord]]:
    """Every live version of every model: (name, number, record)."""
    for name in store.model_names():
        numbers = store.version_numbers(name)
        for number, record in store.versions(name, numbers):
            if isinstance(record, VersionRecord):
                yield name, number, record


def entries_of_versions(artifacts: Iterable[Artifact]) -> list[FileEntry]:
    """The blobs of the versions' artifacts, each once (URI references hold none)."""
    found: dict[str, FileEntry] = {}
    for artifact in artifacts:
        for f in artifact.files:
            found.setdefault(f.sha256, FileEntry(f.path, f.sha256, f.size))
    return list(found.values())


class TransferStopped(Exception):
    """Raised inside a worker when the transfer is being stopped (Ctrl-C): an Exception, so that
    s3fs aborts a multipart upload in flight instead of leaving it to finish."""


def _run(
    jobs: int, todo: list[FileEntry], work: Any, report: TransferReport, progress: TransferProgress | None
) -> None:
    """Run ``work(entry, advance)`` for each of ``todo`` on ``jobs`` threads. The calling thread
    only waits, so that Ctrl-C there stops the workers at their next chunk (each removes what it
    had half-written) and then unwinds, instead of waiting for every transfer to finish."""
    lock = threading.Lock()
    stop = threading.Event()

    def advance(n: int) -> None:
        if stop.is_set():
            raise TransferStopped("interrupted")
        if progress is not None:
            progress.advance(n)

    def one(entry: FileEntry) -> None:
        if stop.is_set():
            return
        try:
            work(entry, advance)
        except MregError as err:
            if stop.is_set():
                return
            with lock:
                report.failed.append((entry, err))
        else:
            with lock:
                report.done.append(entry)
                report.bytes += entry.size
        finally:
            if progress is not None:
                progress.file_done()

    if progress is not None:
        progress.start(len(todo), sum(e.size for e in todo))
    if not todo:
        return
    pool = ThreadPoolExecutor(max_workers=min(jobs, len(todo)), thread_name_prefix="mreg-transfer")
    try:
        for future in [pool.submit(one, entry) for entry in todo]:
            future.result()
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def push(
    store: Store,
    remote: RemoteObjects,
    entries: list[FileEntry],
    *,
    jobs: int = DEFAULT_JOBS,
    progress: TransferProgress | None = None,
) -> TransferReport:
    """Upload the blobs of ``entries`` that ``remote`` lacks (present with the right size:
    skipped). A blob missing here or not hashing to its name fails, and is never uploaded."""
    report = TransferReport("push", remote.remote.name, remote.remote.url)
    present = remote.sizes([e.sha256 for e in entries])
    todo: list[FileEntry] = []
    for entry in entries:
        (report.skipped if present.get(entry.sha256) == entry.size else todo).append(entry)

    def upload(entry: FileEntry, advance: Any) -> None:
        if not store.objects.has(entry.sha256):
            raise MregError(
                f"object {describe(entry.sha256)} of {entry.path!r} is neither in this store nor on "
                f"{remote.where()}: push it from the working copy that registered it"
            )
        path = store.objects.blob_path(entry.sha256)
        try:
            verified_blob(store.layout, entry, f"the object {describe(entry.sha256)}")
        except IntegrityError as err:
            raise IntegrityError(f"not pushed to {remote.where()}: {err}") from None
        remote.upload(path, entry, advance)

    _run(jobs, todo, upload, report, progress)
    return report


def pull(
    store: Store,
    remote: RemoteObjects,
    entries: list[FileEntry],
    *,
    jobs: int = DEFAULT_JOBS,
    progress: TransferProgress | None = None,
) -> TransferReport:
    """Fetch the blobs of ``entries`` that are not here from ``remote``, verified on the way in;
    those already here (a regular file of the right size) are skipped."""
    import os

    report = TransferReport("pull", remote.remote.name, remote.remote.url)
    todo: list[FileEntry] = []
    for entry in entries:
        try:
            here = os.lstat(store.layout.blob(entry.sha256))
        except OSError:
            here = None
        (report.skipped if here is not None and here.st_size == entry.size else todo).append(entry)
    present = remote.sizes([e.sha256 for e in todo]) if todo else {}
    wanted = []
    for entry in todo:
        if entry.sha256 in present:
            wanted.append(entry)
        else:
            report.failed.append(
                (entry, RemoteError(f"{remote.where()}, object {describe(entry.sha256)}: not on the remote"))
            )

    def fetch(entry: FileEntry, advance: Any) -> None:
        fetch_into_store(store.layout, remote, entry, advance)

    with store.pin.shared():
        _run(jobs, wanted, fetch, report, progress)
    return report


def not_held(store: Store, remote: RemoteObjects) -> list[tuple[str, int, FileEntry]]:
    """Live versions with an object that neither this store nor ``remote`` holds: (model,
    version, the first such object), for ``fsck --remote``."""
    import os

    versions = list(live_versions(store))
    missing_here: dict[str, FileEntry] = {}
    for _, _, record in versions:
        for f in record.artifact.files:
            if not os.path.isfile(store.layout.blob(f.sha256)):
                missing_here[f.sha256] = FileEntry(f.path, f.sha256, f.size)
    if not missing_here:
        return []
    present = remote.sizes(list(missing_here))
    found = []
    for name, number, record in versions:
        for f in record.artifact.files:
            if f.sha256 in missing_here and present.get(f.sha256) != f.size:
                found.append((name, number, missing_here[f.sha256]))
                break
    return found
