"""The typed records of the store: what each file holds, parsed and checked once at the edge.

Each record is a frozen dataclass with ``parse`` (checked reading of the file's TOML, errors
naming the file and line) and ``to_toml`` (the table written, keys in the order of the file).
Reading refuses values no writer of this format produces, so a hand-edited or corrupted file is
reported, not trusted: a manifest path cannot point outside an artifact, a digest is 64 hex digits.
Entities (``ModelVersion``, ``RegisteredModel``, ``Event``) are built from records by one method
each.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from mreg.entities import (
    Artifact,
    ArtifactFile,
    Event,
    Lineage,
    MLmodelInfo,
    ModelVersion,
    RegisteredModel,
    Signature,
    SignatureField,
)
from mreg.errors import DamagedStore, MregError, StoreError
from mreg.names import STAGES, VERSION_MAX, validate_remote_name
from mreg.store.files import TomlTable, display_path, line_of_key
from mreg.store.layout import FORMAT
from mreg.value import Value

_HEX64 = re.compile(r"[0-9a-f]{64}")
STATUS_READY = "READY"
STATUS_DELETED = "DELETED"


class RecordReader:
    """Typed access to one parsed TOML file, with errors that name it."""

    def __init__(self, path: Path | str, record: TomlTable) -> None:
        self.path = path
        self.record = record

    def fail(self, what: str, key: str | None = None, table: str | None = None) -> StoreError:
        """An error naming the file and, when ``key`` is given and found, its line."""
        line = None if key is None else line_of_key(self.path, key, table)
        return DamagedStore(f"{display_path(self.path)}:{'' if line is None else f'{line}:'} {what}")

    def get(
        self,
        key: str,
        kind: type,
        *,
        required: bool = False,
        default: Any = None,
        within: TomlTable | None = None,
    ) -> Any:
        source = self.record if within is None else within
        if key not in source:
            if required and not self.record:
                raise DamagedStore(f"{display_path(self.path)}:1: the file is empty")
            if required:
                raise self.fail(f"missing '{key}'")
            return default
        value = source[key]
        if kind is int and isinstance(value, bool):
            raise self.fail(f"'{key}' must be an integer", key, self._table_name(within))
        if not isinstance(value, kind):
            raise self.fail(f"'{key}' must be {_kind_name(kind)}", key, self._table_name(within))
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise self.fail(f"'{key}' must carry a UTC offset", key, self._table_name(within))
            return value.astimezone(dt.UTC)
        return value

    def _table_name(self, table: TomlTable | None) -> str | None:
        if table is None:
            return None
        for name, value in self.record.items():
            if value is table:
                return name
        return None

    def table(self, key: str) -> TomlTable:
        return self.get(key, dict, default={})  # type: ignore[no-any-return]

    def string_table(self, key: str) -> dict[str, str]:
        table = self.table(key)
        for k, v in table.items():
            if not isinstance(v, str):
                raise self.fail(f"'{key}.{k}' must be a string", k, key)
        return dict(table)


def _kind_name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        bool: "true or false",
        dict: "a table",
        list: "an array",
        dt.datetime: "a date-time",
    }.get(kind, kind.__name__)


def _sorted_tags(tags: dict[str, str]) -> dict[str, str] | None:
    return dict(sorted(tags.items())) or None


# ---------------------------------------------------------------------------------------- config


REMOTE_KEYS = ("url", "endpoint_url", "profile")
REMOTE_URL_MAX = 4096
# Keys that would hold a secret: refused, whatever the backend, so no credential is ever stored.
_CREDENTIAL_KEY = re.compile(
    r"(?i).*(key|secret|token|password|passwd|credential|sas|connection_string|account_key).*"
)
CREDENTIALS_HINT = (
    "credentials are never stored in the store: use each backend's own chain (AWS_ACCESS_KEY_ID/"
    "AWS_SECRET_ACCESS_KEY or AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT_KEY "
    "or AZURE_STORAGE_CONNECTION_STRING; docs/remotes.md)"
)


@dataclass(frozen=True, eq=False, repr=False)
class RemoteRecord(Value):
    """One ``[remotes.NAME]`` table: where a remote's objects live, and for one user (in
    ``config.local.toml``) an endpoint or profile. No credentials: those come from the
    environment."""

    url: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None

    def to_toml(self) -> TomlTable:
        return {k: v for k in REMOTE_KEYS if (v := getattr(self, k)) is not None}

    def merged(self, override: RemoteRecord | None) -> RemoteRecord:
        """This record with the values ``override`` sets (a user's ``config.local.toml``)."""
        if override is None:
            return self
        return RemoteRecord(
            *(
                getattr(override, k) if getattr(override, k) is not None else getattr(self, k)
                for k in REMOTE_KEYS
            )
        )


Remotes = tuple[tuple[str, RemoteRecord], ...]


def _parse_remotes(reader: RecordReader, *, url_required: bool) -> tuple[Remotes, str | None]:
    """The ``[remote]`` table (its ``default``) and the ``[remotes.NAME]`` tables of a config
    file, checked: known keys only, no credential, valid names."""
    section = reader.table("remote")
    for key in section:
        if key != "default":
            raise reader.fail(f"unknown key 'remote.{key}' (only 'default')", key, "remote")
    default = reader.get("default", str, within=section)
    found: list[tuple[str, RemoteRecord]] = []
    for name, table in reader.table("remotes").items():
        where = f"remotes.{name}"
        try:
            validate_remote_name(name)
        except MregError as err:
            raise reader.fail(str(err), None) from None
        if not isinstance(table, dict):
            raise reader.fail(f"'{where}' must be a table", name, "remotes")
        for key, value in table.items():
            if _CREDENTIAL_KEY.fullmatch(key) and key not in REMOTE_KEYS:
                raise reader.fail(f"'{where}.{key}' looks like a credential; {CREDENTIALS_HINT}", key, where)
            if key not in REMOTE_KEYS:
                raise reader.fail(
                    f"unknown key '{where}.{key}' (known: {', '.join(REMOTE_KEYS)})", key, where
                )
            if not isinstance(value, str) or not value or len(value) > REMOTE_URL_MAX or "\n" in value:
                raise reader.fail(f"'{where}.{key}' must be a non-empty string on one line", key, where)
        if url_required and "url" not in table:
            raise reader.fail(f"missing '{where}.url'")
        found.append((name, RemoteRecord(*(table.get(k) for k in REMOTE_KEYS))))
    if default is not None:
        try:
            validate_remote_name(default)
        except MregError as err:
            raise reader.fail(str(err), "default", "remote") from None
    return tuple(sorted(found)), default


def _remotes_toml(remotes: Remotes, default: str | None) -> TomlTable:
    table: TomlTable = {}
    if default is not None:
        table["remote"] = {"default": default}
    if remotes:
        table["remotes"] = {name: record.to_toml() for name, record in sorted(remotes)}
    return table


@dataclass(frozen=True, eq=False, repr=False)
class ConfigRecord(Value):
    """``config.toml``: the format version and the settings. ``other`` keeps the tables this
    version of mreg does not know, so that rewriting the file never drops them."""

    format: int = FORMAT
    commit_objects: bool = False
    other: tuple[tuple[str, Any], ...] = ()
    remotes: Remotes = ()
    default_remote: str | None = None

    @classmethod
    def parse(cls, path: Path | str, raw: TomlTable) -> ConfigRecord:
        reader = RecordReader(path, raw)
        fmt = reader.get("format", int, required=True)
        if fmt > FORMAT:
            raise StoreError(
                f"{display_path(path)}: the store has format {fmt}, and this mreg reads format {FORMAT} "
                "at most: upgrade mreg"
            )
        if fmt < 1:
            raise reader.fail(f"unknown format {fmt}", "format")
        objects = reader.table("objects")
        commit = reader.get("commit", bool, default=False, within=objects)
        other = tuple((k, v) for k, v in raw.items() if k not in ("format", "objects", "remote", "remotes"))
        extra_objects = {k: v for k, v in objects.items() if k != "commit"}
        if extra_objects:
            other = (("objects", extra_objects), *other)
        remotes, default = _parse_remotes(reader, url_required=True)
        return cls(fmt, commit, other, remotes, default)

    def to_toml(self) -> TomlTable:
        other = dict(self.other)
        return {
            "format": self.format,
            "objects": {**other.pop("objects", {}), "commit": self.commit_objects},
            **_remotes_toml(self.remotes, self.default_remote),
            **other,
        }


@dataclass(frozen=True, eq=False, repr=False)
class LocalConfigRecord(Value):
    """``config.local.toml`` (git-ignored): one user's ``[remote] default`` and per-remote
    overrides (``url``, ``endpoint_url``, ``profile``). Any other key is an error."""

    remotes: Remotes = ()
    default_remote: str | None = None

    @classmethod
    def parse(cls, path: Path | str, raw: TomlTable) -> LocalConfigRecord:
        reader = RecordReader(path, raw)
        for key in raw:
            if key not in ("remote", "remotes"):
                raise reader.fail(f"unknown key '{key}' (only [remote] and [remotes.NAME])", key)
        remotes, default = _parse_remotes(reader, url_required=False)
        return cls(remotes, default)

    def to_toml(self) -> TomlTable:
        return _remotes_toml(self.remotes, self.default_remote)


# ----------------------------------------------------------------------------------------- model


@dataclass(frozen=True, eq=False, repr=False)
class ModelRecord(Value):
    """``models/<name>/model.toml``."""

    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, path: Path | str, raw: TomlTable) -> ModelRecord:
        r = RecordReader(path, raw)
        return cls(
            created_at=r.get("created_at", dt.datetime, required=True),
            created_by=r.get("created_by", str, required=True),
            updated_at=r.get("updated_at", dt.datetime, required=True),
            description=r.get("description", str, default=""),
            tags=r.string_table("tags"),
        )

    def to_toml(self) -> TomlTable:
        return {
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
            "description": self.description or None,
            "tags": _sorted_tags(self.tags),
        }

    def changed(self, when: dt.datetime, **changes: Any) -> ModelRecord:
        """A copy with ``changes`` applied and ``updated_at`` set to ``when``."""
        return dataclasses.replace(self, **changes, updated_at=when)

    def entity(
        self,
        name: str,
        aliases: dict[str, int] | None = None,
        latest_versions: Iterable[ModelVersion] = (),
    ) -> RegisteredModel:
        return RegisteredModel(
            name=name,
            created_at=self.created_at,
            updated_at=self.updated_at,
            created_by=self.created_by,
            description=self.description or None,
            tags=self.tags,
            aliases=dict(sorted((aliases or {}).items())),
            latest_versions=list(latest_versions),
        )


