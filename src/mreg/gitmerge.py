"""Registry conflicts of a git merge, explained and resolved in registry terms.

The store keeps one file per version, alias and event, so branches that changed different
things merge without conflict. What git cannot merge is the same thing changed on both sides:

* **a version collision**: both branches registered version N of one model (numbers are the
  highest used + 1, so two branches that each register one get the same number). Git reports an
  add/add conflict on ``models/<name>/versions/N.toml``.
* **an alias conflict**: both branches moved one alias, to different versions.
* **a record conflict**: both branches changed one model or version record (tags, stage …);
  git's line merge trips over the ``updated_at`` line even when the fields differ.

``find_merge_conflicts`` explains them from git's index (stage 1 base, 2 ours, 3 theirs) and the
merge heads; ``plan_resolution`` works out a resolution that ``Registry.resolve_merge_conflicts``
writes (``mreg merge --renumber``):

* the versions of one side (by default theirs: the branch being merged in, MERGE_HEAD; in a
  rebase, the commit being replayed) that collide, and those it registered after them, get the
  next free numbers, in order; that side's aliases and history events follow them; both
  versions survive, and a ``version_renumbered`` event records the move;
* aliases are merged three-way (base, ours, theirs, with the renumbering applied): a change on
  one side wins; two different changes are a real conflict, decided for the kept side and
  recorded as an event so that the history agrees with the alias files;
* records are merged field by field: a field changed on one side wins, ``updated_at`` takes the
  later time, a deletion wins over a change, and a field changed differently on both sides
  takes the kept side's value.

Why a command and not a git merge driver: a driver sees one file at a time and must write its
result into that same file, while a renumbering writes another file (``versions/N+1.toml``) and
changes alias and history files that git merged cleanly. A driver also lives in ``.git/config``,
which a clone does not carry, so a teammate without it would silently get conflict markers.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mreg import gitinfo, history
from mreg.entities import Event
from mreg.errors import Conflict, DamagedStore, InvalidInput, NotFound
from mreg.store import files, layout
from mreg.store.files import TomlTable
from mreg.store.layout import parse_rel, version_from_filename
from mreg.store.records import (
    STATUS_DELETED,
    AliasRecord,
    ModelRecord,
    Record,
    Tombstone,
    VersionRecord,
    parse_event,
    parse_version,
)

if TYPE_CHECKING:
    from mreg.store.store import Store

KEEP_CHOICES = ("ours", "theirs")
_LIMIT = files.MAX_METADATA_BYTES
_MISSING: Any = object()
_VERSION_IN_TEXT = re.compile(r"\bversion (\d+)\b")


@dataclass(frozen=True)
class MergeSide:
    commit: str
    label: str  # the branch (or the short commit when no branch points at it)


@dataclass(frozen=True)
class MergeContext:
    """The operation in progress: ``merge``, ``rebase`` or ``cherry-pick``."""

    operation: str
    ours: MergeSide
    theirs: MergeSide
    base: str | None  # the common ancestor; None for unrelated histories

    def side(self, which: str) -> MergeSide:
        return self.ours if which == "ours" else self.theirs

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "ours": dataclasses.asdict(self.ours),
            "theirs": dataclasses.asdict(self.theirs),
            "base": self.base,
        }


@dataclass(frozen=True)
class Finding:
    """One registry conflict. ``kind``: version_collision, alias_conflict, record_conflict,
    deleted_and_changed or unmerged_file; ``resolvable``: whether ``mreg merge --renumber`` can
    settle it."""

    kind: str
    path: str
    message: str
    model: str | None = None
    version: int | None = None
    alias: str | None = None
    resolvable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Renumbering:
    model: str
    old: int
    new: int
    side: str  # "ours" or "theirs": whose version moved
    digest: str | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PlannedEvent:
    model: str
    action: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class MergePlan:
    """What ``mreg merge --renumber`` does: files to write and remove (paths inside the store),
    events to append, paths to stage, and a line per decision."""

    context: MergeContext | None
    keep: str
    findings: tuple[Finding, ...]
    renumbered: tuple[Renumbering, ...] = ()
    writes: Mapping[str, Record | Event] = dataclasses.field(default_factory=dict)
    removes: tuple[str, ...] = ()
    events: tuple[PlannedEvent, ...] = ()
    decisions: tuple[str, ...] = ()
    stage: tuple[str, ...] = ()

    @property
    def resolvable(self) -> bool:
        return self.context is not None and all(f.resolvable for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "merge": None if self.context is None else self.context.to_dict(),
            "keep": self.keep,
            "conflicts": [f.to_dict() for f in self.findings],
            "resolvable": self.resolvable,
            "renumbered": [r.to_dict() for r in self.renumbered],
            "decisions": list(self.decisions),
            "written": sorted(self.writes),
            "removed": list(self.removes),
        }


# --------------------------------------------------------------------------- the merge state


def _git_path(repo: gitinfo.GitRepo, name: str) -> Path:
    out = repo.git("rev-parse", "--git-path", name).decode("utf-8").strip()
    path = Path(out)
    return path if path.is_absolute() else repo.top / path


def _branch_label(repo: gitinfo.GitRepo, commit: str, preferred: str | None = None) -> str:
    if preferred:
        return preferred
    out = repo.git(
        "for-each-ref", "--points-at", commit, "--format=%(refname:short)", "refs/heads", "refs/remotes"
    )
    names = [n for n in out.decode("utf-8", "replace").splitlines() if n and not n.endswith("/HEAD")]
    return ", ".join(names) if names else commit[:10]


def merge_context(repo: gitinfo.GitRepo) -> MergeContext | None:
    """The merge, rebase or cherry-pick in progress in the repository, if any."""
    ours = repo.commit_of("HEAD")
    if ours is None:
        return None
    merge_head = _git_path(repo, "MERGE_HEAD")
    if merge_head.is_file():
        heads = merge_head.read_text(encoding="ascii", errors="replace").split()
        if len(heads) != 1:
            raise InvalidInput(
                "an octopus merge (more than two branches) is in progress; merge one at a time"
            )
        theirs = repo.require_commit(heads[0])
        base = repo.git("merge-base", ours, theirs, check=False).decode("ascii").strip() or None
        current = repo.git("symbolic-ref", "-q", "--short", "HEAD", check=False).decode().strip() or None
        return MergeContext(
            "merge",
            MergeSide(ours, _branch_label(repo, ours, current)),
            MergeSide(theirs, _branch_label(repo, theirs)),
            base,
        )
    for head, operation in (("REBASE_HEAD", "rebase"), ("CHERRY_PICK_HEAD", "cherry-pick")):
        theirs_commit = repo.commit_of(head) if _git_path(repo, head).is_file() else None
        if theirs_commit is None:
            continue
        label = None
        if operation == "rebase":
            for folder in ("rebase-merge", "rebase-apply"):
                head_name = _git_path(repo, f"{folder}/head-name")
                if head_name.is_file():
                    label = head_name.read_text(encoding="utf-8").strip().removeprefix("refs/heads/")
                    label = f"{label} ({theirs_commit[:10]})"
        return MergeContext(
            operation,
            MergeSide(ours, _branch_label(repo, ours)),
            MergeSide(theirs_commit, _branch_label(repo, theirs_commit, label)),
            repo.commit_of(f"{theirs_commit}^"),
        )
    return None


def unmerged_entries(repo: gitinfo.GitRepo) -> dict[str, dict[int, str]]:
    """Store paths git could not merge → {stage: blob} (1 base, 2 ours, 3 theirs)."""
    out = repo.git("ls-files", "-u", "-z", "--", repo.prefix or ".")
    entries: dict[str, dict[int, str]] = {}
    for item in out.decode("utf-8", "surrogateescape").split("\0"):
        if not item:
            continue
        meta, _, repo_path = item.partition("\t")
        _mode, sha, stage = meta.split(" ")
        path = repo.store_path(repo_path)
        if path is not None:
            entries.setdefault(path, {})[int(stage)] = sha
    return entries


# ------------------------------------------------------------------------------- explaining


def _parse(where: str, data: bytes | None) -> TomlTable | None:
    return None if data is None else files.parse_toml(Path(where), data)


def _digest_of(record: TomlTable | None, where: str) -> str | None:
    if record is None:
        return None
    version = parse_version(Path(where), record)
    return version.artifact_id if isinstance(version, VersionRecord) else None


def _short_digest(digest: str | None) -> str:
    if digest is None:
        return "deleted"
    return digest[:19] + "…" if digest.startswith("sha256:") else digest


def _explain(
    repo: gitinfo.GitRepo, context: MergeContext | None, entries: dict[str, dict[int, str]]
) -> list[Finding]:
    blobs = repo.read_blobs([sha for stages in entries.values() for sha in stages.values()], _LIMIT)
    ours = context.ours.label if context else "ours"
    theirs = context.theirs.label if context else "theirs"
    findings = []
    for path in sorted(entries):
        stages = entries[path]
        what = parse_rel(path)
        kind, model, key = what if what is not None else ("other", None, None)
        both = 2 in stages and 3 in stages

        def side_record(
            stage: int, path: str = path, stages: dict[int, str] = stages
        ) -> dict[str, Any] | None:
            return _parse(f":{stage}:{path}", blobs[stages[stage]]) if stage in stages else None

        if not both and kind in ("model", "version"):
            changed_on, deleted_on = (ours, theirs) if 2 in stages else (theirs, ours)
            findings.append(
                Finding(
                    "deleted_and_changed",
                    path,
                    f"{path} was changed on {changed_on} and deleted on {deleted_on} (the model was deleted "
                    "or renamed there): keep one side by hand with git rm or git add",
                    model=model,
                    resolvable=False,
                )
            )
        elif kind == "version" and 1 not in stages:
            assert isinstance(key, int)
            digest_ours = _digest_of(side_record(2), f":2:{path}")
            digest_theirs = _digest_of(side_record(3), f":3:{path}")
            findings.append(
                Finding(
                    "version_collision",
                    path,
                    f"{model} version {key} was registered on both sides: {ours} "
                    f"({_short_digest(digest_ours)}) and {theirs} ({_short_digest(digest_theirs)})",
                    model=model,
                    version=key,
                )
            )
        elif kind == "alias":
            assert isinstance(key, str)
            targets = []
            for stage, label in ((2, ours), (3, theirs)):
                record = side_record(stage)
                value = "removed" if record is None else AliasRecord.parse(f":{stage}:{path}", record).version
                targets.append(f"{label} → {value}")
            findings.append(
                Finding(
                    "alias_conflict",
                    path,
                    f"{model}@{key} was changed on both sides: {', '.join(targets)}",
                    model=model,
                    alias=key,
                )
            )
        elif kind == "version" and _identities(side_record(1), side_record(2), side_record(3)) > 1:
            findings.append(
                Finding(
                    "record_conflict",
                    path,
                    f"{model} version {key} means different registrations on {ours} and {theirs} (a "
                    "change to a version that was renumbered, replayed by a rebase or cherry-pick?): "
                    "apply it to the right version by hand, or merge instead of rebasing",
                    model=model,
                    version=key if isinstance(key, int) else None,
                    resolvable=False,
                )
            )
        elif kind in ("model", "version"):
            _, conflicts = merge_records(side_record(1), side_record(2) or {}, side_record(3) or {}, "ours")
            thing = f"model {model}" if kind == "model" else f"{model} version {key}"
            created = "created" if 1 not in stages else "changed"
            detail = f" (both changed {', '.join(conflicts)})" if conflicts else " (different fields)"
            findings.append(
                Finding(
                    "record_conflict",
                    path,
                    f"{thing} was {created} on both sides: {ours} and {theirs}{detail}",
                    model=model,
                    version=key if isinstance(key, int) else None,
                )
            )
        else:
            findings.append(
                Finding(
                    "unmerged_file",
                    path,
                    f"{path} has a git conflict mreg cannot resolve: resolve it by hand",
                    model=model or None,
                    resolvable=False,
                )
            )
    return findings


def _identities(*versions: TomlTable | None) -> int:
    """How many different registrations these version records are: what identifies one
    (created when, by whom, from what) never changes after registration."""
    return len(
        {(v.get("created_at"), v.get("created_by"), v.get("source")) for v in versions if v is not None}
    )


def find_merge_conflicts(store: Path) -> list[Finding]:
    """The registry conflicts of the merge (or rebase, cherry-pick) in progress in the git
    repository holding ``store``; [] outside git or when git merged the store cleanly. For
    ``mreg fsck`` and ``mreg merge``."""
    if gitinfo.find_git_dir(store) is None:
        return []
    repo = gitinfo.GitRepo.of_store(store)
    entries = unmerged_entries(repo)
    if not entries:
        return []
    return _explain(repo, merge_context(repo), entries)


# ------------------------------------------------------------------------------- resolving


def merge_records(
    base: TomlTable | None, ours: TomlTable, theirs: TomlTable, keep: str
) -> tuple[TomlTable, list[str]]:
    """Three-way merge of two TOML records, field by field. Returns the merged record and the
    fields both sides changed differently (decided for ``keep``)."""
    conflicts: list[str] = []
    deleted = [r for r in (ours, theirs) if r.get("status") == STATUS_DELETED]
    if len(deleted) == 1:  # a deletion wins over a change: a tombstone keeps only its own fields
        other = theirs if deleted[0] is ours else ours
        merged = dict(deleted[0])
        merged["updated_at"] = max(
            deleted[0]["updated_at"], other.get("updated_at", deleted[0]["updated_at"])
        )
        return merged, conflicts

    def merge(b: Any, o: Any, t: Any, field: str) -> Any:
        if o == t:
            return o
        if b == o:
            return t
        if b == t:
            return o
        if isinstance(o, dict) and isinstance(t, dict):
            old = b if isinstance(b, dict) else {}
            out = {}
            for key in [*o, *(k for k in t if k not in o)]:
                value = merge(
                    old.get(key, _MISSING), o.get(key, _MISSING), t.get(key, _MISSING), f"{field}{key}."
                )
                if value is not _MISSING:
                    out[key] = value
            return out
        name = field.rstrip(".")
        if name == "updated_at" and _MISSING not in (o, t):
            return max(o, t)
        conflicts.append(name)
        return o if keep == "ours" else t

    merged = merge(base if base is not None else {}, ours, theirs, "")
    created_on_both = base is None and "created_at" in ours and "created_at" in theirs
    if created_on_both and ours["created_at"] != theirs["created_at"]:  # the first creation stands
        first = ours if ours["created_at"] <= theirs["created_at"] else theirs
        merged["created_at"], merged["created_by"] = first["created_at"], first.get("created_by")
        conflicts = [c for c in conflicts if c not in ("created_at", "created_by")]
    return merged, conflicts


def _alias_value(where: str, data: bytes | None) -> int | None:
    record = _parse(where, data)
    return None if record is None else AliasRecord.parse(where, record).version


def _renumber_text(text: Any, mapping: Mapping[int, int]) -> Any:
    if not isinstance(text, str):
        return text
    return _VERSION_IN_TEXT.sub(lambda m: f"version {mapping.get(int(m.group(1)), int(m.group(1)))}", text)


def _renumber_event(event: Event, mapping: Mapping[int, int]) -> Event:
    """An event of the renumbered side with its version numbers moved."""

    def moved(value: str | int | None) -> str | int | None:
        return mapping.get(value, value) if isinstance(value, int) else value

    aliasing = event.action.startswith("alias_")
    return dataclasses.replace(
        event,
        version=None if event.version is None else mapping.get(event.version, event.version),
        old=moved(event.old) if aliasing else event.old,
        new=moved(event.new) if aliasing else event.new,
        reason=_renumber_text(event.reason, mapping),
    )


class _Planner:
    def __init__(self, repo: gitinfo.GitRepo, store: Store, context: MergeContext, keep: str) -> None:
        self.repo, self.store, self.context, self.keep = repo, store, context, keep
        self.other = "theirs" if keep == "ours" else "ours"
        self.kept, self.moved = context.side(keep), context.side(self.other)
        self.writes: dict[str, Record | Event] = {}
        self.removes: set[str] = set()
        self.events: list[PlannedEvent] = []
        self.decisions: list[str] = []
        self.renumbered: list[Renumbering] = []
        self.findings: list[Finding] = []

    def numbers(self, commit: str | None, model: str) -> set[int]:
        if commit is None:
            return set()
        found = (
            version_from_filename(n) for n in self.repo.list_names(commit, layout.rel_versions_dir(model))
        )
        return {n for n in found if n is not None}

    def added_events(self, commit: str, model: str) -> dict[str, bytes | None]:
        """History files of ``model`` added on ``commit`` since the merge base."""
        folder = layout.rel_history_dir(model)
        names = set(self.repo.list_names(commit, folder))
        if self.context.base is not None:
            names -= set(self.repo.list_names(self.context.base, folder))
        return self.repo.read_at(commit, [f"{folder}/{n}" for n in names if n.endswith(".toml")], _LIMIT)

    def renumber(self, model: str, collisions: set[int]) -> dict[int, int]:
        """Give the moved side's colliding versions, and those it registered after them, the
        next free numbers, in order. Returns old → new."""
        base = self.numbers(self.context.base, model)
        kept = self.numbers(self.kept.commit, model)
        moved = self.numbers(self.moved.commit, model)
        moved_new = sorted(moved - base)
        first = min(collisions)
        paths = {n: layout.rel_version_file(model, n) for n in moved_new if n >= first}
        moved_files = self.repo.read_at(self.moved.commit, paths.values(), _LIMIT)
        kept_files = self.repo.read_at(self.kept.commit, paths.values(), _LIMIT)
        # A version both sides hold byte for byte (a cherry-picked registration) is one version.
        to_move = [n for n in paths if moved_files[paths[n]] != kept_files[paths[n]]]
        # Above every number either side holds, and every one in the working tree too: a version
        # there that neither commit has (written during the merge) is never written over.
        here = set(self.store.version_numbers(model)) - set(to_move)
        start = max(kept | base | (moved - set(to_move)) | here, default=0) + 1
        mapping = {old: start + i for i, old in enumerate(to_move)}
        for old, new in mapping.items():
            where = f"{self.moved.label}:{paths[old]}"
            record = _parse(where, moved_files[paths[old]])
            if record is None:
                raise DamagedStore(f"{where} is missing")
            self.writes[layout.rel_version_file(model, new)] = parse_version(where, record)
            kept_where = f"{self.kept.label}:{paths[old]}"
            kept_record = _parse(kept_where, kept_files[paths[old]])
            if kept_record is not None:
                self.writes[paths[old]] = parse_version(kept_where, kept_record)
            elif old not in mapping.values():
                self.removes.add(paths[old])
            digest = _digest_of(record, where)
            self.renumbered.append(Renumbering(model, old, new, self.other, digest))
            self.events.append(
                PlannedEvent(
                    model,
                    "version_renumbered",
                    {
                        "version": new,
                        "old": old,
                        "new": new,
                        "reason": f"merge: {self.kept.label} and {self.moved.label} both registered "
                        f"version {old}; the one from {self.moved.label} is now version {new}",
                    },
                )
            )
            self.decisions.append(
                f"{model}: version {old} from {self.moved.label} ({_short_digest(digest)}) → version {new}"
            )
        for path, data in self.added_events(self.moved.commit, model).items():
            where = f"{self.moved.label}:{path}"
            record = _parse(where, data)
            event_id = layout.event_id_from_filename(path.rsplit("/", 1)[-1])
            if record is not None and event_id is not None:
                event = parse_event(where, record, event_id, model)
                rewritten = _renumber_event(event, mapping)
                if rewritten != event:
                    self.writes[path] = rewritten
        return mapping

    def merge_aliases(self, model: str, mapping: Mapping[int, int], only: Iterable[str] | None) -> None:
        """Three-way merge of a model's aliases (every alias when versions moved, else ``only``)."""
        folder = layout.rel_aliases_dir(model)
        commits = [c for c in (self.context.base, self.kept.commit, self.moved.commit) if c is not None]
        names = (
            sorted({n for c in commits for n in self.repo.list_names(c, folder) if not n.startswith(".")})
            if only is None
            else sorted(only)
        )
        paths = [f"{folder}/{n}" for n in names]
        base = self.repo.read_at(self.context.base, paths, _LIMIT) if self.context.base else {}
        kept = self.repo.read_at(self.kept.commit, paths, _LIMIT)
        moved = self.repo.read_at(self.moved.commit, paths, _LIMIT)
        implied = self.implied_aliases(model, mapping) if names else {}
        for alias, path in zip(names, paths, strict=True):
            b = _alias_value(f"base:{path}", base.get(path))
            k = _alias_value(f"{self.kept.label}:{path}", kept.get(path))
            m = _alias_value(f"{self.moved.label}:{path}", moved.get(path))
            if m is not None:
                m = mapping.get(m, m)  # the moved side's alias follows its renumbered version
            reason = f"merge of {self.context.theirs.label} into {self.context.ours.label}"
            if k == m or m == b:
                final = k
            elif k == b:
                final = m
            else:
                final = k
                reason = (
                    f"merge: {self.kept.label} moved it to {k}, {self.moved.label} to {m}; "
                    f"kept {self.kept.label}'s"
                )
                self.decisions.append(
                    f"{model}@{alias}: moved on both sides ({self.kept.label} → {k}, "
                    f"{self.moved.label} → {m}); kept {self.kept.label}'s"
                )
                self.findings.append(
                    Finding(
                        "alias_conflict",
                        path,
                        f"{model}@{alias} was moved on both sides: {self.kept.label} → {k}, "
                        f"{self.moved.label} → {m}",
                        model=model,
                        alias=alias,
                    )
                )
            if final is None:
                self.removes.add(path)
            else:
                self.writes[path] = AliasRecord(final)
                self.removes.discard(path)
            if alias not in implied:
                continue  # no event mentions it: nothing in the history to contradict
            was = implied[alias]
            if was != final:
                if final is None:
                    self.events.append(
                        PlannedEvent(model, "alias_deleted", {"alias": alias, "old": was, "reason": reason})
                    )
                else:
                    self.events.append(
                        PlannedEvent(
                            model,
                            "alias_set" if was is None else "alias_moved",
                            {"alias": alias, "old": was, "new": final, "reason": reason},
                        )
                    )

    def implied_aliases(self, model: str, mapping: Mapping[int, int]) -> dict[str, int | None]:
        """Where each alias points after the merged history's last event for it: the history of
        the working tree, with the moved side's events renumbered."""
        events = []
        for event_id in self.store.event_ids(model):
            written = self.writes.get(layout.rel_event_file(model, event_id))
            events.append(written if isinstance(written, Event) else self.store.events(model, [event_id])[0])
        implied: dict[str, int | None] = {}
        for event in sorted(events, key=lambda e: e.id):
            if event.alias is not None and event.action.startswith("alias_"):
                implied[event.alias] = event.new if isinstance(event.new, int) else None
        return implied

    def merge_record(self, path: str, stages: dict[int, str], kind: str, model: str) -> None:
        blobs = self.repo.read_blobs(stages.values(), _LIMIT)
        check: Callable[[Path, TomlTable], Record] = ModelRecord.parse if kind == "model" else parse_version
        sides: dict[int, TomlTable] = {}
        for stage, sha in stages.items():
            where = f":{stage}:{path}"
            record = _parse(where, blobs[sha])
            assert record is not None
            check(Path(where), record)  # a malformed side is named, not merged
            sides[stage] = record
        merged, conflicts = merge_records(sides.get(1), sides[2], sides[3], self.keep)
        result = check(Path(f"merged:{path}"), merged)
        ours, theirs = sides[2], sides[3]
        self.writes[path] = result
        what = f"model {model}" if kind == "model" else f"{model} version {path.rsplit('/', 1)[-1][:-5]}"
        if isinstance(result, Tombstone) and not all(
            r.get("status") == STATUS_DELETED for r in (ours, theirs)
        ):
            self.decisions.append(f"{what}: deleted on one side; the other side's changes to it are dropped")
        elif conflicts:
            self.decisions.append(
                f"{what}: both sides changed {', '.join(conflicts)}; kept {self.kept.label}'s value"
            )
        else:
            self.decisions.append(f"{what}: merged the changes of both sides")


