"""``mreg register``."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli import complete
from mreg.cli.actions import field_value
from mreg.cli.common import (
    Description,
    DescriptionFile,
    FieldOpt,
    Json,
    Message,
    Quiet,
    human_size,
    open_registry,
    read_description,
)
from mreg.cli.output import emit_json, emit_line
from mreg.cli.progress import byte_progress, local_size
from mreg.names import parse_key_value


def register(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="A model file or folder (copied into the store), or a URI "
            "such as s3://… or runs:/… (recorded as a reference)."
        ),
    ],
    name: Annotated[
        str,
        typer.Option(
            "--name",
            "-n",
            help="The registered model (created if missing).",
            autocompletion=complete.model_names,
        ),
    ],
    description: Description = None,
    description_file: DescriptionFile = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="KEY=VALUE tag on the version; repeatable.")
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="The training run that produced it.")] = None,
    run_link: Annotated[str | None, typer.Option("--run-link", help="A link to that run.")] = None,
    aliases: Annotated[
        list[str] | None,
        typer.Option(
            "--alias",
            "-a",
            help="Point this alias at the new version; repeatable.",
            autocompletion=complete.aliases,
        ),
    ] = None,
    msg: Message = None,
    push: Annotated[
        bool, typer.Option("--push", help="Push the new version's objects to the default remote after.")
    ] = False,
    quiet: Quiet = False,
    field: FieldOpt = None,
    as_json: Json = False,
) -> None:
    """Register a new version of a model.

    Prints the new version; -q prints only its number, --field one value of it, --json the whole
    record. With --push, the objects then go to the default remote (the version stays registered
    if that fails: `mreg push` completes it).

    Examples:

      mreg register model.onnx --name fraud --tag task=fraud \\
        -m "retrained on May data"

      v=$(mreg register ./export --name fraud --alias challenger -q)
    """
    registry = open_registry(ctx)
    tag_map = dict(parse_key_value(t) for t in tags or [])
    with byte_progress(f"Copying {source}", lambda: local_size(source), quiet=quiet) as progress:
        mv = registry.create_model_version(
            name,
            source,
            run_id=run_id,
            tags=tag_map,
            run_link=run_link,
            description=read_description(description, description_file),
            aliases=aliases or [],
            message=msg,
            progress=progress,
        )
    if field is not None:
        emit_line(field_value(registry, mv, field))
    elif as_json:
        emit_json(mv.to_dict())
    elif quiet:
        emit_line(str(mv.version))
    else:
        what = (
            f"reference to {mv.artifact.uri}"
            if mv.artifact.kind == "uri"
            else f"sha256:{(mv.artifact.digest or '')[:12]}, {human_size(mv.artifact.size)}"
        )
        suffix = f", aliases: {', '.join(mv.aliases)}" if mv.aliases else ""
        emit_line(f"Registered {mv.name} version {mv.version} ({what}{suffix})")
    if push:
        from mreg.cli.output import message

        report = registry.push([f"{mv.name}/{mv.version}"])
        if not quiet and not as_json and field is None:
            message(
                f"Pushed {len(report.done)} object(s) to {report.remote}, {len(report.skipped)} already there"
            )
        report.check()
