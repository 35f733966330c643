"""mreg: a model registry that lives in a folder.

from mreg import Registry
registry = Registry()                       # the nearest .mreg, as the CLI finds it
mv = registry.create_model_version("fraud", "model.onnx")
registry.set_registered_model_alias("fraud", "champion", mv.version)
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        StoreError,
    )
    from mreg.registry import Registry, init_store, locate_store
    from mreg.search import PagedList
    from mreg.uris import ModelRef, parse_model_uri

# Each public name and the module that defines it, imported on first use: importing the package
# costs nothing, so the command's entry point (mreg.cli.entry) runs its first line before any
# module of weight is loaded, and mreg.search (costly) is loaded only by searches.
_WHERE = {
    **dict.fromkeys(
        ["AliasSpan", "Artifact", "ArtifactFile", "Event", "Lineage", "ModelVersion", "RegisteredModel"],
        "mreg.entities",
    ),
    **dict.fromkeys(
        [
            "AlreadyExists",
            "Conflict",
            "IntegrityError",
            "InvalidFilter",
            "InvalidInput",
            "LockTimeout",
            "MregError",
            "NotFound",
            "StoreError",
        ],
        "mreg.errors",
    ),
    **dict.fromkeys(["Registry", "init_store", "locate_store"], "mreg.registry"),
    **dict.fromkeys(["ModelRef", "parse_model_uri"], "mreg.uris"),
    "PagedList": "mreg.search",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'mreg' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__version__ = "0.1.0"

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
    "RegisteredModel",
    "Registry",
    "StoreError",
    "__version__",
    "init_store",
    "locate_store",
    "parse_model_uri",
]
