"""``mreg models …``: registered models."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli.common import (
    VERSION_HEADERS,
    Description,
    DescriptionFile,
    FilterOpt,
    Json,
    Message,
    ModelName,
    OrderBy,
    PageToken,
    Quiet,
    Yes,
    finish_listing,
    next_page_hint,
    open_registry,
    read_description,
    short_time,
    version_row,
)
from mreg.cli.output import emit_json, emit_line, message, report, stdout_is_terminal, table
from mreg.entities import RegisteredModel
from mreg.names import parse_key_value
from mreg.textsafe import escape_line

app = typer.Typer(
    help="Create, show, list, rename, describe and delete registered models.", no_args_is_help=True
)

Name = ModelName


def _first_line(text: str | None) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""


@app.command("list")
def list_models(
    ctx: typer.Context,
    filter_string: FilterOpt = None,
    order_by: OrderBy = None,
    max_results: Annotated[
        int, typer.Option("--max-results", help="At most this many models (1 to 1000), as MLflow.")
    ] = 100,  # MLflow's default; mreg.search is imported only when a search runs
    page_token: PageToken = None,
    as_json: Json = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the names.")] = False,
) -> None:
    """List registered models; search them with --filter (MLflow's syntax, docs/search.md).

    Ordered by name unless --order-by says otherwise.

    More than --max-results: the next page's token goes to stderr (next_page_token in JSON).

    Examples:

      mreg models list --filter "tags.team = 'risk'" \\
        --order-by "last_updated_timestamp DESC"

      mreg models list --filter "name LIKE 'fraud%'" -q
    """
    # The table shows each model's newest version only: read one version file, not all of them.
    models = open_registry(ctx).list_registered_models_page(
        filter_string, max_results, order_by, page_token, newest_only=not as_json
    )
    if as_json:
        emit_json({"registered_models": [m.to_dict() for m in models], "next_page_token": models.token})
    elif quiet:
        for model in models:
            emit_line(escape_line(model.name))
    else:
        rows = []
        for model in models:
            latest = max((v.version for v in model.latest_versions), default=None)
            aliases = " ".join(f"{a}→{v}" for a, v in model.aliases.items())
            rows.append(
                [
                    model.name,
                    "" if latest is None else str(latest),
                    aliases,
                    short_time(model.updated_at),
                    _first_line(model.description),
                ]
            )
        table(["name", "latest", "aliases", "updated", "description"], rows)
        if models.problems:
            pass  # the problems say why, below
        elif not models and not filter_string and not page_token:
            message("no registered models (register one with `mreg register FILE --name NAME`)")
        elif not models:
            message("no registered models match")
    if not as_json:
        next_page_hint(models.token)
    finish_listing(models.problems)


def show_model(model: RegisteredModel, versions_rows: list[list[str]]) -> None:
    summary = [
        ("created", f"{short_time(model.created_at)} by {model.created_by}"),
        ("updated", short_time(model.updated_at)),
        ("aliases", ", ".join(f"{a} → {v}" for a, v in model.aliases.items()) or "none"),
    ]
    if stdout_is_terminal():
        from mreg.cli import render

        render.model_card(model, summary, (VERSION_HEADERS, versions_rows))
        return
    emit_line(f"name         {escape_line(model.name)}")
    for key, value in summary:
        emit_line(f"{key:<12} {escape_line(value)}")
    for key, value in model.tags.items():
        emit_line(f"tag          {escape_line(key)}={escape_line(value)}")
    if model.description:
        emit_line("")
        emit_line(model.description.rstrip("\n"))
    if versions_rows:
        from mreg.cli.output import plain_table

        emit_line("")
        emit_line(plain_table(VERSION_HEADERS, versions_rows))


@app.command("show")
def show(
    ctx: typer.Context,
    name: Name,
    versions: Annotated[
        int, typer.Option("--versions", help="How many of the newest versions to list.", min=0)
    ] = 10,
    as_json: Json = False,
) -> None:
    """Show a model: description, tags, aliases and its newest versions.

    Example:

      mreg models show fraud
    """
    registry = open_registry(ctx)
    model = registry.get_registered_model(name)
    if as_json:
        emit_json(model.to_dict())
        return
    newest = registry.list_model_versions(name)[-versions:] if versions else []
    show_model(model, [version_row(v, with_name=False) for v in reversed(newest)])


@app.command("create")
def create(
    ctx: typer.Context,
    name: Name,
    description: Description = None,
    description_file: DescriptionFile = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", "-t", help="KEY=VALUE; repeatable.")] = None,
    msg: Message = None,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Create an empty registered model (`mreg register` creates one as needed).

    Example:

      mreg models create fraud -d "Card fraud scoring" -t team=risk
    """
    tag_map = dict(parse_key_value(t) for t in tags or [])
    model = open_registry(ctx).create_registered_model(
        name, tags=tag_map, description=read_description(description, description_file), message=msg
    )
    report(model.to_dict(), f"Created model {model.name}", as_json=as_json, quiet=quiet)


@app.command("rename")
def rename(
    ctx: typer.Context,
    name: Name,
    new_name: Annotated[str, typer.Argument(help="The new name.", show_default=False)],
    msg: Message = None,
    quiet: Quiet = False,
) -> None:
    """Rename a model; its versions, aliases, tags and history follow it.

    Example:

      mreg models rename fraud fraud-detector
    """
    model = open_registry(ctx).rename_registered_model(name, new_name, message=msg)
    if not quiet:
        message(f"Renamed model {name} to {model.name}")


@app.command("update")
def update(
    ctx: typer.Context,
    name: Name,
    description: Description = None,
    description_file: DescriptionFile = None,
    msg: Message = None,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Replace a model's description (inline or from a Markdown file).

    Example:

      mreg models update fraud --description-file docs/fraud-model.md
    """
    text = read_description(description, description_file)
    if text is None:
        from mreg.errors import InvalidInput

        raise InvalidInput("nothing to update: give --description or --description-file")
    model = open_registry(ctx).update_registered_model(name, text, message=msg)
    report(model.to_dict(), f"Updated the description of model {model.name}", as_json=as_json, quiet=quiet)


@app.command("delete")
def delete(
    ctx: typer.Context, name: Name, yes: Yes = False, msg: Message = None, quiet: Quiet = False
) -> None:
    """Delete a model with all its versions, aliases and history. Its name becomes free again.

    Asks for confirmation on a terminal; scripts pass --yes.

    Example:

      mreg models delete old-fraud --yes
    """
    registry = open_registry(ctx)
    model = registry.get_registered_model(name)
    if not yes:
        _confirm(f"Delete model {model.name} with all its versions and aliases?")
    registry.delete_registered_model(name, message=msg)
    if not quiet:
        message(f"Deleted model {name}")


def _confirm(question: str) -> None:
    import sys

    from mreg.errors import InvalidInput, MregError

    if not sys.stdin.isatty():
        raise InvalidInput("refusing to delete without confirmation: pass --yes")
    if not typer.confirm(question, default=False, err=True):
        raise MregError("not deleted (answered no)")
