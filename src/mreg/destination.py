"""Where ``mreg get -o DEST`` may write. ``--force`` replaces DEST, so a DEST that is the store, lies
inside it, or holds it (or the git work tree of the project around it) would destroy the registry or
the project: ``mreg get fraud/2 -o . --force`` in the project's root must not replace the project
with a model file. Inside the store, even a new file is refused: it would be debris that fsck reports
and git may commit."""

from __future__ import annotations

import os
from pathlib import Path

from mreg.errors import InvalidInput


def _real(path: Path) -> Path:
    # realpath resolves symlinks in the part of the path that exists, so a link to the store counts
    return Path(os.path.realpath(os.path.abspath(path)))


def _work_tree(folder: Path) -> Path | None:
    """The nearest folder at or above ``folder`` that holds ``.git`` (a folder, or a file in a
    linked work tree or submodule)."""
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate
    return None


def check_destination(store_root: Path, dest: Path) -> None:
    """Raise InvalidInput (exit 2) when writing or replacing ``dest`` could touch the store at
    ``store_root`` (the ``.mreg`` folder) or the project that holds it. Nothing is written."""
    store = _real(store_root)
    target = _real(dest)
    if target == store:
        raise InvalidInput(f"refusing to write to {dest}: it is the store")
    if store in target.parents:
        raise InvalidInput(f"refusing to write to {dest}: it is inside the store {store_root}")
    work_tree = _work_tree(store.parent)
    if work_tree is not None and (target == work_tree or target in work_tree.parents):
        raise InvalidInput(f"refusing to write to {dest}: it holds the git work tree {work_tree}")
    if target in store.parents:
        raise InvalidInput(f"refusing to write to {dest}: it holds the store {store_root}")
