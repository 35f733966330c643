"""The store lock: one writer at a time, across processes and across threads.

``filelock`` gives the cross-process lock (``flock`` on ``.mreg/lock``; the kernel drops it when
the holder dies, so a killed writer never blocks the next one). ``flock`` locks belong to an open
file, so two lock objects on one store in one process would block each other; a process-wide
re-entrant lock per store path sits in front of it so that they share one ``FileLock`` instead.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from types import TracebackType

import filelock

from mreg.errors import LockTimeout, StoreError
from mreg.store.files import display_path

DEFAULT_TIMEOUT = 30.0

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
        self.timeout = timeout
        key = os.path.realpath(self.path)
        with _guard:
            if key not in _per_store:
                native = filelock.FileLock(
                    self.path,
                    thread_local=False,
                    fallback_to_soft=False,
                    preserve_lock_file=True,
                )
                _per_store[key] = (threading.RLock(), native)
            self._thread_lock, self._file_lock = _per_store[key]

    def _timeout_error(self) -> LockTimeout:
        return LockTimeout(
            f"timed out after {self.timeout:g}s waiting for the store lock {display_path(self.path)}: "
            "another mreg process is writing; try again, or raise MREG_LOCK_TIMEOUT"
        )

    def __enter__(self) -> StoreLock:
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISLNK(mode) or not stat.S_ISREG(mode):
                raise StoreError(f"refusing to lock {display_path(self.path)}: it is not a regular file")
        deadline = time.monotonic() + self.timeout
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise self._timeout_error()
        try:
            self._file_lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
        except filelock.Timeout:
            self._thread_lock.release()
            raise self._timeout_error() from None
        except NotImplementedError as err:
            self._thread_lock.release()
            raise StoreError(
                f"cannot lock {display_path(self.path)}: the filesystem does not support OS file "
                f"locks ({err}); mreg refuses to run without them"
            ) from None
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
