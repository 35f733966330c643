"""``mreg check``: the alias and stage changes since a revision, against that revision's policy."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli.common import Json, open_registry
from mreg.cli.output import emit_json, message
from mreg.errors import PolicyViolation


def check(
    ctx: typer.Context,
    rev: Annotated[
        str | None,
        typer.Argument(
            help="The base revision whose policy.toml decides (default: HEAD).", show_default=False
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Check every alias and stage change since REV against the policy REV holds.

    The changes are found as mreg diff finds them, between REV and the working tree, so files
    edited by hand are checked too; the rules are those of .mreg/policy.toml as of REV, so a change
    cannot relax a rule and use it at once. Exit 0 when every change holds, 4 with one line per
    rule broken.

    Examples:

      mreg check                # uncommitted changes against HEAD's policy

      mreg check origin/main    # in CI: a pull request, under the base's rules
    """
    from mreg import policy

    registry = open_registry(ctx)
    report = policy.check_revision(registry.store, rev)
    if as_json:
        emit_json(report.to_dict())
        if not report.ok:
            raise typer.Exit(PolicyViolation.exit_code)
        return
    for violation in report.violations:
        message(f"error: {violation.text}")
    if not report.ok:
        raise typer.Exit(PolicyViolation.exit_code)
    rules = "no policy.toml" if report.policy_digest is None else f"policy {report.policy_digest[:12]}"
    count = report.checked
    message(f"{count} alias and stage change{'' if count == 1 else 's'} since {report.rev} hold ({rules})")
