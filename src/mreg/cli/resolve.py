"""``mreg resolve`` and ``mreg get``: from a model URI to the artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mreg.cli import actions, complete
from mreg.cli.common import FieldOpt, Json, Quiet, open_registry
from mreg.cli.output import message
from mreg.cli.progress import byte_progress

Uri = Annotated[
    str,
    typer.Argument(
        help="models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/latest, models:/NAME/STAGE, "
        "or the short NAME/VERSION, NAME@ALIAS.",
        show_default=False,
        autocompletion=complete.model_uris,
    ),
]


def resolve(
    ctx: typer.Context,
    uri: Uri,
    field: FieldOpt = None,
    as_json: Json = False,
) -> None:
    """Resolve a model URI to a version and its artifact.

    Exits 3 when the model, version or alias does not exist.

    Examples:

      mreg resolve models:/fraud@champion

      python serve.py --model "$(mreg resolve fraud@champion --field path)"
    """
    actions.resolve(open_registry(ctx), uri, field, as_json)


def get(
    ctx: typer.Context,
    uri: Uri,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the file or folder.", show_default=False)
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace DEST if it exists.")] = False,
    quiet: Quiet = False,
) -> None:
    """Copy a version's artifact to DEST, checking every file's sha256 on the way.

    On a digest mismatch it exits 5 and leaves nothing at DEST. DEST is never replaced without --force.

    A DEST inside the store, or one that is or holds the store or its git work tree, is refused
    (exit 2), with or without --force.

    Example:

      mreg get models:/fraud@champion -o build/model.onnx
    """
    from mreg.destination import check_destination

    registry = open_registry(ctx)
    check_destination(registry.root, output)
    mv = registry.resolve(uri)
    label = f"Copying {mv.name} version {mv.version}"
    with byte_progress(label, lambda: mv.artifact.size, quiet=quiet) as progress:
        path = registry.download_artifact(mv, output, force=force, progress=progress)
    if not quiet:
        message(f"Copied {mv.name} version {mv.version} to {path} (verified)")
