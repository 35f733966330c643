"""A progress bar while a large artifact is hashed and copied: bytes, rate and time left, on
stderr, only when a person is watching (stdout and stderr are terminals, no ``-q``).

``Registry.create_model_version`` and ``download_artifact`` report the bytes of every chunk they
copy; the total is known before they start (the source's size, or the size in the version record).
Rich is imported only when a bar is drawn.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

THRESHOLD = 64 * 1024 * 1024
"""Artifacts smaller than this copy too fast for a bar to help."""


def watched(quiet: bool) -> bool:
    """Whether a person sees the output: both streams on a terminal, not ``-q``, not TERM=dumb."""
    return not quiet and sys.stdout.isatty() and sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def local_size(source: str) -> int | None:
    """Bytes ``register`` will copy from a local file or folder (symlinks not followed); None for
    a URI or anything unreadable (the registry reports those)."""
    try:
        if os.path.isfile(source):
            return os.path.getsize(source)
        if not os.path.isdir(source):
            return None
        total = 0
        for folder, _dirs, names in os.walk(source):
            for name in names:
                path = os.path.join(folder, name)
                if not os.path.islink(path):
                    total += os.path.getsize(path)
        return total
    except OSError:
        return None


@contextmanager
def byte_progress(
    description: str, total: Callable[[], int | None], *, quiet: bool
) -> Iterator[Callable[[int], None] | None]:
    """The ``progress`` callback to pass to the registry, or None when no bar is shown. ``total``
    is called only when someone is watching, so scripts never pay for walking a folder."""
    size = total() if watched(quiet) else None
    if size is None or size < THRESHOLD:
        yield None
        return
    from mreg.cli import render

    with render.byte_progress(description, size) as advance:
        yield advance
