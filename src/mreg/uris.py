"""The model URI parser: ``models:/NAME/VERSION``, ``models:/NAME@ALIAS``, ``models:/NAME/latest``,
``models:/NAME/STAGE`` and the short forms ``NAME/VERSION``, ``NAME@ALIAS`` (and ``NAME/latest``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mreg.errors import InvalidInput
from mreg.names import STAGES, canonical_stage, validate_model_name, validate_version
from mreg.value import Value

SCHEME = "models:/"
# The alias charset of names.validate_alias; the reserved forms (latest, v<digits>) are read below.
_ALIAS = r"[A-Za-z0-9_-]{1,255}"  # compiled on first use


@dataclass(frozen=True, eq=False, repr=False)
class ModelRef(Value):
    """A parsed URI: ``name`` plus exactly one of ``version``, ``alias``, ``stage``, ``latest``."""

    name: str
    version: int | None = None
    alias: str | None = None
    stage: str | None = None
    latest: bool = False

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{SCHEME}{self.name}@{self.alias}"
        if self.version is not None:
            return f"{SCHEME}{self.name}/{self.version}"
        return f"{SCHEME}{self.name}/{'latest' if self.latest else self.stage}"


def parse_model_uri(uri: str) -> ModelRef:
    """Parse a model URI; raise InvalidInput with what was expected."""
    if not isinstance(uri, str):
        raise InvalidInput("model URI must be a string")
    rest = uri[len(SCHEME) :] if uri.startswith(SCHEME) else uri
    if uri.startswith("models:") and not uri.startswith(SCHEME):
        raise InvalidInput(f"invalid model URI {uri!r}: expected models:/NAME/VERSION or models:/NAME@ALIAS")
    if "@" in rest:
        name, _, alias = rest.rpartition("@")
        validate_model_name(name)
        if not re.fullmatch(_ALIAS, alias):
            raise InvalidInput(f"invalid alias {alias!r} in model URI {uri!r}")
        if alias.lower() == "latest":
            return ModelRef(name, latest=True)
        if alias[:1] in "vV" and alias[1:].isdigit():
            return ModelRef(name, version=validate_version(alias[1:]))
        return ModelRef(name, alias=alias)
    name, slash, spec = rest.rpartition("/")
    if not slash or not spec:
        raise InvalidInput(
            f"invalid model URI {uri!r}: expected models:/NAME/VERSION, models:/NAME@ALIAS, "
            "models:/NAME/latest or models:/NAME/STAGE"
        )
    validate_model_name(name)
    if spec.isascii() and spec.isdigit():
        return ModelRef(name, version=validate_version(spec))
    if spec.lower() == "latest":
        return ModelRef(name, latest=True)
    if spec.lower() in (s.lower() for s in STAGES):
        return ModelRef(name, stage=canonical_stage(spec))
    raise InvalidInput(
        f"invalid model URI {uri!r}: {spec!r} is not a version number, 'latest' or a stage "
        f"({', '.join(STAGES)})"
    )


def parse_version_ref(name: str, spec: str) -> ModelRef:
    """A version given next to a model name on the command line: ``7``, ``latest``, a stage, or
    ``@alias``. Parsed by the same rules as a URI."""
    if spec.startswith("@"):
        return parse_model_uri(f"{SCHEME}{name}{spec}")
    return parse_model_uri(f"{SCHEME}{name}/{spec}")
