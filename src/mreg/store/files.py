"""Every file operation of the store goes through this module.

* ``write_toml_atomic`` is the one writer: temp file in the same folder, flush, fsync,
  ``os.replace``, fsync of the folder. Readers take no lock and see the old or the new file.
* ``read_toml`` is the one reader: it refuses symlinks, caps the size, and turns parse errors,
  invalid UTF-8 and git conflict markers into a ``StoreError`` naming the file and line.
* Each step that changes the disk calls ``checkpoint`` first, so the crash tests can kill the
  process at every step in turn (``MREG_CRASH_AT=N`` kills it at the N-th step), and the write
  failure tests can make that step fail (``MREG_FAIL_AT=N[:ERRNO]`` raises ``OSError`` there,
  ``ENOSPC`` unless another errno is named).
* ``undo_on_error`` makes a change of several files all or nothing for errors: while it is open
  each write, removal and rename keeps what undoes it without needing free space (a hard link to
  the old file, a removed file renamed aside, the reverse rename), and an exception undoes them.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import errno
import os
import re
import shutil
import signal
import stat
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mreg.errors import DamagedStore, StoreError

# A parsed TOML document, before ``store.records`` checks it and gives it a type: only the
# readers and the writer of this module and the records' parse/to_toml handle one.
R = TypeVar("R")
TomlTable = dict[str, Any]
MAX_METADATA_BYTES = 1024 * 1024
TEMP_SUFFIX = ".tmp"
_TEMP_STEM_MAX = 255 - len(".") - len(".12345678") - len(TEMP_SUFFIX)
_CONFLICT_MARKER_RE = re.compile(r"^(?:<{7}|>{7}|\|{7})(?: |$)|^={7}$", re.MULTILINE)
_TOML_POSITION_RE = re.compile(r"\((?:at line (?P<line>\d+), column (?P<column>\d+)|at end of document)\)$")


def _parse_fail_at(text: str) -> tuple[int, int]:
    """``MREG_FAIL_AT``: ``N`` or ``N:ERRNO`` (a number or a name such as ``EIO``)."""
    step, _, code = text.partition(":")
    if not step.strip():
        return 0, errno.ENOSPC
    code = code.strip()
    number = int(code) if code.isdigit() else getattr(errno, code.upper(), 0) if code else errno.ENOSPC
    if not isinstance(number, int) or number <= 0:
        raise ValueError(f"MREG_FAIL_AT: unknown errno {code!r}")
    return int(step), number


_crash_at = int(os.environ.get("MREG_CRASH_AT", "0") or 0)
_fail_at, _fail_errno = _parse_fail_at(os.environ.get("MREG_FAIL_AT", ""))
_steps_taken = 0


def checkpoint(step: str) -> None:
    """Mark a step that changes the disk. A no-op unless ``MREG_CRASH_AT`` or ``MREG_FAIL_AT``
    is set: then the N-th step kills the process, or raises ``OSError`` instead of happening."""
    global _steps_taken
    if not _crash_at and not _fail_at:
        return
    _steps_taken += 1
    if _steps_taken == _crash_at:
        os.kill(os.getpid(), signal.SIGKILL)
    if _steps_taken == _fail_at:
        raise OSError(_fail_errno, f"{os.strerror(_fail_errno)} (MREG_FAIL_AT={_fail_at}: {step})")


class _Journal:
    """What undoes each change made so far, newest last; and the backups to drop at the end."""

    def __init__(self) -> None:
        self.undo: list[tuple[str, Path, Path | None]] = []
        self.backups: list[Path] = []

    def keep_old(self, path: Path) -> None:
        """Before ``path`` is replaced: a hard link to the old file (no data is copied, so no
        space is needed), or a note that there was none."""
        backup = temp_name(path)
        checkpoint("keep old file")
        try:
            os.link(path, backup, follow_symlinks=False)
        except FileNotFoundError:
            self.undo.append(("remove", path, None))
            return
        self.backups.append(backup)
        self.undo.append(("restore", backup, path))

    def roll_back(self) -> bool:
        """Undo every change, newest first; True when each undo worked (best effort: an undo
        that fails does not stop the others)."""
        complete = True
        folders: set[Path] = set()
        for action, first, second in reversed(self.undo):
            try:
                if action == "restore" and second is not None:  # first: the backup of second
                    _restore(first, second)
                elif action == "rename" and second is not None:  # first was renamed to second
                    if os.path.lexists(second) and not os.path.lexists(first):
                        os.rename(second, first)
                elif action == "remove":
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(first)
                elif action == "rmdir":
                    with contextlib.suppress(FileNotFoundError):
                        os.rmdir(first)
                folders.add(first.parent)
            except OSError:
                complete = False
        for folder in folders:
            with contextlib.suppress(OSError):
                fsync_dir(folder)
        return complete

    def drop_backups(self) -> None:
        """After success: the backups are debris (``.NAME.….tmp``, which gc removes if this fails)."""
        for backup in self.backups:
            with contextlib.suppress(OSError):
                os.unlink(backup)


def _restore(backup: Path, path: Path) -> None:
    """Put ``backup`` back at ``path``. When ``path`` was never replaced the two are links to
    one file, which rename(2) leaves both in place: then the backup only goes."""
    try:
        kept = os.lstat(backup)
    except FileNotFoundError:
        return  # the change it would undo never happened
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        now = None
    if now is not None and (now.st_dev, now.st_ino) == (kept.st_dev, kept.st_ino):
        os.unlink(backup)
    else:
        os.replace(backup, path)


_journal: contextvars.ContextVar[_Journal | None] = contextvars.ContextVar("journal", default=None)


@contextlib.contextmanager
def undo_on_error() -> Iterator[None]:
    """Make the writes inside all or nothing for errors: an exception (a full disk, an I/O
    error, a refusal half-way) undoes each of them before it propagates, and an ``OSError``
    gets a note saying whether the store is as it was. A kill is not undone (the crash tests
    cover it: every file is still whole). Nested uses join the outermost."""
    if _journal.get() is not None:
        yield
        return
    journal = _Journal()
    token = _journal.set(journal)
    try:
        yield
    except Exception as err:
        complete = journal.roll_back()
        if isinstance(err, OSError) and journal.undo:
            err.add_note(
                "nothing was changed" if complete else "the change was undone only in part: run `mreg fsck`"
            )
        elif isinstance(err, OSError):
            err.add_note("nothing was changed")
        raise
    else:
        journal.drop_backups()
    finally:
        _journal.reset(token)


def display_path(path: Path | str) -> str:
    """The path as a user should see it in a message: relative to the working folder if inside."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


