"""``mreg fsck``: check that a store is whole, and say precisely what is not.

The checks are a list of functions (``CHECKS``), run in order on one ``Scan``; each yields
``Finding``s. A check that needs what an earlier one read uses the ``Scan`` (each file is read once),
so a new check is one more function appended with ``@check``.

Every finding has one of three severities:

* ``error``: something mreg would misread or refuse: a file that does not parse or breaks its schema,
  an unresolved git merge, an alias pointing at a missing or deleted version, a history event that
  contradicts the records, an object this working copy held and lost, a corrupt object, a symlink.
  ``mreg fsck`` exits 5.
* ``warning``: a file mreg never writes and ignores, which a person may want to look at; objects
  of versions registered in another working copy, which are not here (objects kept out of git).
* ``leftover``: debris of an interrupted writer, or data nothing refers to any more: temp files,
  ``tmp/`` and ``trash/`` contents, a model folder whose creation was interrupted, objects no live
  version here or in any git ref references, stale tree caches and verified markers. ``mreg gc``
  removes exactly these.

The structural checks run under the store lock, so they see one consistent state; re-hashing
every object (``full``) happens after the lock is released, since objects never change.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mreg import history, names
from mreg.entities import Artifact, Event
from mreg.errors import MregError, StoreError
from mreg.store import files, layout, objects
from mreg.store.layout import version_from_filename
from mreg.store.records import AliasRecord, AnyVersion, ConfigRecord, ModelRecord, VersionRecord, parse_event

if TYPE_CHECKING:
    from mreg.store.store import Store

ERROR = "error"
WARNING = "warning"
LEFTOVER = "leftover"

# Leftovers that a writer may still be producing outside the store lock (an artifact being copied
# in, a tree cache being built): gc removes them only when no writer holds the objects pin.
IN_FLIGHT_KINDS = frozenset({"tmp", "unreferenced-object", "cache-temp"})

KNOWN_ACTIONS = frozenset(
    {
        "model_created",
        "model_renamed",
        "model_described",
        "model_deleted",
        "model_tag_set",
        "model_tag_deleted",
        "version_registered",
        "version_described",
        "version_deleted",
        "version_stage_changed",
        "version_renumbered",
        "version_tag_set",
        "version_tag_deleted",
        "alias_set",
        "alias_moved",
        "alias_deleted",
        "imported",
    }
)
_EVENT_ID_RE = re.compile(r"(?P<time>\d{8}T\d{6}\.\d{6}Z)-[0-9a-f]{6}")
_HEX_RE = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True)
class Finding:
    """One thing fsck found. ``path`` is inside the store, POSIX style (``models/fraud/aliases/champion``;
    ``""`` for the store itself); ``message`` is one line for people and names the file."""

    severity: str
    kind: str
    path: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "kind": self.kind, "path": self.path, "message": self.message}


@dataclass
class ModelScan:
    """What the checks learned about one model folder."""

    name: str
    folder: Path
    record: ModelRecord | None = None
    # version number → its record (None when the file cannot be read)
    versions: dict[int, AnyVersion | None] = field(default_factory=dict)
    # alias → the version it points at (None when the file cannot be read)
    aliases: dict[str, int | None] = field(default_factory=dict)
    events: list[tuple[Path, Event]] = field(default_factory=list)


class Scan:
    """The state the checks share: the store, and what earlier checks read from it."""

    def __init__(self, store: Store, *, full: bool = False) -> None:
        self.store = store
        self.root = store.root
        self.layout = store.layout
        self.full = full
        self.config: ConfigRecord | None = None
        self.symlinks: set[Path] = set()
        # FIFOs, sockets and devices found by ``check_entries`` (reported once, there)
        self.special: set[str] = set()
        self.models: dict[str, ModelScan] = {}
        self.unreadable_versions = 0
        # sha256 → the version files whose artifacts hold it
        self.referenced_blobs: dict[str, list[Path]] = {}
        self.referenced_trees: set[str] = set()
        # (digests named in any git ref or the index, problems reading them): asked once, and
        # only when something would otherwise be called garbage
        self.git_digests: tuple[set[str], list[str]] | None = None

    def rel(self, path: Path) -> str:
        return self.layout.rel(path)

    def finding(self, severity: str, kind: str, path: Path, what: str) -> Finding:
        """A finding whose message starts with the file as people see it."""
        return Finding(severity, kind, self.rel(path), f"{files.display_path(path)}: {what}")

    def unreadable(self, path: Path, err: MregError) -> Finding:
        """A file mreg cannot use; its reader's message already names the file and line."""
        text = str(err)
        kind = "merge-conflict" if "unresolved git merge conflict" in text else "invalid-file"
        if kind == "merge-conflict":
            text = text.replace("unresolved git merge conflict", "unresolved git merge (conflict markers)")
        return Finding(ERROR, kind, self.rel(path), text)

    def behind_symlink(self, path: Path) -> bool:
        """Whether ``path`` or a folder above it (inside the store) is a symlink found by
        ``check_entries``: the checks never look through one."""
        if not self.symlinks:  # the usual case: nothing to look for
            return False
        folder = path
        while folder != self.root and folder != folder.parent:  # every symlink found is below the root
            if folder in self.symlinks:
                return True
            folder = folder.parent
        return False

    def entries(self, folder: Path) -> list[os.DirEntry[str]]:
        """The entries of a real folder of the store, by name; [] when it is missing, not a folder,
        or behind a symlink (reported by ``check_entries``)."""
        if self.behind_symlink(folder):
            return []
        try:
            with os.scandir(folder) as listing:
                return sorted(listing, key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return []

    def read_toml(self, path: Path) -> files.TomlTable:
        return files.read_toml(self.root, path)

    def live_versions(self) -> Iterator[tuple[ModelScan, int, VersionRecord]]:
        for model in self.models.values():
            for number, record in sorted(model.versions.items()):
                if isinstance(record, VersionRecord):
                    yield model, number, record


Check = Callable[[Scan], Iterable[Finding]]
CHECKS: list[Check] = []
CONTENT_CHECKS: list[Check] = []


def check(function: Check) -> Check:
    """Append a structural check to ``CHECKS`` (run in order, under the store lock)."""
    CHECKS.append(function)
    return function


def is_temp_name(name: str) -> bool:
    """A temp file of the atomic writer (``.7.toml.1a2b3c4d.tmp``) or of an artifact copy."""
    return name.startswith(".") and name.endswith(files.TEMP_SUFFIX)


# ------------------------------------------------------------------------------------ the checks


@check
def check_config(scan: Scan) -> Iterator[Finding]:
    """config.toml parses and names a format this mreg reads."""
    path = scan.layout.config
    try:
        scan.config = ConfigRecord.parse(path, scan.read_toml(path))
    except FileNotFoundError:
        yield scan.finding(ERROR, "missing-file", path, "missing: the store has no configuration")
    except MregError as err:
        yield scan.unreadable(path, err)


@check
def check_entries(scan: Scan) -> Iterator[Finding]:
    """No symlink or special file anywhere in the store; temp files of interrupted writes are
    leftovers; entries mreg never writes at the top are warnings."""
    for entry in scan.entries(scan.root):
        if entry.name not in layout.STORE_ENTRIES and not is_temp_name(entry.name):
            yield scan.finding(WARNING, "unexpected-file", Path(entry.path), "not a file mreg writes")
    for folder, dirnames, filenames in os.walk(scan.root):
        here = Path(folder)
        # tmp/, trash/ and cache/ are leftovers as a whole (check_temporaries); not file by file.
        top = scan.rel(here).split("/")[0] if here != scan.root else ""
        in_scratch = top in ("tmp", "trash", "cache")
        for name in sorted(dirnames + filenames):
            path = here / name
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(mode):
                scan.symlinks.add(path)
                if top == "trash":
                    continue  # set aside to be removed (a tree cache that failed its check): never followed
                yield scan.finding(
                    ERROR, "symlink", path, "is a symlink; mreg never follows symlinks inside the store"
                )
            elif not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
                scan.special.add(scan.rel(path))
                yield scan.finding(
                    ERROR, "special-file", path, "is neither a file nor a folder (mreg never opens it)"
                )
            elif is_temp_name(name) and not in_scratch:
                yield scan.finding(LEFTOVER, "temp-file", path, "temp file of an interrupted write")
        dirnames[:] = [d for d in dirnames if here / d not in scan.symlinks and not is_temp_name(d)]


@check
def check_policy(scan: Scan) -> Iterator[Finding]:
    """policy.toml, when there is one, parses: a bad one refuses every alias and stage change and
    every ``mreg check`` (docs/policy.md). A symlink or special file in its place is reported by
    ``check_entries`` and not opened here."""
    path = scan.layout.policy
    if path in scan.symlinks or scan.rel(path) in scan.special:
        return
    try:
        data = files.read_bytes(scan.root, path)
        from mreg.policy import Policy
        from mreg.store.policyfile import parse_policy

        Policy(parse_policy(path, data))  # its filters compile too
    except FileNotFoundError:
        return
    except MregError as err:
        yield scan.unreadable(path, err)


def _holds_only_debris(scan: Scan, folder: Path) -> bool:
    """Whether a folder holds nothing but temp files and empty folders."""
    for entry in scan.entries(folder):
        if entry.is_dir(follow_symlinks=False):
            if not _holds_only_debris(scan, Path(entry.path)):
                return False
        elif not is_temp_name(entry.name):
            return False
    return True


@check
def check_models(scan: Scan) -> Iterator[Finding]:
    """Every model folder has a valid name and a readable model.toml; every version, alias and
    event file in it parses and matches its schema."""
    seen_folded: dict[str, str] = {}
    for entry in scan.entries(scan.layout.models):
        path = Path(entry.path)
        if is_temp_name(entry.name) or path in scan.symlinks:
            continue
        if not entry.is_dir(follow_symlinks=False):
            yield scan.finding(WARNING, "unexpected-file", path, "not a model folder; mreg ignores it")
            continue
        try:
            names.validate_model_name(entry.name)
        except MregError as err:
            yield scan.finding(ERROR, "bad-name", path, f"folder name is not a valid model name ({err})")
            continue
        model = ModelScan(entry.name, path)
        model_file = scan.layout.model_file(entry.name)
        try:
            model.record = ModelRecord.parse(model_file, scan.read_toml(model_file))
        except FileNotFoundError:
            if _holds_only_debris(scan, path):
                yield scan.finding(
                    LEFTOVER,
                    "incomplete-model",
                    path,
                    "model folder without model.toml, left by an interrupted create",
                )
            else:
                yield scan.finding(ERROR, "missing-file", model_file, "missing: the folder holds model data")
            continue
        except MregError as err:
            yield scan.unreadable(model_file, err)
        folded = entry.name.casefold()
        if folded in seen_folded:
            yield scan.finding(
                ERROR,
                "case-collision",
                path,
                f"model {entry.name!r} and {seen_folded[folded]!r} differ only in case "
                "(they share one folder on macOS and Windows)",
            )
        seen_folded.setdefault(folded, entry.name)
        scan.models[entry.name] = model
        for inner in scan.entries(path):
            if inner.name not in layout.MODEL_ENTRIES and not is_temp_name(inner.name):
                yield scan.finding(WARNING, "unexpected-file", Path(inner.path), "not a file mreg writes")
        yield from _read_versions(scan, model)
        yield from _read_aliases(scan, model)
        yield from _read_events(scan, model)


def _read_versions(scan: Scan, model: ModelScan) -> Iterator[Finding]:
    numbers = []
    for entry in scan.entries(scan.layout.versions_dir(model.name)):
        path = Path(entry.path)
        if is_temp_name(entry.name) or path in scan.symlinks:
            continue
        number = version_from_filename(entry.name)
        if number is None:
            yield scan.finding(
                WARNING, "unexpected-file", path, "not a version file (<number>.toml); mreg ignores it"
            )
            continue
        numbers.append(number)  # not a regular file: the reader says so, naming it
    for number, record in scan.store.scan_versions(model.name, numbers):
        if isinstance(record, MregError):
            model.versions[number] = None
            scan.unreadable_versions += 1
            yield scan.unreadable(scan.layout.version_file(model.name, number), record)
        else:
            model.versions[number] = record


def _read_aliases(scan: Scan, model: ModelScan) -> Iterator[Finding]:
    for entry in scan.entries(scan.layout.aliases_dir(model.name)):
        path = Path(entry.path)
        if is_temp_name(entry.name) or path in scan.symlinks:
            continue
        if entry.name.startswith("."):
            yield scan.finding(WARNING, "unexpected-file", path, "not an alias file; mreg ignores it")
            continue
        try:
            names.validate_alias(entry.name)
        except MregError as err:
            yield scan.finding(ERROR, "bad-name", path, f"file name is not a valid alias ({err})")
            continue
        try:
            model.aliases[entry.name] = AliasRecord.parse(path, scan.read_toml(path)).version
        except FileNotFoundError:
            continue
        except MregError as err:
            model.aliases[entry.name] = None
            yield scan.unreadable(path, err)


def _event_files(scan: Scan, folder: Path) -> Iterator[tuple[Path, str] | Finding]:
    for entry in scan.entries(folder):
        path = Path(entry.path)
        if is_temp_name(entry.name) or path in scan.symlinks:
            continue
        if not entry.name.endswith(".toml") or entry.name.startswith("."):
            yield scan.finding(WARNING, "unexpected-file", path, "not an event file; mreg ignores it")
            continue
        event_id = entry.name[: -len(".toml")]
        if not _EVENT_ID_RE.fullmatch(event_id):
            yield scan.finding(
                ERROR, "bad-name", path, "event file name is not <UTC time>-<6 hex digits>.toml"
            )
            continue
        yield path, event_id


def _parse_event(scan: Scan, path: Path, event_id: str, model: str) -> Event | Finding:
    try:
        event = parse_event(path, scan.read_toml(path), event_id, model)
    except MregError as err:
        return scan.unreadable(path, err)
    if history.event_id(event.time).split("-")[0] != event_id.split("-")[0]:
        return scan.finding(
            ERROR, "history", path, f"'time' {event.time.isoformat()} does not match the file name"
        )
    return event


def _read_events(scan: Scan, model: ModelScan) -> Iterator[Finding]:
    for item in _event_files(scan, scan.layout.history_dir(model.name)):
        if isinstance(item, Finding):
            yield item
            continue
        path, event_id = item
        try:
            event = _parse_event(scan, path, event_id, model.name)
        except FileNotFoundError:
            continue
        if isinstance(event, Finding):
            yield event
        else:
            model.events.append((path, event))


@check
def check_store_history(scan: Scan) -> Iterator[Finding]:
    """Store-level events (models deleted) parse and name their model."""
    for item in _event_files(scan, scan.layout.store_history):
        if isinstance(item, Finding):
            yield item
            continue
        path, event_id = item
        try:
            event = _parse_event(scan, path, event_id, "")
        except FileNotFoundError:
            continue
        if isinstance(event, Finding):
            yield event
        elif not event.model:
            yield scan.finding(ERROR, "history", path, "a store-level event must name its 'model'")


@check
def check_aliases(scan: Scan) -> Iterator[Finding]:
    """Every alias points at a live version; no two aliases of a model differ only in case."""
    for model in scan.models.values():
        folded: dict[str, str] = {}
        for alias, target in sorted(model.aliases.items()):
            path = scan.layout.alias_file(model.name, alias)
            other = folded.setdefault(alias.casefold(), alias)
            if other != alias:
                yield scan.finding(
                    ERROR, "case-collision", path, f"aliases {other!r} and {alias!r} differ only in case"
                )
            if target is None or scan.behind_symlink(scan.layout.version_file(model.name, target)):
                continue
            if target not in model.versions:
                yield scan.finding(
                    ERROR,
                    "dangling-alias",
                    path,
                    f"alias {alias!r} points at version {target}, which does not exist",
                )
                continue
            if model.versions[target] is not None and not isinstance(model.versions[target], VersionRecord):
                yield scan.finding(
                    ERROR,
                    "dangling-alias",
                    path,
                    f"alias {alias!r} points at version {target}, which was deleted",
                )


@check
def check_history(scan: Scan) -> Iterator[Finding]:
    """Events agree with the records. A writer changes a record before it appends the event, so a
    crash can leave a change without its event (tolerated) but never an event without its change:
    every version an event names exists, a version recorded as deleted is a tombstone, and the
    registration of a version names the artifact its record holds (two registrations of one
    number with different artifacts mean one overwrote the other)."""
    for model in scan.models.values():
        if scan.behind_symlink(scan.layout.versions_dir(model.name)):
            continue
        registered: dict[int, str] = {}
        for path, event in model.events:
            if event.action in ("version_registered", "imported") and event.version is not None:
                yield from _check_registration(scan, model, path, event, registered)
            if event.action not in KNOWN_ACTIONS:
                yield scan.finding(
                    WARNING, "unknown-action", path, f"unknown action {event.action!r} (a newer mreg?)"
                )
            numbers = [n for n in (event.version,) if n is not None]
            if event.alias is not None and event.action in ("alias_set", "alias_moved"):
                if not isinstance(event.new, int):
                    yield scan.finding(
                        ERROR, "history", path, f"{event.action} must record the version in 'new'"
                    )
                    continue
                numbers.append(event.new)
            for number in numbers:
                if number not in model.versions:
                    yield scan.finding(
                        ERROR,
                        "history",
                        path,
                        f"{event.action} names version {number} of {model.name!r}, which has no version file",
                    )
            if event.action == "version_deleted" and isinstance(
                model.versions.get(event.version or 0), VersionRecord
            ):
                yield scan.finding(
                    ERROR,
                    "history",
                    path,
                    f"records version {event.version} as deleted, but its file is a live version",
                )


def _check_registration(
    scan: Scan, model: ModelScan, path: Path, event: Event, registered: dict[int, str]
) -> Iterator[Finding]:
    """A ``version_registered`` event agrees with the live version's record, or, for a deleted
    version, with the earlier registrations of its number (``registered``: number → artifact)."""
    number, artifact = event.version, event.new
    assert number is not None
    if not isinstance(artifact, str):
        return
    record = model.versions.get(number)
    if isinstance(record, VersionRecord):
        if record.artifact_id == artifact:
            return
        if record.artifact.kind != "uri" and _artifact_problem(record.artifact):
            return  # a damaged record: check_artifacts names it
        yield scan.finding(
            ERROR,
            "history",
            path,
            f"registers version {number} of {model.name!r} with artifact {artifact}, but its version "
            f"file holds {record.artifact_id} (a version written over another?)",
        )
        return
    earlier = registered.setdefault(number, artifact)  # a deleted version: the events must agree
    if earlier != artifact:
        yield scan.finding(
            ERROR,
            "history",
            path,
            f"registers version {number} of {model.name!r} with artifact {artifact}, but an earlier "
            f"event registered it with {earlier} (a version written over another?)",
        )


def _artifact_problem(artifact: Artifact) -> str | None:
    """Why an artifact's recorded digest or size disagrees with its own file list, if it does."""
    entries = [objects.FileEntry(f.path, f.sha256, f.size) for f in artifact.files]
    if artifact.kind == "file":
        entry = entries[0]
        if artifact.digest != entry.sha256 or artifact.size != entry.size:
            return "artifact digest or size differs from its file's"
    elif artifact.digest != objects.tree_digest(entries):
        return "artifact digest is not the digest of its file list"
    elif artifact.size != sum(e.size for e in entries):
        return "artifact size is not the sum of its files' sizes"
    return None


def _objects_not_in_checkout(scan: Scan) -> bool:
    """Whether this is a checkout without the objects: the store keeps them out of git and not
    one is here (a CI job's clone). Then a missing object is expected, not damage; ``--full``,
    which is asked to check the bytes, still calls it an error."""
    return _missing_is_expected(scan) and next(iter(_object_files(scan)), None) is None


def _missing_is_expected(scan: Scan) -> bool:
    """Whether an object missing here may simply live elsewhere: the store keeps objects out of
    git, so a version registered in another working copy arrives without its objects. Not under
    ``--full``, which is asked to check every byte."""
    committed = scan.config is not None and scan.config.commit_objects
    return not committed and not scan.full


NOT_HERE_HINT = (
    "objects are not committed to git: copy them from the working copy that registered it "
    "(its .mreg/objects/); `mreg fsck --full` counts them as missing"
)


def _not_here_hint(scan: Scan) -> str:
    """Where a missing object can come from, after "objects are not committed to git: ": the
    default remote when the store names one."""
    remote = scan.config.default_remote if scan.config is not None else None
    if remote is None:
        return NOT_HERE_HINT
    return (
        f"objects are not committed to git: `mreg pull` fetches them from remote {remote!r} "
        "(`get` and `resolve` fetch one when it is needed); `mreg fsck --remote` checks they are there"
    )


@check
def check_artifacts(scan: Scan) -> Iterator[Finding]:
    """Every live version's artifact is consistent and each of its objects is present, a regular
    file of the recorded size. Where objects are kept out of git, an object that is not here and
    never was (no verified marker: mreg never stored or checked it in this working copy) is a
    warning, ``object-not-here``, one per version: the version was registered in another working
    copy. An object that was here and is gone, or a present object of the wrong size, is an
    error."""
    absent = _objects_not_in_checkout(scan)
    expected_missing = _missing_is_expected(scan)
    if absent and any(record.artifact.kind != "uri" for _, _, record in scan.live_versions()):
        yield scan.finding(
            WARNING,
            "objects-absent",
            scan.layout.objects.parent,
            "no object of any version is here (objects are not committed to git): artifacts not "
            f"checked; {_not_here_hint(scan).partition(': ')[2]}",
        )
    for model, number, record in scan.live_versions():
        artifact = record.artifact
        path = scan.layout.version_file(model.name, number)
        if artifact.kind == "uri":
            continue
        problem = _artifact_problem(artifact)
        if problem:
            yield scan.finding(ERROR, "artifact", path, problem)
        if artifact.kind == "directory" and artifact.digest:
            scan.referenced_trees.add(artifact.digest)
        not_here = []
        for entry in artifact.files:
            scan.referenced_blobs.setdefault(entry.sha256, []).append(path)
            blob = scan.layout.blob(entry.sha256)
            if scan.behind_symlink(blob):
                continue
            if absent and not os.path.lexists(scan.layout.verified_marker(entry.sha256)):
                continue  # summed up in one warning, unless this working copy held it
            try:
                info = os.lstat(blob)
            except FileNotFoundError:
                # The verified marker shows that this working copy held the object: then it is lost.
                held_here = os.path.lexists(scan.layout.verified_marker(entry.sha256))
                if expected_missing and not held_here:
                    not_here.append(entry)
                    continue
                was = " (it was here: mreg stored or checked it)" if held_here else ""
                yield scan.finding(
                    ERROR,
                    "missing-object",
                    path,
                    f"object sha256:{entry.sha256[:12]}… of {entry.path!r} is missing from "
                    f"{files.display_path(scan.layout.objects)}{was}",
                )
                continue
            if stat.S_ISREG(info.st_mode) and info.st_size != entry.size:
                yield scan.finding(
                    ERROR,
                    "corrupt-object",
                    blob,
                    f"holds {info.st_size} bytes; version {number} of {model.name!r} "
                    f"records {entry.size} bytes",
                )
        if not_here:
            first = not_here[0]
            count = (
                f"{len(not_here)} of its {len(artifact.files)} objects are"
                if len(artifact.files) > 1
                else "its object is"
            )
            yield scan.finding(
                WARNING,
                "object-not-here",
                path,
                f"{count} not here (sha256:{first.sha256[:12]}… of {first.path!r}); {_not_here_hint(scan)}",
            )


def _object_files(scan: Scan) -> Iterator[tuple[Path, str | None]]:
    """Every file under objects/sha256/ with the digest its place names (None: not an object)."""
    for fan in scan.entries(scan.layout.objects):
        fan_path = Path(fan.path)
        if fan_path in scan.symlinks or is_temp_name(fan.name):
            continue
        if not fan.is_dir(follow_symlinks=False) or len(fan.name) != 2 or not _HEX_RE.fullmatch(fan.name):
            yield fan_path, None
            continue
        for entry in scan.entries(fan_path):
            path = Path(entry.path)
            if path in scan.symlinks or is_temp_name(entry.name):
                continue
            digest = fan.name + entry.name
            valid = len(digest) == 64 and _HEX_RE.fullmatch(digest) and entry.is_file(follow_symlinks=False)
            yield path, digest if valid else None


@check
def check_objects(scan: Scan) -> Iterator[Finding]:
    """Objects no live version references are leftovers; files that are not objects, warnings."""
    unreferenced = []
    for path, digest in _object_files(scan):
        if digest is None:
            yield scan.finding(WARNING, "unexpected-file", path, "not an object mreg wrote (sha256/ab/cdef…)")
        elif digest not in scan.referenced_blobs and not scan.unreadable_versions:
            # With unreadable version files the references are unknown: nothing is called garbage.
            unreferenced.append((path, digest))
    if not unreferenced:
        return
    in_git = yield from _referenced_in_git(scan)
    for path, digest in unreferenced:
        if in_git is not None and digest not in in_git:
            yield scan.finding(
                LEFTOVER,
                "unreferenced-object",
                path,
                "object no version references, here or in any git branch, tag, stash or the index",
            )


def _referenced_in_git(scan: Scan) -> Generator[Finding, None, set[str] | None]:
    """The digests that version files in any git ref or the index name (objects are shared by
    every branch of a working copy, and git-ignored). None, with a warning, when git cannot be
    read fully: then nothing is called garbage."""
    if scan.git_digests is None:
        from mreg import gitrefs

        try:
            scan.git_digests = gitrefs.referenced_digests_for_store(scan.root)
        except (MregError, OSError) as err:
            scan.git_digests = (set(), [str(err)])
        digests, problems = scan.git_digests
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            yield Finding(
                WARNING,
                "git-unreadable",
                "",
                f"git could not be read fully: {problems[0]}{more}; objects and caches that no version "
                "here references are kept",
            )
    digests, problems = scan.git_digests
    return None if problems else digests


@check
def check_temporaries(scan: Scan) -> Iterator[Finding]:
    """tmp/ and trash/ hold only debris; cache/trees holds trees of live versions, cache/verified
    markers of objects that are here."""
    for entry in scan.entries(scan.layout.tmp):
        path = Path(entry.path)
        if path != scan.layout.pin and path not in scan.symlinks:
            yield scan.finding(LEFTOVER, "tmp", path, "partial copy of an artifact being registered")
    for entry in scan.entries(scan.layout.trash):
        yield scan.finding(
            LEFTOVER,
            "trash",
            Path(entry.path),
            "set aside to be removed (a deleted model or a failed tree cache)",
        )
    trees = scan.layout.tree_caches
    stale = []
    for entry in scan.entries(trees):
        path = Path(entry.path)
        if path in scan.symlinks:
            continue
        if is_temp_name(entry.name):
            yield scan.finding(LEFTOVER, "cache-temp", path, "partial tree cache")
        elif entry.name not in scan.referenced_trees and not scan.unreadable_versions:
            stale.append(path)
    if stale:
        in_git = yield from _referenced_in_git(scan)
        for path in stale:
            if in_git is not None and path.name not in in_git:
                yield scan.finding(LEFTOVER, "stale-cache", path, "tree cache of no version here or in git")
    for entry in scan.entries(scan.layout.verified_markers):
        path = Path(entry.path)
        if path in scan.symlinks:
            continue
        if is_temp_name(entry.name):
            yield scan.finding(LEFTOVER, "cache-temp", path, "partial verified marker")
        elif entry.name in scan.referenced_blobs or scan.unreadable_versions:
            continue  # a live version's object, even when missing: the marker says it was here
        elif not (
            _HEX_RE.fullmatch(entry.name)
            and len(entry.name) == 64
            and os.path.lexists(scan.layout.blob(entry.name))
        ):
            yield scan.finding(LEFTOVER, "stale-cache", path, "verified marker of an object that is not here")


@check
def check_git_merge(scan: Scan) -> Iterator[Finding]:
    """A git merge (or rebase, cherry-pick) in progress left registry files unmerged: each
    conflict explained in registry terms (which versions collide, from which branches), and what
    settles it."""
    from mreg import gitmerge

    try:
        conflicts = gitmerge.find_merge_conflicts(scan.root)
    except (MregError, OSError):
        return  # git cannot be asked: the conflict markers are still reported file by file
    for conflict in conflicts:
        settle = "`mreg merge --renumber` settles it" if conflict.resolvable else "settle it by hand"
        yield Finding(
            ERROR,
            conflict.kind.replace("_", "-"),
            conflict.path,
            f"{files.display_path(scan.root / conflict.path)}: unresolved git merge: {conflict.message}; "
            f"{settle}",
        )


@check
def check_committed_debris(scan: Scan) -> Iterator[Finding]:
    """Nothing under cache/, tmp/, trash/ or the lock is tracked by git: those are this working
    copy's own files, and a commit that carries them (say a poisoned tree cache) would have a
    pull overwrite them."""
    from mreg import gitinfo, gitrefs

    found = gitinfo.find_git_dir(scan.root)
    if found is None:
        return
    top = found[0]
    try:
        store_rel = scan.root.relative_to(top).as_posix()
        tracked = gitrefs.committed_debris(top, "" if store_rel == "." else store_rel, None)
    except (ValueError, MregError, OSError):
        return  # outside the work tree, or git cannot be asked: nothing to say about git
    for rel in tracked:
        yield scan.finding(
            ERROR,
            "committed-debris",
            scan.layout.path(rel),
            "is tracked by git, but it is a working file of this copy: `git rm -r --cached` it "
            "(a commit that adds it can change what mreg hands out)",
        )


def check_object_contents(scan: Scan) -> Iterator[Finding]:
    """(--full) Every object's bytes hash to the name it is stored under."""
    for path, digest in _object_files(scan):
        if digest is None:
            continue
        sha = hashlib.sha256()
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            continue  # removed by gc since the structural checks: it was unreferenced
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since it was listed
            os.close(fd)
            yield scan.finding(ERROR, "special-file", path, "is not a regular file")
            continue
        with os.fdopen(fd, "rb", buffering=0) as handle:
            while chunk := handle.read(objects.CHUNK):
                sha.update(chunk)
        if sha.hexdigest() != digest:
            users = scan.referenced_blobs.get(digest, [])
            used = f"; used by {files.display_path(users[0])}" if users else ""
            yield scan.finding(
                ERROR,
                "corrupt-object",
                path,
                f"content hashes to sha256:{sha.hexdigest()[:12]}…, not to its name{used}",
            )


CONTENT_CHECKS.append(check_object_contents)


# ------------------------------------------------------------------------------------ running


def run_checks(scan: Scan, checks: Iterable[Check]) -> list[Finding]:
    """Run ``checks`` in order. A check that cannot go on (an unreadable folder) becomes an error
    finding, and the next check still runs."""
    findings: list[Finding] = []
    for function in checks:
        try:
            findings.extend(function(scan))
        except (MregError, OSError) as err:
            name = function.__name__.removeprefix("check_")
            findings.append(Finding(ERROR, "check-failed", "", f"the {name} check could not finish: {err}"))
    return findings


@contextmanager
def locked_unless_read_only(store: Store) -> Iterator[None]:
    """The store lock, so that the checks see one state. A store where no writer can run either
    (read-only, or a lock file mreg refuses: a symlink, no OS locks) is checked without it."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(store.locked())
        except StoreError:
            pass
        except OSError as err:
            if err.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
        yield


def scan_store(store: Store, *, full: bool = False) -> tuple[Scan, list[Finding]]:
    """Run the structural checks (the caller holds the lock) and return the scan with them."""
    scan = Scan(store, full=full)
    findings = run_checks(scan, CHECKS)
    # A FIFO or device where a record belongs is reported once, as a special file, not again
    # by the reader that refused to open it.
    return scan, [f for f in findings if not (f.kind == "invalid-file" and f.path in scan.special)]


def check_store(store: Store, *, full: bool = False) -> list[Finding]:
    """Every finding for the store: structural checks under the lock, then (``full``) the
    re-hashing of every object without it."""
    with locked_unless_read_only(store):
        scan, findings = scan_store(store, full=full)
    if full:
        findings += run_checks(scan, CONTENT_CHECKS)
    return findings


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ERROR]
