"""``mreg diff``: what changed in the registry between two git revisions, in registry terms.

Only the store files that differ are read: git lists them (``diff-tree`` between two commits,
``diff-index`` plus untracked files against the working tree) and hands over their bytes in one
``cat-file --batch``; nothing is checked out. The files are parsed by the same record readers as
the store itself, then compared as models, versions and aliases:

* a model whose folder disappeared while another appeared holding some of the same history event
  files was renamed (event files are named by time and a random part, so they are unique across
  machines, and a rename moves them with the folder);
* a version file that appears was registered, one that becomes a tombstone was deleted;
* an alias file that appears, changes or disappears is an alias set, moved or removed.

Each change carries, when an event added on the new side explains it, who made it and the
``-m`` message, so a reviewer sees why as well as what.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mreg import gitinfo
from mreg.entities import Change, Event
from mreg.errors import DamagedStore
from mreg.store import files
from mreg.store.layout import RECORD_FOLDERS, Layout, parse_rel
from mreg.store.records import AliasRecord, AnyVersion, ModelRecord, VersionRecord, parse_event, parse_version

_UNKNOWN: Any = object()  # a record whose file is the same on both sides: not read


@dataclass(frozen=True)
class RegistryDiff:
    """The changes between two sides; ``rev`` None names the working tree, ``commit`` None a
    side without a commit (the working tree, or HEAD before the first commit)."""

    old_rev: str | None
    old_commit: str | None
    new_rev: str | None
    new_commit: str | None
    changes: tuple[Change, ...]
    # Working files of one copy (under cache/, tmp/, trash/, the lock) that the new side tracks
    # and the old side did not: never registry changes, and a way to plant bytes in a clone.
    committed_debris: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.committed_debris)

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": {"rev": self.old_rev, "commit": self.old_commit},
            "to": {"rev": self.new_rev, "commit": self.new_commit},
            "changed": self.changed,
            "changes": [c.to_dict() for c in self.changes],
            "committed_debris": list(self.committed_debris),
        }


@dataclass(frozen=True)
class Snapshot:
    """The store files of one side that differ from the other side: path inside the store →
    bytes (None: absent). ``where`` names a path for error messages (``HEAD:.mreg/…``)."""

    files: Mapping[str, bytes | None]
    where: Callable[[str], Path]


# ---------------------------------------------------------------------------------- one side


@dataclass
class _Side:
    """The parsed records of one side, for the paths that changed only."""

    models: dict[str, ModelRecord | None] = dataclasses.field(default_factory=dict)
    versions: dict[tuple[str, int], AnyVersion | None] = dataclasses.field(default_factory=dict)
    aliases: dict[tuple[str, str], int | None] = dataclasses.field(default_factory=dict)
    events: dict[tuple[str, str], Event | None] = dataclasses.field(default_factory=dict)
    store_events: dict[str, Event | None] = dataclasses.field(default_factory=dict)


def classify(path: str) -> tuple[str, str, str | int | None] | None:
    """What a path inside the store holds (see ``layout.parse_rel``)."""
    return parse_rel(path)


def _parse_side(snapshot: Snapshot) -> _Side:
    side = _Side()
    for path, data in snapshot.files.items():
        what = classify(path)
        if what is None:
            continue
        kind, model, key = what
        where = snapshot.where(path)
        record = None if data is None else files.parse_toml(where, data)
        if kind == "model":
            side.models[model] = None if record is None else ModelRecord.parse(where, record)
        elif kind == "version":
            assert isinstance(key, int)
            side.versions[model, key] = None if record is None else parse_version(where, record)
        elif kind == "alias":
            assert isinstance(key, str)
            side.aliases[model, key] = None if record is None else AliasRecord.parse(where, record).version
        elif kind == "event":
            assert isinstance(key, str)
            side.events[model, key] = None if record is None else parse_event(where, record, key, model)
        else:
            assert isinstance(key, str)
            side.store_events[key] = None if record is None else parse_event(where, record, key, "")
    return side


# ------------------------------------------------------------------------------- comparison


def _event_ids(events: Mapping[tuple[str, str], Event | None], model: str) -> set[str]:
    return {eid for (m, eid), event in events.items() if m == model and event is not None}


def _find_renames(old: _Side, new: _Side) -> dict[str, str]:
    """Old name → new name, for each model whose history events moved to another folder."""
    moved_out = {m: _event_ids(old.events, m) - _event_ids(new.events, m) for m, _ in old.events}
    moved_in = {m: _event_ids(new.events, m) - _event_ids(old.events, m) for m, _ in new.events}
    renames: dict[str, str] = {}
    taken: set[str] = set()
    for source in sorted(moved_out):
        ids = moved_out[source]
        if not ids:
            continue
        candidates = sorted(
            (len(ids & added), target)
            for target, added in moved_in.items()
            if target != source and target not in taken and ids & added
        )
        if candidates:
            renames[source] = candidates[-1][1]
            taken.add(candidates[-1][1])
    return renames


class _Explainer:
    """Finds, among the events added on the new side, the latest one behind a change."""

    def __init__(self, events: Iterable[Event]) -> None:
        self.events = sorted(events, key=lambda e: e.id)

    def explain(self, change: Change) -> Change:
        families = {
            "alias_set": ("alias_set", "alias_moved"),
            "alias_moved": ("alias_set", "alias_moved"),
            "version_tag_set": ("version_tag_set",),
            "model_tag_set": ("model_tag_set",),
        }
        actions = families.get(change.action, (change.action,))
        for event in reversed(self.events):
            if (
                event.action in actions
                and event.version == change.version
                and event.alias == change.alias
                and event.key == change.key
            ):
                return dataclasses.replace(change, user=event.user, message=event.message)
        if change.action in ("model_described", "model_tag_set"):  # given when the model was created
            for event in self.events:
                if event.action == "model_created":
                    return dataclasses.replace(change, user=event.user, message=event.message)
        return change


def _text_changes(
    add: Callable[..., None],
    old: ModelRecord | VersionRecord | None,
    new: ModelRecord | VersionRecord,
    prefix: str,
) -> None:
    old_description = "" if old is None else old.description
    if old_description != new.description:
        add(f"{prefix}_described", old=old_description, new=new.description)
    old_tags: Mapping[str, str] = {} if old is None else old.tags
    new_tags: Mapping[str, str] = new.tags
    for key in sorted(set(old_tags) | set(new_tags)):
        if key not in new_tags:
            add(f"{prefix}_tag_deleted", key=key, old=old_tags[key])
        elif old_tags.get(key) != new_tags[key]:
            add(f"{prefix}_tag_set", key=key, old=old_tags.get(key), new=new_tags[key])


def _version_changes(
    add: Callable[..., None], number: int, old: AnyVersion | None, new: AnyVersion | None
) -> None:
    if new is not None and (
        old is None or (isinstance(new, VersionRecord) and not isinstance(old, VersionRecord))
    ):
        add(
            "version_registered",
            version=number,
            new=new.artifact_id if isinstance(new, VersionRecord) else None,
        )
    if isinstance(old, VersionRecord) and not isinstance(new, VersionRecord):
        add("version_deleted", version=number, old=old.artifact_id)
    elif new is not None and old is None and not isinstance(new, VersionRecord):
        add("version_deleted", version=number)
    if not (isinstance(old, VersionRecord) and isinstance(new, VersionRecord)):
        return
    if old.artifact_id != new.artifact_id:
        add("version_artifact_changed", version=number, old=old.artifact_id, new=new.artifact_id)
    if old.stage != new.stage:
        add("version_stage_changed", version=number, old=old.stage, new=new.stage)

    def add_for_version(action: str, **fields: Any) -> None:
        add(action, version=number, **fields)

    _text_changes(add_for_version, old, new, "version")


def _model_changes(old_name: str | None, new_name: str | None, old: _Side, new: _Side) -> list[Change]:
    """The changes from model ``old_name`` on the old side to ``new_name`` on the new side
    (None: the model does not exist on that side)."""
    name = new_name or old_name
    assert name is not None
    found: list[Change] = []

    def add(action: str, **fields: Any) -> None:
        found.append(Change(action=action, model=name, **fields))

    old_model = old.models.get(old_name, _UNKNOWN) if old_name else None
    new_model = new.models.get(new_name, _UNKNOWN) if new_name else None
    if old_model is None and new_model is None:
        return []  # stray files in a folder that is no model on either side
    if old_model is not None and new_model is None:
        add("model_deleted")
        return found
    if old_model is None:
        add("model_created")
    elif old_name != new_name:
        add("model_renamed", old=old_name, new=new_name)
    if isinstance(new_model, ModelRecord):
        _text_changes(add, old_model if isinstance(old_model, ModelRecord) else None, new_model, "model")

    def in_model(keys: Iterable[tuple[str, Any]], model: str | None) -> set[Any]:
        return {k for m, k in keys if m == model}

    for number in sorted(in_model(old.versions, old_name) | in_model(new.versions, new_name)):
        _version_changes(
            add,
            number,
            old.versions.get((old_name or "", number)),
            new.versions.get((new_name or "", number)),
        )
    for alias in sorted(in_model(old.aliases, old_name) | in_model(new.aliases, new_name)):
        before = old.aliases.get((old_name or "", alias))
        after = new.aliases.get((new_name or "", alias))
        if before == after:
            continue
        if before is None:
            add("alias_set", alias=alias, new=after)
        elif after is None:
            add("alias_deleted", alias=alias, old=before)
        else:
            add("alias_moved", alias=alias, old=before, new=after)
    return found


_ACTION_RANK = {
    "model_deleted": 0,
    "model_created": 0,
    "model_renamed": 1,
    "model_described": 2,
    "model_tag_set": 3,
    "model_tag_deleted": 3,
    "version_registered": 10,
    "version_artifact_changed": 11,
    "version_stage_changed": 12,
    "version_described": 13,
    "version_tag_set": 14,
    "version_tag_deleted": 14,
    "version_deleted": 15,
    "alias_set": 20,
    "alias_moved": 20,
    "alias_deleted": 20,
}


def _order(change: Change) -> tuple[Any, ...]:
    rank = _ACTION_RANK.get(change.action, 30)
    return (
        change.model,
        rank // 10,
        change.version or 0,
        rank,
        change.alias or "",
        change.key or "",
    )


def diff_snapshots(old_snapshot: Snapshot, new_snapshot: Snapshot) -> list[Change]:
    """The registry-level changes between two sides given as the files that differ."""
    old, new = _parse_side(old_snapshot), _parse_side(new_snapshot)
    renames = _find_renames(old, new)
    renamed_to = set(renames.values())
    pairs: list[tuple[str | None, str | None]] = list(renames.items())
    names = sorted(
        {m for m in old.models}
        | {m for m, _ in [*old.versions, *old.aliases, *old.events]}
        | {m for m in new.models}
        | {m for m, _ in [*new.versions, *new.aliases, *new.events]}
    )
    for name in names:
        # A model that stayed under this name on each side: not renamed away on the old side,
        # not renamed in from elsewhere on the new side (a rename can free a name, or take one
        # that a deleted model had).
        stayed_old = name not in renames and old.models.get(name, _UNKNOWN) is not None
        stayed_new = name not in renamed_to and new.models.get(name, _UNKNOWN) is not None
        if stayed_old or stayed_new:
            pairs.append((name if stayed_old else None, name if stayed_new else None))
    changes: list[Change] = []
    for old_name, new_name in pairs:
        model_changes = _model_changes(old_name, new_name, old, new)
        added = [
            e
            for (m, eid), e in new.events.items()
            if m == new_name and e is not None and old.events.get((old_name or "", eid)) is None
        ]
        added += [e for e in new.store_events.values() if e is not None and e.model == (old_name or new_name)]
        explainer = _Explainer(added)
        changes += [explainer.explain(c) for c in model_changes]
    return sorted(changes, key=_order)


# ------------------------------------------------------------------------------------- git


def diff_revisions(store: Path, rev_a: str | None = None, rev_b: str | None = None) -> RegistryDiff:
    """The registry changes from ``rev_a`` (default HEAD) to ``rev_b`` (default: the working
    tree) of the git repository holding ``store``. Before the first commit HEAD is empty."""
    repo = gitinfo.GitRepo.of_store(store)
    old_rev = rev_a or "HEAD"
    old_commit = repo.commit_of(old_rev) if rev_a is None else repo.require_commit(rev_a)
    old_tree = old_commit or repo.empty_tree()
    new_commit = None if rev_b is None else repo.require_commit(rev_b)
    tree_changes = [
        c for c in repo.changes(old_tree, new_commit, RECORD_FOLDERS) if classify(c.path) is not None
    ]
    blobs = repo.read_blobs(
        [sha for c in tree_changes for sha in (c.old, c.new) if sha not in (None, gitinfo.WORKTREE)],
        files.MAX_METADATA_BYTES,
    )
    old_files: dict[str, bytes | None] = {}
    new_files: dict[str, bytes | None] = {}
    for change in tree_changes:
        before = None if change.old is None else blobs[change.old]
        if change.new == gitinfo.WORKTREE:
            after = _read_worktree(store, change.path)
        else:
            after = None if change.new is None else blobs[change.new]
        if before != after:  # the index can list a file whose bytes did not change
            old_files[change.path], new_files[change.path] = before, after

    def in_revision(rev: str) -> Callable[[str], Path]:
        return lambda path: Path(f"{rev}:{repo.repo_path(path)}")

    changes = diff_snapshots(
        Snapshot(old_files, in_revision(old_rev)),
        Snapshot(new_files, Layout(store).path if rev_b is None else in_revision(rev_b)),
    )
    from mreg import gitrefs

    old_debris = set(gitrefs.committed_debris(repo.top, repo.prefix, old_commit)) if old_commit else set()
    debris = [p for p in gitrefs.committed_debris(repo.top, repo.prefix, new_commit) if p not in old_debris]
    return RegistryDiff(old_rev, old_commit, rev_b, new_commit, tuple(changes), tuple(debris))


def _read_worktree(store: Path, path: str) -> bytes | None:
    where = Layout(store).path(path)
    try:
        return files.read_bytes(store, where)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise DamagedStore(f"{files.display_path(where)} is a folder where a record was expected") from None