# --------------------------------------------------------------------------------------- version


def artifact_toml(artifact: Artifact) -> TomlTable:
    return {
        "kind": artifact.kind,
        "digest": None if artifact.digest is None else f"sha256:{artifact.digest}",
        "size": artifact.size,
        "uri": artifact.uri,
        "files": [f.to_dict() for f in artifact.files] or None,
    }


@dataclass(frozen=True, eq=False, repr=False)
class VersionRecord(Value):
    """``models/<name>/versions/<n>.toml`` of a live version."""

    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    source: str
    artifact: Artifact
    run_id: str = ""
    run_link: str = ""
    stage: str = "None"
    description: str = ""
    lineage: Lineage = field(default_factory=Lineage)
    tags: dict[str, str] = field(default_factory=dict)
    mlmodel: MLmodelInfo | None = None

    status = STATUS_READY
    deleted = False

    def to_toml(self) -> TomlTable:
        return {
            "status": STATUS_READY,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
            "source": self.source,
            "run_id": self.run_id or None,
            "run_link": self.run_link or None,
            "stage": self.stage,
            "description": self.description or None,
            "artifact": artifact_toml(self.artifact),
            "lineage": self.lineage.to_dict(),
            "tags": _sorted_tags(self.tags),
            "mlmodel": None if self.mlmodel is None else mlmodel_toml(self.mlmodel),
        }

    def changed(self, when: dt.datetime, **changes: Any) -> VersionRecord:
        """A copy with ``changes`` applied and ``updated_at`` set to ``when``."""
        return dataclasses.replace(self, **changes, updated_at=when)

    @property
    def artifact_id(self) -> str | None:
        """What identifies the artifact in an event: its digest, or the URI of a reference."""
        return f"sha256:{self.artifact.digest}" if self.artifact.digest else self.artifact.uri

    def entity(self, name: str, version: int, aliases: Iterable[str] = ()) -> ModelVersion:
        return ModelVersion(
            name=name,
            version=version,
            source=self.source,
            artifact=self.artifact,
            created_at=self.created_at,
            updated_at=self.updated_at,
            user_id=self.created_by,
            description=self.description or None,
            run_id=self.run_id or None,
            run_link=self.run_link or None,
            current_stage=self.stage,
            status=STATUS_READY,
            tags=self.tags,
            aliases=list(aliases),
            lineage=self.lineage,
            mlmodel=self.mlmodel,
        )


