"""The command line: one small Typer app per noun, joined in ``app.py``.

Commands parse, make one call into ``mreg.Registry``, and hand the result to ``output``; Rich is
imported only by ``render`` and only when something is drawn on a terminal.

Every command ends in ``finish``, here because the package is imported first and costs nothing.
"""

from __future__ import annotations

import os
import sys

# Not `from typing import NoReturn`: typing imports re, and this package is imported before the
# entry point makes Ctrl-C a one-line error (mypy knows this name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


def stdout_gone() -> int:
    """The reader went away (`mreg versions list | head -1`): stop quietly, as git and the
    coreutils do, with the code of a process killed by SIGPIPE (141). Pointing stdout at /dev/null
    keeps any later flush, at exit too, from raising the same error again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141


def finish(code: int) -> NoReturn:
    """End the process with ``code`` once stdout is flushed: here, not at interpreter shutdown,
    because when the reader has gone away Python would report that flush's BrokenPipeError itself
    and exit 120. When stdout is a pipe it is block-buffered, so a short output meets the closed
    pipe only here."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = stdout_gone()
    # The outcome is decided: a Ctrl-C from here on changes nothing, and Python's shutdown puts
    # the default SIGINT action back, which would kill the process by the signal (exit -2) after
    # the command succeeded. Blocked, a late SIGINT is dropped with the process. Only in an mreg
    # process (its handler installed): a caller running the app in-process keeps its Ctrl-C.
    import signal

    if getattr(signal.getsignal(signal.SIGINT), "__module__", None) == "mreg.cli.interrupt":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    sys.exit(code)
