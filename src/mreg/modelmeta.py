"""What a registered folder says about itself: today, the ``MLmodel`` file MLflow writes at the
top of a saved model (docs/mlflow.md, "MLmodel metadata").

Free of PyYAML and of ``mreg.mlmodel``: a register of anything else imports neither. A missing
PyYAML or a malformed file is one ``warning:`` line on stderr, and the version registers without
the metadata.
"""

from __future__ import annotations

import sys

from mreg.entities import Artifact, MLmodelInfo
from mreg.store.files import MAX_METADATA_BYTES
from mreg.store.objects import ObjectStore
from mreg.textsafe import escape_line

MLMODEL = "MLmodel"


def warn(text: str) -> None:
    sys.stderr.write(f"warning: {escape_line(text)}\n")


def mlmodel_of(objects: ObjectStore, artifact: Artifact) -> MLmodelInfo | None:
    """The metadata of the ``MLmodel`` at the top of a stored folder, or None (no such file, or
    one that could not be read, with a warning)."""
    if artifact.kind != "directory":
        return None
    entry = next((f for f in artifact.files if f.path == MLMODEL), None)
    if entry is None:
        return None
    if entry.size > MAX_METADATA_BYTES:
        warn(
            f"MLmodel is {entry.size} bytes, over the {MAX_METADATA_BYTES}-byte limit: "
            "registered without its metadata"
        )
        return None
    try:
        from mreg import mlmodel
    except ModuleNotFoundError as err:
        if err.name != "yaml":
            raise
        warn("MLmodel metadata needs PyYAML: pip install 'mreg[mlflow]'; registered without it")
        return None
    try:
        return mlmodel.parse(objects.read_small(entry))
    except mlmodel.MalformedMLmodel as err:
        warn(f"MLmodel not read ({err}): registered without its metadata")
        return None
