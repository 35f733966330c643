"""The TOML form of each record and its checked conversion to and from the entity types.

Key order here is the order in the files. Reading checks types and refuses values no writer of
this format produces (with the file named), so a hand-edited or corrupted file is reported, not
trusted: a manifest path cannot point outside an artifact, a digest is 64 hex digits.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from mreg.entities import Artifact, ArtifactFile, Lineage
from mreg.errors import StoreError
from mreg.names import STAGES, VERSION_MAX
from mreg.store.files import display_path, line_of_key
from mreg.store.layout import FORMAT

_HEX64 = re.compile(r"[0-9a-f]{64}")
STATUS_READY = "READY"
STATUS_DELETED = "DELETED"


class RecordReader:
    """Typed access to one parsed TOML file, with errors that name it."""

    def __init__(self, path: Path | str, record: dict[str, Any]) -> None:
        self.path = path
        self.record = record

    def fail(self, what: str, key: str | None = None, table: str | None = None) -> StoreError:
        """An error naming the file and, when ``key`` is given and found, its line."""
        line = None if key is None else line_of_key(self.path, key, table)
        return StoreError(f"{display_path(self.path)}:{'' if line is None else f'{line}:'} {what}")

    def get(
        self,
        key: str,
        kind: type,
        *,
        required: bool = False,
        default: Any = None,
        within: dict[str, Any] | None = None,
    ) -> Any:
        source = self.record if within is None else within
        table = None if within is None else self._table_name(within)
        if key not in source:
            if required and not self.record:
                raise StoreError(f"{display_path(self.path)}:1: the file is empty")
            if required:
                raise self.fail(f"missing '{key}'")
            return default
        value = source[key]
        if kind is int and isinstance(value, bool):
            raise self.fail(f"'{key}' must be an integer", key, table)
        if not isinstance(value, kind):
            raise self.fail(f"'{key}' must be {_kind_name(kind)}", key, table)
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise self.fail(f"'{key}' must carry a UTC offset", key, table)
            return value.astimezone(dt.UTC)
        return value

    def _table_name(self, table: dict[str, Any]) -> str | None:
        for name, value in self.record.items():
            if value is table:
                return name
        return None

    def table(self, key: str) -> dict[str, Any]:
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


# ---------------------------------------------------------------------------------------- config


def config_record(*, commit_objects: bool) -> dict[str, Any]:
    return {"format": FORMAT, "objects": {"commit": commit_objects}}


def check_config(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    reader = RecordReader(path, record)
    fmt = reader.get("format", int, required=True)
    if fmt > FORMAT:
        raise StoreError(
            f"{display_path(path)}: the store has format {fmt}, and this mreg reads format {FORMAT} "
            "at most: upgrade mreg"
        )
    if fmt < 1:
        raise reader.fail(f"unknown format {fmt}", "format")
    reader.get("commit", bool, within=reader.table("objects"))
    return record


# ----------------------------------------------------------------------------------------- model


def model_record(
    *,
    created_at: dt.datetime,
    created_by: str,
    updated_at: dt.datetime,
    description: str,
    tags: dict[str, str],
) -> dict[str, Any]:
    return {
        "created_at": created_at,
        "created_by": created_by,
        "updated_at": updated_at,
        "description": description or None,
        "tags": dict(sorted(tags.items())) or None,
    }


def read_model(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Checked model fields: created_at, created_by, updated_at, description, tags."""
    r = RecordReader(path, record)
    return {
        "created_at": r.get("created_at", dt.datetime, required=True),
        "created_by": r.get("created_by", str, required=True),
        "updated_at": r.get("updated_at", dt.datetime, required=True),
        "description": r.get("description", str, default=""),
        "tags": r.string_table("tags"),
    }


# --------------------------------------------------------------------------------------- version


def artifact_record(artifact: Artifact) -> dict[str, Any]:
    return {
        "kind": artifact.kind,
        "digest": None if artifact.digest is None else f"sha256:{artifact.digest}",
        "size": artifact.size,
        "uri": artifact.uri,
        "files": [f.to_dict() for f in artifact.files] or None,
    }


