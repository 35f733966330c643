"""``mreg gc``: remove leftovers."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli.common import Json, human_size, open_registry
from mreg.cli.output import emit_json, emit_line, message
from mreg.textsafe import escape_line


def gc(
    ctx: typer.Context,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Remove them; without it gc only lists what it would remove.")
    ] = False,
    pushed: Annotated[
        bool,
        typer.Option(
            "--pushed", help="Also remove local objects the default remote holds (fetched again on use)."
        ),
    ] = False,
    as_json: Json = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the paths (inside the store), one per line.")
    ] = False,
) -> None:
    """Remove leftovers: temp files of killed processes, unreferenced objects, trash, stale caches.

    Lists them unless --yes. Removes under the store lock (a listing needs no write access),
    and nothing while fsck finds errors.

    Examples:

      mreg gc            # list what would be removed

      mreg gc --yes

      mreg gc --pushed --yes   # objects on the remote come back on use
    """
    report = open_registry(ctx).gc(delete=yes, pushed=pushed)
    if as_json:
        emit_json(report.to_dict())
        return
    if quiet:
        for finding in report.removed:
            emit_line(escape_line(finding.path))
        return
    verb = "removed" if yes else "would remove"
    for finding in report.removed:
        emit_line(escape_line(f"{verb}  {finding.message}"))
    for finding in report.kept:
        emit_line(escape_line(f"kept          {finding.message}"))
    if report.kept:
        message(f"kept {len(report.kept)}: a registration is in progress; run `mreg gc` again later")
    if not report.removed:
        message("nothing to remove")
    elif yes:
        message(f"removed {len(report.removed)} ({human_size(report.bytes)})")
    else:
        message(
            f"would remove {len(report.removed)} ({human_size(report.bytes)}); run `mreg gc --yes` to remove"
        )
