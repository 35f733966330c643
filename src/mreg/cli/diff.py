"""``mreg diff``: the registry changes between two git revisions, for reviewers and CI jobs."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli.common import Json
from mreg.cli.options import options
from mreg.cli.output import emit_json, emit_line, message, stdout_is_terminal
from mreg.diff import RegistryDiff, diff_revisions
from mreg.entities import Change
from mreg.store.layout import STORE_DIRNAME
from mreg.store.store import locate
from mreg.textsafe import escape_line

# How each change reads, and whether it adds, removes or modifies (for colour on a terminal).
_ADDS = {"model_created", "version_registered", "alias_set", "model_tag_set", "version_tag_set"}
_REMOVES = {"model_deleted", "version_deleted", "alias_deleted", "model_tag_deleted", "version_tag_deleted"}


def _short(value: str | int | None, limit: int = 60) -> str:
    text = "" if value is None else str(value)
    if text.startswith("sha256:"):
        return text[:19]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(change: Change) -> str:
    """One human line for a change, without the model name: ``champion 6 → 7``."""
    v, old, new = change.version, change.old, change.new
    was = f" (was {_short(old, 40)})" if old is not None else ""
    texts = {
        "model_created": "model created",
        "model_deleted": "model deleted",
        "model_renamed": f"renamed {old} → {new}",
        "model_described": "description changed",
        "model_tag_set": f"tag {change.key} = {_short(new)}{was}",
        "model_tag_deleted": f"tag {change.key} removed{was}",
        "version_registered": f"version {v} registered" + (f" ({_short(new)})" if new else ""),
        "version_deleted": f"version {v} deleted",
        "version_artifact_changed": f"version {v} artifact changed {_short(old)} → {_short(new)}",
        "version_stage_changed": f"version {v} stage {old} → {new}",
        "version_described": f"version {v} description changed",
        "version_tag_set": f"version {v} tag {change.key} = {_short(new)}{was}",
        "version_tag_deleted": f"version {v} tag {change.key} removed{was}",
        "alias_set": f"{change.alias} → {new} (new alias)",
        "alias_moved": f"{change.alias} {old} → {new}",
        "alias_deleted": f"{change.alias} removed (was {old})",
    }
    return texts.get(change.action, change.action)


def kind(change: Change) -> str:
    """``added``, ``removed`` or ``changed``."""
    if change.action in _ADDS and not (change.action.endswith("tag_set") and change.old is not None):
        return "added"
    return "removed" if change.action in _REMOVES else "changed"


def why(change: Change) -> str:
    if change.user and change.message:
        return f"{change.user}: {change.message}"
    return change.user or change.message or ""


def side_label(rev: str | None, commit: str | None) -> str:
    if rev is None:
        return "working tree"
    if commit is None:
        return f"{rev} (no commit yet)"
    return rev if commit.startswith(rev) else f"{rev} ({commit[:10]})"


def diff(
    ctx: typer.Context,
    rev_a: Annotated[
        str | None,
        typer.Argument(help="The revision to compare from (default: HEAD).", show_default=False),
    ] = None,
    rev_b: Annotated[
        str | None,
        typer.Argument(help="The revision to compare to (default: the working tree).", show_default=False),
    ] = None,
    as_json: Json = False,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code",
            help="Exit 1 if the registry changed and 0 if it did not, as git diff --exit-code.",
        ),
    ] = False,
) -> None:
    """Show what changed in the registry between two git revisions.

    Models created, deleted and renamed; versions registered and deleted; aliases set, moved, removed.

    Also stages, tags and descriptions, with who and why when the history says.

    Read from git objects: nothing is checked out.

    Examples:

      mreg diff                          # HEAD against the working tree

      mreg diff main                     # main against the working tree

      mreg diff origin/main HEAD --json  # what a pull request changes

      mreg diff --exit-code main HEAD || echo "this branch changes the registry"
    """
    result = diff_revisions(locate(options(ctx).store), rev_a, rev_b)
    if as_json:
        emit_json(result.to_dict())
    else:
        render_diff(result)
    if exit_code and result.changed:
        raise typer.Exit(1)


def render_diff(result: RegistryDiff) -> None:
    title = (
        f"{side_label(result.old_rev, result.old_commit)} → {side_label(result.new_rev, result.new_commit)}"
    )
    for path in result.committed_debris:
        emit_line(f"{STORE_DIRNAME}/{path}: a working file is committed (git rm -r --cached it)")
    if not result.changes:
        message(f"no registry changes: {title}")
        return
    rows = [(c.model, describe(c), kind(c), why(c)) for c in result.changes]
    if stdout_is_terminal():
        from mreg.cli import render

        render.registry_diff(f"registry changes: {title}", rows)
        return
    for model, text, _, reason in rows:
        emit_line(escape_line(f"{model}: {text}" + (f"  ({reason})" if reason else "")))
