"""mreg: a model registry that lives in a folder.

from mreg import Registry
registry = Registry()                       # the nearest .mreg, as the CLI finds it
mv = registry.create_model_version("fraud", "model.onnx")
registry.set_registered_model_alias("fraud", "champion", mv.version)
"""

from __future__ import annotations

# Not `from typing import TYPE_CHECKING`: typing imports re, and the command's entry point makes
# Ctrl-C a one-line error only after this package is imported (mypy knows this name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mreg.entities import (
        AliasSpan,
        Artifact,
        ArtifactFile,
        Event,
        Lineage,
        ModelVersion,
        RegisteredModel,
    )
    from mreg.errors import (
        AlreadyExists,
        Conflict,
        IntegrityError,
        InvalidFilter,
        InvalidInput,
        LockTimeout,
        MregError,
        NotFound,
        PolicyViolation,
        RemoteError,
        StoreError,
    )
    from mreg.registry import Registry, init_store, locate_store
    from mreg.search import PagedList
    from mreg.uris import ModelRef, parse_model_uri

__version__ = "0.1.0"

# The public API, imported from its module on first use: `import mreg` (which every `mreg`
# command does first) costs nothing, and `mreg --version` never loads the registry.
_EXPORTS = {
    "AliasSpan": "mreg.entities",
    "Artifact": "mreg.entities",
    "ArtifactFile": "mreg.entities",
    "Event": "mreg.entities",
    "Lineage": "mreg.entities",
    "ModelVersion": "mreg.entities",
    "RegisteredModel": "mreg.entities",
    "AlreadyExists": "mreg.errors",
    "Conflict": "mreg.errors",
    "IntegrityError": "mreg.errors",
    "InvalidFilter": "mreg.errors",
    "InvalidInput": "mreg.errors",
    "LockTimeout": "mreg.errors",
    "MregError": "mreg.errors",
    "NotFound": "mreg.errors",
    "PolicyViolation": "mreg.errors",
    "RemoteError": "mreg.errors",
    "StoreError": "mreg.errors",
    "Registry": "mreg.registry",
    "init_store": "mreg.registry",
    "locate_store": "mreg.registry",
    "PagedList": "mreg.search",
    "ModelRef": "mreg.uris",
    "parse_model_uri": "mreg.uris",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mreg' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "AliasSpan",
    "AlreadyExists",
    "Artifact",
    "ArtifactFile",
    "Conflict",
    "Event",
    "IntegrityError",
    "InvalidFilter",
    "InvalidInput",
    "Lineage",
    "LockTimeout",
    "ModelRef",
    "ModelVersion",
    "MregError",
    "NotFound",
    "PagedList",
    "PolicyViolation",
    "RegisteredModel",
    "Registry",
    "RemoteError",
    "StoreError",
    "__version__",
    "init_store",
    "locate_store",
    "parse_model_uri",
]