def plan_resolution(store: Store, keep: str = "ours") -> MergePlan:
    """Work out how to resolve the registry conflicts of the merge in progress (nothing is
    written here). ``keep``: the side whose version numbers stay, and whose value wins where
    both sides changed one alias or field."""
    if keep not in KEEP_CHOICES:
        raise InvalidInput(f"keep must be 'ours' or 'theirs', not {keep!r}")
    repo = gitinfo.GitRepo.of_store(store.root)
    entries = unmerged_entries(repo)
    context = merge_context(repo)
    findings = _explain(repo, context, entries) if entries else []
    if context is None:
        return MergePlan(None, keep, tuple(findings))
    if not entries or not all(f.resolvable for f in findings):
        return MergePlan(context, keep, tuple(findings))
    planner = _Planner(repo, store, context, keep)
    by_model: dict[str, dict[str, set[Any]]] = {}
    for finding in findings:
        assert finding.model is not None
        slot = by_model.setdefault(finding.model, {"collisions": set(), "aliases": set()})
        if finding.kind == "version_collision":
            slot["collisions"].add(finding.version)
        elif finding.kind == "alias_conflict":
            slot["aliases"].add(finding.alias)
    for path, stages in sorted(entries.items()):
        what = parse_rel(path)
        if (
            what is not None
            and what[0] in ("model", "version")
            and not (what[0] == "version" and 1 not in stages)
        ):
            planner.merge_record(path, stages, what[0], what[1])
    for model, slot in sorted(by_model.items()):
        mapping = planner.renumber(model, slot["collisions"]) if slot["collisions"] else {}
        if mapping or slot["aliases"]:
            planner.merge_aliases(model, mapping, None if mapping else slot["aliases"])
    textual = {(f.model, f.alias) for f in findings if f.kind == "alias_conflict"}
    extra = [f for f in planner.findings if (f.model, f.alias) not in textual]
    touched = set(planner.writes) | planner.removes | set(entries)
    return MergePlan(
        context,
        keep,
        tuple(findings + extra),
        tuple(planner.renumbered),
        planner.writes,
        tuple(sorted(planner.removes)),
        tuple(planner.events),
        tuple(planner.decisions),
        tuple(sorted(touched)),
    )


