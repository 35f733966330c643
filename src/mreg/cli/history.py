"""``mreg history``: who changed what, when and why."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli import complete
from mreg.cli.common import Json, open_registry, parse_since, short_time
from mreg.cli.output import emit_json, message, table
from mreg.history import describe


def history(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="The registered model's name.", show_default=False, autocompletion=complete.model_names
        ),
    ],
    alias: Annotated[
        str | None,
        typer.Option(
            "--alias",
            "-a",
            help="Which versions held this alias, from when to when.",
            autocompletion=complete.aliases,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only events at or after this date (ISO-8601, UTC); with --alias, the spans not "
            "ended by then.",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=0, help="Only the newest N events (or spans).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Show every change to a model: versions, alias moves, stages, tags, with who and why.

    Examples:

      mreg history fraud --since 2026-11-01

      mreg history fraud --alias champion   # which versions held it, when
    """
    registry = open_registry(ctx)
    if alias is not None:
        spans = registry.get_alias_history(name, alias, since=parse_since(since), limit=limit)
        if as_json:
            emit_json({"name": name, "alias": alias, "spans": [s.to_dict() for s in spans]})
            return
        rows = [
            [
                str(s.version),
                short_time(s.since),
                short_time(s.until) if s.until else "now",
                s.set_by,
                s.message or "",
            ]
            for s in spans
        ]
        table(["version", "from", "until", "set by", "message"], rows, title=f"{name}@{alias}")
        if not spans:
            message(f"{name}@{alias} has never been set")
        return
    events = registry.get_history(name, since=parse_since(since), limit=limit)
    if as_json:
        emit_json({"name": name, "events": [e.to_dict() for e in events]})
        return
    rows = [
        [short_time(e.time), e.user, describe(e), e.message or "", (e.git_commit or "")[:10]] for e in events
    ]
    table(["time (UTC)", "who", "what", "message", "commit"], rows, title=f"history of {name}")
    if not events:
        message("no events")
