"""``mreg import …``: bring a registry kept by another tool into the store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Annotated

import typer

from mreg.cli.common import Json, open_registry
from mreg.cli.output import emit_json, message
from mreg.cli.progress import byte_progress, local_size, watched
from mreg.errors import AlreadyExists, MregError

app = typer.Typer(help="Import a registry kept by another tool (MLflow).", no_args_is_help=True)


def _bar_factory(
    quiet: bool,
) -> Callable[[str, Path], AbstractContextManager[Callable[[int], None] | None]] | None:
    """The progress bar of each large artifact as it is hashed in, when a person is watching."""
    if not watched(quiet):
        return None

    @contextmanager
    def bar(description: str, path: Path) -> Iterator[Callable[[int], None] | None]:
        with byte_progress(description, lambda: local_size(str(path)), quiet=quiet) as advance:
            yield advance

    return bar


@app.command("mlflow")
def mlflow(
    ctx: typer.Context,
    tracking_uri: Annotated[
        str,
        typer.Argument(
            help="Where MLflow keeps its registry: sqlite:///mlflow.db, a file store folder, "
            "http://host:5000, or any tracking URI MLflow reads.",
            show_default=False,
        ),
    ],
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-M", help="Import only this registered model; repeatable.", show_default=False
        ),
    ] = None,
    no_artifacts: Annotated[
        bool,
        typer.Option(
            "--no-artifacts", help="Record each version's source as a reference instead of copying it in."
        ),
    ] = False,
    as_json: Json = False,
) -> None:
    """Copy an MLflow model registry into the store, keeping numbers, aliases, stages and times.

    Every registered model comes over with its versions (the numbers of deleted versions stay
    taken, as tombstones), tags, descriptions, stages, aliases and times, and each version's
    artifact, downloaded through MLflow and copied into the store. Prompts are skipped. Running
    it again imports only what is new; a version or alias that differs from what the store
    holds is reported and kept as it is here (exit 4). A SQLite database is read from a copy.
    Needs MLflow installed (pip install 'mreg[mlflow]').

    Examples:

      mreg import mlflow sqlite:///mlflow.db

      mreg import mlflow http://127.0.0.1:5000 --model fraud --no-artifacts --json
    """
    from mreg.mlflow_import import import_mlflow

    registry = open_registry(ctx)
    report = import_mlflow(
        registry.store,
        tracking_uri,
        models=models or None,
        artifacts=not no_artifacts,
        progress=_bar_factory(as_json),
    )
    if as_json:
        emit_json(report.to_dict())
    else:
        for problem in report.conflicts:
            message(f"conflict: {problem.describe()}")
        for problem in report.refused:
            message(f"refused: {problem.describe()}")
        message(report.summary())
    if report.conflicts:
        raise AlreadyExists(
            f"{len(report.conflicts)} conflict(s) with what the store holds, kept as they are here; "
            "everything else was imported"
        )
    if report.refused:
        raise MregError(f"{len(report.refused)} item(s) refused; everything else was imported")