def version_record(
    *,
    status: str,
    created_at: dt.datetime,
    created_by: str,
    updated_at: dt.datetime,
    source: str,
    run_id: str,
    run_link: str,
    description: str,
    stage: str,
    artifact: Artifact,
    lineage: Lineage,
    tags: dict[str, str],
) -> dict[str, Any]:
    return {
        "status": status,
        "created_at": created_at,
        "created_by": created_by,
        "updated_at": updated_at,
        "source": source,
        "run_id": run_id or None,
        "run_link": run_link or None,
        "stage": stage,
        "description": description or None,
        "artifact": artifact_record(artifact),
        "lineage": lineage.to_dict(),
        "tags": dict(sorted(tags.items())) or None,
    }


def tombstone_record(
    *, created_at: dt.datetime, created_by: str, deleted_at: dt.datetime, deleted_by: str, source: str
) -> dict[str, Any]:
    """What a deleted version leaves: enough to keep its number taken, and no artifact."""
    return {
        "status": STATUS_DELETED,
        "created_at": created_at,
        "created_by": created_by,
        "updated_at": deleted_at,
        "deleted_by": deleted_by,
        "source": source,
    }


def _check_manifest_path(r: RecordReader, rel: str) -> None:
    parts = rel.split("/")
    if (
        not rel
        or rel.startswith("/")
        or "\\" in rel
        or "\x00" in rel
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise r.fail(f"artifact file path {rel!r} is not a plain relative path")


def _read_digest(r: RecordReader, value: str, key: str) -> str:
    hexpart = value.removeprefix("sha256:")
    if not _HEX64.fullmatch(hexpart):
        table, _, name = key.rpartition(".")
        raise r.fail(f"'{key}' must be a sha256 digest", name, table or None)
    return hexpart


def read_artifact(r: RecordReader) -> Artifact:
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


def read_lineage(r: RecordReader) -> Lineage:
    table = r.table("lineage")
    return Lineage(
        git_commit=r.get("git_commit", str, within=table),
        git_branch=r.get("git_branch", str, within=table),
        git_dirty=r.get("git_dirty", bool, within=table),
        source_path=r.get("source_path", str, within=table),
    )


def read_version(path: Path | str, record: dict[str, Any]) -> dict[str, Any]:
    """Checked version fields. A tombstone has ``status == 'DELETED'`` and no artifact."""
    r = RecordReader(path, record)
    status = r.get("status", str, required=True)
    fields: dict[str, Any] = {
        "status": status,
        "created_at": r.get("created_at", dt.datetime, required=True),
        "created_by": r.get("created_by", str, required=True),
        "updated_at": r.get("updated_at", dt.datetime, required=True),
        "source": r.get("source", str, default=""),
    }
    if status == STATUS_DELETED:
        fields["deleted_by"] = r.get("deleted_by", str, default="")
        return fields
    if status != STATUS_READY:
        raise r.fail(f"unknown status {status!r}", "status")
    stage = r.get("stage", str, default="None")
    if stage not in STAGES:
        raise r.fail(f"unknown stage {stage!r}", "stage")
    fields.update(
        run_id=r.get("run_id", str, default=""),
        run_link=r.get("run_link", str, default=""),
        stage=stage,
        description=r.get("description", str, default=""),
        artifact=read_artifact(r),
        lineage=read_lineage(r),
        tags=r.string_table("tags"),
    )
    return fields


# ----------------------------------------------------------------------------------------- alias


def alias_record(version: int) -> dict[str, Any]:
    return {"version": version}


def read_alias(path: Path, record: dict[str, Any]) -> int:
    r = RecordReader(path, record)
    version: int = r.get("version", int, required=True)
    if not 1 <= version <= VERSION_MAX:
        raise r.fail(f"version {version} is out of range", "version")
    return version
