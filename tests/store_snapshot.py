"""A snapshot of every file in a store, to assert that a failed command changed nothing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def snapshot(store: Path) -> dict[str, str]:
    """Relative path → sha256 (or ``-> target`` for a symlink) of every file under ``store``.

    The lock file is left out: it is created by the first command that takes the lock, holds no
    data, and is never committed."""
    found: dict[str, str] = {}
    for folder, _dirs, filenames in os.walk(store):
        for filename in filenames:
            path = Path(folder) / filename
            rel = path.relative_to(store).as_posix()
            if rel == "lock":
                continue
            if path.is_symlink():
                found[rel] = f"-> {os.readlink(path)}"
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
