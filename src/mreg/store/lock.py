"""The store lock: one writer at a time, across processes and across threads.

``filelock`` gives the cross-process lock (``flock`` on ``.mreg/lock``; the kernel drops it when
the holder dies, so a killed writer never blocks the next one). ``flock`` locks belong to an open
file, so two lock objects on one store in one process would block each other; a process-wide
re-entrant lock per store path sits in front of it so that they share one ``FileLock`` instead.

Where ``flock`` does not work (some network and FUSE filesystems), filelock would fall back to a
"soft" lock file that a killed process leaves behind; mreg asks it not to (``fallback_to_soft=False``)
and refuses to run there instead.

``ObjectsPin`` is a second, shared lock: a registration copies its artifact into the store before
it takes the store lock, so `mreg gc` must not mistake those fresh objects and temp files for
debris. Writers hold the pin shared while they have such files in flight; gc takes it exclusively,
without waiting, and leaves objects and temp files alone when it cannot.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from mreg.errors import DamagedStore, InvalidInput, LockTimeout, StoreError
from mreg.store.files import display_path, ensure_no_symlink, make_dirs

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no shared locks; gc then keeps objects and temp files
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import filelock

DEFAULT_TIMEOUT = 30.0
# What flock(2) reports on a filesystem that cannot lock: not implemented, not supported, no locks
# available (NFS without its lock daemon).
_NO_LOCKING_ERRNOS = frozenset(
    {errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}
)


def no_os_lock_error(path: Path | str, err: OSError) -> StoreError:
    return StoreError(
        f"cannot lock {display_path(path)}: the filesystem does not support OS file locks "
        f"({err.strerror or err}); mreg refuses to run without them (keep the store on a local disk)"
    )


_guard = threading.Lock()
_per_store: dict[str, tuple[threading.RLock, filelock.BaseFileLock]] = {}


def lock_timeout_from_env() -> float:
    raw = os.environ.get("MREG_LOCK_TIMEOUT")
    if raw is None or raw == "":
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise StoreError(f"MREG_LOCK_TIMEOUT={raw!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise StoreError(f"MREG_LOCK_TIMEOUT={raw!r} must be a finite number of seconds >= 0")
    return value


class StoreLock:
    """``with StoreLock(path, timeout):`` holds the store lock; re-entrant within a thread."""

    def __init__(self, path: os.PathLike[str] | str, timeout: float) -> None:
        self.path = os.fspath(path)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 <= timeout < math.inf:
            raise InvalidInput(f"lock timeout must be a finite number of seconds >= 0, not {timeout!r}")
        # Longer than threading can wait is as good as forever (and would overflow its wait).
        self.timeout = min(float(timeout), threading.TIMEOUT_MAX)
        key = os.path.realpath(self.path)
        self._key = key

    def _locks(self) -> tuple[threading.RLock, filelock.BaseFileLock]:
        """Made on the first acquire, and ``filelock`` imported then, not with this module:
        commands that only read (``resolve``) never lock, and its import costs as much as the
        rest of such a command."""
        import filelock

        with _guard:
            if self._key not in _per_store:
                native = filelock.FileLock(
                    self.path,
                    thread_local=False,
                    fallback_to_soft=False,
                    preserve_lock_file=True,
                )
                _per_store[self._key] = (threading.RLock(), native)
            return _per_store[self._key]

    @property
    def _thread_lock(self) -> threading.RLock:
        return self._locks()[0]

    @property
    def _file_lock(self) -> filelock.BaseFileLock:
        return self._locks()[1]

    def _timeout_error(self) -> LockTimeout:
        return LockTimeout(
            f"timed out after {self.timeout:g}s waiting for the store lock {display_path(self.path)}: "
            "another mreg process is writing; try again, or wait longer with --lock-timeout SECONDS "
            "or MREG_LOCK_TIMEOUT"
        )

    def __enter__(self) -> StoreLock:
        import filelock

        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISLNK(mode):
                raise DamagedStore(f"refusing to follow symlink {display_path(self.path)} inside the store")
            if not stat.S_ISREG(mode):
                raise DamagedStore(f"refusing to lock {display_path(self.path)}: it is not a regular file")
        deadline = time.monotonic() + self.timeout
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise self._timeout_error()
        try:
            self._file_lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
        except filelock.Timeout:
            self._thread_lock.release()
            raise self._timeout_error() from None
        except OSError as err:
            self._thread_lock.release()
            if err.errno in _NO_LOCKING_ERRNOS:
                raise no_os_lock_error(self.path, err) from None
            raise
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._file_lock.release()
        finally:
            self._thread_lock.release()


class ObjectsPin:
    """``with pin.shared():`` while this process has objects or temp files in the store that no
    version records yet; ``with pin.exclusive_if_free() as free:`` for gc (``free`` is False when
    some writer holds it, or where the platform has no shared locks)."""

    def __init__(self, root: Path, path: Path) -> None:
        self.root = root
        self.path = path

    def _open(self) -> int:
        make_dirs(self.root, self.path.parent)
        ensure_no_symlink(self.root, self.path)
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        fd = os.open(self.path, flags, 0o666)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise DamagedStore(f"refusing to lock {display_path(self.path)}: it is not a regular file")
        return fd

    def _flock(self, fd: int, operation: int) -> bool:
        try:
            fcntl.flock(fd, operation)
        except BlockingIOError:
            return False
        except OSError as err:
            if err.errno in _NO_LOCKING_ERRNOS:
                raise no_os_lock_error(self.path, err) from None
            raise
        return True

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover
            yield
            return
        try:
            fd = self._open()
        except OSError as err:
            if err.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            yield  # a store no one can write: no gc can run either (a read-only checkout)
            return
        except StoreError:
            yield  # not a regular file: gc refuses it too (exclusive_if_free), so none can run
            return
        try:
            self._flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing drops the lock

    @contextlib.contextmanager
    def exclusive_if_free(self) -> Iterator[bool]:
        if fcntl is None:  # pragma: no cover
            yield False
            return
        fd = self._open()
        try:
            yield self._flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