_verified_folders: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "verified_folders", default=None
)


@contextlib.contextmanager
def scanning() -> Iterator[None]:
    """For one call that reads many files (a listing, a search, fsck): a folder found to be a real
    folder is not checked again during the call. Without it every read re-checks every component
    of its path, which is most of the cost of reading 10,000 versions."""
    token = _verified_folders.set(set())
    try:
        yield
    finally:
        _verified_folders.reset(token)


def ensure_no_symlink(root: Path, path: Path | str) -> None:
    """Refuse ``path`` if it lies outside ``root`` or any existing component below root is a
    symlink. A missing component ends the walk: there is nothing further to follow."""
    root_text, path_text = os.fspath(root), os.fspath(path)
    if path_text == root_text:
        return
    if not path_text.startswith(root_text + os.sep):
        raise StoreError(f"refusing to touch {display_path(path)}: it is outside the store")
    parts = path_text[len(root_text) + 1 :].split(os.sep)
    verified = _verified_folders.get()
    current = root_text
    for part in parts:
        if part in ("", "..", "."):
            raise StoreError(f"refusing path {display_path(path)}: it is not a plain path")
        current = current + os.sep + part
        if verified is not None and current in verified:
            continue
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return
        if stat.S_ISLNK(mode):
            raise DamagedStore(f"refusing to follow symlink {display_path(current)} inside the store")
        if verified is not None and stat.S_ISDIR(mode):
            verified.add(current)


