"""``Store``: one ``.mreg`` folder, and the only code that reads or writes its records.

A ``Store`` holds the root, its ``Layout``, the parsed ``config.toml``, the store lock, the objects
pin and the object store. Its read side returns typed records (``store.records``) and reads many
files of a folder through one batched reader (``versions``), which listings, searches, fsck and
completion share. Its write side writes one record atomically per call; a caller that changes
state holds ``store.locked()`` around its read-modify-write, as ``Registry`` does.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mreg import names
from mreg.entities import Event
from mreg.errors import AlreadyExists, Conflict, DamagedStore, MregError, NotFound, StoreError
from mreg.store import files
from mreg.store.layout import STORE_DIRNAME, Layout, event_id_from_filename, version_from_filename
from mreg.store.lock import ObjectsPin, StoreLock, lock_timeout_from_env
from mreg.store.records import (
    AliasRecord,
    AnyVersion,
    ConfigRecord,
    LocalConfigRecord,
    ModelRecord,
    Record,
    Tombstone,
    VersionRecord,
    event_toml,
    parse_event,
    parse_version,
    parse_written_alias,
    parse_written_version,
)

if TYPE_CHECKING:
    from mreg.store.objects import FileEntry, ObjectBackend, ObjectStore
    from mreg.store.policyfile import PolicyRecord

CASE_INSENSITIVE_FS = sys.platform in ("darwin", "win32")

GITIGNORE = """\
# Written by `mreg init`. The lock, temp files and caches are never committed.
/lock
/tmp/
/trash/
/cache/
*.tmp
/config.local.toml
"""
GITIGNORE_OBJECTS = """\
# Artifact blobs stay out of git (`mreg init --commit-objects` keeps them in).
/objects/
"""
GITATTRIBUTES = """\
# Written by `mreg init`. Artifact blobs are binary; every other file is small TOML that merges
# line by line (events and versions are one file each, so branches add files, not lines).
/objects/** binary
"""


def locate(path: str | os.PathLike[str] | None = None) -> Path:
    """The ``.mreg`` folder for ``path`` (the folder itself or the folder holding it), else for
    ``MREG_STORE``, else the nearest ``.mreg`` found walking up from the working directory."""
    if path is None:
        path = os.environ.get("MREG_STORE") or None
    if path is not None:
        given = Path(path).absolute()
        for candidate in (given, given / STORE_DIRNAME):
            if _has_config(candidate):
                return Path(os.path.realpath(candidate))
        raise NotFound(f"no mreg store at {path} (run `mreg init` there, or check --store/MREG_STORE)")
    start = Path.cwd()
    for folder in (start, *start.parents):
        candidate = folder / STORE_DIRNAME
        if _has_config(candidate):
            return Path(os.path.realpath(candidate))
    raise NotFound(f"no mreg store in {start} or any parent folder (run `mreg init`, or pass --store)")


def _has_config(folder: Path) -> bool:
    """Whether ``folder`` holds a ``config.toml`` of any kind: it is a store, and the reader
    refuses a config that is not a regular file, naming it (a FIFO there is not "no store")."""
    return os.path.isdir(folder) and os.path.lexists(Layout(folder).config)


def init(path: str | os.PathLike[str] | None = None, *, commit_objects: bool = False) -> tuple[Path, bool]:
    """Create a store in ``path`` (default: the working directory). Returns (store folder,
    whether it was created); an existing store is checked and its git files brought in line."""
    given = Path(path).absolute() if path is not None else Path.cwd()
    root = given if given.name == STORE_DIRNAME else given / STORE_DIRNAME
    if os.path.islink(root):
        raise StoreError(f"refusing to create a store through the symlink {root}")
    if _has_config(root):
        root = Path(os.path.realpath(root))
        layout = Layout(root)
        config = ConfigRecord.parse(layout.config, files.read_toml(root, layout.config))
        _sync_git_files(layout, config, commit_objects=commit_objects)
        return root, False
    root.mkdir(parents=True, exist_ok=True)
    root = Path(os.path.realpath(root))
    layout = Layout(root)
    for folder in (layout.models, layout.objects):
        files.make_dirs(root, folder)
    ignore = GITIGNORE + ("" if commit_objects else GITIGNORE_OBJECTS)
    files.write_bytes_atomic(root, layout.gitignore, ignore.encode())
    files.write_bytes_atomic(root, layout.gitattributes, GITATTRIBUTES.encode())
    files.write_toml_atomic(root, layout.config, ConfigRecord(commit_objects=commit_objects).to_toml())
    return root, True


def _sync_git_files(layout: Layout, config: ConfigRecord, *, commit_objects: bool) -> None:
    """Keep ``.gitignore`` in step with the ``objects.commit`` setting of ``config.toml``
    (``--commit-objects`` turns it on), and restore a missing ``.gitignore``/``.gitattributes``."""
    root = layout.root
    committed = config.commit_objects
    if commit_objects and not committed:
        config = dataclasses.replace(config, commit_objects=True)
        files.write_toml_atomic(root, layout.config, config.to_toml())
        committed = True
    try:
        text: str | None = files.read_bytes(root, layout.gitignore).decode("utf-8", "replace")
    except FileNotFoundError:
        text = None
    if text is None:
        wanted = GITIGNORE + ("" if committed else GITIGNORE_OBJECTS)
    elif committed:
        wanted = text.replace(GITIGNORE_OBJECTS, "").replace("/objects/\n", "")
    elif "/objects/" not in text.splitlines():
        wanted = text + ("" if text.endswith("\n") or not text else "\n") + GITIGNORE_OBJECTS
    else:
        wanted = text
    wanted = _with_local_config_ignored(wanted)
    if wanted != text:
        files.write_bytes_atomic(root, layout.gitignore, wanted.encode())
    if not os.path.lexists(layout.gitattributes):
        files.write_bytes_atomic(root, layout.gitattributes, GITATTRIBUTES.encode())


def _with_local_config_ignored(text: str) -> str:
    """``.gitignore``'s text with the line that keeps ``config.local.toml`` out of git (stores
    made before remotes lack it)."""
    line = "/config.local.toml"
    if line in text.splitlines():
        return text
    return text + ("" if text.endswith("\n") or not text else "\n") + line + "\n"


class Store:
    """An open store. ``Store(path)`` locates it as ``locate`` does."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, lock_timeout: float | None = None
    ) -> None:
        self.root = locate(path)
        self.layout = Layout(self.root)
        self.config = ConfigRecord.parse(self.layout.config, files.read_toml(self.root, self.layout.config))
        self.lock_timeout = lock_timeout_from_env() if lock_timeout is None else lock_timeout
        self.lock = StoreLock(self.layout.lock, self.lock_timeout)
        self.pin = ObjectsPin(self.root, self.layout.pin)
        # Where a blob missing here is fetched from (the default remote), set by the caller that
        # knows remotes; asked only when a blob is missing, so nothing else imports them.
        self.fallback_objects: Callable[[], ObjectBackend | None] | None = None

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    @functools.cached_property
    def objects(self) -> ObjectStore:
        """The store's blobs (imported on first use: most reads never touch an artifact)."""
        from mreg.store.objects import ObjectStore

        return ObjectStore(self.layout, self._fetch_missing)

    def _fetch_missing(self, entries: Sequence[FileEntry]) -> None:
        """Fetch the blobs of ``entries`` that are not here from the fallback backend (the
        default remote), verified on the way in, holding the objects pin; nothing when there is
        none (the caller then reports the blob missing)."""
        from mreg.store.objects import fetch_into_store

        backend = self.fallback_objects() if self.fallback_objects is not None else None
        if backend is None:
            return
        with self.pin.shared():
            for entry in entries:
                fetch_into_store(self.layout, backend, entry)

    # ----------------------------------------------------------------------------------- config

    def write_config(self, config: ConfigRecord) -> None:
        """Replace ``config.toml`` (under the lock, re-read first: ``read_config``)."""
        files.write_toml_atomic(self.root, self.layout.config, config.to_toml())
        self.config = config

    def read_config(self) -> ConfigRecord:
        """``config.toml`` as it is now (another process may have changed it since opening)."""
        self.config = ConfigRecord.parse(self.layout.config, files.read_toml(self.root, self.layout.config))
        return self.config

    def read_local_config(self) -> LocalConfigRecord:
        """``config.local.toml``, this user's overrides; empty when there is none."""
        raw = files.read_toml_or_none(self.root, self.layout.config_local)
        return LocalConfigRecord() if raw is None else LocalConfigRecord.parse(self.layout.config_local, raw)

    def write_local_config(self, config: LocalConfigRecord) -> None:
        """Replace ``config.local.toml``, first making sure ``.gitignore`` keeps it out of git."""
        try:
            text: str | None = files.read_bytes(self.root, self.layout.gitignore).decode("utf-8", "replace")
        except FileNotFoundError:
            text = None
        wanted = _with_local_config_ignored(text or "")
        if wanted != text:
            files.write_bytes_atomic(self.root, self.layout.gitignore, wanted.encode())
        if not config.remotes and config.default_remote is None:
            files.remove_file(self.root, self.layout.config_local)
            return
        files.write_toml_atomic(self.root, self.layout.config_local, config.to_toml())

    def read_policy(self) -> PolicyRecord | None:
        """``policy.toml`` as it is now; None when there is none (one failed open)."""
        try:
            data = files.read_bytes(self.root, self.layout.policy)
        except FileNotFoundError:
            return None
        from mreg.store.policyfile import parse_policy

        return parse_policy(self.layout.policy, data)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store lock (re-entrant within a thread); re-read what you change inside."""
        with self.lock:
            yield

    @contextmanager
    def changing(self, *, resolving_merge: bool = False) -> Iterator[None]:
        """Hold the store lock around a change of several files, all or nothing for errors: an
        exception inside (a full disk, an I/O error, a refusal half-way) undoes every write made
        so far (``files.undo_on_error``), so the store is as before and the command fails.
        Refused while git has an unresolved merge of the store (``refuse_during_merge``), except
        for the change that resolves it."""
        with self.lock, files.undo_on_error():
            if not resolving_merge:
                self.refuse_during_merge()
            yield

    def refuse_during_merge(self) -> None:
        """Conflict while git has an unresolved merge of the store: a version registered now could
        be overwritten by the renumbering that resolves it. One stat when no merge is going on."""
        from mreg import gitinfo  # here: only changes ask

        unmerged = gitinfo.unmerged_store_files(self.root)
        if unmerged:
            more = f" and {len(unmerged) - 1} more" if len(unmerged) > 1 else ""
            raise Conflict(
                f"the store has an unresolved git merge ({unmerged[0]}{more}): run `mreg merge` to see "
                "it and `mreg merge --renumber` to resolve it (or settle it with git) before changing "
                "the registry"
            )

    @staticmethod
    def refuse_alias_case_twin(name: str, alias: str, current: dict[str, int]) -> None:
        """AlreadyExists when ``current`` (a model's aliases) holds another alias equal to
        ``alias`` but for case."""
        folded = alias.casefold()
        for existing in current:
            if existing != alias and existing.casefold() == folded:
                raise AlreadyExists(
                    f"alias {existing!r} of model {name!r} exists; "
                    "aliases that differ only in case may not coexist"
                )

    # ----------------------------------------------------------------------------------- models

    def model_names(self, *, strict: bool = False) -> list[str]:
        """Every registered model's name, sorted; folders with an invalid name are left out, or
        with ``strict`` the first one raises its error (see ``scan_models``)."""
        found, problems = self.scan_models()
        if strict and problems:
            raise problems[0]
        return found

    def scan_models(self) -> tuple[list[str], list[StoreError]]:
        """Every registered model's name, sorted, and a problem for each folder that holds a
        ``model.toml`` but whose name is not a valid model name (no command can name it; fsck
        reports it too). Listings show the good ones and report the problems."""
        layout = self.layout
        found: list[str] = []
        problems: list[StoreError] = []
        folders, links = files.list_folders(self.root, layout.models)  # files are no models
        for folder in sorted([*folders, *links]) if links else folders:
            if folder.startswith("."):
                continue
            if folder in links:
                shown = files.display_path(layout.model_dir(folder))
                problems.append(DamagedStore(f"refusing to follow symlink {shown} inside the store"))
                continue
            if not os.path.lexists(layout.model_file_text(folder)):
                continue
            try:
                names.validate_model_name(folder)
            except MregError:
                where = files.display_path(layout.models)
                problems.append(
                    DamagedStore(f"{where}: model folder {folder!r} is not a valid model name; skipped")
                )
                continue
            found.append(folder)
        return found, problems

    def has_model(self, name: str) -> bool:
        return self.layout.model_file(name).exists()

    def read_model(self, name: str) -> ModelRecord | None:
        path = self.layout.model_file(name)
        raw = files.read_toml_or_none(self.root, path)
        return None if raw is None else ModelRecord.parse(path, raw)

    def model(self, name: str) -> ModelRecord:
        """The model record; NotFound (with a hint about a name in another case) if missing."""
        names.validate_model_name(name)
        record = self.read_model(name)
        if record is None or (
            CASE_INSENSITIVE_FS and name not in files.list_dir(self.root, self.layout.models)
        ):
            other = self.name_taken_ignoring_case(name)
            hint = f" (there is {other!r}: names are case-sensitive)" if other else ""
            raise NotFound(f"model {name!r} not found{hint}")
        return record

    def name_taken_ignoring_case(self, name: str, *, ignore: str | None = None) -> str | None:
        """Another model whose name equals ``name`` but for case (``ignore`` excepted)."""
        folded = name.casefold()
        for existing in files.list_dir(self.root, self.layout.models):
            if (
                existing.casefold() == folded
                and existing != ignore
                and not existing.startswith(".")
                and self.layout.model_file(existing).is_file()
            ):
                return existing
        return None

    def refuse_case_twin(self, name: str, *, ignore: str | None = None) -> None:
        """AlreadyExists when another model's name equals ``name`` but for case."""
        other = self.name_taken_ignoring_case(name, ignore=ignore)
        if other is not None:
            raise AlreadyExists(
                f"model {other!r} already exists; names that differ only in case may not coexist"
            )

    def trash_other_case_folders(self, name: str, stamp: str) -> None:
        """Before creating ``name``: move to trash the folders named like it but for case. Each
        is the folder of an interrupted create (without model.toml, or ``refuse_case_twin``
        would have refused), and on macOS and Windows it is this model's folder."""
        folded = name.casefold()
        for folder in files.list_dir(self.root, self.layout.models):
            if folder != name and folder.casefold() == folded:
                self.trash_model_folder(folder, stamp)

    def write_model(self, name: str, record: ModelRecord) -> None:
        files.write_toml_atomic(self.root, self.layout.model_file(name), record.to_toml())

    def rename_model(self, name: str, new_name: str) -> None:
        """Move a model folder (versions, aliases and history with it) in one rename."""
        files.rename(self.root, self.layout.model_dir(name), self.layout.model_dir(new_name))

    def trash_model_folder(self, folder_name: str, stamp: str) -> Path:
        """Move a model folder into ``trash/`` (one atomic rename); returns where it went."""
        trash = self.layout.trash / f"{folder_name}.{stamp}"
        files.make_dirs(self.root, self.layout.store_history)  # refuses a symlink before any change
        files.rename(self.root, self.layout.model_dir(folder_name), trash)
        return trash

    def empty_trash(self, trash: Path) -> None:
        files.checkpoint("remove trash")
        shutil.rmtree(trash, ignore_errors=True)

    # --------------------------------------------------------------------------------- versions

    def version_numbers(self, name: str) -> list[int]:
        """Every version number with a file, live or deleted, ascending."""
        numbers = (
            version_from_filename(f) for f in files.list_dir(self.root, self.layout.versions_dir(name))
        )
        return sorted(n for n in numbers if n is not None)

    def version(self, name: str, number: int) -> AnyVersion | None:
        path = self.layout.version_file(name, number)
        raw = files.read_toml_or_none(self.root, path)
        return None if raw is None else parse_version(path, raw)

    def live_version(self, name: str, number: int) -> VersionRecord:
        """A live version's record; NotFound for a missing model or version, or a deleted one."""
        record = self.version(name, number)
        if record is None:
            self.model(name)
            raise NotFound(f"version {number} of model {name!r} not found")
        if isinstance(record, Tombstone):
            raise NotFound(f"version {number} of model {name!r} was deleted")
        return record

    def versions(self, name: str, numbers: Sequence[int]) -> Iterator[tuple[int, AnyVersion]]:
        """The records of ``numbers`` (in that order; missing files left out), read through one
        folder descriptor: the batched reader of every listing and search."""
        for number, record in self.scan_versions(name, numbers):
            if isinstance(record, MregError):
                raise record
            yield number, record

    def scan_versions(
        self, name: str, numbers: Sequence[int]
    ) -> Iterator[tuple[int, AnyVersion | MregError]]:
        """As ``versions``, but a file that cannot be read yields its error instead of raising
        it (fsck reports each bad file and goes on)."""
        folder = self.layout.versions_dir(name)
        # A file exactly as the writer writes a live version is read by one pattern; others by
        # the TOML reader and the checks of parse_version.
        filenames = [f"{n}.toml" for n in numbers]
        read = files.read_many(self.root, folder, filenames, parse_written_version, errors=True)
        return _version_records(folder, numbers, read)

    def scan_versions_where(
        self, name: str, accept: Callable[[int], bool]
    ) -> Iterator[tuple[int, AnyVersion | MregError]]:
        """As ``scan_versions`` of the version numbers (ascending) that ``accept`` accepts,
        listed and read through one descriptor of the versions folder (listings)."""
        numbers: list[int] = []

        def pick(filenames: list[str]) -> list[str]:
            found = (version_from_filename(f) for f in filenames)
            numbers.extend(sorted(n for n in found if n is not None and accept(n)))
            return [f"{n}.toml" for n in numbers]

        folder = self.layout.versions_dir_text(name)
        read = files.read_folder(self.root, folder, pick, parse_written_version, errors=True)
        return _version_records(folder, numbers, read)

    def live_versions_descending(self, name: str) -> Iterator[tuple[int, VersionRecord]]:
        """Live versions, newest first, read in growing batches: ``latest`` usually needs one
        file, the latest version of each stage may need them all."""
        numbers = self.version_numbers(name)[::-1]
        start, size = 0, 4
        while start < len(numbers):
            for number, record in self.versions(name, numbers[start : start + size]):
                if isinstance(record, VersionRecord):
                    yield number, record
            start, size = start + size, min(size * 4, 1024)

    def latest_per_stage(self, name: str, stages: set[str]) -> list[tuple[int, VersionRecord]]:
        """The newest live version in each of ``stages`` (those that have one), by number."""
        found: dict[str, tuple[int, VersionRecord]] = {}
        for number, record in self.live_versions_descending(name):
            if record.stage in stages and record.stage not in found:
                found[record.stage] = (number, record)
                if len(found) == len(stages):
                    break
        return sorted(found.values(), key=lambda item: item[0])

    def next_version(self, name: str, highest_listed: int) -> int:
        """Under the lock: the next version number, (highest ever used) + 1. ``highest_listed``
        comes from a listing made before the lock; numbers are only ever added as highest + 1
        under the lock, so any registered since then sit right above it. If that version is gone,
        the model was deleted or renamed in between: list again."""
        highest = highest_listed
        if highest and not os.path.lexists(self.layout.version_file(name, highest)):
            numbers = self.version_numbers(name)
            highest = numbers[-1] if numbers else 0
        version = highest + 1
        while os.path.lexists(self.layout.version_file(name, version)):
            version += 1
        if version > names.VERSION_MAX:
            raise StoreError(
                f"model {name!r} has used every version number up to {names.VERSION_MAX}; "
                "register under another name"
            )
        return version

    def write_version(self, name: str, number: int, record: AnyVersion) -> None:
        files.write_toml_atomic(self.root, self.layout.version_file(name, number), record.to_toml())

    # ---------------------------------------------------------------------------------- aliases

    def alias_names(self, name: str) -> list[str]:
        return _alias_names(files.list_dir(self.root, self.layout.aliases_dir(name)))

    def alias(self, name: str, alias: str) -> int | None:
        """The version ``alias`` points at; None when it does not exist."""
        path = self.layout.alias_file(name, alias)
        raw = files.read_toml_or_none(self.root, path)
        return None if raw is None else AliasRecord.parse(path, raw).version

    def aliases(self, name: str) -> dict[str, int]:
        """A model's aliases: alias → version, by alias."""
        folder = self.layout.aliases_dir(name)
        result = {}
        for alias in self.alias_names(name):
            path = folder / alias
            result[alias] = AliasRecord.parse(path, files.read_toml(self.root, path)).version
        return result

    def scan_aliases(self, name: str) -> tuple[dict[str, int], list[StoreError]]:
        """As ``aliases``, but an alias file that cannot be read is left out and its error
        returned with the others (listings show what they can). Read through the batched reader."""
        folder = self.layout.aliases_dir_text(name)
        result: dict[str, int] = {}
        problems: list[StoreError] = []
        for alias, raw in files.read_folder(
            self.root, folder, _alias_names, parse_written_alias, errors=True
        ):
            if raw is None:
                continue  # deleted while we read
            if isinstance(raw, AliasRecord):
                result[alias] = raw.version
                continue
            try:
                if isinstance(raw, StoreError):
                    raise raw
                result[alias] = AliasRecord.parse(f"{folder}{os.sep}{alias}", raw).version
            except StoreError as err:
                problems.append(err)
        return result, problems

    def write_alias(self, name: str, alias: str, version: int) -> None:
        files.write_toml_atomic(
            self.root, self.layout.alias_file(name, alias), AliasRecord(version).to_toml()
        )

    def delete_alias(self, name: str, alias: str) -> None:
        files.remove_file(self.root, self.layout.alias_file(name, alias))

    # ----------------------------------------------------------------------------------- events

    def event_ids(self, name: str | None) -> list[str]:
        """The ids of a model's events (``name`` None: the store-level ones), oldest first."""
        folder = self.layout.store_history if name is None else self.layout.history_dir(name)
        found = (event_id_from_filename(f) for f in files.list_dir(self.root, folder))
        return [i for i in found if i is not None]

    def events(self, name: str | None, ids: Iterable[str] | None = None) -> list[Event]:
        """A model's events (``name`` None: the store-level ones), all or those of ``ids``, in
        the order of the ids (oldest first when all)."""
        model = name or ""
        result = []
        for event_id in self.event_ids(name) if ids is None else ids:
            path = self.layout.event_file(name, event_id)
            result.append(parse_event(path, files.read_toml(self.root, path), event_id, model))
        return result

    def append_event(self, event: Event, *, store_level: bool = False) -> None:
        """Write one event file: in the model's history, or the store's (a model deleted)."""
        path = self.layout.event_file(None if store_level else event.model, event.id)
        files.write_toml_atomic(self.root, path, event_toml(event, with_model=store_level))

    # --------------------------------------------------------------------------- any record

    def write_record(self, rel: str, record: Record | Event) -> None:
        """Write a record at ``rel`` (a POSIX path inside the store, from ``layout.rel_*``)."""
        path = self.layout.path(rel)
        if isinstance(record, Event):
            data = event_toml(record, with_model=not rel.startswith("models/"))
        else:
            data = record.to_toml()
        files.write_toml_atomic(self.root, path, data)

    def remove_record(self, rel: str) -> None:
        files.remove_file(self.root, self.layout.path(rel))


def _alias_names(filenames: list[str]) -> list[str]:
    return [a for a in filenames if not a.startswith(".")]


def _version_records(
    folder: Path | str,
    numbers: Sequence[int],
    read: Iterable[tuple[str, files.TomlTable | MregError | VersionRecord | None]],
) -> Iterator[tuple[int, AnyVersion | MregError]]:
    """What ``scan_versions`` yields from what the batched reader read for ``numbers``."""
    for number, (filename, raw) in zip(numbers, read, strict=True):
        if raw is None:
            continue
        if isinstance(raw, MregError | VersionRecord):
            yield number, raw
            continue
        try:
            yield number, parse_version(f"{folder}{os.sep}{filename}", raw)
        except MregError as err:
            yield number, err
