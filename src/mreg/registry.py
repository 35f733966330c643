"""Registry: the Python API, and the only code that changes a store.

Every change follows one path: validate the input → do the heavy work outside the lock (hash and
copy an artifact, ask git for lineage) → take the store lock → re-read the state it depends on →
write the changed files atomically → append one event per change.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import getpass
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from mreg import gitinfo, history, names
from mreg.entities import (
    AliasSpan,
    Artifact,
    ArtifactFile,
    Event,
    Lineage,
    ModelVersion,
    RegisteredModel,
)
from mreg.errors import (
    AlreadyExists,
    Conflict,
    IntegrityError,
    InvalidInput,
    MregError,
    NotFound,
    StoreError,
)
from mreg.store import files, objects, records
from mreg.store.layout import STORE_DIRNAME, Layout, version_from_filename
from mreg.store.lock import ObjectsPin, StoreLock, lock_timeout_from_env
from mreg.uris import ModelRef, parse_model_uri

if TYPE_CHECKING:  # imported by the methods that need them: no other command pays for them
    from mreg.fsck import Finding
    from mreg.gc import GcReport
    from mreg.gitmerge import MergePlan
    from mreg.search import Filter, PagedList

_P = ParamSpec("_P")
_R = TypeVar("_R")

MESSAGE_MAX = 10_000
_URI_SCHEMES = ("runs:/", "models:/", "mlflow-artifacts:/")
_CASE_INSENSITIVE_FS = sys.platform in ("darwin", "win32")

GITIGNORE = """\
# Written by `mreg init`. The lock, temp files and caches are never committed.
/lock
/tmp/
/trash/
/cache/
*.tmp
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


def is_uri(source: str) -> bool:
    """Whether ``source`` names a remote artifact (recorded as a reference, never copied)."""
    scheme, sep, _ = source.partition("://")
    if sep and len(scheme) > 1 and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        return True
    return source.startswith(_URI_SCHEMES)


def current_user() -> str:
    user = os.environ.get("MREG_USER")
    if user:
        return names.validate_text(user, "MREG_USER", 256)
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
    try:
        return names.validate_text(user, "the user name from USER/LOGNAME", 256)
    except InvalidInput as err:
        raise InvalidInput(f"{err}; set MREG_USER to the name to record") from None


def locate_store(path: str | os.PathLike[str] | None = None) -> Path:
    """The ``.mreg`` folder for ``path`` (the folder itself or the folder holding it), else for
    ``MREG_STORE``, else the nearest ``.mreg`` found walking up from the working directory."""
    if path is None:
        path = os.environ.get("MREG_STORE") or None
    if path is not None:
        given = Path(path).absolute()
        for candidate in (given, given / STORE_DIRNAME):
            if (candidate / "config.toml").is_file():
                return Path(os.path.realpath(candidate))
        raise NotFound(f"no mreg store at {path} (run `mreg init` there, or check --store/MREG_STORE)")
    start = Path.cwd()
    for folder in (start, *start.parents):
        candidate = folder / STORE_DIRNAME
        if (candidate / "config.toml").is_file():
            return Path(os.path.realpath(candidate))
    raise NotFound(f"no mreg store in {start} or any parent folder (run `mreg init`, or pass --store)")


def init_store(
    path: str | os.PathLike[str] | None = None, *, commit_objects: bool = False
) -> tuple[Path, bool]:
    """Create a store in ``path`` (default: the working directory). Returns (store folder,
    whether it was created); an existing store is checked and left as it is."""
    given = Path(path).absolute() if path is not None else Path.cwd()
    root = given if given.name == STORE_DIRNAME else given / STORE_DIRNAME
    if os.path.islink(root):
        raise StoreError(f"refusing to create a store through the symlink {root}")
    config = root / "config.toml"
    if config.is_file():
        record = records.check_config(config, files.read_toml(root, config))
        root = Path(os.path.realpath(root))
        _sync_git_files(root, record, commit_objects=commit_objects)
        return root, False
    root.mkdir(parents=True, exist_ok=True)
    root = Path(os.path.realpath(root))
    layout = Layout(root)
    for folder in (layout.models, layout.objects):
        files.make_dirs(root, folder)
    files.write_bytes_atomic(
        root, root / ".gitignore", (GITIGNORE + ("" if commit_objects else GITIGNORE_OBJECTS)).encode()
    )
    files.write_bytes_atomic(root, root / ".gitattributes", GITATTRIBUTES.encode())
    files.write_toml_atomic(root, layout.config, records.config_record(commit_objects=commit_objects))
    return root, True


def _sync_git_files(root: Path, config: dict[str, Any], *, commit_objects: bool) -> None:
    """Keep ``.gitignore`` in step with the ``objects.commit`` setting of ``config.toml``
    (``--commit-objects`` turns it on), and restore a missing ``.gitignore``/``.gitattributes``."""
    committed = bool(config.get("objects", {}).get("commit", False))
    if commit_objects and not committed:
        files.write_toml_atomic(
            root, root / "config.toml", {**config, "objects": {**config.get("objects", {}), "commit": True}}
        )
        committed = True
    try:
        text: str | None = files.read_bytes(root, root / ".gitignore").decode("utf-8", "replace")
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
    if wanted != text:
        files.write_bytes_atomic(root, root / ".gitignore", wanted.encode())
    if not (root / ".gitattributes").exists():
        files.write_bytes_atomic(root, root / ".gitattributes", GITATTRIBUTES.encode())


