"""A snapshot of every file in a store, to assert that a failed command changed nothing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

WORKING_FOLDERS = ("tmp", "cache", "trash")


def snapshot(store: Path) -> dict[str, str]:
    """Relative path → sha256 (or ``-> target`` for a symlink) of every file under ``store``.

    The store's working files are left out (the lock file, tmp/, cache/ and trash/): they hold
    nothing that is not recorded elsewhere, are never committed, and may be created by any
    command. A leftover temp file elsewhere, or a stray blob in objects/, does count."""
    found: dict[str, str] = {}
    for folder, _dirs, filenames in os.walk(store):
        for filename in filenames:
            path = Path(folder) / filename
            rel = path.relative_to(store).as_posix()
            if rel == "lock" or rel.split("/", 1)[0] in WORKING_FOLDERS:
                continue
            if path.is_symlink():
                found[rel] = f"-> {os.readlink(path)}"
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
