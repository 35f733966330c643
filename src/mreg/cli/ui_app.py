"""``mreg ui …``: the registry as pages in a browser, served locally or exported as static files
(docs/ui.md). The commands parse their options and call ``mreg.cli.ui``, which does the work (and
alone imports the page's code)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mreg.cli import ui
from mreg.cli.common import Quiet, open_registry

app = typer.Typer(
    help="Browse the registry in a web browser: a local server or static pages.", no_args_is_help=True
)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="The address to listen on (loopback unless you mean otherwise).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="The port to listen on (0: any free port).")
    ] = 8765,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the page in the default browser.")
    ] = False,
) -> None:
    """Serve the registry's pages read-only on a local address until Ctrl-C.

    The store is read afresh for every request: a change made with mreg in another terminal shows
    on reload. Only GET and HEAD are answered, only to a Host header naming this server.
    Ctrl-C stops the server (exit 0).

    Examples:

      mreg ui serve --open

      mreg ui serve --port 9000
    """
    ui.serve(open_registry(ctx), host, port, open_browser)


@app.command("export")
def export(
    ctx: typer.Context,
    dest: Annotated[
        Path, typer.Argument(metavar="DIR", help="The folder to write the pages into.", show_default=False)
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace DIR if it exists.")] = False,
    quiet: Quiet = False,
) -> None:
    """Write the registry's pages as static files into DIR (for file:// or any static host).

    DIR is written as a whole: the pages go to a new folder beside it, renamed to DIR at the end,
    so a failed export leaves nothing behind. An existing DIR is replaced only with --force. A DIR
    inside the store, or one that is or holds the store or its git work tree, is refused (exit 2).

    Examples:

      mreg ui export site/

      mreg ui export public --force
    """
    code = ui.export(open_registry(ctx), dest, force=force, quiet=quiet)
    if code:
        raise typer.Exit(code)
