"""``mreg remote …``: where the team's model objects live (S3, GCS, Azure, a shared folder)."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli import complete
from mreg.cli.common import Json, open_registry
from mreg.cli.output import emit_json, message, table

app = typer.Typer(
    help="Add, list, remove remotes and choose the default: where model objects are pushed and pulled.",
    no_args_is_help=True,
)

Name = Annotated[
    str,
    typer.Argument(
        help="The remote's name: lowercase letters, digits, '_' and '-'.",
        show_default=False,
        autocompletion=complete.remote_names,
    ),
]


@app.command("add")
def add(
    ctx: typer.Context,
    name: Name,
    url: Annotated[
        str,
        typer.Argument(
            help="s3://BUCKET/PREFIX, gs://…, az://…, a folder path, or any fsspec URL.",
            show_default=False,
        ),
    ],
    default: Annotated[bool, typer.Option("--default", help="Make it the default remote.")] = False,
) -> None:
    """Add a remote to .mreg/config.toml (committed: every clone knows it).

    The first remote added becomes the default. No credential is ever stored: each backend's
    own chain provides them (docs/remotes.md).

    Examples:

      mreg remote add team s3://ml-models/fraud --default

      mreg remote add share /mnt/team/models
    """
    remote = open_registry(ctx).add_remote(name, url, default=default)
    message(f"Added remote {remote.name} ({remote.url}){' (default)' if remote.default else ''}")


@app.command("list")
def list_remotes(ctx: typer.Context, as_json: Json = False) -> None:
    """List the remotes, with this user's config.local.toml applied.

    Example:

      mreg remote list --json
    """
    remotes = open_registry(ctx).list_remotes()
    if as_json:
        default_name = next((r.name for r in remotes if r.default), None)
        emit_json({"remotes": [r.to_dict() for r in remotes], "default": default_name})
        return
    if not remotes:
        message("no remotes (add one with `mreg remote add NAME URL`)")
        return
    table(
        ["name", "url", "default"],
        [[r.name, r.url, "yes" if r.default else ""] for r in remotes],
    )


@app.command("remove")
def remove(ctx: typer.Context, name: Name) -> None:
    """Remove a remote from .mreg/config.toml; its objects stay where they are.

    Example:

      mreg remote remove share
    """
    open_registry(ctx).remove_remote(name)
    message(f"Removed remote {name}")


@app.command("default")
def default(ctx: typer.Context, name: Name) -> None:
    """Make NAME the default remote (push, pull and lazy fetch use it).

    Example:

      mreg remote default team
    """
    remote = open_registry(ctx).set_default_remote(name)
    message(f"Default remote: {remote.name} ({remote.url})")