# The bounds of a version's ``[mlmodel]`` table, whether it comes from an MLmodel file (untrusted:
# ``mreg.mlmodel``) or from a version file: a signature of thousands of columns fits, a crafted
# file cannot make every listing carry megabytes.
MLMODEL_FLAVORS_MAX = 64
MLMODEL_FLAVOR_FIELDS_MAX = 64
MLMODEL_SIGNATURE_FIELDS_MAX = 4096
MLMODEL_TEXT_MAX = 1024
MLMODEL_SHAPE_MAX = 32
_SIGNATURE_KEYS = {"name": str, "type": str, "required": bool, "dtype": str, "shape": list, "default": str}
_MLMODEL_TEXTS = ("mlflow_version", "model_uuid", "utc_time_created")


def mlmodel_toml(info: MLmodelInfo) -> TomlTable:
    """The ``[mlmodel]`` table of a version file (and the form ``mlmodel_from_table`` reads)."""
    signature = None
    if info.signature is not None:
        signature = {
            part: [f.to_dict() for f in getattr(info.signature, part)] or None
            for part in ("inputs", "outputs", "params")
        }
    return {
        "mlflow_version": info.mlflow_version,
        "model_uuid": info.model_uuid,
        "utc_time_created": info.utc_time_created,
        "flavors": {name: dict(fields) for name, fields in info.flavors},
        "signature": signature,
    }


