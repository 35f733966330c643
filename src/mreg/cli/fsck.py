"""``mreg fsck``: check the store."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli import complete
from mreg.cli.common import Json, open_registry
from mreg.cli.output import emit_json, emit_line, message
from mreg.errors import IntegrityError, InvalidInput
from mreg.fsck import ERROR, LEFTOVER, WARNING
from mreg.store.files import display_path
from mreg.textsafe import escape_line


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def fsck(
    ctx: typer.Context,
    full: Annotated[
        bool, typer.Option("--full", help="Also re-hash every object and compare it with its sha256.")
    ] = False,
    as_json: Json = False,
    remote: Annotated[
        bool,
        typer.Option(
            "--remote",
            help="Also report live versions whose objects neither this store nor the remote holds "
            "(the remote NAME, or the default one).",
        ),
    ] = False,
    name: Annotated[
        str | None,
        typer.Argument(
            help="The remote --remote checks (default: the default remote).",
            show_default=False,
            autocompletion=complete.remote_names,
        ),
    ] = None,
) -> None:
    """Check the store for damage: unreadable files, broken references, missing objects.

    Files must parse and match their schema, aliases point at live versions, objects be present.

    The history must agree with the records; --full also re-hashes every object.

    One line per finding. Errors exit 5; warnings and leftovers (debris `mreg gc` removes) do not.

    Examples:

      mreg fsck

      mreg fsck --full --json

      mreg fsck --remote team   # in CI: every version's objects are pushed
    """
    if name is not None and not remote:
        raise InvalidInput(f"a remote name ({name!r}) goes with --remote: mreg fsck --remote {name}")
    registry = open_registry(ctx)
    findings = registry.fsck(full=full)
    if remote:
        findings += registry.fsck_remote(name)
    counts = {s: sum(1 for f in findings if f.severity == s) for s in (ERROR, WARNING, LEFTOVER)}
    if as_json:
        emit_json(
            {
                "store": str(registry.root),
                "ok": counts[ERROR] == 0,
                "full": full,
                "errors": counts[ERROR],
                "warnings": counts[WARNING],
                "leftovers": counts[LEFTOVER],
                "findings": [f.to_dict() for f in findings],
            }
        )
    else:
        for finding in findings:
            emit_line(escape_line(f"{finding.severity:<8}  {finding.message}"))
    store = display_path(registry.root)
    if counts[ERROR]:
        raise IntegrityError(
            f"fsck found {_count(counts[ERROR], 'error')} in {store}"
            + (
                " (merge conflicts: resolve them in git first)"
                if any(f.kind == "merge-conflict" for f in findings)
                else ""
            )
        )
    if not as_json:
        summary = ", ".join(_count(counts[s], s) for s in (WARNING, LEFTOVER) if counts[s])
        hint = " (`mreg gc` removes leftovers)" if counts[LEFTOVER] else ""
        message(f"{store}: no errors{', ' + summary if summary else ''}{hint}")
