"""``RemoteObjects``: the blobs of a remote, through an fsspec filesystem.

A remote holds blobs as the store does, at ``<url>/objects/sha256/ab/<rest>``. An object appears
under its final name only when complete: on a folder remote it is written under a temp name
(``.tmp-…`` in the same folder) and renamed; on an object store (S3, GCS, Azure) one PUT or a
completed multipart upload is atomic, so the final key is written directly. Reads stream the
object and check its sha256 and size on the way, so a corrupt remote object never lands anywhere.
Every failure becomes one ``RemoteError`` line naming the remote and the object.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from mreg.errors import IntegrityError, InvalidInput, MregError, RemoteError
from mreg.remotes.config import OBJECT_STORES, Remote, folder_of, protocol_of
from mreg.store import files
from mreg.store.layout import REMOTE_OBJECTS, remote_blob_digest, remote_blob_key
from mreg.store.objects import CHUNK, FileEntry, ObjectBackend, Progress

LISTING_THRESHOLD = 16
"""Above this many objects, one listing of the remote beats a request per object."""

DEFAULT_TIMEOUT = 60.0
"""Seconds to wait for an object store to connect, or to send the next bytes of an answer."""
TIMEOUT_ENV = "MREG_REMOTE_TIMEOUT"
# Tries of one request: botocore's (each waits up to the timeout) times s3fs's own around them.
# Their defaults (5 each, with a 15 s read timeout) kept a command waiting on a server that
# accepts connections and never answers for over six minutes; here at most 4 times the timeout.
BOTOCORE_ATTEMPTS = 2
S3FS_RETRIES = 2

# A large file goes to S3 in parts of 8 MiB (as boto3's upload_file sends them), four at a time:
# s3fs's own default, 50 MiB parts, kept a 1 GiB push well behind boto3's, and its ten parts in
# flight would hold 500 MiB of the file in memory. A file of under two parts is one PUT.
S3_PART_SIZE = 8 * 2**20
S3_PARTS_IN_FLIGHT = 4
S3_MAX_PARTS = 10_000


def s3_part_size(size: int) -> int:
    """The part size for a file of ``size`` bytes: 8 MiB, or more when a file of over 80 GB
    would need more parts than S3 takes."""
    return max(S3_PART_SIZE, -(-size // S3_MAX_PARTS))


def remote_timeout() -> float:
    """``MREG_REMOTE_TIMEOUT`` (seconds, above 0 and at most an hour), else ``DEFAULT_TIMEOUT``;
    InvalidInput for anything else."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise InvalidInput(
            f"{TIMEOUT_ENV} must be a number of seconds above 0 and at most 3600, not {raw[:40]!r}"
        )
    return value


def settle_async_transfers(timeout: float = 5.0) -> None:
    """Cancel whatever still runs on fsspec's event loop and wait for it to unwind: for a process
    about to exit on Ctrl-C (the loop is shared by the whole process). An upload stopped by
    Ctrl-C leaves its sibling parts in flight there; cancelled, they close their connections
    before the process exits instead of being reported unclosed on stderr. Nothing to do (and
    nothing imported) when no async filesystem was used."""
    asyn = sys.modules.get("fsspec.asyn")
    loop = getattr(asyn, "loop", [None])[0] if asyn is not None else None
    if loop is None or loop.is_closed() or not loop.is_running():
        return
    import asyncio

    async def cancel_the_rest() -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(cancel_the_rest(), loop).result(timeout)


def describe(sha256: str) -> str:
    return f"sha256 {sha256[:12]}…"


def _reason(err: BaseException) -> str:
    """One line saying why a remote operation failed."""
    name = type(err).__name__
    text = " ".join(str(err).split()) or name
    if "NoCredentials" in name or ("credential" in text.lower() and "unable" in text.lower()):
        return "no credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID, see docs/remotes.md)"
    if isinstance(err, PermissionError) or "AccessDenied" in text or "Forbidden" in text:
        return f"access denied ({text}); check the credentials (docs/remotes.md)"
    if "NoSuchBucket" in text or "bucket does not exist" in text.lower():
        return f"the bucket does not exist ({text})"
    if isinstance(err, FileNotFoundError):
        return f"not found ({text})"
    if isinstance(err, ConnectionError | TimeoutError) or "Connect" in name or "Timeout" in name:
        return f"cannot reach the server ({text})"
    return text if name in text else f"{name}: {text}"


