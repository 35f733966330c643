"""``mreg policy …``: the rules of .mreg/policy.toml, and CODEOWNERS lines for their owners."""

from __future__ import annotations

import typer

from mreg.cli.common import Json, open_registry
from mreg.cli.output import emit_json, emit_line, message

app = typer.Typer(
    help="Show the protected aliases and stage order of .mreg/policy.toml; print CODEOWNERS lines.",
    no_args_is_help=True,
)


@app.command("show")
def show(ctx: typer.Context, as_json: Json = False) -> None:
    """Show the rules in force, per model and alias.

    Examples:

      mreg policy show

      mreg policy show --json
    """
    from mreg import policy

    data = policy.show(open_registry(ctx).store)
    if as_json:
        emit_json(data)
        return
    if data["file"] is None:
        message("no .mreg/policy.toml: no alias is protected")
        return
    for rule in data["aliases"]:
        models = "every model" if rule["models"] is None else ", ".join(rule["models"])
        emit_line(f"{rule['alias']} ({models}): {_describe(rule)}")
    if data["stages"] is not None:
        stages = data["stages"]
        models = "every model" if stages["models"] is None else ", ".join(stages["models"])
        emit_line(f"stages ({models}): {' → '.join(stages['order'])}")
    for entry in data["models"]:
        for rule in entry["aliases"]:
            emit_line(f"{entry['model']}@{rule['alias']}: {_describe(rule)}")
        if entry["stage_order"] is not None:
            emit_line(f"{entry['model']} stages: {' → '.join(entry['stage_order'])}")
    message(f"{data['file']} (sha256 {data['digest'][:12]})")


def _describe(rule: dict[str, object]) -> str:
    parts = [] if rule["require"] is None else [f"require {rule['require']}"]
    parts += [name for name in ("forward_only", "message", "expect") if rule[name]]
    owners = rule["owners"]
    if isinstance(owners, list) and owners:
        parts.append("owners " + " ".join(owners))
    return "; ".join(parts) or "no rule"


@app.command("codeowners")
def codeowners(ctx: typer.Context) -> None:
    """Print CODEOWNERS lines: each protected alias file and .mreg/policy.toml, with their owners.

    Paths are anchored at the git work tree's root, as GitHub and GitLab read them.

    Example:

      mreg policy codeowners >> .github/CODEOWNERS
    """
    from mreg import policy

    lines = policy.codeowners(open_registry(ctx).store)
    for line in lines:
        emit_line(line)
    if not lines:
        message("no owners in .mreg/policy.toml: no CODEOWNERS lines")