def _holding_objects_pin(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Hold the objects pin for the whole call: the method puts objects into the store before it
    takes the store lock and records them, and gc must not take them for garbage meanwhile."""

    @functools.wraps(method)
    def pinned(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        registry = args[0]
        assert isinstance(registry, Registry)
        with registry._pin.shared():
            return method(*args, **kwargs)

    return pinned


def _scanning(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """For methods that read many files: see ``files.scanning``."""

    @functools.wraps(method)
    def scan(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with files.scanning():
            return method(*args, **kwargs)

    return scan


class Registry:
    """A model registry stored in a ``.mreg`` folder.

    ``Registry(path)`` takes the ``.mreg`` folder or the folder holding it; ``Registry()`` finds
    it as the command line does (``MREG_STORE``, then walking up from the working directory).
    Method names and arguments follow MLflow's ``MlflowClient`` registry methods.
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, lock_timeout: float | None = None
    ) -> None:
        self.root = locate_store(path)
        self.layout = Layout(self.root)
        self.config = records.check_config(self.layout.config, self._read(self.layout.config))
        self.lock_timeout = lock_timeout_from_env() if lock_timeout is None else lock_timeout
        self._lock = StoreLock(self.layout.lock, self.lock_timeout)
        self._pin = ObjectsPin(self.root, self.layout.pin)

    @classmethod
    def init(cls, path: str | os.PathLike[str] | None = None, *, commit_objects: bool = False) -> Registry:
        root, _ = init_store(path, commit_objects=commit_objects)
        return cls(root)

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    # ------------------------------------------------------------------------------ file access

    def _read(self, path: Path) -> dict[str, Any]:
        return files.read_toml(self.root, path)

    def _read_or_none(self, path: Path) -> dict[str, Any] | None:
        return files.read_toml_or_none(self.root, path)

    def _write(self, path: Path, record: dict[str, Any]) -> None:
        files.write_toml_atomic(self.root, path, record)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            yield

    def _event(self, model: str, action: str, *, message: str | None = None, **fields: Any) -> Event:
        when = history.now()
        event = Event(
            id=history.event_id(when),
            time=when,
            user=current_user(),
            action=action,
            model=model,
            message=message,
            git_commit=gitinfo.head_commit(self.root.parent),
            **fields,
        )
        self._write(
            self.layout.history_dir(model) / f"{event.id}.toml", history.event_record(event, with_model=False)
        )
        return event

    # --------------------------------------------------------------------------------- reading

    def _model_fields(self, name: str) -> dict[str, Any]:
        names.validate_model_name(name)
        path = self.layout.model_file(name)
        record = self._read_or_none(path)
        if record is None or (
            _CASE_INSENSITIVE_FS and name not in files.list_dir(self.root, self.layout.models)
        ):
            raise NotFound(f"model {name!r} not found{self._case_hint(name)}")
        return records.read_model(path, record)

    def _case_hint(self, name: str) -> str:
        other = self._name_taken_ignoring_case(name)
        return f" (there is {other!r}: names are case-sensitive)" if other else ""

    def _name_taken_ignoring_case(self, name: str, *, ignore: str | None = None) -> str | None:
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

    def _version_numbers(self, name: str) -> list[int]:
        """Every version number with a file, live or deleted, ascending."""
        numbers = (
            version_from_filename(f) for f in files.list_dir(self.root, self.layout.versions_dir(name))
        )
        return sorted(n for n in numbers if n is not None)

    def _version_fields(self, name: str, version: int) -> dict[str, Any] | None:
        path = self.layout.version_file(name, version)
        record = self._read_or_none(path)
        return None if record is None else records.read_version(path, record)

    def _live_version_fields(self, name: str, version: int) -> dict[str, Any]:
        fields = self._version_fields(name, version)
        if fields is None:
            self._model_fields(name)
            raise NotFound(f"version {version} of model {name!r} not found")
        if fields["status"] == records.STATUS_DELETED:
            raise NotFound(f"version {version} of model {name!r} was deleted")
        return fields

    def _aliases(self, name: str) -> dict[str, int]:
        folder = self.layout.aliases_dir(name)
        aliases = {}
        for alias in files.list_dir(self.root, folder):
            if alias.startswith("."):
                continue
            path = folder / alias
            aliases[alias] = records.read_alias(path, self._read(path))
        return aliases

    def _model_version(
        self, name: str, version: int, fields: dict[str, Any], aliases: dict[str, int]
    ) -> ModelVersion:
        return ModelVersion(
            name=name,
            version=version,
            source=fields["source"],
            artifact=fields["artifact"],
            created_at=fields["created_at"],
            updated_at=fields["updated_at"],
            user_id=fields["created_by"],
            description=fields["description"],
            run_id=fields["run_id"],
            run_link=fields["run_link"],
            current_stage=fields["stage"],
            status=fields["status"],
            tags=fields["tags"],
            aliases=tuple(sorted(a for a, v in aliases.items() if v == version)),
            lineage=fields["lineage"],
        )

    def _live_versions_descending(self, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
        # Read in growing batches through one folder descriptor: `latest` usually needs one file,
        # latest_versions of a model with no Staging version needs them all (10 times faster so).
        numbers = self._version_numbers(name)[::-1]
        folder = self.layout.versions_dir(name)
        start, size = 0, 4
        while start < len(numbers):
            batch = numbers[start : start + size]
            read = files.read_toml_many(self.root, folder, [f"{n}.toml" for n in batch])
            for number, (filename, record) in zip(batch, read, strict=True):
                if record is None:
                    continue
                fields = records.read_version(f"{folder}{os.sep}{filename}", record)
                if fields["status"] != records.STATUS_DELETED:
                    yield number, fields
            start, size = start + size, min(size * 4, 1024)

    def _latest_per_stage(
        self, name: str, aliases: dict[str, int], stages: Iterable[str] | None = None
    ) -> list[ModelVersion]:
        wanted = set(names.STAGES if stages is None else (names.canonical_stage(s) for s in stages))
        found: dict[str, ModelVersion] = {}
        for number, fields in self._live_versions_descending(name):
            if fields["stage"] in wanted and fields["stage"] not in found:
                found[fields["stage"]] = self._model_version(name, number, fields, aliases)
                if len(found) == len(wanted):
                    break
        return sorted(found.values(), key=lambda mv: mv.version)

    def _registered_model(self, name: str, fields: dict[str, Any]) -> RegisteredModel:
        aliases = self._aliases(name)
        return RegisteredModel(
            name=name,
            created_at=fields["created_at"],
            updated_at=fields["updated_at"],
            created_by=fields["created_by"],
            description=fields["description"],
            tags=fields["tags"],
            aliases=dict(sorted(aliases.items())),
            latest_versions=tuple(self._latest_per_stage(name, aliases)),
        )

    def model_names(self) -> list[str]:
        """Every registered model's name, sorted."""
        return [
            n
            for n in files.list_dir(self.root, self.layout.models)
            if not n.startswith(".") and (self.layout.model_file(n)).is_file()
        ]

    # -------------------------------------------------------------------------- registered models

    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        *,
        message: str | None = None,
    ) -> RegisteredModel:
        """Create an empty registered model. Raises AlreadyExists if the name (in any case) is taken."""
        names.validate_model_name(name)
        tags = names.validate_tags(tags)
        description = names.validate_text(description or "", "description")
        message = self._check_message(message)
        with self._locked():
            self._create_model_locked(name, tags, description, message)
        return self.get_registered_model(name)

    def _create_model_locked(
        self, name: str, tags: dict[str, str], description: str, message: str | None
    ) -> None:
        if self.layout.model_file(name).exists():
            raise AlreadyExists(f"model {name!r} already exists")
        other = self._name_taken_ignoring_case(name)
        if other is not None:
            raise AlreadyExists(
                f"model {other!r} already exists; names that differ only in case may not coexist"
            )
        for existing in files.list_dir(self.root, self.layout.models):
            if existing != name and existing.casefold() == name.casefold():
                # The folder of an interrupted create under another case (no model.toml, or the
                # check above would have refused): on macOS and Windows it is this model's folder.
                files.rename(
                    self.root,
                    self.layout.model_dir(existing),
                    self.layout.trash / f"{existing}.{history.event_id(history.now())}",
                )
        when = history.now()
        self._write(
            self.layout.model_file(name),
            records.model_record(
                created_at=when,
                created_by=current_user(),
                updated_at=when,
                description=description,
                tags=tags,
            ),
        )
        self._event(name, "model_created", message=message, new=name)
        for key, value in tags.items():
            self._event(name, "model_tag_set", key=key, new=value, message=message)

    def _check_no_case_twin(self, name: str) -> None:
        """The case check of ``_create_model_locked``, for use before taking the lock. The folder
        of ``name`` itself is skipped: without the lock it may exist before its model.toml, while
        another process creates the model (make_dirs comes before the atomic write)."""
        other = self._name_taken_ignoring_case(name, ignore=name)
        if other is not None:
            raise AlreadyExists(
                f"model {other!r} already exists; names that differ only in case may not coexist"
            )

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._registered_model(name, self._model_fields(name))

    @_scanning
    def list_registered_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        return [self.get_registered_model(n) for n in self.model_names()]

    def rename_registered_model(
        self, name: str, new_name: str, *, message: str | None = None
    ) -> RegisteredModel:
        """Rename a model; its versions, aliases, tags and history move with it (one folder rename)."""
        names.validate_model_name(name)
        names.validate_model_name(new_name)
        message = self._check_message(message)
        with self._locked():
            fields = self._model_fields(name)
            if new_name == name:
                return self.get_registered_model(name)
            if self.layout.model_file(new_name).exists() and new_name.casefold() != name.casefold():
                raise AlreadyExists(f"model {new_name!r} already exists")
            other = self._name_taken_ignoring_case(new_name, ignore=name)
            if other is not None:
                raise AlreadyExists(
                    f"model {other!r} already exists; names that differ only in case may not coexist"
                )
            files.rename(self.root, self.layout.model_dir(name), self.layout.model_dir(new_name))
            self._write(
                self.layout.model_file(new_name),
                records.model_record(
                    created_at=fields["created_at"],
                    created_by=fields["created_by"],
                    updated_at=history.now(),
                    description=fields["description"],
                    tags=fields["tags"],
                ),
            )
            self._event(new_name, "model_renamed", old=name, new=new_name, message=message)
        return self.get_registered_model(new_name)

    def update_registered_model(
        self, name: str, description: str | None = None, *, message: str | None = None
    ) -> RegisteredModel:
        """Replace a model's description (Markdown)."""
        names.validate_model_name(name)
        description = names.validate_text(description or "", "description")
        message = self._check_message(message)
        with self._locked():
            fields = self._model_fields(name)
            if fields["description"] != description:
                self._write_model(name, fields, description=description)
                self._event(
                    name, "model_described", old=fields["description"], new=description, message=message
                )
        return self.get_registered_model(name)

    def _write_model(self, name: str, fields: dict[str, Any], **changes: Any) -> None:
        merged = {**fields, **changes, "updated_at": history.now()}
        self._write(self.layout.model_file(name), records.model_record(**merged))

    def delete_registered_model(self, name: str, *, message: str | None = None) -> None:
        """Delete a model with all its versions, aliases and history (its name becomes free).
        The deletion itself is recorded in the store-level history."""
        names.validate_model_name(name)
        message = self._check_message(message)
        with self._locked():
            self._model_fields(name)
            versions = [n for n, _ in self._live_versions_descending(name)]
            trash = self.layout.trash / f"{name}.{history.event_id(history.now())}"
            files.make_dirs(self.root, self.layout.store_history)  # refuses a symlink before any change
            files.rename(self.root, self.layout.model_dir(name), trash)
            when = history.now()
            event = Event(
                id=history.event_id(when),
                time=when,
                user=current_user(),
                action="model_deleted",
                model=name,
                old=f"{len(versions)} live version(s)",
                message=message,
                git_commit=gitinfo.head_commit(self.root.parent),
            )
            self._write(
                self.layout.store_history / f"{event.id}.toml", history.event_record(event, with_model=True)
            )
            files.checkpoint("remove trash")
            shutil.rmtree(trash, ignore_errors=True)

    # ------------------------------------------------------------------------------ model tags

    def set_registered_model_tag(
        self, name: str, key: str, value: str, *, message: str | None = None
    ) -> None:
        self.set_registered_model_tags(name, {key: value}, message=message)

    def set_registered_model_tags(
        self, name: str, tags: dict[str, str], *, message: str | None = None
    ) -> None:
        """Set several tags of a model in one step."""
        names.validate_model_name(name)
        tags = names.validate_tags(tags)
        message = self._check_message(message)
        with self._locked():
            fields = self._model_fields(name)
            changed = {k: v for k, v in tags.items() if fields["tags"].get(k) != v}
            if not changed:
                return
            self._write_model(name, fields, tags={**fields["tags"], **changed})
            for key, value in changed.items():
                self._event(
                    name, "model_tag_set", key=key, old=fields["tags"].get(key), new=value, message=message
                )

    def delete_registered_model_tag(self, name: str, key: str, *, message: str | None = None) -> None:
        self.delete_registered_model_tags(name, [key], message=message)

    def delete_registered_model_tags(
        self, name: str, keys: Iterable[str], *, message: str | None = None
    ) -> None:
        """Delete tags of a model; a key that is not set is not an error."""
        names.validate_model_name(name)
        keys = [names.validate_tag_key(k) for k in keys]
        message = self._check_message(message)
        with self._locked():
            fields = self._model_fields(name)
            present = [k for k in keys if k in fields["tags"]]
            if not present:
                return
            self._write_model(
                name, fields, tags={k: v for k, v in fields["tags"].items() if k not in present}
            )
            for key in present:
                self._event(name, "model_tag_deleted", key=key, old=fields["tags"][key], message=message)

    # ---------------------------------------------------------------------------------- versions

    @_holding_objects_pin
    def create_model_version(
        self,
        name: str,
        source: str | os.PathLike[str],
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        *,
        aliases: Iterable[str] = (),
        message: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ModelVersion:
        """Register a new version of ``name`` (created if missing) from a local file or folder,
        copied into the object store, or from a URI, recorded as a reference."""
        names.validate_model_name(name)
        tags = names.validate_tags(tags)
        run_id = names.validate_run_id(run_id) if run_id else ""
        run_link = names.validate_text(run_link or "", "run link", names.SOURCE_MAX)
        description = names.validate_text(description or "", "description")
        alias_list = list(dict.fromkeys(names.validate_alias(a) for a in aliases))
        message = self._check_message(message)
        # Refuse what the locked step below would refuse before copying the artifact in, so that a
        # failed register leaves no blob behind; the locked step checks again.
        current_user()
        if self.layout.model_file(name).exists():
            self._model_fields(name)
        else:
            self._check_no_case_twin(name)
        artifact, source_text, source_path = self._store_artifact(source, progress)
        lineage = gitinfo.lineage(self.root.parent, source_path, self.root)
        if source_path is not None:
            source_text = lineage.source_path or str(source_path.absolute())
        listed = self._version_numbers(name)  # before the lock: it grows with the model
        with self._locked():
            if not self.layout.model_file(name).exists():
                self._create_model_locked(name, {}, "", message)
            else:
                self._model_fields(name)
            version = self._allocate_version(name, listed[-1] if listed else 0)
            when = history.now()
            self._write(
                self.layout.version_file(name, version),
                records.version_record(
                    status=records.STATUS_READY,
                    created_at=when,
                    created_by=current_user(),
                    updated_at=when,
                    source=source_text,
                    run_id=run_id,
                    run_link=run_link,
                    description=description,
                    stage="None",
                    artifact=artifact,
                    lineage=lineage,
                    tags=tags,
                ),
            )
            self._event(
                name,
                "version_registered",
                version=version,
                new=artifact.to_dict()["digest"] or artifact.uri,
                message=message,
            )
            current = self._aliases(name)
            for alias in alias_list:
                self._set_alias_locked(name, alias, version, current, message)
        return self.get_model_version(name, version)

    def _allocate_version(self, name: str, highest_listed: int) -> int:
        """Under the lock: the next version number, (highest ever used) + 1. ``highest_listed``
        comes from a listing made before the lock; numbers are only ever added as highest + 1
        under the lock, so any registered since then sit right above it. If that version is gone,
        the model was deleted or renamed in between: list again."""
        highest = highest_listed
        if highest and not self.layout.version_file(name, highest).exists():
            numbers = self._version_numbers(name)
            highest = numbers[-1] if numbers else 0
        version = highest + 1
        while self.layout.version_file(name, version).exists():
            version += 1
        return version

    def _store_artifact(
        self, source: str | os.PathLike[str], progress: Callable[[int], None] | None
    ) -> tuple[Artifact, str, Path | None]:
        text = os.fspath(source)
        if not isinstance(text, str) or not text:
            raise InvalidInput("source must not be empty")
        names.validate_text(text, "source", names.SOURCE_MAX)
        if is_uri(text):
            return Artifact(kind="uri", uri=text), text, None
        path = Path(text)
        real = Path(os.path.realpath(path))
        if real == self.root or self.root in real.parents:
            raise InvalidInput(f"source {text} is inside the store; register a file or folder outside .mreg/")
        if path.is_dir():
            entries = objects.put_tree(self.layout, path, progress)
            files_ = tuple(ArtifactFile(e.path, e.sha256, e.size) for e in entries)
            return (
                Artifact(
                    kind="directory",
                    digest=objects.tree_digest(entries),
                    size=sum(e.size for e in entries),
                    files=files_,
                ),
                text,
                path,
            )
        if path.is_file():
            entry = objects.put_file(self.layout, path, progress)
            return (
                Artifact(
                    kind="file",
                    digest=entry.sha256,
                    size=entry.size,
                    files=(ArtifactFile(entry.path, entry.sha256, entry.size),),
                ),
                text,
                path,
            )
        if path.exists():
            raise InvalidInput(f"source {text} is neither a file nor a folder")
        raise NotFound(f"source {text} does not exist")

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        names.validate_model_name(name)
        number = names.validate_version(version)
        fields = self._live_version_fields(name, number)
        return self._model_version(name, number, fields, self._aliases(name))

    @_scanning
    def list_model_versions(self, name: str | None = None) -> list[ModelVersion]:
        """Every live version of ``name`` (or of every model), by model then version."""
        result = []
        for model in [name] if name is not None else self.model_names():
            self._model_fields(model)
            aliases = self._aliases(model)
            for number in self._version_numbers(model):
                fields = self._version_fields(model, number)
                if fields is not None and fields["status"] != records.STATUS_DELETED:
                    result.append(self._model_version(model, number, fields, aliases))
        return result

    def update_model_version(
        self, name: str, version: int | str, description: str | None = None, *, message: str | None = None
    ) -> ModelVersion:
        """Replace a version's description."""
        names.validate_model_name(name)
        number = names.validate_version(version)
        description = names.validate_text(description or "", "description")
        message = self._check_message(message)
        with self._locked():
            fields = self._live_version_fields(name, number)
            if fields["description"] != description:
                self._write_version(name, number, fields, description=description)
                self._event(
                    name,
                    "version_described",
                    version=number,
                    old=fields["description"],
                    new=description,
                    message=message,
                )
        return self.get_model_version(name, number)

    def _write_version(self, name: str, version: int, fields: dict[str, Any], **changes: Any) -> None:
        merged = {**fields, **changes, "updated_at": history.now()}
        self._write(
            self.layout.version_file(name, version),
            records.version_record(
                status=merged["status"],
                created_at=merged["created_at"],
                created_by=merged["created_by"],
                updated_at=merged["updated_at"],
                source=merged["source"],
                run_id=merged["run_id"],
                run_link=merged["run_link"],
                description=merged["description"],
                stage=merged["stage"],
                artifact=merged["artifact"],
                lineage=merged["lineage"],
                tags=merged["tags"],
            ),
        )

    def delete_model_version(self, name: str, version: int | str, *, message: str | None = None) -> None:
        """Delete a version: its aliases are removed first, then its record becomes a tombstone
        that keeps the number from being used again."""
        names.validate_model_name(name)
        number = names.validate_version(version)
        message = self._check_message(message)
        with self._locked():
            fields = self._live_version_fields(name, number)
            for alias, target in self._aliases(name).items():
                if target == number:
                    files.remove_file(self.root, self.layout.alias_file(name, alias))
                    self._event(
                        name,
                        "alias_deleted",
                        alias=alias,
                        old=number,
                        reason=f"version {number} deleted",
                        message=message,
                    )
            when = history.now()
            self._write(
                self.layout.version_file(name, number),
                records.tombstone_record(
                    created_at=fields["created_at"],
                    created_by=fields["created_by"],
                    deleted_at=when,
                    deleted_by=current_user(),
                    source=fields["source"],
                ),
            )
            self._event(
                name,
                "version_deleted",
                version=number,
                old=fields["artifact"].to_dict()["digest"] or fields["artifact"].uri,
                message=message,
            )

    # ------------------------------------------------------------------------------ version tags

    def set_model_version_tag(
        self, name: str, version: int | str, key: str, value: str, *, message: str | None = None
    ) -> None:
        self.set_model_version_tags(name, version, {key: value}, message=message)

    def set_model_version_tags(
        self, name: str, version: int | str, tags: dict[str, str], *, message: str | None = None
    ) -> None:
        names.validate_model_name(name)
        number = names.validate_version(version)
        tags = names.validate_tags(tags)
        message = self._check_message(message)
        with self._locked():
            fields = self._live_version_fields(name, number)
            changed = {k: v for k, v in tags.items() if fields["tags"].get(k) != v}
            if not changed:
                return
            self._write_version(name, number, fields, tags={**fields["tags"], **changed})
            for key, value in changed.items():
                self._event(
                    name,
                    "version_tag_set",
                    version=number,
                    key=key,
                    old=fields["tags"].get(key),
                    new=value,
                    message=message,
                )

    def delete_model_version_tag(
        self, name: str, version: int | str, key: str, *, message: str | None = None
    ) -> None:
        self.delete_model_version_tags(name, version, [key], message=message)

    def delete_model_version_tags(
        self, name: str, version: int | str, keys: Iterable[str], *, message: str | None = None
    ) -> None:
        names.validate_model_name(name)
        number = names.validate_version(version)
        keys = [names.validate_tag_key(k) for k in keys]
        message = self._check_message(message)
        with self._locked():
            fields = self._live_version_fields(name, number)
            present = [k for k in keys if k in fields["tags"]]
            if not present:
                return
            self._write_version(
                name, number, fields, tags={k: v for k, v in fields["tags"].items() if k not in present}
            )
            for key in present:
                self._event(
                    name,
                    "version_tag_deleted",
                    version=number,
                    key=key,
                    old=fields["tags"][key],
                    message=message,
                )

    # ------------------------------------------------------------------------------------ stages

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
        *,
        message: str | None = None,
    ) -> ModelVersion:
        """Move a version to a stage (None, Staging, Production, Archived); with
        ``archive_existing_versions`` the other versions in that stage become Archived."""
        names.validate_model_name(name)
        number = names.validate_version(version)
        stage = names.canonical_stage(stage)
        if archive_existing_versions and stage not in ("Staging", "Production"):
            raise InvalidInput("archive_existing_versions applies only to the Staging and Production stages")
        message = self._check_message(message)
        with self._locked():
            fields = self._live_version_fields(name, number)
            if archive_existing_versions:
                for other, other_fields in self._live_versions_descending(name):
                    if other != number and other_fields["stage"] == stage:
                        self._write_version(name, other, other_fields, stage="Archived")
                        self._event(
                            name,
                            "version_stage_changed",
                            version=other,
                            old=stage,
                            new="Archived",
                            reason=f"version {number} moved to {stage}",
                            message=message,
                        )
            if fields["stage"] != stage:
                self._write_version(name, number, fields, stage=stage)
                self._event(
                    name,
                    "version_stage_changed",
                    version=number,
                    old=fields["stage"],
                    new=stage,
                    message=message,
                )
        return self.get_model_version(name, number)

    def get_latest_versions(self, name: str, stages: Iterable[str] | None = None) -> list[ModelVersion]:
        """The latest version in each of ``stages`` (default: every stage), as MLflow's."""
        self._model_fields(name)
        return self._latest_per_stage(name, self._aliases(name), stages)

    # ----------------------------------------------------------------------------------- aliases

    def set_registered_model_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        expect: int | None = None,
        message: str | None = None,
    ) -> None:
        """Point ``alias`` at ``version`` (creating or moving it). With ``expect``, the alias must
        currently point at that version (0: must not exist yet), or Conflict is raised."""
        names.validate_model_name(name)
        names.validate_alias(alias)
        number = names.validate_version(version)
        if expect is not None and expect != 0:
            expect = names.validate_version(expect)
        message = self._check_message(message)
        with self._locked():
            self._live_version_fields(name, number)
            current = self._aliases(name)
            if expect is not None and current.get(alias, 0) != expect:
                now_at = current.get(alias)
                raise Conflict(
                    f"alias {alias!r} of model {name!r} points at "
                    f"{'no version' if now_at is None else f'version {now_at}'}, not "
                    f"{'no version' if expect == 0 else f'version {expect}'} as expected"
                )
            self._set_alias_locked(name, alias, number, current, message)

    def _set_alias_locked(
        self, name: str, alias: str, version: int, current: dict[str, int], message: str | None
    ) -> None:
        old = current.get(alias)
        if old == version:
            return
        folded = alias.casefold()
        for existing in current:
            if existing != alias and existing.casefold() == folded:
                raise AlreadyExists(
                    f"alias {existing!r} of model {name!r} exists; "
                    "aliases that differ only in case may not coexist"
                )
        self._write(self.layout.alias_file(name, alias), records.alias_record(version))
        current[alias] = version
        self._event(
            name,
            "alias_set" if old is None else "alias_moved",
            alias=alias,
            old=old,
            new=version,
            message=message,
        )

    def delete_registered_model_alias(self, name: str, alias: str, *, message: str | None = None) -> None:
        """Remove an alias; removing one that does not exist is not an error."""
        names.validate_model_name(name)
        names.validate_alias(alias)
        message = self._check_message(message)
        with self._locked():
            self._model_fields(name)
            current = self._aliases(name)
            if alias in current:
                files.remove_file(self.root, self.layout.alias_file(name, alias))
                self._event(name, "alias_deleted", alias=alias, old=current[alias], message=message)

    def get_aliases(self, name: str) -> dict[str, int]:
        """A model's aliases: alias → version."""
        self._model_fields(name)
        return dict(sorted(self._aliases(name).items()))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        names.validate_model_name(name)
        if alias.lower() == "latest":
            return self.resolve(ModelRef(name, latest=True))
        names.validate_alias(alias)
        return self.resolve(ModelRef(name, alias=alias))

    # -------------------------------------------------------------------------------------- URIs

    def resolve(self, uri: str | ModelRef) -> ModelVersion:
        """The version a model URI names: ``models:/NAME/7``, ``models:/NAME@champion``,
        ``models:/NAME/latest``, ``models:/NAME/Production``, ``NAME/7``, ``NAME@champion``."""
        ref = parse_model_uri(uri) if isinstance(uri, str) else uri
        name = ref.name
        if ref.version is not None:
            return self.get_model_version(name, ref.version)
        if ref.alias is not None:
            path = self.layout.alias_file(name, ref.alias)
            record = self._read_or_none(path)
            if record is None:
                self._model_fields(name)
                raise NotFound(f"alias {ref.alias!r} of model {name!r} not found")
            return self.get_model_version(name, records.read_alias(path, record))
        self._model_fields(name)
        aliases = self._aliases(name)
        if ref.latest:
            for number, fields in self._live_versions_descending(name):
                return self._model_version(name, number, fields, aliases)
            raise NotFound(f"model {name!r} has no versions")
        assert ref.stage is not None
        latest = self._latest_per_stage(name, aliases, [ref.stage])
        if not latest:
            raise NotFound(f"model {name!r} has no version in stage {ref.stage}")
        return latest[0]

    def artifact_path(self, version: ModelVersion) -> Path:
        """A local path holding the version's artifact: the blob for a file, a materialized
        folder for a directory. A URI reference has no local path (MregError, exit 1)."""
        artifact = version.artifact
        if artifact.kind == "uri":
            raise MregError(
                f"version {version.version} of model {version.name!r} is a reference to {artifact.uri}; "
                "mreg holds no local copy (use --field source)"
            )
        assert artifact.digest is not None
        if artifact.kind == "file":
            return objects.blob_path(self.layout, artifact.files[0].sha256)
        entries = [objects.FileEntry(f.path, f.sha256, f.size) for f in artifact.files]
        with self._pin.shared():
            return objects.materialize_tree(self.layout, artifact.digest, entries)

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        mv = self.get_model_version(name, version)
        return (
            mv.artifact.uri if mv.artifact.kind == "uri" and mv.artifact.uri else str(self.artifact_path(mv))
        )

    def download_artifact(
        self,
        version: ModelVersion,
        dest: str | os.PathLike[str],
        *,
        force: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> Path:
        """Copy a version's artifact to ``dest``, checking every file's sha256 on the way. Nothing
        is left at ``dest`` on failure; an existing ``dest`` is replaced only with ``force``."""
        artifact = version.artifact
        if artifact.kind == "uri":
            self.artifact_path(version)  # raises the explanatory error
        target = Path(dest)
        if (target.exists() or target.is_symlink()) and not force:
            raise AlreadyExists(f"{target} already exists (use --force to replace it)")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = files.temp_name(target.absolute())
        try:
            if artifact.kind == "file":
                entry = artifact.files[0]
                objects.copy_blob_verified(
                    self.layout, objects.FileEntry(entry.path, entry.sha256, entry.size), tmp, progress
                )
            else:
                tmp.mkdir()
                for entry in artifact.files:
                    out = tmp / entry.path
                    out.parent.mkdir(parents=True, exist_ok=True)
                    objects.copy_blob_verified(
                        self.layout, objects.FileEntry(entry.path, entry.sha256, entry.size), out, progress
                    )
            _replace(tmp, target)
        except BaseException:
            _remove_any(tmp)
            raise
        return target

    # ------------------------------------------------------------------------------------ search

    @_scanning
    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,  # MLflow's SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Registered models matching ``filter_string`` (MLflow's syntax: docs/search.md), sorted
        by ``order_by`` (default ``["name ASC"]``), one page of at most ``max_results`` (up to
        1000); the result's ``token`` fetches the next page. Only the models of the page are
        read in full (aliases, latest versions)."""
        from mreg import search

        query = search.ModelSearch(filter_string, max_results, order_by, page_token)
        names = [n for n in self.model_names() if query.filter.accepts("name", n)]
        fields: dict[str, dict[str, Any]] = {}
        if query.needs_model_files:
            candidates = []
            for name in names:
                with contextlib.suppress(NotFound):  # deleted while we read: not a result
                    fields[name] = self._model_fields(name)
                    summary = RegisteredModel(name=name, **fields[name])
                    if query.filter.matches(summary, checked=["name"]):
                        candidates.append(summary)
            ordered = [m.name for m in query.sort(candidates)]
        else:
            ordered = query.sort_names(names)
        page = query.page(ordered)
        models = []
        for name in page:
            with contextlib.suppress(NotFound):  # deleted while we read: not a result
                models.append(self._registered_model(name, fields.get(name) or self._model_fields(name)))
        return search.PagedList(models, page.token)

    @_scanning
    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,  # MLflow's SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT
        order_by: list[str] | None = None,
        page_token: str | None = None,
        *,
        model: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Live versions matching ``filter_string`` (MLflow's syntax plus ``alias``, ``stage``,
        ``created_at``: docs/search.md), of every model or only of ``model``, sorted by
        ``order_by`` (default MLflow's ``["last_updated_timestamp DESC"]``), one page of at most
        ``max_results`` (up to 200,000); the result's ``token`` fetches the next page."""
        from mreg import search

        query = search.VersionSearch(filter_string, max_results, order_by, page_token)
        if model is not None:
            self._model_fields(model)
        found: list[ModelVersion] = []
        for name in [model] if model is not None else self.model_names():
            if query.filter.accepts("name", name):
                found += self._matching_versions(name, query.filter)
        return query.page(query.sort(found))

    def _matching_versions(self, name: str, filter_: Filter) -> list[ModelVersion]:
        """The live versions of ``name`` that pass ``filter_``. Conditions on the version number
        and the aliases are tested before a version file is read; each file is read once."""
        aliases = self._aliases(name)
        held: dict[int, tuple[str, ...]] = {}
        for alias, number in sorted(aliases.items()):
            held[number] = (*held.get(number, ()), alias)
        numbers = [
            n
            for n in self._version_numbers(name)
            if filter_.accepts("version_number", n) and filter_.accepts("alias", held.get(n, ()))
        ]
        folder = self.layout.versions_dir(name)
        result = []
        read = files.read_toml_many(self.root, folder, [f"{n}.toml" for n in numbers])
        for number, (filename, record) in zip(numbers, read, strict=True):
            if record is None:
                continue
            fields = records.read_version(f"{folder}{os.sep}{filename}", record)
            if fields["status"] == records.STATUS_DELETED:
                continue
            mv = self._model_version(name, number, fields, aliases)
            if filter_.matches(mv, checked=["name", "version_number", "alias"]):
                result.append(mv)
        return result

    # ----------------------------------------------------------------------------------- history

    def get_history(
        self,
        name: str,
        *,
        alias: str | None = None,
        since: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Events of a model, oldest first: its own history plus store-level events naming it
        (a deletion). ``limit`` keeps the newest ``limit`` events."""
        names.validate_model_name(name)
        if alias is not None:
            names.validate_alias(alias)
        events = (
            history.read_events(self.root, self.layout.history_dir(name), name)
            if self.layout.model_file(name).exists()
            else []
        )
        events += [
            e for e in history.read_events(self.root, self.layout.store_history, "") if e.model == name
        ]
        if not events:
            self._model_fields(name)
        events.sort(key=lambda e: e.id)
        if alias is not None:
            events = [e for e in events if e.alias == alias]
        if since is not None:
            since_utc = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
            events = [e for e in events if e.time >= since_utc]
        if limit is not None:
            if limit < 0:
                raise InvalidInput("limit must be 0 or more")
            events = events[len(events) - limit :] if limit else []
        return events

    def get_alias_history(
        self,
        name: str,
        alias: str | None = None,
        *,
        since: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[AliasSpan]:
        """Which versions held ``alias`` (or each alias), from when to when, oldest first.
        ``since`` keeps the spans that had not ended by then; ``limit`` keeps the newest ones."""
        spans = history.alias_spans(self.get_history(name, alias=alias), alias)
        if since is not None:
            since_utc = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
            spans = [s for s in spans if s.until is None or s.until >= since_utc]
        if limit is not None:
            if limit < 0:
                raise InvalidInput("limit must be 0 or more")
            spans = spans[len(spans) - limit :] if limit else []
        return spans

    # ------------------------------------------------------------------------------- git merges

    def resolve_merge_conflicts(self, *, keep: str = "ours", dry_run: bool = False) -> MergePlan:
        """Resolve the registry conflicts of the git merge (or rebase, cherry-pick) in progress:
        versions both sides registered under one number get distinct numbers (the side not kept
        is renumbered, with its aliases and history), aliases and records are merged three-way,
        and the result is staged. Raises Conflict, changing nothing, when a conflict needs a
        person. See ``mreg.gitmerge``."""
        from mreg import gitmerge

        with self._locked():
            plan = gitmerge.plan_resolution(self.root, keep=keep)
            if plan.context is None:
                raise NotFound(
                    "no git merge, rebase or cherry-pick is in progress"
                    + (": resolve the conflicts by hand" if plan.findings else "")
                )
            if not plan.resolvable:
                problems = [f.message for f in plan.findings if not f.resolvable]
                raise Conflict(f"cannot resolve automatically: {'; '.join(problems)}")
            if dry_run:
                return plan
            for path, record in plan.writes.items():
                self._write(self.root / path, record)
            for path in plan.removes:
                files.remove_file(self.root, self.root / path)
            for event in plan.events:
                self._event(event.model, event.action, **event.fields)
            gitmerge.stage_resolution(self.root, plan)
        return plan

    # ------------------------------------------------------------------------------- maintenance

    def fsck(self, full: bool = False) -> list[Finding]:
        """Check the whole store (docs/reliability.md): every file parses and matches its schema,
        every reference holds; ``full`` also re-hashes every object. Findings of severity
        ``error`` mean the store is damaged; ``leftover`` ones are debris that ``gc`` removes."""
        from mreg import fsck

        return fsck.check_store(self, full=full)

    def gc(self, *, delete: bool = False) -> GcReport:
        """Find the leftovers fsck reports (temp files, unreferenced objects, trash, stale
        caches) and, with ``delete``, remove them under the store lock."""
        from mreg import gc

        return gc.collect_garbage(self, delete=delete)

    # ----------------------------------------------------------------------------------- helpers

    @staticmethod
    def _check_message(message: str | None) -> str | None:
        if message is None or message == "":
            return None
        return names.validate_text(message, "message", MESSAGE_MAX)

    def check_integrity(self, version: ModelVersion) -> None:
        """Re-hash every blob of a version; IntegrityError on the first mismatch."""
        for entry in version.artifact.files:
            actual = objects.hash_blob(self.layout, entry.sha256)
            if actual != entry.sha256:
                raise IntegrityError(
                    f"object of {entry.path!r} in version {version.version} of "
                    f"{version.name!r} is corrupt (sha256 {actual[:12]}…)"
                )


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


__all__ = ["Lineage", "Registry", "init_store", "locate_store"]
