"""Content-addressed blobs: put (hash while copying, one pass), verify, materialize.

A blob is the raw bytes of one artifact file at ``objects/sha256/ab/cdef…``, read-only. Copying in
happens before the store lock is taken: the temp file lives in ``.mreg/tmp/`` and is renamed to its
final name, so a blob is either whole or absent. Identical content is stored once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mreg import names
from mreg.entities import Artifact, ArtifactFile
from mreg.errors import AlreadyExists, IntegrityError, InvalidInput, NotFound, StoreError
from mreg.store import files
from mreg.store.layout import Layout

if TYPE_CHECKING:
    from hashlib import _Hash as Hash
    from queue import SimpleQueue

CHUNK = 8 * 1024 * 1024  # large reads and writes: fewer system calls, longer GIL-free hashing
BUFFERS = 3  # chunks in flight between the copying and the hashing thread
WRITEBACK = 64 * 1024 * 1024
Progress = Callable[[int], None]


@dataclass(frozen=True)
class FileEntry:
    """One file of an artifact: its path inside the artifact (POSIX), sha256 and size."""

    path: str
    sha256: str
    size: int


def _umask() -> int:
    # Linux reports the umask in /proc; setting it to read it back (the fallback) briefly changes
    # it for every thread of the process.
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_all(dst: int, chunk: memoryview) -> None:
    while chunk:
        chunk = chunk[os.write(dst, chunk) :]


def _hash_chunks(
    digest: Hash, filled: SimpleQueue[tuple[bytearray, int] | None], free: SimpleQueue[bytearray]
) -> None:
    # hashlib releases the GIL while it hashes a large buffer, so this runs beside the reads and
    # writes of the copying thread; each buffer goes back to ``free`` once hashed.
    while (item := filled.get()) is not None:
        buffer, n = item
        digest.update(memoryview(buffer)[:n])
        free.put(buffer)


def _copy_hashing(src: int, dst: int, progress: Progress | None) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` in one pass, returning the sha256 and size of the bytes written.

    The calling thread reads and writes while a second thread hashes the same buffers: on a large
    file hashing and copying then overlap instead of adding up. A file of one chunk is hashed
    in the calling thread. Every ``WRITEBACK`` bytes the kernel is asked to start writing the
    copy to disk (and may then drop it from the page cache), so the final fsync has little left.
    """
    import hashlib  # here, not at the top: reading a store never hashes
    import threading
    from queue import SimpleQueue

    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(src, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    digest = hashlib.sha256()
    free: SimpleQueue[bytearray] = SimpleQueue()
    allocated = 0
    filled: SimpleQueue[tuple[bytearray, int] | None] = SimpleQueue()
    hasher: threading.Thread | None = None
    size = flushed = 0
    try:
        while True:
            if free.empty() and allocated < BUFFERS:
                free.put(bytearray(CHUNK))  # allocated as needed: a small file needs one
                allocated += 1
            buffer = free.get()
            n = os.readv(src, [buffer])
            if not n:
                break
            chunk = memoryview(buffer)[:n]
            if size == 0:
                digest.update(chunk)  # the first chunk, often the only one: no thread needed
            else:
                if hasher is None:
                    hasher = threading.Thread(target=_hash_chunks, args=(digest, filled, free), daemon=True)
                    hasher.start()
                filled.put((buffer, n))
            _write_all(dst, chunk)
            if size == 0:
                free.put(buffer)
            size += n
            if progress is not None:
                progress(n)
            if size - flushed >= WRITEBACK and hasattr(os, "posix_fadvise"):
                with contextlib.suppress(OSError):
                    os.posix_fadvise(dst, flushed, size - flushed, os.POSIX_FADV_DONTNEED)
                flushed = size
    finally:
        if hasher is not None:
            filled.put(None)
            hasher.join()
    return digest.hexdigest(), size


def put_file(layout: Layout, source: Path, progress: Progress | None = None) -> FileEntry:
    """Copy ``source`` into the object store, hashing in the same pass. Returns its entry
    (``path`` is the file's name)."""
    root = layout.root
    files.make_dirs(root, layout.tmp)
    tmp = files.temp_name(layout.tmp / "blob")
    try:
        src = os.open(source, os.O_RDONLY)
    except OSError as err:
        raise NotFound(f"cannot read {source}: {err.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(src).st_mode):
            raise InvalidInput(f"{source} is not a regular file")
        files.checkpoint("create blob temp")
        # Created read-only (minus the umask): the descriptor that creates it may still write.
        dst = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
        try:
            hexdigest, size = _copy_hashing(src, dst, progress)
            files.checkpoint("fsync blob")
            os.fsync(dst)
        finally:
            os.close(dst)
    except BaseException:
        os.close(src)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    os.close(src)
    final = layout.blob(hexdigest)
    try:
        files.ensure_no_symlink(root, final)
        if os.path.lexists(final):
            os.unlink(tmp)  # already stored: identical content is kept once
        else:
            files.rename(root, tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return FileEntry(source.name, hexdigest, size)


def walk_source_tree(source: Path, skip: Path | None = None) -> Iterator[tuple[str, Path]]:
    """Files under a source folder as (POSIX path inside the artifact, path), sorted.
    Symlinked files are read through; symlinked folders are not entered; the folder ``skip``
    (the store itself, when a whole repository is registered) is left out."""
    for folder, dirnames, filenames in os.walk(source):
        if skip is not None:
            dirnames[:] = [d for d in dirnames if os.path.realpath(Path(folder) / d) != str(skip)]
        dirnames.sort()
        for filename in sorted(filenames):
            path = Path(folder) / filename
            rel = path.relative_to(source).as_posix()
            if path.is_file():
                yield rel, path
            elif not path.exists():
                raise InvalidInput(f"{path} is a broken symlink")


def put_tree(layout: Layout, source: Path, progress: Progress | None = None) -> list[FileEntry]:
    """Copy every file under ``source`` into the object store. Returns the manifest, sorted.
    A path the version record could not hold (too deep, too long) is refused before any copy."""
    from mreg.store.records import MANIFEST_DEPTH_MAX, MANIFEST_PATH_MAX, manifest_path_ok

    found = list(walk_source_tree(source, skip=layout.root))
    for rel, path in found:
        if not manifest_path_ok(rel):
            raise InvalidInput(
                f"{path}: a path inside an artifact may have at most {MANIFEST_DEPTH_MAX} folders "
                f"and {MANIFEST_PATH_MAX} bytes"
            )
    entries = [
        FileEntry(rel, entry.sha256, entry.size)
        for rel, path in found
        for entry in [put_file(layout, path, progress)]
    ]
    if not entries:
        raise InvalidInput(f"{source} holds no files")
    return sorted(entries, key=lambda e: e.path)


def tree_digest(entries: list[FileEntry]) -> str:
    """The digest of a directory artifact: sha256 of its manifest, one ``sha256 size path`` line
    per file in path order (stable, documented in docs/store-format.md)."""
    import hashlib

    lines = "".join(f"{e.sha256} {e.size} {e.path}\n" for e in sorted(entries, key=lambda e: e.path))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def blob_path(layout: Layout, hexdigest: str) -> Path:
    """The path of a stored blob, checked to be a regular file inside the store."""
    path = layout.blob(hexdigest)
    files.ensure_no_symlink(layout.root, path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise IntegrityError(
            f"object {hexdigest[:12]}… is missing from {files.display_path(layout.objects)}"
        ) from None
    if not stat.S_ISREG(mode):
        raise StoreError(f"{files.display_path(path)} is not a regular file")
    return path


def hash_blob(layout: Layout, hexdigest: str) -> str:
    """Re-hash a stored blob and return what its bytes hash to."""
    import hashlib

    path = blob_path(layout, hexdigest)
    digest = hashlib.sha256()
    # O_NONBLOCK: blob_path checked it is a regular file; if it was swapped for a FIFO since,
    # the open must not wait for a writer.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with open(fd, "rb", buffering=0) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_blob_verified(
    layout: Layout, entry: FileEntry, dest: Path, progress: Progress | None = None
) -> None:
    """Copy a blob to ``dest`` (a new file), checking its sha256 on the way."""
    path = blob_path(layout, entry.sha256)
    src = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        dst = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            hexdigest, size = _copy_hashing(src, dst, progress)
            os.fsync(dst)
        finally:
            os.close(dst)
    finally:
        os.close(src)
    if hexdigest != entry.sha256 or size != entry.size:
        raise IntegrityError(
            f"object for {entry.path!r} is corrupt: expected sha256 {entry.sha256[:12]}… "
            f"({entry.size} bytes), found {hexdigest[:12]}… ({size} bytes)"
        )


def materialize_tree(layout: Layout, hexdigest: str, entries: list[FileEntry]) -> Path:
    """A folder holding a directory artifact's files, built once under ``cache/trees/`` from
    hard links to the blobs (copies where links are not possible)."""
    final = layout.tree_cache(hexdigest)
    files.ensure_no_symlink(layout.root, final)
    if final.is_dir():
        return final
    files.make_dirs(layout.root, final.parent)
    tmp = files.temp_name(final)
    try:
        for entry in entries:
            target = tmp / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            blob = blob_path(layout, entry.sha256)
            try:
                os.link(blob, target)
            except OSError:
                shutil.copyfile(blob, target)
                os.chmod(target, 0o444 & ~_umask())
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(tmp)  # another process built it first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


class ObjectBackend:
    """What a place holding blobs offers: the local object store, and later a remote."""

    def has(self, sha256: str) -> bool:
        """Whether the blob is there (not checked for corruption)."""
        raise NotImplementedError

    def fetch(self, entry: FileEntry, dest: Path, progress: Progress | None = None) -> None:
        """Write the blob of ``entry`` to ``dest`` (a new file), checking its sha256 and size
        on the way: IntegrityError on a mismatch."""
        raise NotImplementedError


def entries_of(artifact: Artifact) -> list[FileEntry]:
    return [FileEntry(f.path, f.sha256, f.size) for f in artifact.files]


_URI_SCHEMES = ("runs:/", "models:/", "mlflow-artifacts:/")


def is_uri(source: str) -> bool:
    """Whether ``source`` names a remote artifact (recorded as a reference, never copied)."""
    scheme, sep, _ = source.partition("://")
    if sep and len(scheme) > 1 and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        return True
    return source.startswith(_URI_SCHEMES)


class ObjectStore(ObjectBackend):
    """The store's own blobs (``objects/sha256/``) and everything done with an artifact's bytes:
    storing a file or folder (hash while copying), handing out a local path, verified copies out,
    integrity checks."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def has(self, sha256: str) -> bool:
        return os.path.isfile(self.layout.blob(sha256))

    def fetch(self, entry: FileEntry, dest: Path, progress: Progress | None = None) -> None:
        copy_blob_verified(self.layout, entry, dest, progress)

    def blob_path(self, sha256: str) -> Path:
        return blob_path(self.layout, sha256)

    def hash_blob(self, sha256: str) -> str:
        return hash_blob(self.layout, sha256)

    def store_source(
        self, source: str | os.PathLike[str], progress: Progress | None = None
    ) -> tuple[Artifact, str, Path | None]:
        """What ``register SOURCE`` records: (artifact, source as given, local path or None). A URI
        is recorded as a reference; a local file or folder is copied in (``store``)."""
        text = os.fspath(source)
        if not isinstance(text, str) or not text:
            raise InvalidInput("source must not be empty")
        names.validate_text(text, "source", names.SOURCE_MAX)
        if is_uri(text):
            return Artifact(kind="uri", uri=text), text, None
        path = Path(text)
        real = Path(os.path.realpath(path))
        root = self.layout.root
        if real == root or root in real.parents:
            raise InvalidInput(f"source {text} is inside the store; register a file or folder outside .mreg/")
        return self.store(path, progress), text, path

    def store(self, path: Path, progress: Progress | None = None) -> Artifact:
        """Copy a local file or folder into the object store; the artifact that records it."""
        if path.is_dir():
            entries = put_tree(self.layout, path, progress)
            return Artifact(
                kind="directory",
                digest=tree_digest(entries),
                size=sum(e.size for e in entries),
                files=tuple(ArtifactFile(e.path, e.sha256, e.size) for e in entries),
            )
        if path.is_file():
            entry = put_file(self.layout, path, progress)
            return Artifact(
                kind="file",
                digest=entry.sha256,
                size=entry.size,
                files=(ArtifactFile(entry.path, entry.sha256, entry.size),),
            )
        if path.exists():
            raise InvalidInput(f"source {path} is neither a file nor a folder")
        raise NotFound(f"source {path} does not exist")

    def local_path(self, artifact: Artifact) -> Path:
        """A local path holding a stored artifact: the blob of a file, a materialized folder for
        a directory (hold the objects pin while it is built)."""
        assert artifact.digest is not None and artifact.kind in ("file", "directory")
        if artifact.kind == "file":
            return self.blob_path(artifact.files[0].sha256)
        return materialize_tree(self.layout, artifact.digest, entries_of(artifact))

    def copy_out(
        self, artifact: Artifact, dest: Path, *, force: bool = False, progress: Progress | None = None
    ) -> Path:
        """Copy a stored artifact to ``dest``, checking every file's sha256 on the way. Nothing
        is left at ``dest`` on failure; an existing ``dest`` is replaced only with ``force``."""
        if (dest.exists() or dest.is_symlink()) and not force:
            raise AlreadyExists(f"{dest} already exists (use --force to replace it)")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = files.temp_name(dest.absolute())
        try:
            if artifact.kind == "file":
                self.fetch(entries_of(artifact)[0], tmp, progress)
            else:
                tmp.mkdir()
                for entry in entries_of(artifact):
                    out = tmp / entry.path
                    out.parent.mkdir(parents=True, exist_ok=True)
                    self.fetch(entry, out, progress)
            _replace(tmp, dest)
        except BaseException:
            _remove_any(tmp)
            raise
        return dest

    def verify(self, artifact: Artifact, what: str) -> None:
        """Re-hash every blob of an artifact (of ``what``, for the message); IntegrityError on
        the first that does not match."""
        for entry in artifact.files:
            actual = self.hash_blob(entry.sha256)
            if actual != entry.sha256:
                raise IntegrityError(f"object of {entry.path!r} in {what} is corrupt (sha256 {actual[:12]}…)")


def _replace(tmp: Path, target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        aside = files.temp_name(target.absolute())
        os.rename(target, aside)
        os.rename(tmp, target)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(tmp, target)


def _remove_any(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
