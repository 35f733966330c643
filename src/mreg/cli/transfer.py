"""``mreg push`` and ``mreg pull``: model objects to and from a remote."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from mreg.cli import complete
from mreg.cli.common import Json, human_size, open_registry
from mreg.cli.output import emit_json, message
from mreg.cli.progress import watched
from mreg.errors import InvalidInput

if TYPE_CHECKING:
    from mreg.remotes.transfer import TransferProgress, TransferReport

Refs = Annotated[
    list[str] | None,
    typer.Argument(
        help="Versions: a model NAME (all its versions), NAME/VERSION, NAME@ALIAS or a models:/ URI "
        "(default: every live version).",
        show_default=False,
        autocompletion=complete.model_uris,
    ),
]
RemoteOpt = Annotated[
    str | None,
    typer.Option("--remote", "-r", help="The remote (default: the default remote).", show_default=False),
]
AllOpt = Annotated[bool, typer.Option("--all", help="Every live version of every model (as with no REF).")]
Jobs = Annotated[int, typer.Option("--jobs", "-j", min=1, max=256, help="Objects moved at a time.")]


@contextmanager
def _progress(description: str, as_json: bool) -> Iterator[TransferProgress | None]:
    if as_json or not watched(False):
        yield None
        return
    from mreg.cli import render

    with render.transfer_progress(description) as bar:
        yield bar


def _refs(refs: list[str] | None, every: bool) -> list[str] | None:
    if every and refs:
        raise InvalidInput("give REF… or --all, not both")
    return refs or None


def _finish(report: TransferReport, verb: str, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict())
    else:
        message(
            f"{verb} {len(report.done)} object(s) ({human_size(report.bytes)}) "
            f"{'to' if report.direction == 'push' else 'from'} {report.remote}, "
            f"{len(report.skipped)} already there"
            + (f", {len(report.failed)} failed" if report.failed else "")
        )
    report.check()


def push(
    ctx: typer.Context,
    refs: Refs = None,
    remote: RemoteOpt = None,
    every: AllOpt = False,
    jobs: Jobs = 8,
    as_json: Json = False,
) -> None:
    """Upload the objects of versions to a remote, skipping those already there.

    An object appears on the remote only when complete, so a push that is stopped leaves no
    partial object and a re-run completes it. A local object that does not match its sha256 is
    never pushed (exit 5); an object that cannot be uploaded is listed and the rest go on (exit 1).

    Examples:

      mreg push

      mreg push fraud@champion --remote team --json
    """
    registry = open_registry(ctx)
    wanted = _refs(refs, every)
    with _progress("Pushing", as_json) as progress:
        report = registry.push(wanted, remote=remote, jobs=jobs, progress=progress)
    _finish(report, "Pushed", as_json)


def pull(
    ctx: typer.Context,
    refs: Refs = None,
    remote: RemoteOpt = None,
    every: AllOpt = False,
    jobs: Jobs = 8,
    as_json: Json = False,
) -> None:
    """Fetch the objects of versions from a remote, checking each sha256 on the way in.

    Objects already here are skipped. A remote object that does not match its sha256 is never
    kept (exit 5); one that cannot be fetched is listed and the rest go on (exit 1). `mreg get`
    and `mreg resolve --field path` fetch what they need from the default remote by themselves.

    Examples:

      mreg pull

      mreg pull fraud@champion --remote team
    """
    registry = open_registry(ctx)
    wanted = _refs(refs, every)
    with _progress("Pulling", as_json) as progress:
        report = registry.pull(wanted, remote=remote, jobs=jobs, progress=progress)
    _finish(report, "Pulled", as_json)
