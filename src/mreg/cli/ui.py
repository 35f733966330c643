"""What ``mreg ui serve`` and ``mreg ui export`` do once parsed, free of Typer, so that the Typer
commands (``cli/ui_app.py``) and the fast path (``cli/fastpath.py``, for ``ui serve``) share it.
The only module of the command line that imports Jinja2, markdown-it-py and ``mreg.ui``, each
inside the function that needs it (docs/ui.md)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from mreg.cli.output import message
from mreg.errors import MregError

if TYPE_CHECKING:
    from pathlib import Path

    from mreg.registry import Registry

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def require_jinja() -> None:
    import importlib.util

    if importlib.util.find_spec("jinja2") is None:
        raise MregError("the page needs Jinja2: pip install 'mreg[ui]'")


def serve(registry: Registry, host: str, port: int, open_browser: bool) -> None:
    """Listen on ``host:port`` and serve the pages until Ctrl-C (which ends it normally). The
    socket listens before the page's code is imported: the first request imports it."""
    require_jinja()
    from mreg.ui import server

    try:
        httpd = server.make_server(registry.root, host, port)
    except OSError as err:
        raise MregError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    url = server.url_of(host, httpd.server_address[1])
    if host not in LOOPBACK:
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


def export(registry: Registry, dest: Path, *, force: bool, quiet: bool) -> int:
    """Write the pages into ``dest``; the exit code (5 when an entry of the store could not be
    read: each such problem is one ``error:`` line)."""
    require_jinja()
    from mreg.ui.export import export as write_export

    report = write_export(registry, dest, force=force)
    if not quiet:
        message(
            f"Exported {report.models} models and {report.versions} versions ({report.files} files) to {dest}"
        )
    if not report.problems:
        return 0
    from mreg.errors import IntegrityError
    from mreg.textsafe import escape_line

    for problem in report.problems:
        sys.stderr.write(f"error: {escape_line(problem)}\n")
    return IntegrityError.exit_code
