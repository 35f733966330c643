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


def interrupt_or_exit(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C while a command runs: KeyboardInterrupt, so that the command unwinds; but while
    Python is importing a module (mreg imports lazily, so a command may be inside an import),
    the exit at once that ``exit_interrupted`` makes. A KeyboardInterrupt raised inside the import
    machinery comes out as another error, or is printed as "Exception ignored" by Python itself;
    exiting there is safe, as a kill would be: every write of the store is atomic (at worst a
    temp file is left for gc)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            exit_interrupted(signum, frame)
        frame = frame.f_back
    raise KeyboardInterrupt


def install() -> None:
    signal.signal(signal.SIGINT, exit_interrupted)


@contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt inside the block (or exits at once inside an import, see
    ``interrupt_or_exit``). Only where ``exit_interrupted`` is the
    handler (a process started by the entry point): a test calling the app in-process keeps its
    own."""
    if signal.getsignal(signal.SIGINT) is not exit_interrupted:
        yield
        return
    signal.signal(signal.SIGINT, interrupt_or_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, exit_interrupted)
