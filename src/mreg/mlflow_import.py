"""``mreg import mlflow``: copy an MLflow model registry into the store.

MLflow is read through its own client (``MlflowClient``), so every backend MLflow reads works: a
SQLite or other database, a file store, a tracking server. A SQLite database is read from a copy
in the store's ``tmp/``: MLflow upgrades an old schema in place when it opens one, and the
original must stay as it was. Models keep their names, descriptions, tags and times; versions
keep their numbers (a number MLflow skips, because its version was deleted, becomes a tombstone,
so that no number ever changes meaning), source, run, tags, stage, description, user and times;
aliases come from ``get_registered_model`` (MLflow's searches leave them out). Artifacts are
downloaded through MLflow and hashed into objects, or with ``artifacts=False`` recorded as
references. Each version gets one ``imported`` event naming the tracking URI it came from.

What the store holds already is never overwritten: an identical version or alias is skipped, a
different one is reported as a conflict, so running the import again brings only what is new.
Downloads and hashing happen outside the store lock; the records of one model are written under
``Store.changing()`` (the lock, and the undo of every write if one fails).

This module imports MLflow, which takes a second: only ``mreg import mlflow`` imports it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import tempfile
import urllib.parse
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mreg import history, names
from mreg.entities import Artifact
from mreg.errors import InvalidInput, MregError, NotFound
from mreg.store import files
from mreg.store.objects import is_uri
from mreg.store.records import AnyVersion, ModelRecord, Tombstone, VersionRecord
from mreg.store.store import Store

PROMPT_TAG = "mlflow.prompt.is_prompt"
UNKNOWN_USER = "unknown"  # MLflow records no creator for models, and often none for versions
IMPORTED = "imported"
REASON = "imported from MLflow"
# The folder of an MLflow file store (not of the mreg store) that holds its model registry.
MLFLOW_FILE_STORE_REGISTRY = "models"

# What the caller gives to watch an artifact being hashed in: (description, local path) → a
# context holding the byte callback, or None for no bar.
ProgressFactory = Callable[[str, Path], AbstractContextManager[Callable[[int], None] | None]]


@dataclass(frozen=True)
class Problem:
    """Something not imported: a conflict with what the store holds, or a value mreg refuses."""

    model: str
    version: int | None
    alias: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "alias": self.alias, "reason": self.reason}

    def describe(self) -> str:
        where = f"model {self.model!r}"
        if self.version is not None:
            where += f" version {self.version}"
        if self.alias is not None:
            where += f" alias {self.alias!r}"
        return f"{where}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did: counts for the summary line, and every conflict and refusal."""

    tracking_uri: str
    models: int = 0
    versions: int = 0
    tombstones: int = 0
    aliases: int = 0
    prompts_skipped: int = 0
    unchanged: int = 0
    imported: list[tuple[str, int, bool]] = field(default_factory=list)
    conflicts: list[Problem] = field(default_factory=list)
    refused: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracking_uri": self.tracking_uri,
            "models": self.models,
            "versions": self.versions,
            "tombstones": self.tombstones,
            "aliases": self.aliases,
            "prompts_skipped": self.prompts_skipped,
            "unchanged": self.unchanged,
            "imported": [{"model": m, "version": v, "tombstone": t} for m, v, t in self.imported],
            "conflicts": [p.to_dict() for p in self.conflicts],
            "refused": [p.to_dict() for p in self.refused],
        }

    def summary(self) -> str:
        def count(n: int, one: str, many: str = "") -> str:
            return f"{n} {one if n == 1 else many or one + 's'}"

        text = (
            f"imported {count(self.models, 'model')}, {count(self.versions, 'version')} "
            f"({count(self.tombstones, 'tombstone')}), {count(self.aliases, 'alias', 'aliases')}"
        )
        skipped = []
        if self.prompts_skipped:
            skipped.append(count(self.prompts_skipped, "prompt"))
        if self.unchanged:
            skipped.append(f"{self.unchanged} unchanged")
        if skipped:
            text += "; skipped " + ", ".join(skipped)
        if self.conflicts:
            text += f"; {count(len(self.conflicts), 'conflict')}"
        if self.refused:
            text += f"; {len(self.refused)} refused"
        return text


