"""Events: one TOML file per change, append-only, named so that names sort in time order.

An event file is ``<UTC time to the microsecond>-<random>.toml``. Two branches that each add
events add different files, so git merges them without conflict; the random part keeps names
unique across machines, and the time part (made strictly increasing within a process, and
serialized across processes by the store lock) keeps the order exact within one second.

This module makes events (``record``: who, when, the git HEAD) and holds the one filter of
history reads (``window``: since, limit); the store reads and writes the files.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from mreg import names
from mreg.entities import AliasSpan, Event
from mreg.errors import InvalidInput

if TYPE_CHECKING:
    from mreg.store.store import Store

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_last_ns = 0
_T = TypeVar("_T")


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


def current_user() -> str:
    """Who makes a change: ``MREG_USER``, else the login name."""
    user = os.environ.get("MREG_USER")
    if user:
        return names.validate_text(user, "MREG_USER", 256)
    # getpass.getuser()'s own steps, without importing getpass (and termios with it)
    user = next((os.environ[v] for v in ("LOGNAME", "USER", "LNAME", "USERNAME") if os.environ.get(v)), "")
    if not user:
        try:
            import pwd

            user = pwd.getpwuid(os.getuid())[0]
        except (ImportError, OSError, KeyError):
            return "unknown"
    try:
        return names.validate_text(user, "the user name from USER/LOGNAME", 256)
    except InvalidInput as err:
        raise InvalidInput(f"{err}; set MREG_USER to the name to record") from None


def record(
    store: Store,
    model: str,
    action: str,
    *,
    message: str | None = None,
    store_level: bool = False,
    **fields: Any,
) -> Event:
    """Append one event to the history of ``model`` (``store_level``: to the store's, for a
    model deleted) and return it."""
    from mreg import gitinfo  # here: reads write no events

    when = now()
    event = Event(
        id=event_id(when),
        time=when,
        user=current_user(),
        action=action,
        model=model,
        message=message,
        git_commit=gitinfo.head_commit(store.root.parent),
        **fields,
    )
    store.append_event(event, store_level=store_level)
    return event


def window(
    items: Sequence[_T],
    *,
    since: dt.datetime | None,
    limit: int | None,
    ends: Callable[[_T], dt.datetime | None],
) -> list[_T]:
    """The items (oldest first) that had not ended before ``since`` (``ends`` gives when an
    item ended, None: not yet), and of those the newest ``limit``."""
    result = list(items)
    if since is not None:
        since_utc = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
        result = [item for item in result if (end := ends(item)) is None or end >= since_utc]
    if limit is not None:
        if limit < 0:
            raise InvalidInput("limit must be 0 or more")
        result = result[len(result) - limit :] if limit else []
    return result


def read(
    store: Store,
    name: str,
    *,
    alias: str | None = None,
    since: dt.datetime | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Events of a model, oldest first: its own history plus store-level events naming it (a
    deletion); those of ``alias`` only, if given. ``limit`` keeps the newest ``limit`` events,
    and only those are read when nothing else narrows the history (names sort by time)."""
    if limit is not None and limit < 0:
        raise InvalidInput("limit must be 0 or more")
    earlier = [e for e in store.events(None) if e.model == name]
    ids = store.event_ids(name) if store.has_model(name) else []
    if not ids and not earlier:
        store.model(name)
    if limit is not None and alias is None and since is None:
        ids = ids[max(0, len(ids) - limit) :]
    events = sorted(store.events(name, ids) + earlier, key=lambda e: e.id)
    if alias is not None:
        events = [e for e in events if e.alias == alias]
    return window(events, since=since, limit=limit, ends=lambda e: e.time)


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


def describe(event: Event) -> str:
    """One human line for an event (``mreg history`` and the page's timeline)."""
    a, v = event.action, event.version
    old, new = event.old, event.new
    text = {
        "model_created": "model created",
        "model_renamed": f"renamed {old} → {new}",
        "model_described": "description changed",
        "model_deleted": f"model deleted ({old})",
        "model_tag_set": f"tag {event.key} = {new!s:.60}"
        + (f" (was {old!s:.40})" if old is not None else ""),
        "model_tag_deleted": f"tag {event.key} removed",
        "version_registered": f"version {v} registered",
        "version_described": f"version {v} description changed",
        "version_deleted": f"version {v} deleted",
        "version_stage_changed": f"version {v} stage {old} → {new}",
        "version_renumbered": f"version {old} renumbered to {new}",
        "version_tag_set": f"version {v} tag {event.key} = {new!s:.60}",
        "version_tag_deleted": f"version {v} tag {event.key} removed",
        "alias_set": f"@{event.alias} → {new}",
        "alias_moved": f"@{event.alias} {old} → {new}",
        "alias_deleted": f"@{event.alias} removed (was {old})",
    }.get(a, a)
    if event.reason:
        text += f" [{event.reason}]"
    return text
