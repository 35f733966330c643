"""The global options (``--store``, ``--lock-timeout``, ``--debug``), kept on the root context.

Its own small module: ``app.py`` needs it for every command, ``--version`` included, and must not
pay for what the commands share in ``common.py`` (the registry, the completions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Options:
    __slots__ = ("debug", "lock_timeout", "store")

    def __init__(self) -> None:
        self.store: Path | None = None
        self.debug = False
        self.lock_timeout: float | None = None


def options(ctx: Any) -> Options:
    """The global options of the command line ``ctx`` belongs to (a ``typer.Context``)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Options):
        root.obj = Options()
    return root.obj
