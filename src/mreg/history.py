"""Events: one TOML file per change, append-only, named so that names sort in time order.

An event file is ``<UTC time to the microsecond>-<random>.toml``. Two branches that each add
events add different files, so git merges them without conflict; the random part keeps names
unique across machines, and the time part (made strictly increasing within a process, and
serialized across processes by the store lock) keeps the order exact within one second.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

from mreg.entities import AliasSpan, Event
from mreg.errors import StoreError
from mreg.store import files

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_last_ns = 0


def now() -> dt.datetime:
    """The current UTC time to the microsecond, strictly increasing within this process."""
    global _last_ns
    ns = time.time_ns() // 1000 * 1000
    if ns <= _last_ns:
        ns = _last_ns + 1000
    _last_ns = ns
    return _EPOCH + dt.timedelta(microseconds=ns // 1000)


def event_id(when: dt.datetime) -> str:
    return f"{when:%Y%m%dT%H%M%S.%fZ}-{os.urandom(3).hex()}"


def event_record(event: Event, *, with_model: bool) -> dict[str, Any]:
    """The TOML form of an event (``model`` only for store-level events: inside a model's
    folder the model is the folder)."""
    return {
        "time": event.time,
        "user": event.user,
        "action": event.action,
        "model": event.model if with_model else None,
        "version": event.version,
        "alias": event.alias,
        "key": event.key,
        "old": event.old,
        "new": event.new,
        "reason": event.reason,
        "message": event.message,
        "git_commit": event.git_commit,
    }


def _typed(record: dict[str, Any], key: str, kinds: tuple[type, ...], path: Path) -> Any:
    value = record.get(key)
    if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
        raise StoreError(f"{files.display_path(path)}: '{key}' has the wrong type")
    return value


def parse_event(record: dict[str, Any], event_id_: str, model: str, path: Path) -> Event:
    when = record.get("time")
    if not isinstance(when, dt.datetime) or when.tzinfo is None:
        raise StoreError(f"{files.display_path(path)}: 'time' must be a UTC date-time")
    user = _typed(record, "user", (str,), path)
    action = _typed(record, "action", (str,), path)
    if not user or not action:
        raise StoreError(f"{files.display_path(path)}: 'user' and 'action' are required")
    return Event(
        id=event_id_,
        time=when.astimezone(dt.UTC),
        user=user,
        action=action,
        model=_typed(record, "model", (str,), path) or model,
        version=_typed(record, "version", (int,), path),
        alias=_typed(record, "alias", (str,), path),
        key=_typed(record, "key", (str,), path),
        old=_typed(record, "old", (str, int), path),
        new=_typed(record, "new", (str, int), path),
        reason=_typed(record, "reason", (str,), path),
        message=_typed(record, "message", (str,), path),
        git_commit=_typed(record, "git_commit", (str,), path),
    )


def read_events(root: Path, folder: Path, model: str) -> list[Event]:
    """Every event in ``folder``, oldest first."""
    events = []
    for filename in files.list_dir(root, folder):
        if not filename.endswith(".toml") or filename.startswith("."):
            continue
        path = folder / filename
        events.append(parse_event(files.read_toml(root, path), filename[: -len(".toml")], model, path))
    return events


def alias_spans(events: list[Event], alias: str | None = None) -> list[AliasSpan]:
    """Which versions held each alias (or just ``alias``), from when to when, oldest first."""
    open_spans: dict[str, AliasSpan] = {}
    spans: list[AliasSpan] = []
    for event in events:
        if event.alias is None or (alias is not None and event.alias != alias):
            continue
        current = open_spans.pop(event.alias, None)
        if current is not None:
            spans.append(
                AliasSpan(
                    current.alias, current.version, current.since, event.time, current.set_by, current.message
                )
            )
        if event.action in ("alias_set", "alias_moved") and isinstance(event.new, int):
            open_spans[event.alias] = AliasSpan(
                event.alias, event.new, event.time, None, event.user, event.message
            )
    spans.extend(open_spans.values())
    return sorted(spans, key=lambda span: span.since)
