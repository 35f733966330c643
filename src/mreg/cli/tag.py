"""``mreg tag …``: key/value tags on models and versions."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli import complete
from mreg.cli.actions import lookup
from mreg.cli.common import Message, ModelName, Quiet, open_registry
from mreg.cli.output import message
from mreg.names import parse_key_value

app = typer.Typer(
    help="Set and delete tags on a model or, with --version, on a version.", no_args_is_help=True
)

Name = ModelName
VersionOpt = Annotated[
    str | None,
    typer.Option(
        "--version",
        "-v",
        help="Tag this version (number, 'latest' or @ALIAS) instead of the model.",
        autocompletion=complete.versions,
    ),
]


@app.command("set")
def set_tags(
    ctx: typer.Context,
    name: Name,
    pairs: Annotated[
        list[str],
        typer.Argument(help="KEY=VALUE pairs.", show_default=False, autocompletion=complete.tag_pairs),
    ],
    version: VersionOpt = None,
    msg: Message = None,
    quiet: Quiet = False,
) -> None:
    """Set one or more tags, in one step.

    Examples:

      mreg tag set fraud team=risk owner=ana

      mreg tag set fraud --version 3 validated=true
    """
    tags = dict(parse_key_value(p) for p in pairs)
    registry = open_registry(ctx)
    if version is None:
        registry.set_registered_model_tags(name, tags, message=msg)
        what = f"model {name}"
    else:
        number = lookup(registry, name, version).version
        registry.set_model_version_tags(name, number, tags, message=msg)
        what = f"{name} version {number}"
    if not quiet:
        message(f"Tagged {what}: {', '.join(tags)}")


@app.command("delete")
def delete_tags(
    ctx: typer.Context,
    name: Name,
    keys: Annotated[
        list[str], typer.Argument(help="Tag keys.", show_default=False, autocompletion=complete.tag_keys)
    ],
    version: VersionOpt = None,
    msg: Message = None,
    quiet: Quiet = False,
) -> None:
    """Delete one or more tags (a key that is not set is not an error).

    Example:

      mreg tag delete fraud --version 3 validated
    """
    registry = open_registry(ctx)
    if version is None:
        registry.delete_registered_model_tags(name, keys, message=msg)
    else:
        registry.delete_model_version_tags(name, lookup(registry, name, version).version, keys, message=msg)
    if not quiet:
        message(f"Removed tag(s) {', '.join(keys)}")
