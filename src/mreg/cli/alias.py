"""``mreg alias …``: named pointers to versions."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli import actions, complete
from mreg.cli.common import Json, Message, ModelName, Quiet, open_registry
from mreg.cli.output import emit_json, message, table

app = typer.Typer(help="Set, move, delete and list aliases (champion, challenger, …).", no_args_is_help=True)

Name = ModelName
Alias = Annotated[
    str,
    typer.Argument(
        help="The alias: letters, digits, '_' and '-'.", show_default=False, autocompletion=complete.aliases
    ),
]


@app.command("set")
def set_alias(
    ctx: typer.Context,
    name: Name,
    alias: Alias,
    version: Annotated[
        str,
        typer.Argument(
            help="A version number, 'latest', or @OTHER_ALIAS.",
            show_default=False,
            autocompletion=complete.versions,
        ),
    ],
    expect: Annotated[
        int | None,
        typer.Option(
            "--expect",
            min=0,
            help="Only if the alias now points at this version (0: only if it "
            "does not exist yet); otherwise exit 4. Like git update-ref's old value.",
        ),
    ] = None,
    msg: Message = None,
    quiet: Quiet = False,
) -> None:
    """Point an alias at a version, creating or moving it. The move is recorded in the history.

    Examples:

      mreg alias set fraud champion 7 -m "beats v6 on May data"

      mreg alias set fraud champion @challenger --expect 6
    """
    actions.set_alias(open_registry(ctx), name, alias, version, expect=expect, msg=msg, quiet=quiet)


@app.command("delete")
def delete(ctx: typer.Context, name: Name, alias: Alias, msg: Message = None, quiet: Quiet = False) -> None:
    """Remove an alias (removing one that does not exist is not an error).

    Example:

      mreg alias delete fraud challenger
    """
    open_registry(ctx).delete_registered_model_alias(name, alias, message=msg)
    if not quiet:
        message(f"{name}@{alias} removed")


@app.command("list")
def list_aliases(ctx: typer.Context, name: Name, as_json: Json = False) -> None:
    """List a model's aliases and the versions they point at.

    Example:

      mreg alias list fraud --json
    """
    aliases = open_registry(ctx).get_aliases(name)
    if as_json:
        emit_json({"name": name, "aliases": aliases})
        return
    table(["alias", "version"], [[a, str(v)] for a, v in aliases.items()])
    if not aliases:
        message(f"model {name} has no aliases")