def _without_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value if v is not None]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return value


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Serialize in the caller's key order, dropping None values, datetimes in UTC."""
    import tomli_w  # here: reads never write

    return tomli_w.dumps(_without_none(data))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(final: Path) -> Path:
    """``.NAME.1a2b3c4d.tmp`` beside ``final``; NAME is cut so that the whole name stays within
    the 255 bytes a file name may have (an alias may be 255 characters long)."""
    stem = final.name.encode("utf-8", "surrogateescape")[:_TEMP_STEM_MAX].decode("utf-8", "ignore")
    return final.with_name(f".{stem}.{os.urandom(4).hex()}{TEMP_SUFFIX}")


def make_dirs(root: Path, path: Path) -> None:
    ensure_no_symlink(root, path)
    if not path.is_dir():
        journal = _journal.get()
        if journal is not None:
            missing, folder = [], path
            while folder != root and not folder.is_dir():
                missing.append(folder)
                folder = folder.parent
            journal.undo += [("rmdir", p, None) for p in reversed(missing)]
        checkpoint("mkdir")
        path.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """An ``OSError`` that names no file (a full disk on ``write``, a failed ``fsync``) names
    ``path``, so that the one error line says which file could not be written."""
    try:
        yield
    except OSError as err:
        if err.filename is None:
            err.filename = display_path(path)
        raise


def write_bytes_atomic(root: Path, path: Path, data: bytes, *, mode: int = 0o666) -> None:
    """Replace ``path`` with ``data`` atomically and durably (the folder is created if missing)."""
    with _naming(path):
        _write_bytes_atomic(root, path, data, mode)


