"""An MLflow ``MLmodel`` file read as untrusted input: its flavors, signature and provenance.

Imported only when a registered folder holds an ``MLmodel`` at its top (``modelmeta``), since it
brings PyYAML. The file is parsed with ``yaml.safe_load`` (no tags that build Python objects), at
most ``files.MAX_METADATA_BYTES`` long; the signature's parts are JSON text inside the YAML. Every
value kept is checked for type and length by ``records.mlmodel_from_table``, the reader of the
version file's ``[mlmodel]`` table, so what a register stores is what a later read accepts.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import yaml

from mreg.entities import MLmodelInfo
from mreg.store.records import MLMODEL_SIGNATURE_FIELDS_MAX, MLMODEL_TEXT_MAX, mlmodel_from_table

_TYPE_DEPTH_MAX = 8  # nesting of array, object and map column types


class MalformedMLmodel(ValueError):
    """An MLmodel file that is not what MLflow writes."""


def parse(data: bytes) -> MLmodelInfo:
    """The metadata of an MLmodel file's bytes; MalformedMLmodel saying what is wrong."""
    try:
        text = data.decode("utf-8")
        document = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise MalformedMLmodel("it is not UTF-8 text") from None
    except yaml.YAMLError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MalformedMLmodel(f"it is not YAML that mreg reads ({first})") from None
    except RecursionError:
        raise MalformedMLmodel("it is nested too deeply") from None
    if not isinstance(document, dict):
        raise MalformedMLmodel("it is not a mapping of keys")
    try:
        return mlmodel_from_table(_table(document))
    except RecursionError:
        raise MalformedMLmodel("it is nested too deeply") from None
    except ValueError as err:
        raise MalformedMLmodel(str(err)) from None


def _table(document: dict[Any, Any]) -> dict[str, Any]:
    """The ``[mlmodel]`` table (``records.mlmodel_toml``'s form) of a parsed MLmodel."""
    table: dict[str, Any] = {}
    for key in ("mlflow_version", "model_uuid", "utc_time_created"):
        value = document.get(key)
        if value is not None:
            table[key] = _scalar(value, key)
    flavors = document.get("flavors")
    if flavors is not None:
        if not isinstance(flavors, dict):
            raise ValueError("flavors must be a mapping")
        table["flavors"] = {name: _flavor_fields(name, fields) for name, fields in flavors.items()}
    signature = document.get("signature")
    if signature is not None:
        if not isinstance(signature, dict):
            raise ValueError("signature must be a mapping")
        table["signature"] = {
            part: _signature_part(signature.get(part), part, param=part == "params")
            for part in ("inputs", "outputs", "params")
        }
    return table


def _scalar(value: object, what: str) -> object:
    """A one-line value as text: strings as they are, numbers and booleans as YAML writes them
    (``mlflow_version: 2.10`` reads as a number), a date-time as ISO text. Anything else is left
    for the checks to refuse."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _flavor_fields(name: object, fields: object) -> dict[object, object]:
    """A flavor's one-line fields; nested ones (``env``, ``code`` paths as lists) and empty
    ones are left out."""
    if not isinstance(fields, dict):
        raise ValueError(f"flavors.{name} must be a mapping")
    return {
        key: _scalar(value, f"flavors.{name}.{key}")
        for key, value in fields.items()
        if value is not None and not isinstance(value, dict | list)
    }


def _signature_part(text: object, part: str, *, param: bool) -> list[dict[str, Any]]:
    if text is None:
        return []
    if not isinstance(text, str):
        raise ValueError(f"signature.{part} must be JSON text")
    try:
        items = json.loads(text)
    except ValueError:
        raise ValueError(f"signature.{part} is not JSON") from None
    if items is None:
        return []
    if not isinstance(items, list) or len(items) > MLMODEL_SIGNATURE_FIELDS_MAX:
        raise ValueError(f"signature.{part} must be a list of at most {MLMODEL_SIGNATURE_FIELDS_MAX}")
    return [_spec(item, f"signature.{part}[{i}]", param) for i, item in enumerate(items)]


def _spec(item: object, what: str, param: bool) -> dict[str, Any]:
    """One column, tensor or param spec as a signature row (``SignatureField``'s fields)."""
    if not isinstance(item, dict):
        raise ValueError(f"{what} must be a mapping")
    row: dict[str, Any] = {}
    if item.get("name") is not None:
        row["name"] = item["name"]
    if item.get("type") == "tensor":
        spec = item.get("tensor-spec")
        if not isinstance(spec, dict):
            raise ValueError(f"{what} is a tensor without a tensor-spec")
        row.update(type="tensor", dtype=spec.get("dtype"), shape=_shape(spec.get("shape"), what))
    else:
        shown = _type_text(item, what, 0)  # long object types are cut: the text is for reading
        row["type"] = shown if len(shown) <= MLMODEL_TEXT_MAX else shown[: MLMODEL_TEXT_MAX - 1] + "…"
    if param:
        if "default" in item:
            row["default"] = json.dumps(item["default"], ensure_ascii=False)
        if item.get("shape") is not None:
            row["shape"] = _shape(item["shape"], what)
    else:
        required = item.get("required", True)
        if not isinstance(required, bool):
            raise ValueError(f"{what}.required must be true or false")
        row["required"] = required
    return row


def _shape(shape: object, what: str) -> object:
    if not isinstance(shape, list):
        raise ValueError(f"{what}.shape must be a list of sizes")
    return shape


def _type_text(spec: dict[Any, Any], what: str, depth: int) -> str:
    """A column type as MLflow's UI writes it: ``double``, ``Array(string)``,
    ``Map(str -> long)``, ``{a: double, b: string (optional)}``."""
    if depth > _TYPE_DEPTH_MAX:
        raise ValueError(f"{what} nests types more than {_TYPE_DEPTH_MAX} deep")
    kind = spec.get("type")
    if kind == "array":
        return f"Array({_inner(spec.get('items'), what, depth)})"
    if kind == "map":
        return f"Map(str -> {_inner(spec.get('values'), what, depth)})"
    if kind == "object":
        properties = spec.get("properties")
        if not isinstance(properties, dict):
            raise ValueError(f"{what} is an object without properties")
        shown = []
        for name, inner in properties.items():
            optional = isinstance(inner, dict) and inner.get("required") is False
            shown.append(f"{name}: {_inner(inner, what, depth)}{' (optional)' if optional else ''}")
        return "{" + ", ".join(shown) + "}"
    if not isinstance(kind, str):
        raise ValueError(f"{what}.type must be a string")
    return kind


def _inner(spec: object, what: str, depth: int) -> str:
    if not isinstance(spec, dict):
        raise ValueError(f"{what} has a nested type that is not a mapping")
    return _type_text(spec, what, depth + 1)
