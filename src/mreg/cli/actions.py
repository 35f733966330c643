"""What ``resolve`` and ``alias set`` do once their arguments are parsed, and the ``--field``
values every command shares. Free of Typer: the Typer commands and the fast path of the ``mreg``
script (``fastpath``) call these same functions, so the two print the same thing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from mreg.cli.output import emit_json, emit_line, message
from mreg.textsafe import escape_line
from mreg.uris import SCHEME, parse_version_ref

if TYPE_CHECKING:
    from mreg.entities import ModelVersion
    from mreg.registry import Registry


class Field(StrEnum):
    """What ``--field`` prints of a version: one value, for ``$(…)`` in scripts."""

    path = "path"
    version = "version"
    digest = "digest"
    source = "source"
    name = "name"
    uri = "uri"
    stage = "stage"
    run_id = "run_id"


def field_value(registry: Registry, mv: ModelVersion, field: Field) -> str:
    """The text ``--field`` prints. The path is mreg's own (inside the store) and exact; every
    other field may hold stored text, whose control characters are escaped (``--json`` keeps them)."""
    if field is Field.path:
        return str(registry.artifact_path(mv))
    if field is Field.digest:
        value = f"sha256:{mv.artifact.digest}" if mv.artifact.digest else ""
    elif field is Field.uri:
        value = f"{SCHEME}{mv.name}/{mv.version}"
    elif field is Field.stage:
        value = mv.current_stage
    else:
        found = getattr(mv, field.value)
        value = "" if found is None else str(found)  # an unset run id prints an empty line
    return escape_line(value)


def lookup(registry: Registry, name: str, spec: str) -> ModelVersion:
    """The version ``spec`` names for model ``name`` (through the URI parser)."""
    return registry.resolve(parse_version_ref(name, spec))


def resolve(registry: Registry, uri: str, field: Field | None, as_json: bool) -> None:
    """``mreg resolve URI``: one field, the JSON, or a few lines for a person."""
    mv = registry.resolve(uri)
    if field is not None:
        emit_line(field_value(registry, mv, field))
        return
    path = None if mv.artifact.kind == "uri" else str(registry.artifact_path(mv))
    if as_json:
        emit_json({**mv.to_dict(), "uri": f"{SCHEME}{mv.name}/{mv.version}", "path": path})
        return
    emit_line(escape_line(f"uri      {SCHEME}{mv.name}/{mv.version}"))
    emit_line(escape_line(f"aliases  {', '.join(mv.aliases) or 'none'}"))
    emit_line(escape_line(f"stage    {mv.current_stage}"))
    emit_line(escape_line(f"source   {mv.source}"))
    if mv.artifact.digest:
        emit_line(escape_line(f"digest   sha256:{mv.artifact.digest}"))
    emit_line(escape_line(f"path     {path if path is not None else mv.artifact.uri}"))


def set_alias(
    registry: Registry,
    name: str,
    alias: str,
    version: str,
    *,
    expect: int | None,
    msg: str | None,
    quiet: bool,
) -> None:
    """``mreg alias set NAME ALIAS VERSION``: move (or create) the alias, say where it points."""
    target = lookup(registry, name, version).version
    registry.set_registered_model_alias(name, alias, target, expect=expect, message=msg)
    if not quiet:
        message(f"{name}@{alias} → version {target}")