def redact(uri: str) -> str:
    """``uri`` without a password (``https://user:secret@host`` → ``https://user@host``)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{parts.username}@" if parts.username else "") + host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (``sqlite:////abs`` or ``sqlite:///relative``),
    or None for any other URI. An in-memory database has nothing to import."""
    if not uri.startswith("sqlite:"):
        return None
    if not uri.startswith("sqlite:///"):
        raise InvalidInput(f"cannot import from {uri!r}: expected sqlite:///PATH to a database file")
    rest = urllib.parse.unquote(uri[len("sqlite:///") :].split("?", 1)[0])
    if not rest or rest == ":memory:":
        raise InvalidInput(f"cannot import from {uri!r}: an in-memory database holds nothing")
    return Path(rest)


def _millis(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=int(value))


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """MLflow's INFO lines (database upgrades) and deprecation warnings are not this command's
    output. MLflow sets its logger's level when it is imported, so it is imported first."""
    # MLflow's usage telemetry would reach for the network from a thread of its own: an import
    # reads a registry, it reports nothing (set before MLflow is first imported).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import mlflow  # noqa: F401  (here: only this command pays for MLflow)
    except ImportError as err:
        raise MregError(f"MLflow is not installed ({err}): pip install 'mreg[mlflow]'") from None
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    """Environment variables MLflow reads, set for the import only. The tracking and registry
    URIs point at the source, so that nothing MLflow does falls back to its default (a
    database in the working directory)."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    before = {k: os.environ.get(k) for k in values}
    # A URI set earlier in this process with mlflow.set_tracking_uri wins over the environment:
    # pin MLflow's own settings too, and put back what was there.
    pinned = (getattr(tracking_utils, "_tracking_uri", None), getattr(registry_utils, "_registry_uri", None))
    os.environ.update(values)
    tracking_utils.set_tracking_uri(values["MLFLOW_TRACKING_URI"])
    registry_utils.set_registry_uri(values["MLFLOW_REGISTRY_URI"])
    try:
        yield
    finally:
        tracking_utils.set_tracking_uri(pinned[0])
        registry_utils.set_registry_uri(pinned[1])
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _check_local_store(uri: str) -> None:
    """A file store must exist and hold a registry: MLflow creates the folders of a missing one,
    and mreg writes nothing outside the store."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("", "file") or (parts.scheme == "" and "://" in uri):
        return
    path = Path(urllib.parse.unquote(parts.path) if parts.scheme == "file" else uri)
    if not (path / MLFLOW_FILE_STORE_REGISTRY).is_dir():
        raise NotFound(f"no MLflow file store with a model registry at {path} (no models/ folder)")


