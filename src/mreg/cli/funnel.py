"""The one place a failed command becomes its line on stderr and its exit code. Free of Typer,
so that the command tree (``app.MregGroup``) and the fast path of ``resolve`` and ``alias set``
(``fastpath``) report through the same code.
"""

from __future__ import annotations

import sys

from mreg.cli import stdout_gone
from mreg.errors import MregError


def error(text: str) -> None:
    """The one line of an error. Its text may quote a file name or stored text: escaped."""
    from mreg.textsafe import escape_line

    sys.stderr.write(f"error: {escape_line(text)}\n")


def interrupted(err: BaseException) -> bool:
    """Ctrl-C, or an error raised because of one: Python wraps a KeyboardInterrupt that lands in
    a class body's ``__set_name__`` (while a module is being imported) in a RuntimeError, and
    an error raised while unwinding from Ctrl-C carries it as its context."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def failure_code(err: BaseException, *, debug: bool) -> int:
    """Report ``err``, raised by a running command (a usage error never comes here), and return
    the exit code: an expected error's own, 130 for Ctrl-C, 141 when stdout has gone, 1 for
    anything else, which is a bug (its traceback with ``debug``). Called in the ``except`` block
    that caught ``err``."""
    if interrupted(err):
        error("interrupted")
        if "fsspec.asyn" in sys.modules:  # a transfer was under way: let its requests unwind
            from mreg.remotes.backend import settle_async_transfers

            settle_async_transfers()
        return 130
    if isinstance(err, BrokenPipeError):
        return stdout_gone()
    if debug:
        import traceback

        traceback.print_exc(file=sys.stderr)
    if isinstance(err, MregError):
        error(str(err))
        return err.exit_code
    if isinstance(err, OSError):
        detail = f"{err.strerror}: {err.filename}" if err.filename else str(err)
        detail += "".join(f"; {note}" for note in getattr(err, "__notes__", ()))
    else:
        detail = f"unexpected {type(err).__name__}: {err}"
    error(detail + ("" if debug else " (run with --debug for the traceback)"))
    return 1
