"""Content-addressed blobs: put (hash while copying, one pass), verify, materialize.

A blob is the raw bytes of one artifact file at ``objects/sha256/ab/cdef…``, read-only. Copying in
happens before the store lock is taken: the temp file lives in ``.mreg/tmp/`` and is renamed to its
final name, so a blob is either whole or absent. Identical content is stored once.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mreg import names
from mreg.entities import Artifact, ArtifactFile
from mreg.errors import AlreadyExists, DamagedStore, IntegrityError, InvalidInput, NotFound, StoreError
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
    try:
        _place_blob(layout, tmp, hexdigest, size)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return FileEntry(source.name, hexdigest, size)


def fetch_into_store(
    layout: Layout, backend: ObjectBackend, entry: FileEntry, progress: Progress | None = None
) -> None:
    """Bring the blob of ``entry`` in from ``backend`` (a remote): streamed into ``tmp/`` and
    checked against its sha256 and size on the way (``backend.fetch``), then renamed into
    ``objects/``. On any failure, a mismatch included, nothing is left in ``objects/`` or
    ``tmp/``. Hold the objects pin (shared) around it, as register does."""
    files.make_dirs(layout.root, layout.tmp)
    tmp = files.temp_name(layout.tmp / "blob")
    try:
        backend.fetch(entry, tmp, progress)
        os.chmod(tmp, 0o444 & ~_umask())
        _place_blob(layout, tmp, entry.sha256, entry.size)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _place_blob(layout: Layout, tmp: Path, hexdigest: str, size: int) -> None:
    """Give the fresh copy ``tmp`` (``size`` bytes hashing to ``hexdigest``) its final name. A blob
    already there is kept when it holds those bytes (identical content is stored once) and
    replaced when it does not: it may be damaged, or have come through git."""
    root = layout.root
    final = layout.blob(hexdigest)
    files.ensure_no_symlink(root, final.parent)
    try:
        existing: os.stat_result | None = os.lstat(final)
    except (FileNotFoundError, NotADirectoryError):
        existing = None
    if existing is not None and _holds(layout, final, existing, hexdigest, size):
        os.unlink(tmp)
        return
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        set_aside(layout, final)
    files.make_dirs(root, final.parent)
    files.checkpoint("rename blob")
    os.replace(tmp, final)  # atomic: a reader sees the old file or the new one, never a mix
    files.checkpoint("fsync folder")
    files.fsync_dir(final.parent)
    record_verified(layout, hexdigest, os.lstat(final))


def _holds(layout: Layout, path: Path, info: os.stat_result, hexdigest: str, size: int) -> bool:
    """Whether the file at ``path`` (lstat ``info``) is a regular file of ``size`` bytes that
    hash to ``hexdigest``: the size first, then its verified marker, then its bytes."""
    if not stat.S_ISREG(info.st_mode) or info.st_size != size:
        return False
    if marker_matches(layout, hexdigest, info):
        return True
    try:
        actual, before = _hash_path(path)
    except (OSError, StoreError):
        return False
    if actual != hexdigest:
        return False
    record_verified(layout, hexdigest, before)
    return True


# ------------------------------------------------------------------------- verified markers
#
# A blob may have come through git (`git add -f`, or a store that commits its objects), so a blob
# is hashed before mreg hands out its path, unless a marker says that mreg wrote or hashed this
# very file and it has not changed since: ``cache/verified/<sha256>`` holds the blob's device,
# inode, size, mtime and ctime at that moment. git cannot forge one: a file git writes is a new
# inode, and no program sets a ctime. A store that cannot be written keeps no markers and hashes
# every time.

_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
_MARKER_MAX = 256


def _fingerprint(info: os.stat_result) -> bytes:
    return f"{info.st_dev} {info.st_ino} {info.st_size} {info.st_mtime_ns} {info.st_ctime_ns}\n".encode()


def marker_matches(layout: Layout, hexdigest: str, info: os.stat_result) -> bool:
    """Whether the verified marker of a blob describes ``info``, the blob's lstat now."""
    path = layout.verified_marker(hexdigest)
    try:
        files.ensure_no_symlink(layout.root, path)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (OSError, StoreError):
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        data = os.read(fd, _MARKER_MAX)
    except OSError:
        return False
    finally:
        os.close(fd)
    return data == _fingerprint(info)