def mlmodel_text(value: object, what: str) -> str:
    """``value`` if it is a string of one printable line within ``MLMODEL_TEXT_MAX``; ValueError
    naming ``what`` otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    if not value or len(value) > MLMODEL_TEXT_MAX or not value.isprintable():
        raise ValueError(f"{what} must be one printable line of 1 to {MLMODEL_TEXT_MAX} characters")
    return value


def _signature_field(item: object, what: str) -> SignatureField:
    if not isinstance(item, dict):
        raise ValueError(f"{what} must be a table")
    for key, value in item.items():
        kind = _SIGNATURE_KEYS.get(key)
        if kind is None:
            raise ValueError(f"{what} has an unknown key {key!r}")
        if type(value) is not kind:
            raise ValueError(f"{what}.{key} has the wrong type")
    if "type" not in item:
        raise ValueError(f"{what} has no type")
    shape = item.get("shape")
    if shape is not None and (
        len(shape) > MLMODEL_SHAPE_MAX or not all(type(d) is int and -1 <= d < 2**62 for d in shape)
    ):
        raise ValueError(f"{what}.shape must be at most {MLMODEL_SHAPE_MAX} sizes, each -1 or more")
    texts = {
        k: mlmodel_text(item[k], f"{what}.{k}") for k in ("name", "type", "dtype", "default") if k in item
    }
    return SignatureField(
        name=texts.get("name"),
        type=texts["type"],
        required=item.get("required", True),
        dtype=texts.get("dtype"),
        shape=None if shape is None else tuple(shape),
        default=texts.get("default"),
    )


def mlmodel_from_table(table: object) -> MLmodelInfo:
    """An ``MLmodelInfo`` from its table (``mlmodel_toml``'s form), every type and length
    checked; ValueError saying what is wrong."""
    if not isinstance(table, dict):
        raise ValueError("must be a table")
    unknown = table.keys() - {"flavors", "signature", *_MLMODEL_TEXTS}
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r}")
    texts = {k: mlmodel_text(table[k], k) for k in _MLMODEL_TEXTS if k in table}
    flavors_table = table.get("flavors", {})
    if not isinstance(flavors_table, dict) or len(flavors_table) > MLMODEL_FLAVORS_MAX:
        raise ValueError(f"flavors must be a table of at most {MLMODEL_FLAVORS_MAX} flavors")
    flavors = []
    for name, fields in flavors_table.items():
        mlmodel_text(name, "a flavor's name")
        if not isinstance(fields, dict) or len(fields) > MLMODEL_FLAVOR_FIELDS_MAX:
            raise ValueError(f"flavors.{name} must be a table of at most {MLMODEL_FLAVOR_FIELDS_MAX} fields")
        flavors.append(
            (
                name,
                tuple(
                    (mlmodel_text(k, f"a field of flavors.{name}"), mlmodel_text(v, f"flavors.{name}.{k}"))
                    for k, v in fields.items()
                ),
            )
        )
    signature = None
    if "signature" in table:
        parts = table["signature"]
        if not isinstance(parts, dict) or not parts.keys() <= {"inputs", "outputs", "params"}:
            raise ValueError("signature must be a table of inputs, outputs and params")
        found: dict[str, tuple[SignatureField, ...]] = {}
        for part, items in parts.items():
            if not isinstance(items, list) or len(items) > MLMODEL_SIGNATURE_FIELDS_MAX:
                raise ValueError(f"signature.{part} must be a list of at most {MLMODEL_SIGNATURE_FIELDS_MAX}")
            found[part] = tuple(
                _signature_field(item, f"signature.{part}[{i}]") for i, item in enumerate(items)
            )
        signature = Signature(**found)
    return MLmodelInfo(flavors=tuple(flavors), signature=signature, **texts)


@dataclass(frozen=True, eq=False, repr=False)
class Tombstone(Value):
    """What a deleted version leaves: enough to keep its number taken, and no artifact."""

    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    source: str = ""
    deleted_by: str = ""

    status = STATUS_DELETED
    deleted = True

    def to_toml(self) -> TomlTable:
        return {
            "status": STATUS_DELETED,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
            "deleted_by": self.deleted_by,
            "source": self.source,
        }


AnyVersion = VersionRecord | Tombstone


# Bounds of a path in an artifact's file list: what a real folder can hold (PATH_MAX, NAME_MAX)
# and a nesting no copy needs to recurse through. A crafted record beyond them is refused when it
# is read, so no command meets a path 2,000 folders deep.
MANIFEST_PATH_MAX = 4096  # bytes, UTF-8
MANIFEST_NAME_MAX = 255  # bytes, one component
MANIFEST_DEPTH_MAX = 256  # components


def manifest_path_ok(rel: str) -> bool:
    """Whether ``rel`` may name a file of an artifact: a plain relative POSIX path within the
    bounds above. The fast and the checked reader of version files both ask this."""
    if len(rel) <= MANIFEST_NAME_MAX and rel.isascii() and rel.isprintable() and "/" not in rel:
        return rel not in ("", ".", "..") and "\\" not in rel  # one plain ASCII name: the common case
    if not rel or len(rel) > MANIFEST_PATH_MAX or "\\" in rel or "\x00" in rel:
        return False
    parts = rel.split("/")
    if len(parts) > MANIFEST_DEPTH_MAX or "" in parts or "." in parts or ".." in parts:
        return False
    try:
        encoded = rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    if len(encoded) == len(rel):  # ASCII: a component's length in characters is its size
        return all(len(p) <= MANIFEST_NAME_MAX for p in parts)
    return len(encoded) <= MANIFEST_PATH_MAX and all(
        len(p.encode("utf-8")) <= MANIFEST_NAME_MAX for p in parts
    )


def _check_manifest_path(r: RecordReader, rel: str) -> None:
    if not manifest_path_ok(rel):
        shown = rel if len(rel) <= 80 else rel[:80] + "…"
        raise r.fail(
            f"artifact file path {shown!r} is not a plain relative path of at most "
            f"{MANIFEST_DEPTH_MAX} folders and {MANIFEST_PATH_MAX} bytes"
        )


def _read_digest(r: RecordReader, value: str, key: str) -> str:
    hexpart = value.removeprefix("sha256:")
    if not _HEX64.fullmatch(hexpart):
        table, _, name = key.rpartition(".")
        raise r.fail(f"'{key}' must be a sha256 digest", name, table or None)
    return hexpart


def _read_artifact(r: RecordReader) -> Artifact:
    table = r.table("artifact")
    kind = r.get("kind", str, required=True, within=table)
    if kind == "uri":
        return Artifact(kind="uri", uri=r.get("uri", str, required=True, within=table))
    if kind not in ("file", "directory"):
        raise r.fail(f"unknown artifact kind {kind!r}", "kind", "artifact")
    digest = _read_digest(r, r.get("digest", str, required=True, within=table), "artifact.digest")
    size = r.get("size", int, required=True, within=table)
    entries = []
    for item in r.get("files", list, default=[], within=table):
        if not isinstance(item, dict):
            raise r.fail("'artifact.files' must be an array of tables")
        rel = r.get("path", str, required=True, within=item)
        _check_manifest_path(r, rel)
        sha = _read_digest(r, r.get("sha256", str, required=True, within=item), "artifact.files.sha256")
        entries.append(ArtifactFile(rel, sha, r.get("size", int, required=True, within=item)))
    if not entries:
        raise r.fail("artifact lists no files")
    if kind == "file" and len(entries) != 1:
        raise r.fail("a file artifact lists exactly one file")
    return Artifact(kind=kind, digest=digest, size=size, files=tuple(entries))


def _read_lineage(r: RecordReader) -> Lineage:
    table = r.table("lineage")
    return Lineage(
        git_commit=r.get("git_commit", str, within=table),
        git_branch=r.get("git_branch", str, within=table),
        git_dirty=r.get("git_dirty", bool, within=table),
        source_path=r.get("source_path", str, within=table),
    )


def parse_version(path: Path | str, raw: TomlTable) -> AnyVersion:
    """A version file: a ``VersionRecord``, or a ``Tombstone`` once the version is deleted."""
    fast = _fast_version(raw)
    return fast if fast is not None else _checked_version(path, raw)


_VERSION_KEYS = frozenset(
    {"status", "created_at", "created_by", "updated_at", "source", "run_id", "run_link", "stage"}
    | {"description", "artifact", "lineage", "tags"}
)
_ARTIFACT_KEYS = frozenset({"kind", "digest", "size", "uri", "files"})
_LINEAGE_KEYS = {"git_commit": str, "git_branch": str, "git_dirty": bool, "source_path": str}


def _utc(value: object) -> dt.datetime | None:
    if type(value) is dt.datetime and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return None


def _fast_version(raw: TomlTable) -> VersionRecord | None:
    """The record of a live version file exactly as the writer produces it, or None for
    anything else (tombstones, other key sets, any doubt): ``_checked_version`` then reads it,
    with the same result for a good file and an error naming the line for a bad one. Listings
    read thousands of version files, and this takes a third of the time."""
    if raw.get("status") != STATUS_READY or not raw.keys() <= _VERSION_KEYS:
        return None
    created_at, updated_at = _utc(raw.get("created_at")), _utc(raw.get("updated_at"))
    created_by, source = raw.get("created_by"), raw.get("source", "")
    run_id, run_link = raw.get("run_id", ""), raw.get("run_link", "")
    stage, description = raw.get("stage", "None"), raw.get("description", "")
    tags, artifact, lineage = raw.get("tags", {}), raw.get("artifact"), raw.get("lineage", {})
    if (
        created_at is None
        or updated_at is None
        or not all(type(v) is str for v in (created_by, source, run_id, run_link, description))
        or stage not in STAGES
        or type(tags) is not dict
        or not all(type(v) is str for v in tags.values())
        or type(artifact) is not dict
        or not artifact.keys() <= _ARTIFACT_KEYS
        or type(lineage) is not dict
        or not all(k in _LINEAGE_KEYS and type(v) is _LINEAGE_KEYS[k] for k, v in lineage.items())
    ):
        return None
    kind, files = artifact.get("kind"), artifact.get("files")
    if kind not in ("file", "directory") or type(files) is not list or not files:
        return None  # references (kind = "uri") and anything odd take the checked path
    digest, size = artifact.get("digest"), artifact.get("size")
    if type(digest) is not str or type(size) is not int or not digest.startswith("sha256:"):
        return None
    if not _HEX64.fullmatch(digest[7:]) or (kind == "file" and len(files) != 1):
        return None
    entries = []
    for item in files:
        if type(item) is not dict or item.keys() != {"path", "sha256", "size"}:
            return None
        rel, sha, file_size = item["path"], item["sha256"], item["size"]
        if type(rel) is not str or type(sha) is not str or type(file_size) is not int:
            return None
        if not manifest_path_ok(rel):
            return None
        hexpart = sha[7:] if sha.startswith("sha256:") else sha
        if not _HEX64.fullmatch(hexpart):
            return None
        entries.append(ArtifactFile(rel, hexpart, file_size))
    return VersionRecord(
        created_at=created_at,
        created_by=cast(str, created_by),
        updated_at=updated_at,
        source=source,
        artifact=Artifact(kind=kind, digest=digest[7:], size=size, files=tuple(entries)),
        run_id=run_id,
        run_link=run_link,
        stage=stage,
        description=description,
        lineage=Lineage(**lineage),
        tags=dict(tags),
    )


_WRITTEN: tuple[re.Pattern[str], re.Pattern[str], Any, type[Exception]] | None = None


def _written_version_patterns() -> tuple[re.Pattern[str], re.Pattern[str], Any, type[Exception]]:
    """The whole text of a live version file of one file, as the writer lays it out (keys in
    ``to_toml``'s order, tomli-w's spacing), and one of its tag lines, with ``simple_toml``'s
    ``unescape`` and ``NotSimple``. Compiled (and imported) on first use: only listings read
    enough version files to gain from it."""
    global _WRITTEN
    if _WRITTEN is None:
        from mreg.store.simple_toml import DATETIME, KEY, STRING_BODY, NotSimple, unescape

        text = rf'"({STRING_BODY})"'
        size = "(0|[1-9][0-9]{0,17})"  # well inside TOML's 64-bit integers
        whole = re.compile(
            rf'status = "READY"\ncreated_at = ({DATETIME})\ncreated_by = {text}\n'
            rf"updated_at = ({DATETIME})\nsource = {text}\n"
            rf"(?:run_id = {text}\n)?(?:run_link = {text}\n)?"
            rf'stage = "(None|Staging|Production|Archived)"\n(?:description = {text}\n)?'
            rf'\n\[artifact\]\nkind = "file"\ndigest = "sha256:([0-9a-f]{{64}})"\nsize = {size}\n'
            rf'\n\[\[artifact\.files\]\]\npath = {text}\nsha256 = "(?:sha256:)?([0-9a-f]{{64}})"\n'
            rf"size = {size}\n"
            rf"\n\[lineage\]\n(?:git_commit = {text}\n)?(?:git_branch = {text}\n)?"
            rf"(?:git_dirty = (true|false)\n)?(?:source_path = {text}\n)?"
            rf'(?:\n\[tags\]\n((?:{KEY} = "{STRING_BODY}"\n)+))?'
        )
        _WRITTEN = (whole, re.compile(rf"({KEY}) = {text}\n"), unescape, NotSimple)
    return _WRITTEN


def parse_written_version(text: str) -> VersionRecord | None:
    """The record of a version file whose text is exactly what the writer writes for a live
    version of one file, read with one pattern; None for any other text, which then takes the
    general reader (``parse_version``). Whenever this returns a record, it is the record
    ``parse_version`` returns for that file (``tests/test_records.py`` checks it on generated
    records and damaged texts). A listing reads thousands of version files: this is four times
    faster than parsing the TOML and checking the table."""
    whole, tag_line, unescape, not_simple = _WRITTEN or _written_version_patterns()
    m = whole.fullmatch(text)
    if m is None:
        return None
    (created, by, updated, source, run_id, run_link, stage, description, digest, size, rel, sha,
     file_size, commit, branch, dirty, source_path, tag_lines) = m.groups()  # fmt: skip
    try:
        rel = unescape(rel)
        if not manifest_path_ok(rel):
            return None
        tags = {}
        if tag_lines:
            found = tag_line.findall(tag_lines)
            for key, value in found:
                tags[unescape(key[1:-1]) if key[0] == '"' else key] = unescape(value)
            if len(tags) != len(found):
                return None  # a key twice: the general reader reports it
        if commit is None and branch is None and dirty is None and source_path is None:
            lineage = _NO_LINEAGE
        else:
            lineage = _made(
                Lineage,
                {
                    "git_commit": None if commit is None else unescape(commit),
                    "git_branch": None if branch is None else unescape(branch),
                    "git_dirty": None if dirty is None else dirty == "true",
                    "source_path": None if source_path is None else unescape(source_path),
                },
            )
        artifact_file = _made(ArtifactFile, {"path": rel, "sha256": sha, "size": int(file_size)})
        artifact = {
            "kind": "file",
            "digest": digest,
            "size": int(size),
            "files": (artifact_file,),
            "uri": None,
        }
        return _made(
            VersionRecord,
            {
                "created_at": dt.datetime.fromisoformat(created).astimezone(dt.UTC),
                "created_by": unescape(by),
                "updated_at": dt.datetime.fromisoformat(updated).astimezone(dt.UTC),
                "source": unescape(source),
                "artifact": _made(Artifact, artifact),
                "run_id": "" if run_id is None else unescape(run_id),
                "run_link": "" if run_link is None else unescape(run_link),
                "stage": stage,
                "description": "" if description is None else unescape(description),
                "lineage": lineage,
                "tags": tags,
                "mlmodel": None,
            },
        )
    except (not_simple, ValueError):
        return None


_NO_LINEAGE = Lineage()
_V = TypeVar("_V", bound=Value)


def _made(cls: type[_V], fields: dict[str, Any]) -> _V:
    """``cls(**fields)`` for a frozen dataclass given every one of its fields: the values set at
    once instead of by the generated ``__init__``, one ``object.__setattr__`` a field, which
    was a third of the time of reading a version file in a listing. (``tests/test_records.py``
    compares what ``parse_written_version`` makes with ``parse_version``'s records.)"""
    made = object.__new__(cls)
    made.__dict__.update(fields)
    return made


def _checked_version(path: Path | str, raw: TomlTable) -> AnyVersion:
    r = RecordReader(path, raw)
    status = r.get("status", str, required=True)
    created_at = r.get("created_at", dt.datetime, required=True)
    created_by = r.get("created_by", str, required=True)
    updated_at = r.get("updated_at", dt.datetime, required=True)
    source = r.get("source", str, default="")
    if status == STATUS_DELETED:
        return Tombstone(created_at, created_by, updated_at, source, r.get("deleted_by", str, default=""))
    if status != STATUS_READY:
        raise r.fail(f"unknown status {status!r}", "status")
    stage = r.get("stage", str, default="None")
    if stage not in STAGES:
        raise r.fail(f"unknown stage {stage!r}", "stage")
    return VersionRecord(
        created_at=created_at,
        created_by=cast(str, created_by),
        updated_at=updated_at,
        source=source,
        run_id=r.get("run_id", str, default=""),
        run_link=r.get("run_link", str, default=""),
        stage=stage,
        description=r.get("description", str, default=""),
        artifact=_read_artifact(r),
        lineage=_read_lineage(r),
        tags=r.string_table("tags"),
        mlmodel=_read_mlmodel(r),
    )


def _read_mlmodel(r: RecordReader) -> MLmodelInfo | None:
    if "mlmodel" not in r.record:
        return None
    try:
        return mlmodel_from_table(r.record["mlmodel"])
    except ValueError as err:
        raise r.fail(f"[mlmodel]: {err}", "mlmodel") from None


# ----------------------------------------------------------------------------------------- alias


@dataclass(frozen=True, eq=False, repr=False)
class AliasRecord(Value):
    """``models/<name>/aliases/<alias>``: the version the alias points at."""

    version: int

    @classmethod
    def parse(cls, path: Path | str, raw: TomlTable) -> AliasRecord:
        r = RecordReader(path, raw)
        version: int = r.get("version", int, required=True)
        if not 1 <= version <= VERSION_MAX:
            raise r.fail(f"version {version} is out of range", "version")
        return cls(version)

    def to_toml(self) -> TomlTable:
        return {"version": self.version}


_WRITTEN_ALIAS = re.compile(r"version = ([1-9][0-9]{0,17})\n")


def parse_written_alias(text: str) -> AliasRecord | None:
    """The record of an alias file exactly as the writer writes it (``version = N``), read with
    one pattern; None for any other text, which takes the TOML reader and ``AliasRecord.parse``
    (a listing of 10,000 models reads as many alias files)."""
    m = _WRITTEN_ALIAS.fullmatch(text)
    if m is None:
        return None
    version = int(m.group(1))
    return AliasRecord(version) if version <= VERSION_MAX else None


# ----------------------------------------------------------------------------------------- event


def event_toml(event: Event, *, with_model: bool) -> TomlTable:
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
        "policy_digest": event.policy_digest,
    }


def _typed(raw: TomlTable, key: str, kinds: tuple[type, ...], path: Path | str) -> Any:
    value = raw.get(key)
    if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
        raise DamagedStore(f"{display_path(path)}: '{key}' has the wrong type")
    return value


def parse_event(path: Path | str, raw: TomlTable, event_id: str, model: str) -> Event:
    """An event file (``event_id`` is its name without ``.toml``; ``model`` the folder's model,
    "" for store-level events, which name theirs)."""
    when = raw.get("time")
    if not isinstance(when, dt.datetime) or when.tzinfo is None:
        raise DamagedStore(f"{display_path(path)}: 'time' must be a UTC date-time")
    user = _typed(raw, "user", (str,), path)
    action = _typed(raw, "action", (str,), path)
    if not user or not action:
        raise DamagedStore(f"{display_path(path)}: 'user' and 'action' are required")
    return Event(
        id=event_id,
        time=when.astimezone(dt.UTC),
        user=user,
        action=action,
        model=_typed(raw, "model", (str,), path) or model,
        version=_typed(raw, "version", (int,), path),
        alias=_typed(raw, "alias", (str,), path),
        key=_typed(raw, "key", (str,), path),
        old=_typed(raw, "old", (str, int), path),
        new=_typed(raw, "new", (str, int), path),
        reason=_typed(raw, "reason", (str,), path),
        message=_typed(raw, "message", (str,), path),
        git_commit=_typed(raw, "git_commit", (str,), path),
        policy_digest=_digest(raw, path),
    )


def _digest(raw: TomlTable, path: Path | str) -> str | None:
    value = _typed(raw, "policy_digest", (str,), path)
    if value is not None and not _HEX64.fullmatch(value):
        raise DamagedStore(f"{display_path(path)}: 'policy_digest' must be 64 lowercase hex digits")
    return value  # type: ignore[no-any-return]


Record = ConfigRecord | ModelRecord | VersionRecord | Tombstone | AliasRecord
