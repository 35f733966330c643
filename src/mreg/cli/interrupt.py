"""Ctrl-C: one line ``error: interrupted`` and exit code 130, from the first instant of the
``mreg`` process (``install``, called by the entry point's first lines) to the start of a
command; while a command runs, ``interruptible`` lets Ctrl-C raise KeyboardInterrupt so that the
command unwinds (lock released, temporary files removed) and the error funnel reports it."""

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def exit_interrupted(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"error: interrupted\n")
    os._exit(130)


def install() -> None:
    signal.signal(signal.SIGINT, exit_interrupted)


@contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt inside the block. Only where ``exit_interrupted`` is the
    handler (a process started by the entry point): a test calling the app in-process keeps its
    own."""
    if signal.getsignal(signal.SIGINT) is not exit_interrupted:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, exit_interrupted)
