"""What a new version records as its artifact, source and lineage.

A local file or folder is copied into the object store, a URI is recorded as a reference, and a
``models:/`` URI of this registry names a version whose artifact the new version shares: the same
object, so nothing is copied (MLflow's ``copy_model_version`` registers such a source).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mreg import names
from mreg.errors import InvalidInput
from mreg.uris import SCHEME

if TYPE_CHECKING:
    from mreg.entities import Artifact, Lineage, MLmodelInfo, ModelVersion
    from mreg.store.store import Store


@dataclass(frozen=True)
class VersionSource:
    """The artifact a version points at, its ``source`` as recorded, its lineage, the
    ``models:/NAME/VERSION`` it was copied from (None for a new artifact), and the metadata of
    the artifact's MLmodel file (None without one)."""

    artifact: Artifact
    source: str
    lineage: Lineage
    copied_from: str | None = None
    mlmodel: MLmodelInfo | None = None


def version_source(
    store: Store,
    source: str | os.PathLike[str],
    *,
    resolve: Callable[[str], ModelVersion],
    local_model_path: str | os.PathLike[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> VersionSource:
    """Store or find the artifact of a version registered from ``source`` (call it holding the
    objects pin). With ``local_model_path`` (MlflowClient's argument) the bytes come from that
    local path and ``source`` is recorded as given."""
    text = os.fspath(source)
    if not isinstance(text, str) or not text:
        raise InvalidInput("source must not be empty")
    if text.startswith(SCHEME) and local_model_path is None:
        origin = resolve(text)
        record = store.live_version(origin.name, origin.version)
        uri = f"{SCHEME}{origin.name}/{origin.version}"
        return VersionSource(record.artifact, uri, record.lineage, copied_from=uri, mlmodel=record.mlmodel)
    from_path = source if local_model_path is None else local_model_path
    artifact, source_text, source_path = store.objects.store_source(from_path, progress)
    from mreg import gitinfo, modelmeta  # here: only registering asks git or reads an MLmodel

    mlmodel = modelmeta.mlmodel_of(store.objects, artifact)
    lineage = gitinfo.lineage(store.root.parent, source_path, store.root)
    if local_model_path is not None:
        source_text = names.validate_text(text, "source", names.SOURCE_MAX)
    elif source_path is not None:
        source_text = lineage.source_path or str(source_path.absolute())
    return VersionSource(artifact, source_text, lineage, mlmodel=mlmodel)
