"""``mreg init``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mreg.cli.common import Json, Quiet
from mreg.cli.options import options
from mreg.cli.output import report
from mreg.store.store import init as init_store


def init(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(help="Folder to create .mreg/ in (default: --store, else the working directory)."),
    ] = None,
    commit_objects: Annotated[
        bool,
        typer.Option(
            "--commit-objects",
            help="Let git track artifact blobs (small models); by default .mreg/.gitignore keeps them out.",
        ),
    ] = False,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Create a registry (.mreg/) in a folder.

    Running it again on an existing store checks it, restores a missing .mreg/.gitignore or
    .gitattributes, and brings .gitignore in line with the objects.commit setting of config.toml
    (--commit-objects turns that setting on).

    Example:  mreg init && git add .mreg
    """
    root, created = init_store(path or options(ctx).store, commit_objects=commit_objects)
    state = "Initialized empty" if created else "Found existing"
    report(
        {"store": str(root), "created": created},
        f"{state} mreg store in {root}",
        as_json=as_json,
        quiet=quiet,
    )
