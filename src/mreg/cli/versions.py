"""``mreg versions …``: model versions."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli import complete
from mreg.cli.common import (
    VERSION_HEADERS,
    Json,
    Message,
    Yes,
    human_size,
    open_registry,
    short_time,
    version_row,
)
from mreg.cli.output import emit_json, emit_line, message, stdout_is_terminal, table
from mreg.entities import ModelVersion
from mreg.registry import Registry
from mreg.uris import parse_version_ref

app = typer.Typer(help="List, show, describe and delete model versions.", no_args_is_help=True)

Name = Annotated[
    str,
    typer.Argument(
        help="The registered model's name.", show_default=False, autocompletion=complete.model_names
    ),
]
Version = Annotated[
    str,
    typer.Argument(
        help="A version number, 'latest', a stage, or @ALIAS.",
        show_default=False,
        autocompletion=complete.versions,
    ),
]


def lookup(registry: Registry, name: str, spec: str) -> ModelVersion:
    """The version ``spec`` names for model ``name`` (through the URI parser)."""
    return registry.resolve(parse_version_ref(name, spec))


@app.command("list")
def list_versions(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="Only this model's versions [default: every model].",
            show_default=False,
            autocompletion=complete.model_names,
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """List live versions of one model, or of every model.

    Examples:  mreg versions list fraud  ·  mreg versions list --json
    """
    versions = open_registry(ctx).list_model_versions(name)
    if as_json:
        emit_json({"model_versions": [v.to_dict() for v in versions]})
        return
    with_name = name is None
    rows = [version_row(v, with_name=with_name) for v in versions]
    table((["name"] if with_name else []) + VERSION_HEADERS, rows)
    if not versions:
        message("no versions")


def version_pairs(mv: ModelVersion) -> list[tuple[str, str]]:
    art = mv.artifact
    pairs = [
        ("model", mv.name),
        ("version", str(mv.version)),
        ("aliases", ", ".join(mv.aliases) or "none"),
        ("stage", mv.current_stage),
        ("created", f"{short_time(mv.created_at)} by {mv.user_id}"),
        ("updated", short_time(mv.updated_at)),
        ("source", mv.source),
    ]
    if art.kind == "uri":
        pairs.append(("artifact", f"reference to {art.uri}"))
    else:
        pairs.append(("artifact", f"{art.kind}, {human_size(art.size)}, sha256:{art.digest}"))
        if art.kind == "directory":
            pairs += [
                ("  file", f"{f.path}  {human_size(f.size)}  sha256:{f.sha256[:12]}") for f in art.files
            ]
    if mv.run_id:
        pairs.append(("run", mv.run_id + (f"  {mv.run_link}" if mv.run_link else "")))
    lin = mv.lineage
    if lin.git_commit or lin.git_branch:
        dirty = {True: " (dirty: uncommitted changes)", False: " (clean)", None: ""}[lin.git_dirty]
        pairs.append(
            ("git", f"{lin.git_commit or 'no commit yet'} on {lin.git_branch or 'detached HEAD'}{dirty}")
        )
    if lin.source_path:
        pairs.append(("repo path", lin.source_path))
    pairs += [(f"tag {k}", v) for k, v in mv.tags.items()]
    return pairs


@app.command("show")
def show(ctx: typer.Context, name: Name, version: Version, as_json: Json = False) -> None:
    """Show one version: artifact, digests, lineage, tags, aliases.

    Examples:  mreg versions show fraud 3  ·  mreg versions show fraud @champion --json
    """
    mv = lookup(open_registry(ctx), name, version)
    if as_json:
        emit_json(mv.to_dict())
    elif stdout_is_terminal():
        from mreg.cli import render

        render.version_card(mv, version_pairs(mv))
    else:
        for key, value in version_pairs(mv):
            emit_line(f"{key:<12} {value}")
        if mv.description:
            emit_line("")
            emit_line(mv.description.rstrip("\n"))


@app.command("update")
def update(
    ctx: typer.Context,
    name: Name,
    version: Version,
    description: Annotated[str, typer.Option("--description", "-d", help="The new Markdown description.")],
    msg: Message = None,
    as_json: Json = False,
) -> None:
    """Replace a version's description.

    Example:  mreg versions update fraud 3 -d "Trained on May data"
    """
    registry = open_registry(ctx)
    mv = registry.update_model_version(
        name, lookup(registry, name, version).version, description, message=msg
    )
    if as_json:
        emit_json(mv.to_dict())
    else:
        message(f"Updated the description of {mv.name} version {mv.version}")


@app.command("delete")
def delete(ctx: typer.Context, name: Name, version: Version, yes: Yes = False, msg: Message = None) -> None:
    """Delete a version. Its aliases are removed; its number is never used again.

    Asks for confirmation on a terminal; scripts pass --yes.

    Example:  mreg versions delete fraud 2 --yes -m "leaked test data"
    """
    registry = open_registry(ctx)
    mv = lookup(registry, name, version)
    if not yes:
        from mreg.cli.models import _confirm

        aliases = f" (aliases {', '.join(mv.aliases)} go with it)" if mv.aliases else ""
        _confirm(f"Delete {mv.name} version {mv.version}{aliases}?")
    registry.delete_model_version(name, mv.version, message=msg)
    message(f"Deleted {mv.name} version {mv.version}")