def resolve(store: Store, *, keep: str = "ours", dry_run: bool = False) -> MergePlan:
    """Plan the resolution under the store lock and, unless ``dry_run``, carry it out: write and
    remove the records, append the events, stage the result. Raises NotFound outside a merge
    and Conflict, changing nothing, when a conflict needs a person."""
    with store.changing(resolving_merge=True):  # all or nothing: an error half-way undoes the files written
        plan = plan_resolution(store, keep=keep)
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
        for rel, record in plan.writes.items():
            store.write_record(rel, record)
        for rel in plan.removes:
            store.remove_record(rel)
        for event in plan.events:
            history.record(store, event.model, event.action, **event.fields)
        stage_resolution(store.root, plan)
    return plan


def stage_resolution(store: Path, plan: MergePlan) -> None:
    """``git add`` what the resolution wrote or removed, which marks the conflicts resolved."""
    if not plan.stage:
        return
    repo = gitinfo.GitRepo.of_store(store)
    paths = [repo.repo_path(p) for p in plan.stage]
    # Events appended by the resolution are new files: stage the history folders they went to.
    paths += sorted({repo.repo_path(layout.rel_history_dir(e.model)) for e in plan.events})
    repo.git(
        "add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul",
        stdin="\0".join(paths).encode("utf-8", "surrogateescape"),
    )  # fmt: skip
