"""``mreg merge``: explain and resolve the registry conflicts of a git merge."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from mreg.cli.common import Json, open_registry
from mreg.cli.options import options
from mreg.cli.output import emit_json, emit_line, message
from mreg.errors import AlreadyExists
from mreg.gitmerge import MergePlan, plan_resolution
from mreg.store.store import Store
from mreg.textsafe import escape_line

_MAINLINE = ("main", "master", "origin/main", "origin/master", "trunk", "develop")


class Keep(StrEnum):
    ours = "ours"
    theirs = "theirs"


def merge(
    ctx: typer.Context,
    renumber: Annotated[
        bool,
        typer.Option(
            "--renumber",
            help="Resolve: give the colliding versions of one side the next free numbers (its "
            "aliases and history follow), merge aliases and records three-way, and stage the result.",
        ),
    ] = False,
    keep: Annotated[
        Keep,
        typer.Option(
            "--keep",
            help="The side whose version numbers stay, and whose value wins where both sides moved "
            "one alias or changed one field. ours = the checked-out branch (HEAD); theirs = the "
            "branch being merged in (MERGE_HEAD), or in a rebase the commit being replayed.",
        ),
    ] = Keep.ours,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="With --renumber: show the resolution, change nothing.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Explain the registry conflicts of a git merge in progress, and resolve them.

    When two branches registered version 8 of one model, git stops with a conflict on its file.

    Without --renumber: explain the conflicts and what --renumber would do; exit 4 if there are any.

    With --renumber: ours keeps 8, theirs becomes 9 with its aliases and history; then git commit.

    Examples:

      git merge feature
      mreg merge
      mreg merge --renumber
      git commit

      # you merged main into your branch, and main keeps its numbers:
      mreg merge --renumber --keep theirs
    """
    if renumber:
        plan = open_registry(ctx).resolve_merge_conflicts(keep=keep.value, dry_run=dry_run)
        _report(plan, resolved=not dry_run, as_json=as_json)
        return
    plan = plan_resolution(Store(options(ctx).store), keep=keep.value)
    _report(plan, resolved=False, as_json=as_json)
    if plan.findings:
        raise typer.Exit(AlreadyExists.exit_code)


def _report(plan: MergePlan, *, resolved: bool, as_json: bool) -> None:
    if as_json:
        emit_json({**plan.to_dict(), "resolved": resolved and bool(plan.stage)})
        return
    context = plan.context
    if context is not None:
        message(f"{context.operation} of {context.theirs.label} (theirs) into {context.ours.label} (ours)")
    elif not plan.findings:
        message("no git merge, rebase or cherry-pick in progress")
        return
    if not plan.findings:
        message("no registry conflicts")
        return
    for finding in plan.findings:
        marker = "" if finding.resolvable else "  [resolve by hand]"
        emit_line(escape_line(f"conflict: {finding.message}{marker}"))
    if not plan.resolvable:
        return
    verb = "resolved" if resolved else "would resolve"
    for decision in plan.decisions:
        emit_line(escape_line(f"{verb}: {decision}"))
    if context is not None and context.operation != "merge" and plan.renumbered:
        message(
            f"note: in a {context.operation}, later commits that refer to a renumbered version still use "
            "its old number; squash the branch's registry commits first, or merge instead"
        )
    if resolved:
        finish = (
            "git commit"
            if context is None or context.operation == "merge"
            else f"git {context.operation} --continue"
        )
        message(f"staged the resolution; review with `mreg diff HEAD` and finish with `{finish}`")
        return
    if context is not None and plan.keep == "ours" and plan.renumbered:
        mainline = {label.strip() for label in context.theirs.label.split(",")} & set(_MAINLINE)
        if mainline:
            message(
                f"note: the versions of {context.theirs.label} would be renumbered; if they are already "
                "published there, use --keep theirs to renumber this branch's instead"
            )
    message(f"run `mreg merge --renumber{'' if plan.keep == 'ours' else ' --keep theirs'}` to resolve")
