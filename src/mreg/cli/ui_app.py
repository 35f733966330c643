"""``mreg ui …``: the registry as pages in a browser, served locally or exported as static files
(docs/ui.md). The only command that imports Jinja2, markdown-it-py and ``mreg.ui``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mreg.cli.common import Quiet, open_registry
from mreg.cli.output import message
from mreg.errors import MregError

app = typer.Typer(
    help="Browse the registry in a web browser: a local server or static pages.", no_args_is_help=True
)


def _require_jinja() -> None:
    import importlib.util

    if importlib.util.find_spec("jinja2") is None:
        raise MregError("the page needs Jinja2: pip install 'mreg[ui]'")


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
    registry = open_registry(ctx)
    _require_jinja()
    from mreg.ui import server

    try:
        httpd = server.make_server(registry.root, host, port)
    except OSError as err:
        raise MregError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    url = server.url_of(host, httpd.server_address[1])
    if host not in ("127.0.0.1", "localhost", "::1"):
        message(f"warning: listening on {host}: anyone who can reach it can read the registry")
    message(f"Serving {registry.root} at {url} (read-only; Ctrl-C stops)")
    sys.stderr.flush()
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        message("Stopped.")
    finally:
        httpd.server_close()


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
    registry = open_registry(ctx)
    _require_jinja()
    from mreg.ui.export import export as write_export

    report = write_export(registry, dest, force=force)
    if not quiet:
        message(
            f"Exported {report.models} models and {report.versions} versions ({report.files} files) to {dest}"
        )
    if report.problems:
        from mreg.errors import IntegrityError
        from mreg.textsafe import escape_line

        for problem in report.problems:
            sys.stderr.write(f"error: {escape_line(problem)}\n")
        raise typer.Exit(IntegrityError.exit_code)
