"""The ``mreg`` command's entry point. Its first lines make Ctrl-C end the process with one line
``error: interrupted`` and exit code 130 from the first instant, while Python is still importing
the command line (a KeyboardInterrupt there would print a traceback). Nothing is written to the
store before a command runs, so ending at once is safe; while a command runs, ``interruptible``
lets Ctrl-C raise KeyboardInterrupt so that the command unwinds (lock released, temporary files
removed) and the error funnel reports it.
"""

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def exit_interrupted(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"error: interrupted\n")
    os._exit(130)


signal.signal(signal.SIGINT, exit_interrupted)


@contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt inside the block. Only where ``exit_interrupted`` is the
    handler (a process started by this entry point): a test calling the app in-process keeps its
    own."""
    if signal.getsignal(signal.SIGINT) is not exit_interrupted:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, exit_interrupted)


def main() -> None:
    from mreg.cli.app import main as run

    run()
