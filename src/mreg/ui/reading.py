"""What the pages read from the store, each file once, through the store's batched reader.

The registry's own readers answer one question each (``get_registered_model`` reads a model's
versions for its latest-per-stage list, ``list_model_versions`` reads them again); a page needs
several answers from the same files, so it reads them here once and builds the same entities
the registry would. Everything goes through ``Store`` and its ``Layout`` (no path is built by
hand here), inside ``files.scanning`` so that each folder is checked for symlinks once per page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mreg import names
from mreg.errors import StoreError
from mreg.store import files
from mreg.store.records import ModelRecord, VersionRecord, parse_event

if TYPE_CHECKING:
    from mreg.entities import AliasSpan, Event, ModelVersion, RegisteredModel
    from mreg.registry import Registry
    from mreg.store.store import Store


def aliases(store: Store, name: str) -> dict[str, int]:
    """A model's aliases (alias → version) through the batched reader; the first file that
    cannot be read raises its error, as ``Store.aliases`` does."""
    found, problems = store.scan_aliases(name)
    if problems:
        raise problems[0]
    return found


def held_by(found: dict[str, int]) -> dict[int, list[str]]:
    """Version → its aliases, sorted (what ``ModelVersion.aliases`` holds)."""
    held: dict[int, list[str]] = {}
    for alias in sorted(found):
        held.setdefault(found[alias], []).append(alias)
    return held


def latest_per_stage(versions: Sequence[ModelVersion]) -> list[ModelVersion]:
    """The newest live version of each stage, by number (``get_registered_model``'s list),
    from versions already read in ascending order."""
    found: dict[str, ModelVersion] = {}
    for mv in reversed(versions):
        if mv.current_stage in names.STAGES and mv.current_stage not in found:
            found[mv.current_stage] = mv
    return sorted(found.values(), key=lambda mv: mv.version)


@files.scanning()
def model_and_versions(registry: Registry, name: str) -> tuple[RegisteredModel, list[ModelVersion]]:
    """``get_registered_model(name)`` and ``list_model_versions(name)``, reading each file once:
    the model record, its aliases, then every version file in one batch."""
    store = registry.store
    record = store.model(name)
    found = aliases(store, name)
    versions = versions_of(registry, record.entity(name, found))
    return record.entity(name, found, latest_per_stage(versions)), versions


@files.scanning()
def versions_of(registry: Registry, model: RegisteredModel) -> list[ModelVersion]:
    """``list_model_versions`` of a model already read (its aliases with it): one batch."""
    store, name = registry.store, model.name
    held = held_by(model.aliases)
    return [
        r.entity(name, n, held.get(n, ()))
        for n, r in store.versions(name, store.version_numbers(name))
        if isinstance(r, VersionRecord)
    ]


def model_events(store: Store, name: str, store_level: Sequence[Event]) -> list[Event]:
    """``get_history(name)``: the model's events and the store-level events naming it
    (``store_level``: ``Store.events(None)``, read once for every page that needs it), oldest
    first, each file read through the batched reader."""
    earlier = [e for e in store_level if e.model == name]
    ids = store.event_ids(name) if store.has_model(name) else []
    if not ids and not earlier:
        store.model(name)  # NotFound
    events = list(earlier)
    if ids:
        folder = store.layout.event_file(name, ids[0]).parent
        filenames = [store.layout.event_file(name, i).name for i in ids]
        for event_id, (filename, raw) in zip(
            ids, files.read_toml_many(store.root, folder, filenames), strict=True
        ):
            if raw is not None:  # None: removed while we read (the model deleted)
                assert not isinstance(raw, StoreError)  # raised by the reader (errors=False)
                events.append(parse_event(folder / filename, raw, event_id, name))
    return sorted(events, key=lambda e: e.id)


@files.scanning()
def history_of(registry: Registry, name: str) -> tuple[list[Event], list[AliasSpan]]:
    """A model's events (``get_history``) and its alias spans (``get_alias_history``, made from
    the same events instead of reading them again)."""
    from mreg import history

    events = model_events(registry.store, name, registry.store.events(None))
    return events, history.alias_spans(events)


def newest_live(store: Store, name: str) -> tuple[int, VersionRecord] | None:
    """The newest live version, reading the newest file first and more only past tombstones."""
    numbers = store.version_numbers(name)
    end, size = len(numbers), 1
    while end > 0:
        batch = numbers[max(0, end - size) : end][::-1]
        for number, record in store.versions(name, batch):
            if isinstance(record, VersionRecord):
                return number, record
        end, size = end - len(batch), min(size * 4, 1024)
    return None


def listed_model(store: Store, name: str, record: ModelRecord) -> RegisteredModel:
    """A model of the models page: its aliases and newest live version (as
    ``list_registered_models_page`` builds it), from one alias batch and usually one version file."""
    found = aliases(store, name)
    newest = newest_live(store, name)
    latest = []
    if newest is not None:
        number, version = newest
        latest.append(version.entity(name, number, held_by(found).get(number, ())))
    return record.entity(name, found, latest)


def read_model(store: Store, name: str) -> ModelRecord | None:
    """``Store.read_model`` through the batched reader (its parser for files laid out as mreg
    writes them; tomllib for the rest): the same record, or the same error."""
    path = store.layout.model_file(name)
    for _, raw in files.read_toml_many(store.root, path.parent, [path.name]):
        if raw is not None:
            assert not isinstance(raw, StoreError)  # raised by the reader (errors=False)
            return ModelRecord.parse(path, raw)
    return None


@files.scanning()
def all_models(registry: Registry, filter_string: str | None) -> tuple[list[RegisteredModel], list[str]]:
    """Every model matching the filter (each with its newest version), and the entries of the
    store that could not be read: ``list_registered_models_page`` page after page. Without a
    filter that is every model by name, each read through the batched reader."""
    store = registry.store
    if filter_string:
        return _filtered_models(store, filter_string)
    found, scan_problems = store.scan_models()
    problems = [str(p) for p in scan_problems]
    models: list[RegisteredModel] = []
    for name in found:
        try:
            record = read_model(store, name)
            if record is not None:  # None: deleted while we read
                models.append(listed_model(store, name, record))
        except StoreError as err:  # the model's file, or one of its versions or aliases
            problems.append(str(err))
    return models, problems


def _filtered_models(store: Store, filter_string: str) -> tuple[list[RegisteredModel], list[str]]:
    from mreg import search

    models: list[RegisteredModel] = []
    problems: list[str] = []
    token: str | None = None
    while True:
        query = search.ModelSearch(filter_string, 1000, None, token)
        page = search.find_models(store, query, lambda n, r: listed_model(store, n, r))
        models.extend(page)
        problems.extend(str(p) for p in page.problems)
        token = page.token
        if not token:
            return models, problems