class _Source:
    """The MLflow registry being read, through ``MlflowClient``, with its errors as mreg's."""

    def __init__(self, uri: str) -> None:
        import mlflow
        from mlflow import MlflowClient

        self.mlflow = mlflow
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return fn(*args, **kwargs)
        except MlflowException as err:
            text = str(err.message if hasattr(err, "message") else err).splitlines()[0]
            if getattr(err, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                raise NotFound(f"MLflow: {what}: {text}") from None
            raise MregError(f"MLflow: {what}: {text}") from None
        except OSError as err:
            raise MregError(f"MLflow: {what}: {err}") from None

    def model_names(self) -> tuple[list[str], set[str]]:
        """Every registered model's name (prompts left out), and the names of the prompts
        (MlflowClient's search leaves them out unless the filter names their tag)."""
        prompts = set(self._search(f"tag.`{PROMPT_TAG}` = 'true'"))
        return sorted(set(self._search(None)) - prompts), prompts

    def _search(self, filter_string: str | None) -> list[str]:
        result: list[str] = []
        token = None
        while True:
            page = self.call(
                "listing registered models",
                self.client.search_registered_models,
                filter_string=filter_string,
                max_results=1000,
                page_token=token,
            )
            result.extend(m.name for m in page)
            token = page.token
            if not token:
                return result

    def model(self, name: str) -> Any:
        return self.call(f"model {name!r}", self.client.get_registered_model, name)

    def versions(self, name: str) -> list[Any]:
        result: list[Any] = []
        token = None
        quoted = name.replace("'", "\\'")
        while True:
            page = self.call(
                f"versions of {name!r}",
                self.client.search_model_versions,
                filter_string=f"name = '{quoted}'",
                max_results=10_000,
                page_token=token,
            )
            result.extend(page)
            token = page.token
            if not token:
                return result

    def download(self, name: str, version: int, dest: Path) -> Path:
        """The artifact of a version, downloaded into ``dest`` (a file or a folder)."""
        what = f"artifact of {name!r} version {version}"
        uri = self.call(what, self.client.get_model_version_download_uri, name, str(version))
        local = self.call(
            what,
            self.mlflow.artifacts.download_artifacts,
            artifact_uri=uri,
            dst_path=str(dest),
            tracking_uri=self.uri,
        )
        return Path(local)

    def reference(self, name: str, version: int, source: str) -> str:
        """The URI recorded for a version imported without its artifact."""
        if is_uri(source):
            return source
        uri = self.call(
            f"artifact of {name!r} version {version}",
            self.client.get_model_version_download_uri,
            name,
            str(version),
        )
        return str(uri) if is_uri(str(uri)) else Path(str(uri)).absolute().as_uri()


@dataclass(frozen=True)
class _Incoming:
    """One MLflow version as mreg records it (``artifact`` filled in once it is stored)."""

    number: int
    record: VersionRecord
    status: str


def _version_record(mv: Any) -> VersionRecord:
    created = _millis(mv.creation_timestamp) or history.now()
    return VersionRecord(
        created_at=created,
        created_by=names.validate_text(mv.user_id or UNKNOWN_USER, "user", 256),
        updated_at=_millis(mv.last_updated_timestamp) or created,
        source=names.validate_text(mv.source or "", "source", names.SOURCE_MAX),
        artifact=Artifact(kind="uri", uri=mv.source or ""),
        run_id=names.validate_run_id(mv.run_id) if mv.run_id else "",
        run_link=names.validate_text(mv.run_link or "", "run link", names.SOURCE_MAX),
        stage=names.canonical_stage(mv.current_stage or "None"),
        description=names.validate_text(mv.description or "", "description"),
        tags=names.validate_tags({str(k): str(v) for k, v in (mv.tags or {}).items()}),
    )


def _same_version(here: AnyVersion, incoming: VersionRecord) -> str | None:
    """Why the store's version differs from MLflow's (None: the same). The artifact is not
    compared: MLflow does not change a version's source, and re-downloading it to compare
    would make every re-run as slow as the first."""
    if isinstance(here, Tombstone):
        return "deleted in this store, live in MLflow"
    for what in ("source", "run_id", "run_link", "stage", "description", "tags", "created_at", "created_by"):
        if getattr(here, what) != getattr(incoming, what):
            return f"{what.replace('_', ' ')} differs from MLflow's (this store keeps its own)"
    return None


def import_mlflow(
    store: Store,
    tracking_uri: str,
    *,
    models: Sequence[str] | None = None,
    artifacts: bool = True,
    progress: ProgressFactory | None = None,
) -> ImportReport:
    """Copy the registered models of the MLflow registry at ``tracking_uri`` (or only ``models``)
    into ``store``; see the module's docstring. Raises NotFound for a name in ``models`` that
    MLflow does not have, MregError when MLflow cannot be read; conflicts are in the report."""
    report = ImportReport(redact(tracking_uri))
    history.current_user()  # refuse an unusable user name before reading anything
    store.refuse_during_merge()
    files.make_dirs(store.root, store.layout.tmp)
    database = sqlite_path(tracking_uri)
    if database is None:
        _check_local_store(tracking_uri)
    elif not database.is_file():
        raise NotFound(f"no SQLite database at {database}")
    with (
        tempfile.TemporaryDirectory(dir=store.layout.tmp, prefix="import-") as scratch,
        _quiet_mlflow(),
    ):
        uri = tracking_uri if database is None else _copy_database(database, Path(scratch))
        settings = {
            "MLFLOW_TRACKING_URI": uri,
            "MLFLOW_REGISTRY_URI": uri,
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "MLFLOW_ALLOW_FILE_STORE": "true",  # reading one is what a migration off it needs
        }
        with _env(settings):
            _import_all(store, _Source(uri), report, models, artifacts, progress, Path(scratch))
    return report


def _import_all(
    store: Store,
    source: _Source,
    report: ImportReport,
    models: Sequence[str] | None,
    artifacts: bool,
    progress: ProgressFactory | None,
    scratch: Path,
) -> None:
    """Every model wanted (all but prompts, or ``models``), one after the other."""
    everything, prompts = source.model_names()
    if models:
        wanted = []
        for name in dict.fromkeys(models):  # every name is checked before anything is written
            if name in prompts:
                report.prompts_skipped += 1
            else:
                source.model(name)  # NotFound for a name MLflow does not have
                wanted.append(name)
    else:
        wanted, report.prompts_skipped = everything, len(prompts)
    for name in wanted:
        _import_model(store, source, name, report, artifacts, progress, scratch)


def _copy_database(database: Path, scratch: Path) -> str:
    """Copy a SQLite database (and its write-ahead log, if any) into ``scratch``; the URI of
    the copy."""
    copy = scratch / "mlflow.db"
    try:
        shutil.copyfile(database, copy)
        for suffix in ("-wal", "-shm"):
            side = Path(f"{database}{suffix}")
            if side.is_file():
                shutil.copyfile(side, Path(f"{copy}{suffix}"))
    except OSError as err:
        raise MregError(f"cannot copy {database}: {err}") from None
    return f"sqlite:///{copy.absolute()}"


def _import_model(
    store: Store,
    source: _Source,
    name: str,
    report: ImportReport,
    artifacts: bool,
    progress: ProgressFactory | None,
    scratch: Path,
) -> None:
    def refuse(reason: str, version: int | None = None, alias: str | None = None) -> None:
        report.refused.append(Problem(name, version, alias, reason))

    def conflict(reason: str, version: int | None = None, alias: str | None = None) -> None:
        report.conflicts.append(Problem(name, version, alias, reason))

    try:
        names.validate_model_name(name)
    except InvalidInput as err:
        refuse(str(err))
        return
    rm = source.model(name)
    try:
        created = _millis(rm.creation_timestamp) or history.now()
        model = ModelRecord(
            created_at=created,
            created_by=UNKNOWN_USER,
            updated_at=_millis(rm.last_updated_timestamp) or created,
            description=names.validate_text(rm.description or "", "description"),
            tags=names.validate_tags({str(k): str(v) for k, v in (rm.tags or {}).items()}),
        )
    except InvalidInput as err:
        refuse(str(err))
        return
    existing = store.read_model(name) if store.has_model(name) else None
    if existing is None and store.name_taken_ignoring_case(name):
        conflict(
            f"model {store.name_taken_ignoring_case(name)!r} exists; names differing in case may not coexist"
        )
        return
    if existing is not None:
        if existing.created_at != model.created_at:
            conflict("a model of this name exists here and was not imported from this MLflow model")
            return
        if (existing.description, existing.tags) != (model.description, model.tags):
            conflict("description or tags differ from MLflow's (this store keeps its own)")

    incoming: dict[int, _Incoming] = {}
    refused: set[int] = set()  # live in MLflow: not a gap, and left for a later run
    for mv in source.versions(name):
        number = int(mv.version)
        try:
            incoming[number] = _Incoming(number, _version_record(mv), str(mv.status or "READY"))
        except InvalidInput as err:
            refuse(str(err), number)
            refused.add(number)
    highest = max([*incoming, *refused], default=0)
    here = dict(store.versions(name, store.version_numbers(name))) if existing is not None else {}
    new: list[_Incoming] = []
    gaps: list[int] = []
    for number in range(1, highest + 1):
        theirs, ours = incoming.get(number), here.get(number)
        if number in refused:
            continue
        if theirs is None:
            if ours is None:
                gaps.append(number)
            elif isinstance(ours, VersionRecord):
                conflict("deleted in MLflow, live in this store", number)
            else:
                report.unchanged += 1
            continue
        if ours is None:
            new.append(theirs)
            continue
        why = _same_version(ours, theirs.record)
        if why is None:
            report.unchanged += 1
        else:
            conflict(why, number)

    with store.pin.shared():
        stored: list[_Incoming] = []
        for item in new:
            try:
                stored.append(_with_artifact(store, source, name, item, artifacts, progress, scratch))
            except MregError as err:
                refuse(f"artifact not imported: {err}", item.number)
        _write_model(store, name, model, existing is None, stored, gaps, rm, report)


def _with_artifact(
    store: Store,
    source: _Source,
    name: str,
    item: _Incoming,
    artifacts: bool,
    progress: ProgressFactory | None,
    scratch: Path,
) -> _Incoming:
    """``item`` with its artifact: downloaded and hashed into objects, or a reference."""
    record = item.record
    if not artifacts:
        uri = source.reference(name, item.number, record.source)
        names.validate_text(uri, "source", names.SOURCE_MAX)
        artifact = Artifact(kind="uri", uri=uri)
    else:
        folder = Path(tempfile.mkdtemp(dir=scratch, prefix="artifact-"))
        try:
            local = source.download(name, item.number, folder)
            watch = progress(f"Hashing {name} version {item.number}", local) if progress else None
            with watch if watch is not None else contextlib.nullcontext() as advance:
                artifact = store.objects.store(local, advance)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    from mreg.modelmeta import mlmodel_of  # a saved MLflow model's flavors and signature

    return _Incoming(
        item.number,
        replace(record, artifact=artifact, mlmodel=mlmodel_of(store.objects, artifact)),
        item.status,
    )


def _write_model(
    store: Store,
    name: str,
    model: ModelRecord,
    create: bool,
    stored: list[_Incoming],
    gaps: list[int],
    rm: Any,
    report: ImportReport,
) -> None:
    """Under the lock: the model (if new), its new versions and tombstones, its aliases, and
    their events. A version written here since the listing above is a conflict, not overwritten."""
    origin = report.tracking_uri
    with store.changing():
        if create:
            if store.has_model(name) or store.name_taken_ignoring_case(name):
                report.conflicts.append(Problem(name, None, None, "created in this store during the import"))
                return
            store.write_model(name, model)
            history.record(store, name, IMPORTED, old=origin, reason=REASON)
            report.models += 1
        for number in gaps:
            if store.version(name, number) is not None:
                continue
            when = history.now()
            store.write_version(name, number, Tombstone(when, UNKNOWN_USER, when, "", UNKNOWN_USER))
            history.record(
                store, name, IMPORTED, version=number, old=origin, reason=f"{REASON}: deleted there"
            )
            report.versions += 1
            report.tombstones += 1
            report.imported.append((name, number, True))
        for item in stored:
            if store.version(name, item.number) is not None:
                report.conflicts.append(
                    Problem(name, item.number, None, "registered in this store during the import")
                )
                continue
            store.write_version(name, item.number, item.record)
            reason = REASON if item.status == "READY" else f"{REASON} (MLflow status {item.status})"
            history.record(
                store,
                name,
                IMPORTED,
                version=item.number,
                old=origin,
                new=item.record.artifact_id,
                reason=reason,
            )
            report.versions += 1
            report.imported.append((name, item.number, False))
        _write_aliases(store, name, rm, report)


def _write_aliases(store: Store, name: str, rm: Any, report: ImportReport) -> None:
    current = store.aliases(name)
    for alias, target in sorted((rm.aliases or {}).items()):
        number = int(target)
        try:
            names.validate_alias(alias)
        except InvalidInput as err:
            report.refused.append(Problem(name, number, alias, str(err)))
            continue
        if current.get(alias) == number:
            report.unchanged += 1
            continue
        if alias in current:
            report.conflicts.append(
                Problem(name, number, alias, f"points at version {current[alias]} here (this store keeps it)")
            )
            continue
        if any(p.model == name and p.version == number for p in report.conflicts + report.refused):
            report.conflicts.append(
                Problem(name, number, alias, f"version {number} was not imported, so the alias was not set")
            )
            continue
        if not isinstance(store.version(name, number), VersionRecord):
            report.refused.append(Problem(name, number, alias, f"version {number} is not live here"))
            continue
        try:
            store.refuse_alias_case_twin(name, alias, current)
        except MregError as err:
            report.conflicts.append(Problem(name, number, alias, str(err)))
            continue
        store.write_alias(name, alias, number)
        current[alias] = number
        history.record(store, name, "alias_set", alias=alias, new=number, reason=REASON)
        report.aliases += 1