def record_verified(layout: Layout, hexdigest: str, info: os.stat_result) -> None:
    """Write the verified marker of a blob whose bytes were just written or hashed (its stat
    ``info`` then). A cache: nothing is synced, and a store that cannot be written goes without."""
    path = layout.verified_marker(hexdigest)
    tmp: Path | None = None
    try:
        files.make_dirs(layout.root, path.parent)
        files.ensure_no_symlink(layout.root, path)
        tmp = files.temp_name(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
        try:
            _write_all(fd, memoryview(_fingerprint(info)))
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except (OSError, StoreError):
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _hash_fd(fd: int) -> str:
    import hashlib  # here, not at the top: resolving a verified blob never hashes

    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    while n := os.readv(fd, [buffer]):
        digest.update(memoryview(buffer)[:n])
    return digest.hexdigest()


def _hash_path(path: Path) -> tuple[str, os.stat_result]:
    """The sha256 of a regular file (never through a symlink), with its fstat before reading."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise DamagedStore(f"{files.display_path(path)} is not a regular file")
        return _hash_fd(fd), before
    finally:
        os.close(fd)


def verified_blob(layout: Layout, entry: FileEntry, what: str) -> os.stat_result:
    """Check that the blob of ``entry`` holds its bytes (``what`` names the version for the
    message) and return its stat: a matching verified marker is enough; otherwise the blob is
    hashed and, when it matches, the marker written. IntegrityError when it does not match."""
    path = blob_path(layout, entry.sha256)
    info = os.lstat(path)
    if info.st_size == entry.size and marker_matches(layout, entry.sha256, info):
        return info
    actual, before = _hash_path(path)
    if actual != entry.sha256 or before.st_size != entry.size:
        raise IntegrityError(
            f"object sha256:{entry.sha256[:12]}… of {entry.path!r} in {what} is corrupt: "
            f"{files.display_path(path)} holds {before.st_size} bytes hashing to {actual[:12]}…, "
            f"not the {entry.size} bytes recorded (registering the artifact again repairs it)"
        )
    record_verified(layout, entry.sha256, before)
    return before


def set_aside(layout: Layout, path: Path) -> None:
    """Move a file, folder or symlink of the store into ``trash/`` (one rename, never following
    a symlink), for ``mreg gc`` to remove."""
    files.ensure_no_symlink(layout.root, path.parent)
    files.make_dirs(layout.root, layout.trash)
    files.checkpoint("rename")
    os.rename(path, files.temp_name(layout.trash / f"{path.parent.name}-{path.name}"))


def walk_source_tree(source: Path, skip: Path | None = None) -> Iterator[tuple[str, Path]]:
    """Files under a source folder as (POSIX path inside the artifact, path): each folder's files
    before its subfolders, by name. Symlinks are followed, to files and to folders alike, as
    ``cp -rL`` does; a symlink that leads back to a folder holding it (a loop), a broken symlink
    and anything but files and folders are refused, naming the path. The folder ``skip`` (the
    store itself, when a whole repository is registered) is left out."""
    top = os.stat(source)
    # (folder, its path inside the artifact, the folders from the top down to it as (key, path))
    stack: list[tuple[Path, str, tuple[tuple[tuple[int, int], Path], ...]]] = [
        (source, "", (((top.st_dev, top.st_ino), source),))
    ]
    while stack:
        folder, prefix, ancestors = stack.pop()
        try:
            listing = sorted(os.listdir(folder))
        except OSError as err:
            raise InvalidInput(f"cannot read folder {folder}: {err.strerror}") from None
        subfolders = []
        for filename in listing:
            path = folder / filename
            try:
                info = os.stat(path)
            except OSError as err:
                if err.errno == errno.ELOOP:
                    raise InvalidInput(f"{path} is a symlink loop") from None
                if os.path.islink(path):
                    raise InvalidInput(f"{path} is a broken symlink") from None
                raise InvalidInput(f"cannot read {path}: {err.strerror}") from None
            if stat.S_ISREG(info.st_mode):
                yield prefix + filename, path
            elif stat.S_ISDIR(info.st_mode):
                if skip is not None and os.path.realpath(path) == str(skip):
                    continue
                key = (info.st_dev, info.st_ino)
                for seen, seen_path in ancestors:
                    if seen == key:
                        raise InvalidInput(
                            f"{path} is a symlink loop: it leads back to {seen_path}, which holds it"
                        )
                subfolders.append((path, f"{prefix}{filename}/", (*ancestors, (key, path))))
            else:
                raise InvalidInput(f"{path} is neither a file nor a folder")
        stack.extend(reversed(subfolders))


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
        raise DamagedStore(f"{files.display_path(path)} is not a regular file")
    return path


def hash_blob(layout: Layout, hexdigest: str) -> str:
    """Re-hash a stored blob and return what its bytes hash to (a match renews its verified
    marker)."""
    actual, before = _hash_path(blob_path(layout, hexdigest))
    if actual == hexdigest:
        record_verified(layout, hexdigest, before)
    return actual


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


def materialize_tree(layout: Layout, hexdigest: str, entries: list[FileEntry], what: str) -> Path:
    """A folder holding a directory artifact's files (of ``what``, for messages) under
    ``cache/trees/``, made of hard links to the blobs (copies where links are not possible).

    git can write there too (a commit that force-adds files under cache/), so an existing tree is
    checked before it is handed out (``_tree_is_sound``); one that fails is moved into ``trash/``
    and built again. A store that cannot be written serves a sound tree, and otherwise says to
    use ``mreg get``."""
    final = layout.tree_cache(hexdigest)
    files.ensure_no_symlink(layout.root, final.parent)
    try:
        try:
            info: os.stat_result | None = os.lstat(final)
        except FileNotFoundError:
            info = None
        if info is not None:
            if stat.S_ISDIR(info.st_mode) and _tree_is_sound(layout, final, entries, what):
                return final
            set_aside(layout, final)
        _build_tree(layout, final, entries, what)
    except OSError as err:
        if err.errno not in _READ_ONLY_ERRNOS:
            raise
        raise StoreError(
            f"cannot build the folder of {what} in {files.display_path(final)}: {err.strerror} "
            "(the store cannot be written); `mreg get` copies the artifact to a folder of yours"
        ) from None
    return final


def _build_tree(layout: Layout, final: Path, entries: list[FileEntry], what: str) -> None:
    files.make_dirs(layout.root, final.parent)
    tmp = files.temp_name(final)
    try:
        for entry in entries:
            target = tmp / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            blob = verified_blob(layout, entry, what)
            try:
                os.link(layout.blob(entry.sha256), target, follow_symlinks=False)
                linked: os.stat_result | None = os.lstat(target)
            except OSError:
                linked = None
            if linked is not None and _same_file(linked, blob) and linked.st_mtime_ns == blob.st_mtime_ns:
                # A new link changes the blob's ctime: renew the marker of the file just checked
                # (the same inode, size and mtime).
                record_verified(layout, entry.sha256, linked)
                continue
            if linked is not None:
                os.unlink(target)
            copy_blob_verified(layout, entry, target)
            os.chmod(target, 0o444 & ~_umask())
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(tmp)  # another process built it first
            if not _tree_is_sound(layout, final, entries, what):
                raise StoreError(
                    f"{files.display_path(final)} changed while it was built; try again"
                ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_size) == (b.st_dev, b.st_ino, b.st_size)


def _tree_is_sound(layout: Layout, tree: Path, entries: list[FileEntry], what: str) -> bool:
    """Whether ``tree`` holds exactly the artifact's files and their folders, each file a regular
    file with the manifest's bytes: a hard link to its verified blob or, for a copy, hashing to
    its sha256; no symlink anywhere. IntegrityError when a blob itself is corrupt."""
    expected = {e.path: e for e in entries}
    folders = {"/".join(p.split("/")[:i]) for p in expected for i in range(1, p.count("/") + 1)}
    found: dict[str, os.stat_result] = {}
    pending = [(tree, "")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as listing:
            for item in listing:
                rel = prefix + item.name
                info = item.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode) and rel in folders:
                    pending.append((Path(item.path), rel + "/"))
                elif stat.S_ISREG(info.st_mode) and rel in expected:
                    found[rel] = info
                else:
                    return False  # a symlink, a stray file or folder: not what mreg built
    if found.keys() != expected.keys():
        return False
    for rel, info in found.items():
        entry = expected[rel]
        if info.st_size != entry.size:
            return False
        if _same_file(info, verified_blob(layout, entry, what)):
            continue
        try:
            actual, _ = _hash_path(tree.joinpath(*rel.split("/")))
        except (OSError, StoreError):
            return False
        if actual != entry.sha256:
            return False
    return True


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

    def __init__(
        self, layout: Layout, fetch_missing: Callable[[Sequence[FileEntry]], None] | None = None
    ) -> None:
        self.layout = layout
        # Brings in blobs that are not here (from the default remote), when the store has one.
        self.fetch_missing = fetch_missing

    def ensure_local(self, entries: Sequence[FileEntry]) -> None:
        """Fetch the blobs of ``entries`` that are not here through ``fetch_missing`` (verified
        on the way in); a blob still missing afterwards is reported by whoever reads it."""
        missing = [e for e in entries if not self.has(e.sha256)]
        if missing and self.fetch_missing is not None:
            self.fetch_missing(list({e.sha256: e for e in missing}.values()))

    def has(self, sha256: str) -> bool:
        return os.path.isfile(self.layout.blob(sha256))

    def fetch(self, entry: FileEntry, dest: Path, progress: Progress | None = None) -> None:
        copy_blob_verified(self.layout, entry, dest, progress)

    def blob_path(self, sha256: str) -> Path:
        return blob_path(self.layout, sha256)

    def hash_blob(self, sha256: str) -> str:
        return hash_blob(self.layout, sha256)

    def read_small(self, entry: ArtifactFile) -> bytes:
        """The bytes of one stored file of at most ``files.MAX_METADATA_BYTES`` (such as the
        ``MLmodel`` of a folder just registered), checked against its sha256."""
        import hashlib

        data = files.read_bytes(self.layout.root, blob_path(self.layout, entry.sha256))
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise IntegrityError(f"object sha256:{entry.sha256[:12]}… of {entry.path!r} is corrupt")
        return data

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

    def local_path(self, artifact: Artifact, what: str = "the artifact") -> Path:
        """A local path holding a stored artifact's verified bytes: the blob of a file, a
        materialized folder for a directory (hold the objects pin while it is built). ``what``
        names the version in an IntegrityError."""
        assert artifact.digest is not None and artifact.kind in ("file", "directory")
        entries = entries_of(artifact)
        self.ensure_local(entries)
        if artifact.kind == "file":
            verified_blob(self.layout, entries[0], what)
            return self.layout.blob(entries[0].sha256)
        return materialize_tree(self.layout, artifact.digest, entries, what)

    def copy_out(
        self, artifact: Artifact, dest: Path, *, force: bool = False, progress: Progress | None = None
    ) -> Path:
        """Copy a stored artifact to ``dest``, checking every file's sha256 on the way. Nothing
        is left at ``dest`` on failure; an existing ``dest`` is replaced only with ``force``. A
        ``dest`` that is, holds or lies in the store or the project's work tree is refused."""
        from mreg.destination import check_destination

        check_destination(self.layout.root, dest)
        if (dest.exists() or dest.is_symlink()) and not force:
            raise AlreadyExists(f"{dest} already exists (use --force to replace it)")
        self.ensure_local(entries_of(artifact))
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
