"""mreg: a model registry that lives in a folder.

from mreg import Registry
registry = Registry()                       # the nearest .mreg, as the CLI finds it
mv = registry.create_model_version("fraud", "model.onnx")
registry.set_registered_model_alias("fraud", "champion", mv.version)
"""

from typing import TYPE_CHECKING, Any

from mreg.entities import AliasSpan, Artifact, ArtifactFile, Event, Lineage, ModelVersion, RegisteredModel
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
from mreg.uris import ModelRef, parse_model_uri

if TYPE_CHECKING:
    from mreg.search import PagedList


def __getattr__(name: str) -> Any:
    # PagedList lives in mreg.search, which only searches import (it costs start-up time).
    if name == "PagedList":
        from mreg.search import PagedList

        return PagedList
    raise AttributeError(f"module 'mreg' has no attribute {name!r}")


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