class RemoteObjects(ObjectBackend):
    """The blobs of one remote. The filesystem is built on first use, so that naming a remote
    costs nothing until it is asked something."""

    def __init__(self, remote: Remote, project: Path) -> None:
        self.remote = remote
        self.protocol = protocol_of(remote.url)
        self.folder = folder_of(remote, project)
        self._fs: Any = None
        self._root: str | None = None

    # ------------------------------------------------------------------------------- plumbing

    def where(self) -> str:
        return f"remote {self.remote.name!r} ({self.remote.url})"

    def error(self, what: str, err: BaseException, sha256: str | None = None) -> RemoteError:
        obj = f", object {describe(sha256)}" if sha256 else ""
        return RemoteError(f"{self.where()}{obj}: {what}: {_reason(err)}")

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs, self._root = self._open()
        return self._fs

    @property
    def root(self) -> str:
        self.fs  # noqa: B018 - builds the filesystem and its root
        assert self._root is not None
        return self._root

    def _open(self) -> tuple[Any, str]:
        if self.folder is not None:
            from fsspec.implementations.local import LocalFileSystem

            return LocalFileSystem(), self.folder.absolute().as_posix().rstrip("/")
        import fsspec

        name, extra, package = OBJECT_STORES.get(self.protocol, (self.protocol, "", ""))
        options: dict[str, Any] = {"skip_instance_cache": True}
        if name == "s3":
            timeout = remote_timeout()
            options["use_listings_cache"] = False
            options["config_kwargs"] = {
                "connect_timeout": timeout,
                "read_timeout": timeout,
                "retries": {"mode": "standard", "max_attempts": BOTOCORE_ATTEMPTS},
            }
            if self.remote.endpoint_url:
                options["endpoint_url"] = self.remote.endpoint_url
            if self.remote.profile:
                options["profile"] = self.remote.profile
        elif self.remote.endpoint_url or self.remote.profile:
            raise RemoteError(f"{self.where()}: endpoint_url and profile apply to s3:// remotes only")
        try:
            cls = fsspec.get_filesystem_class(name)
            fs = cls(**options)
            if name == "s3":
                fs.retries = S3FS_RETRIES
        except ImportError as err:
            need = package or (getattr(err, "name", None) or "its fsspec package")
            hint = f"pip install 'mreg[{extra}]'" if extra else f"pip install {need}"
            raise RemoteError(f"{self.where()} needs {need}: {hint}") from None
        except (ValueError, TypeError) as err:
            raise RemoteError(f"{self.where()}: {_reason(err)}") from None
        root = cls._strip_protocol(self.remote.url).rstrip("/")
        return fs, root

    def key(self, sha256: str) -> str:
        return f"{self.root}/{remote_blob_key(sha256)}"

    # ---------------------------------------------------------------------------------- reads

    def has(self, sha256: str) -> bool:
        return sha256 in self.sizes([sha256])

    def sizes(self, wanted: Collection[str]) -> dict[str, int]:
        """The size of each of ``wanted`` (sha256s) that the remote holds: one listing of the
        objects folder when there are many, else one request per object. Temp names of uploads
        in flight are never taken for objects."""
        if not wanted:
            return {}
        if len(wanted) > LISTING_THRESHOLD:
            return {k: v for k, v in self.listing().items() if k in wanted}
        found = {}
        for sha256 in wanted:
            try:
                info = self.fs.info(self.key(sha256))
            except FileNotFoundError:
                continue
            except MregError:
                raise
            except Exception as err:
                raise self.error("cannot look the object up", err, sha256) from None
            if info.get("type", "file") == "file":
                found[sha256] = int(info.get("size") or 0)
        return found

    def listing(self) -> dict[str, int]:
        """Every object the remote holds (sha256 → size), from one paged listing."""
        prefix = f"{self.root}/{REMOTE_OBJECTS}"
        try:
            if self.folder is not None and not os.path.isdir(prefix):
                return {}
            found = self.fs.find(prefix, detail=True)
        except FileNotFoundError:
            if self.folder is not None:
                return {}
            self._check_root()
            return {}
        except MregError:
            raise
        except Exception as err:
            raise self.error("cannot list the objects", err) from None
        result = {}
        for path, info in found.items():
            rel = str(path)[len(prefix) :] if str(path).startswith(prefix) else ""
            digest = remote_blob_digest(rel)
            if digest is not None and info.get("type", "file") == "file":
                result[digest] = int(info.get("size") or 0)
        return result

    def _check_root(self) -> None:
        """RemoteError when the bucket (or folder) the URL names does not exist."""
        bucket = self.root.split("/")[0]
        try:
            exists = self.fs.exists(bucket)
        except Exception as err:
            raise self.error("cannot reach the bucket", err) from None
        if not exists:
            raise RemoteError(f"{self.where()}: the bucket {bucket!r} does not exist")

    def fetch(self, entry: FileEntry, dest: Path, progress: Progress | None = None) -> None:
        """Stream the object of ``entry`` into ``dest`` (a new file), hashing on the way; a
        mismatch is IntegrityError naming the remote and the object."""
        import hashlib

        digest = hashlib.sha256()
        size = 0
        key = self.key(entry.sha256)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            try:
                with self.fs.open(key, "rb", block_size=CHUNK, cache_type="none") as src:
                    while chunk := src.read(CHUNK):
                        digest.update(chunk)
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(fd, view) :]
                        size += len(chunk)
                        if progress is not None:
                            progress(len(chunk))
                        if size > entry.size:
                            break
            except FileNotFoundError as err:
                raise self.error("the object is not on the remote", err, entry.sha256) from None
            except (MregError, OSError) as err:
                if isinstance(err, MregError) or getattr(err, "filename", None) == str(dest):
                    raise
                raise self.error("download failed", err, entry.sha256) from None
            except Exception as err:
                raise self.error("download failed", err, entry.sha256) from None
            os.fsync(fd)
        finally:
            os.close(fd)
        actual = digest.hexdigest()
        if actual != entry.sha256 or size != entry.size:
            raise IntegrityError(
                f"{self.where()}, object {describe(entry.sha256)} of {entry.path!r} is corrupt: it holds "
                f"{size}{'+' if size > entry.size else ''} bytes hashing to {actual[:12]}…, not the "
                f"{entry.size} bytes recorded; nothing was kept"
            )

    # --------------------------------------------------------------------------------- writes

    def upload(self, source: Path, entry: FileEntry, progress: Progress | None = None) -> None:
        """Put the local blob ``source`` at the object's key, complete or not at all."""
        try:
            if self.folder is not None:
                self._upload_to_folder(source, entry, progress)
            else:
                self._upload_to_object_store(source, entry, progress)
        except MregError:
            raise
        except Exception as err:
            raise self.error("upload failed", err, entry.sha256) from None

    def _upload_to_folder(self, source: Path, entry: FileEntry, progress: Progress | None) -> None:
        final = Path(self.key(entry.sha256))
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".tmp-{secrets.token_hex(8)}"
        src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            dst = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
            try:
                while chunk := os.read(src, CHUNK):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(dst, view) :]
                    if progress is not None:
                        progress(len(chunk))
                os.fsync(dst)
            finally:
                os.close(dst)
            os.replace(tmp, final)  # the final name appears only with every byte behind it
            files.fsync_dir(final.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        finally:
            os.close(src)

    def _upload_to_object_store(self, source: Path, entry: FileEntry, progress: Progress | None) -> None:
        callback = None
        if progress is not None:
            from fsspec.callbacks import Callback

            report = progress

            class _Advance(Callback):  # type: ignore[misc]
                def relative_update(self, inc: int = 1) -> None:
                    report(inc)

                def absolute_update(self, value: int) -> None:
                    pass

            callback = _Advance()
        kwargs: dict[str, Any] = {} if callback is None else {"callback": callback}
        if OBJECT_STORES.get(self.protocol, ("",))[0] == "s3":
            kwargs.update(chunksize=s3_part_size(entry.size), max_concurrency=S3_PARTS_IN_FLIGHT)
        key = self.key(entry.sha256)
        try:
            self.fs.put_file(os.fspath(source), key, **kwargs)
        except Exception:
            # A CompleteMultipartUpload that timed out may have completed all the same: its retry
            # then fails with NoSuchUpload. The object under its final name with the right size
            # is the one uploaded (names are sha256s, and an object appears only when complete).
            try:
                done = int(self.fs.info(key).get("size", -1)) == entry.size
            except Exception:
                done = False
            if not done:
                raise

    def remove(self, sha256: str) -> None:
        """Delete one object (tests and repairs; mreg never deletes from a remote on its own)."""
        try:
            self.fs.rm_file(self.key(sha256))
        except Exception as err:
            raise self.error("cannot remove the object", err, sha256) from None
