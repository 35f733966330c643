"""``mreg init``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mreg.cli.common import Json, Quiet
from mreg.cli.options import options
from mreg.cli.output import report
from mreg.errors import AlreadyExists
from mreg.store.layout import STORE_DIRNAME, Layout
from mreg.store.store import init as init_store


def enclosing_store(folder: Path) -> Path | None:
    """The nearest store (``.mreg`` holding ``config.toml``) in a folder above ``folder``: the store
    that commands run in ``folder`` use today."""
    for parent in folder.parents:
        candidate = parent / STORE_DIRNAME
        if Layout(candidate).config.is_file():
            return candidate
    return None


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
    force: Annotated[
        bool,
        typer.Option("--force", help="Create a nested store even though a folder above holds one."),
    ] = False,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Create a registry (.mreg/) in a folder.

    Running it again on an existing store checks it, restores a missing .mreg/.gitignore or
    .gitattributes, and brings .gitignore in line with the objects.commit setting of config.toml
    (--commit-objects turns that setting on).

    In a folder below a project that has a store already, it refuses (exit 4) unless --force.

    Example:

      mreg init && git add .mreg
    """
    given = Path(path or options(ctx).store or Path.cwd()).absolute()
    folder = given.parent if given.name == STORE_DIRNAME else given
    if not force and not Layout(folder / STORE_DIRNAME).config.is_file():
        outer = enclosing_store(folder)
        if outer is not None:
            raise AlreadyExists(
                f"{outer} already holds the store for {folder}; "
                "pass --force to create a nested store there anyway"
            )
    root, created = init_store(given, commit_objects=commit_objects)
    state = "Initialized empty" if created else "Found existing"
    report(
        {"store": str(root), "created": created},
        f"{state} mreg store in {root}",
        as_json=as_json,
        quiet=quiet,
    )