def _write_bytes_atomic(root: Path, path: Path, data: bytes, mode: int) -> None:
    make_dirs(root, path.parent)
    ensure_no_symlink(root, path)
    tmp = temp_name(path)
    checkpoint("create temp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        checkpoint("fsync temp")
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    try:
        journal = _journal.get()
        if journal is not None:
            journal.keep_old(path)
        checkpoint("replace")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    checkpoint("fsync folder")
    fsync_dir(path.parent)


def write_toml_atomic(root: Path, path: Path, data: Mapping[str, Any]) -> None:
    """The single TOML writer of the store."""
    try:
        text = dumps_toml(data).encode("utf-8")
    except UnicodeEncodeError as err:
        # Validation rejects lone surrogates in what callers give; this guards anything else
        # (a user name or a path from the environment) so no half-written state is left.
        raise StoreError(
            f"refusing to write {display_path(path)}: a value holds a character that is not valid "
            f"Unicode ({err.object[err.start : err.end]!r})"
        ) from None
    if len(text) > MAX_METADATA_BYTES:
        raise StoreError(
            f"refusing to write {display_path(path)}: {len(text)} bytes is over the "
            f"{MAX_METADATA_BYTES}-byte limit for a metadata file"
        )
    write_bytes_atomic(root, path, text)


def _open_regular(
    path: Path | str, *, dir_fd: int | None = None, shown: Path | str | None = None
) -> tuple[int, os.stat_result] | None:
    """An open descriptor of the regular file ``path`` (relative to ``dir_fd`` when given), never
    following a symlink and never blocking (a FIFO or a device in the store is refused, not
    opened for a read that waits forever). None when it does not exist; StoreError naming the
    file (``shown``, or ``path``) for anything that is not a regular file."""
    shown = shown or path
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise DamagedStore(f"refusing to follow symlink {display_path(shown)} inside the store") from None
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        if err.errno in (errno.ENXIO, errno.EISDIR):  # a socket; a folder on some systems
            raise DamagedStore(
                f"{display_path(shown)} is not a regular file (it is {_kind_of(path, dir_fd)})"
            ) from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise DamagedStore(
            f"{display_path(shown)} is not a regular file (it is {_describe_mode(info.st_mode)})"
        )
    return fd, info


def _kind_of(path: Path | str, dir_fd: int | None) -> str:
    try:
        return _describe_mode(os.lstat(path, dir_fd=dir_fd).st_mode)
    except OSError:
        return "something"


def _describe_mode(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def read_bytes(root: Path, path: Path, limit: int = MAX_METADATA_BYTES) -> bytes:
    """Read a small file of the store without following symlinks or blocking: a regular file
    only (StoreError naming it otherwise), at most ``limit`` bytes. Raises FileNotFoundError."""
    ensure_no_symlink(root, path)
    opened = _open_regular(path)
    if opened is None:
        raise FileNotFoundError(str(path))
    fd = opened[0]
    try:
        data = _read_at_most(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise DamagedStore(f"{display_path(path)} is over the {limit}-byte limit for a metadata file")
    return data


def _read_at_most(fd: int, size: int) -> bytes:
    chunks, total = [], 0
    while total < size:
        chunk = os.read(fd, size - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def parse_toml(path: Path, data: bytes) -> TomlTable:
    """Parse TOML bytes, with errors that name ``path`` and the line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DamagedStore(f"{display_path(path)}:{line}: not valid UTF-8") from None
    marker = _CONFLICT_MARKER_RE.search(text)
    if marker:
        line = text.count("\n", 0, marker.start()) + 1
        raise DamagedStore(f"{display_path(path)}:{line}: unresolved git merge conflict")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DamagedStore(f"{display_path(path)}:{_toml_error_position(str(err), text)}") from None
    except RecursionError:
        raise DamagedStore(f"{display_path(path)}: invalid TOML: values nested too deeply") from None
    except ValueError:
        # Python refuses to convert an integer of thousands of digits (a denial-of-service
        # guard); tomllib lets that ValueError through.
        raise DamagedStore(f"{display_path(path)}:{_long_number_line(text)} {_INT_RANGE_MESSAGE}") from None
    try:
        in_range = _ints_in_range(table)
    except RecursionError:
        raise DamagedStore(f"{display_path(path)}: invalid TOML: values nested too deeply") from None
    if not in_range:
        raise DamagedStore(f"{display_path(path)}:{_long_number_line(text)} {_INT_RANGE_MESSAGE}")
    return table


_INT_RANGE_MESSAGE = "invalid TOML: an integer is outside the 64-bit range TOML allows"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_LONG_NUMBER_RE = re.compile(r"[0-9][0-9_]{18,}")


def _ints_in_range(value: Any) -> bool:
    """Whether every integer in a parsed document fits in 64 bits, as TOML requires (a reader
    "must throw an error" for one that does not; tomllib accepts any size)."""
    if type(value) is int:
        return _INT64_MIN <= value <= _INT64_MAX
    if isinstance(value, dict):
        return all(_ints_in_range(v) for v in value.values())
    if isinstance(value, list):
        return all(_ints_in_range(v) for v in value)
    return True


def _long_number_line(text: str) -> str:
    """``'3:'``, the line of the first run of 19 digits or more; "" when there is none."""
    found = _LONG_NUMBER_RE.search(text)
    return "" if found is None else f"{text.count(chr(10), 0, found.start()) + 1}:"


def _toml_error_position(message: str, text: str) -> str:
    """``'Unterminated string (at line 3, column 9)'`` → ``'3:9: invalid TOML: Unterminated string'``
    (tomllib of Python 3.11 puts the position only in the message; "end of document" is the last line)."""
    found = _TOML_POSITION_RE.search(message)
    if found is None:
        return f" invalid TOML: {message}"
    reason = message[: found.start()].rstrip()
    if found.group("line"):
        return f"{found.group('line')}:{found.group('column')}: invalid TOML: {reason}"
    last_line = max(1, len(text.splitlines()))
    return f"{last_line}: invalid TOML: {reason}"


def line_of_key(path: Path | str, key: str, table: str | None = None) -> int | None:
    """Best effort, for error messages only: the line where ``key`` is set in ``path`` (inside
    ``[table]`` when given). None when the file cannot be read again or the key is not found."""
    try:
        opened = _open_regular(path)
    except (OSError, StoreError):
        return None
    if opened is None:
        return None
    fd = opened[0]
    try:
        text = _read_at_most(fd, MAX_METADATA_BYTES).decode("utf-8", "replace")
    finally:
        os.close(fd)
    return line_of_key_in(text, key, table)


def line_of_key_in(text: str, key: str, table: str | None = None) -> int | None:
    """``line_of_key`` over text already read (a file read from git has no path to read again)."""
    key_re = re.compile(rf"""\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*=""")
    in_table = table is None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_table = table is not None and stripped.strip("[] ") in (table, f'"{table}"')
        elif in_table and key_re.match(line):
            return number
    return None


def read_toml(root: Path, path: Path) -> TomlTable:
    """The single TOML reader of the store. Raises FileNotFoundError when missing."""
    return parse_toml(path, read_bytes(root, path))


def read_toml_many(
    root: Path, folder: Path, filenames: Iterable[str], *, errors: bool = False
) -> Iterator[tuple[str, TomlTable | StoreError | None]]:
    """Read many TOML files of one folder, as ``read_toml`` would; see ``read_many``."""
    return read_many(root, folder, filenames, _no_shortcut, errors=errors)


def _no_shortcut(text: str) -> None:
    return None


def read_many(
    root: Path,
    folder: Path,
    filenames: Iterable[str],
    shortcut: Callable[[str], R | None],
    *,
    errors: bool = False,
) -> Iterator[tuple[str, R | TomlTable | StoreError | None]]:
    """Read many TOML files of one folder, as ``read_toml`` would (None for a file that does
    not exist), or as what ``shortcut`` makes of a file's text when it makes something of it.
    The folder is checked for symlinks once and each file is opened relative to it without
    following a symlink: a search over 10,000 versions pays one open and one read each.
    With ``errors``, a file that cannot be read yields its ``StoreError`` instead of raising it."""
    # Imported here: compiling its patterns costs a millisecond that single reads need not pay.
    # It accepts only lines that start with a key, a header or nothing, so a file it reads holds
    # no conflict marker; anything else goes through parse_toml's checks and tomllib.
    from mreg.store.simple_toml import parse_simple_toml

    dir_fd = _open_folder(root, folder)
    if dir_fd is None:
        for filename in filenames:
            yield filename, None
        return
    try:
        for filename in filenames:
            try:
                yield filename, _read_one(dir_fd, folder, filename, parse_simple_toml, shortcut)
            except StoreError as err:
                if not errors:
                    raise
                yield filename, err
    finally:
        os.close(dir_fd)


# simple_toml's reader, imported by the first batched read of a folder (see read_many).
_parse_simple_toml: Callable[[str], TomlTable | None] | None = None


def _simple_reader() -> Callable[[str], TomlTable | None]:
    global _parse_simple_toml
    from mreg.store.simple_toml import parse_simple_toml

    _parse_simple_toml = parse_simple_toml
    return parse_simple_toml


def read_folder(
    root: Path,
    folder: Path | str,
    pick: Callable[[list[str]], Sequence[str]],
    shortcut: Callable[[str], R | None] = _no_shortcut,
    *,
    errors: bool = False,
) -> list[tuple[str, R | TomlTable | StoreError | None]]:
    """The files of ``folder`` that ``pick`` chooses from its names (sorted), read as
    ``read_many`` reads them, through one descriptor of the folder: one check for symlinks,
    one open, and the listing made from that descriptor, where ``list_dir`` and ``read_many``
    would each check and open the folder (a listing of 10,000 models does it for two folders
    a model). A missing folder has no names."""
    parse_simple = _parse_simple_toml or _simple_reader()
    dir_fd = _open_folder(root, folder)
    if dir_fd is None:
        return [(filename, None) for filename in pick([])]
    found: list[tuple[str, R | TomlTable | StoreError | None]] = []
    try:
        for filename in pick(sorted(os.listdir(dir_fd))):
            try:
                found.append((filename, _read_one(dir_fd, folder, filename, parse_simple, shortcut)))
            except StoreError as err:
                if not errors:
                    raise
                found.append((filename, err))
    finally:
        os.close(dir_fd)
    return found


def _open_folder(root: Path, folder: Path | str) -> int | None:
    """A descriptor of the store's folder ``folder``, checked for symlinks and opened without
    following one; None when it does not exist (or is no folder). Within ``scanning``, a folder
    whose parent was found to be a real folder is checked only when it cannot be opened:
    ``O_NOFOLLOW`` refuses a symlink (with ``ENOTDIR`` beside ``O_DIRECTORY``, which the
    check then tells from a file)."""
    verified = _verified_folders.get()
    parent, _, last = os.fspath(folder).rpartition(os.sep)
    checked = verified is None or parent not in verified or last in ("", ".", "..")
    if checked:
        ensure_no_symlink(root, folder)
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as err:
        if not checked:
            ensure_no_symlink(root, folder)
        if err.errno == errno.ELOOP:
            raise DamagedStore(
                f"refusing to follow symlink {display_path(folder)} inside the store"
            ) from None
        if err.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise
        return None


def _read_one(
    dir_fd: int,
    folder: Path | str,
    filename: str,
    parse_simple: Callable[[str], TomlTable | None],
    shortcut: Callable[[str], R | None],
) -> R | TomlTable | None:
    opened = _open_regular(filename, dir_fd=dir_fd, shown=f"{folder}{os.sep}{filename}")
    if opened is None:
        return None
    fd, info = opened
    try:
        data = _read_whole_file(fd, info, folder, filename)
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text:
        record = shortcut(text)
        if record is not None:
            return record
    simple = parse_simple(text) if text else None
    return simple if simple is not None else parse_toml(Path(folder, filename), data)


def _read_whole_file(fd: int, info: os.stat_result, folder: Path | str, filename: str) -> bytes:
    """The content of the open regular file ``folder/filename``, read in one call sized by
    its ``info`` (fstat)."""
    chunks = [os.read(fd, min(info.st_size, MAX_METADATA_BYTES) + 1)]
    total = len(chunks[0])
    while chunks[-1] and total != info.st_size and total <= MAX_METADATA_BYTES:
        chunks.append(os.read(fd, MAX_METADATA_BYTES + 1 - total))  # a short read, or the file grew
        total += len(chunks[-1])
    if total > MAX_METADATA_BYTES:
        limit = f"the {MAX_METADATA_BYTES}-byte limit for a metadata file"
        raise DamagedStore(f"{display_path(Path(folder, filename))} is over {limit}")
    return b"".join(chunks)


def read_toml_or_none(root: Path, path: Path) -> TomlTable | None:
    try:
        return read_toml(root, path)
    except FileNotFoundError:
        return None


def list_folders(root: Path, path: Path) -> tuple[list[str], list[str]]:
    """The folders in a folder of the store, sorted, and apart the symlinks there (which mreg
    never follows): one ``scandir``, whose entries say what they are without an ``lstat`` each.
    Within ``scanning``, the folders found count as checked for symlinks."""
    ensure_no_symlink(root, path)
    folders, links = [], []
    verified = _verified_folders.get()
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_symlink():
                    links.append(entry.name)
                elif entry.is_dir(follow_symlinks=False):
                    folders.append(entry.name)
                    if verified is not None:
                        verified.add(entry.path)
    except (FileNotFoundError, NotADirectoryError):
        return [], []
    return sorted(folders), sorted(links)


def list_dir(root: Path, path: Path) -> list[str]:
    """Names in a folder of the store, sorted; [] when the folder does not exist."""
    ensure_no_symlink(root, path)
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def remove_file(root: Path, path: Path, *, missing_ok: bool = True) -> None:
    ensure_no_symlink(root, path.parent)
    journal = _journal.get()
    checkpoint("unlink")
    try:
        if journal is None:
            os.unlink(path)
        else:  # renamed aside, so that an error later can put it back without writing a byte
            backup = temp_name(path)
            journal.undo.append(("restore", backup, path))
            os.rename(path, backup)
            journal.backups.append(backup)
    except FileNotFoundError:
        if not missing_ok:
            raise
        return
    checkpoint("fsync folder")
    fsync_dir(path.parent)


def remove_tree(root: Path, path: Path) -> None:
    """Remove a folder of the store and everything in it (symlinks inside are removed, never
    followed)."""
    ensure_no_symlink(root, path)
    checkpoint("remove tree")
    shutil.rmtree(path)
    checkpoint("fsync folder")
    fsync_dir(path.parent)


def rename(root: Path, src: Path, dst: Path) -> None:
    """Atomic rename of a file or folder inside the store (never replaces a folder)."""
    ensure_no_symlink(root, src)
    ensure_no_symlink(root, dst)
    make_dirs(root, dst.parent)
    journal = _journal.get()
    if journal is not None:
        journal.undo.append(("rename", src, dst))
    checkpoint("rename")
    os.rename(src, dst)
    checkpoint("fsync folder")
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)
