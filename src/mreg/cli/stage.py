"""``mreg stage set``: MLflow's legacy stages."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli import complete
from mreg.cli.actions import lookup
from mreg.cli.common import Json, Message, Quiet, open_registry
from mreg.cli.output import report

app = typer.Typer(
    help="Move versions between the legacy stages None, Staging, Production, Archived.", no_args_is_help=True
)


@app.command("set")
def set_stage(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="The registered model's name.", show_default=False, autocompletion=complete.model_names
        ),
    ],
    version: Annotated[
        str,
        typer.Argument(
            help="A version number, 'latest' or @ALIAS.", show_default=False, autocompletion=complete.versions
        ),
    ],
    stage: Annotated[
        str,
        typer.Argument(
            help="None, Staging, Production or Archived (any case).",
            show_default=False,
            autocompletion=complete.stages,
        ),
    ],
    archive_existing: Annotated[
        bool,
        typer.Option(
            "--archive-existing",
            help="Archive the other versions in that stage (Staging and Production only).",
        ),
    ] = False,
    msg: Message = None,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Move a version to a stage. Aliases are the modern way to mark deployments; see docs/concepts.md.

    Example:

      mreg stage set fraud 7 production --archive-existing
    """
    registry = open_registry(ctx)
    number = lookup(registry, name, version).version
    mv = registry.transition_model_version_stage(name, number, stage, archive_existing, message=msg)
    text = f"{mv.name} version {mv.version} is now in stage {mv.current_stage}"
    report(mv.to_dict(), text, as_json=as_json, quiet=quiet)
