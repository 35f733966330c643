"""A small validator for the part of JSON Schema that docs/json-schema/ uses.

Keywords: ``$ref`` (to ``#/$defs/…``), ``anyOf``, ``type`` (a name or a list of names), ``properties``,
``required``, ``additionalProperties`` (true, false or a schema), ``items``, ``enum``,
``pattern``, ``minimum`` and ``format: date-time`` (mreg's form: UTC, microseconds, ``Z``).
A schema using any other keyword is rejected, so the schema cannot say more than is checked.
"""

from __future__ import annotations

import re
from typing import Any

_ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description"}
_CHECKED = {
    "$ref",
    "anyOf",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "pattern",
}
_CHECKED |= {"minimum", "format"}
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class SchemaError(Exception):
    """The schema itself uses something this validator does not check."""


def validate(
    instance: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, at: str = "$"
) -> list[str]:
    """Every way ``instance`` breaks ``schema``, as ``'$.a[0].b: message'`` lines (empty: valid)."""
    root = schema if root is None else root
    unknown = set(schema) - _ANNOTATIONS - _CHECKED
    if unknown:
        raise SchemaError(f"unsupported keyword(s) {sorted(unknown)} at {at}")
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/") or ref[len("#/$defs/") :] not in root.get("$defs", {}):
            raise SchemaError(f"unresolvable $ref {ref!r} at {at}")
        return validate(instance, root["$defs"][ref[len("#/$defs/") :]], root, at)
    errors: list[str] = []
    if "anyOf" in schema:
        attempts = [validate(instance, option, root, at) for option in schema["anyOf"]]
        if all(attempts):
            return [f"{at}: matches none of anyOf: " + " | ".join(a[0] for a in attempts)]
    if "type" in schema:
        names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        if not any(_TYPES[name](instance) for name in names):
            return [f"{at}: expected {' or '.join(names)}, got {type(instance).__name__} {instance!r:.60}"]
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{at}: {instance!r} is not one of {schema['enum']}")
    if isinstance(instance, str):
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            errors.append(f"{at}: {instance!r} does not match {schema['pattern']}")
        if schema.get("format") == "date-time" and not _DATE_TIME.fullmatch(instance):
            errors.append(f"{at}: {instance!r} is not a UTC time like 2026-11-26T10:30:00.123456Z")
    if "minimum" in schema and isinstance(instance, int | float) and instance < schema["minimum"]:
        errors.append(f"{at}: {instance} is less than {schema['minimum']}")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in instance:
                errors.append(f"{at}: missing required field {key!r}")
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in properties:
                errors += validate(value, properties[key], root, f"{at}.{key}")
            elif extra is False:
                errors.append(f"{at}: field {key!r} is not in the schema")
            elif isinstance(extra, dict):
                errors += validate(value, extra, root, f"{at}.{key}")
    if isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            errors += validate(item, schema["items"], root, f"{at}[{index}]")
    return errors
