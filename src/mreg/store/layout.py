"""Every path inside ``.mreg/``. Nothing else builds a store path by hand.

```
.mreg/
  config.toml                      format version and settings, remotes
  config.local.toml                this user's remote overrides (never committed)
  policy.toml                      protected aliases and stage order (optional, committed)
  .gitignore  .gitattributes       lock, temp and cache files kept out of git
  lock                             the store lock (never committed)
  tmp/                             artifacts being copied in (never committed)
  tmp/pin                          held by writers with objects in flight, so gc leaves them alone
  cache/trees/<hex>/               directory artifacts materialized for `resolve --field path`
  cache/verified/<hex>             when a blob was last hashed: its inode, size and times then
  trash/                           folders being deleted (a crash leaves them for `mreg gc`)
  objects/sha256/ab/cdef…          artifact blobs, read-only, named by their sha256
  history/                         store-level events (models deleted)
  models/<name>/model.toml         description, tags, created/updated
  models/<name>/versions/<n>.toml  one version (a tombstone once deleted)
  models/<name>/aliases/<alias>    one alias: the version it points at
  models/<name>/history/<id>.toml  one event, append-only
```
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import NamedTuple

from mreg.names import VERSION_MAX

STORE_DIRNAME = ".mreg"
FORMAT = 1
CONFIG = "config.toml"
CONFIG_LOCAL = "config.local.toml"
POLICY = "policy.toml"
GITIGNORE = ".gitignore"
GITATTRIBUTES = ".gitattributes"
LOCK = "lock"
MODELS = "models"
# Top-level folders and files that hold no registry state: never committed, left out of diffs.
LOCAL_ENTRIES = ("lock", "tmp", "trash", "cache", CONFIG_LOCAL)
# Everything mreg writes at the top of the store, and in a model's folder.
STORE_ENTRIES = frozenset(
    {
        CONFIG,
        CONFIG_LOCAL,
        POLICY,
        GITIGNORE,
        GITATTRIBUTES,
        LOCK,
        "tmp",
        "trash",
        "cache",
        "objects",
        "models",
    }
    | {"history"}
)
MODEL_ENTRIES = frozenset({"model.toml", "versions", "aliases", "history"})
# The folders whose files are records (what `mreg diff` and `mreg merge` compare).
RECORD_FOLDERS = ("models", "history")


class Layout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._model_dirs: dict[str, Path] = {}
        self._inner: dict[tuple[str, str], Path] = {}

    @functools.cached_property
    def config(self) -> Path:
        return self.root / CONFIG

    @functools.cached_property
    def config_local(self) -> Path:
        return self.root / CONFIG_LOCAL

    @functools.cached_property
    def policy(self) -> Path:
        return self.root / POLICY

    @functools.cached_property
    def gitignore(self) -> Path:
        return self.root / GITIGNORE

    @functools.cached_property
    def gitattributes(self) -> Path:
        return self.root / GITATTRIBUTES

    @functools.cached_property
    def lock(self) -> Path:
        return self.root / LOCK

    @functools.cached_property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @functools.cached_property
    def pin(self) -> Path:
        return self.tmp / "pin"

    @functools.cached_property
    def trash(self) -> Path:
        return self.root / "trash"

    @functools.cached_property
    def objects(self) -> Path:
        return self.root / "objects" / "sha256"

    @functools.cached_property
    def models(self) -> Path:
        return self.root / MODELS

    @functools.cached_property
    def store_history(self) -> Path:
        return self.root / "history"

    @functools.cached_property
    def tree_caches(self) -> Path:
        return self.root / "cache" / "trees"

    @functools.cached_property
    def verified_markers(self) -> Path:
        return self.root / "cache" / "verified"

    def blob(self, hexdigest: str) -> Path:
        return self.objects / hexdigest[:2] / hexdigest[2:]

    def tree_cache(self, hexdigest: str) -> Path:
        return self.tree_caches / hexdigest

    def verified_marker(self, hexdigest: str) -> Path:
        return self.verified_markers / hexdigest

    def path(self, rel: str) -> Path:
        """The path of ``rel``, a POSIX path inside the store as ``rel_*`` build them."""
        return self.root.joinpath(*rel.split("/"))

    def rel(self, path: Path) -> str:
        """``path`` inside the store as a POSIX relative path ("" for the root)."""
        return path.relative_to(self.root).as_posix() if path != self.root else ""

    def model_dir(self, name: str) -> Path:
        # Cached: a listing of 10,000 models asks for each model's folders several times.
        folder = self._model_dirs.get(name)
        if folder is None:
            folder = self._model_dirs[name] = self.models / name
        return folder

    def model_file(self, name: str) -> Path:
        return self._model_folder(name, "model.toml")

    def _model_folder(self, name: str, folder: str) -> Path:
        # Cached like model_dir: a listing asks for each model's file and folders.
        path = self._inner.get((name, folder))
        if path is None:
            path = self._inner[name, folder] = self.model_dir(name) / folder
        return path

    def versions_dir(self, name: str) -> Path:
        return self._model_folder(name, "versions")

    # The same paths as text, made without a Path (a listing of 10,000 models spent a tenth of
    # its time making them); each is ``str()`` of the Path above.

    @functools.cached_property
    def _models_text(self) -> str:
        return os.fspath(self.models) + os.sep

    def model_file_text(self, name: str) -> str:
        return f"{self._models_text}{name}{os.sep}model.toml"

    def versions_dir_text(self, name: str) -> str:
        return f"{self._models_text}{name}{os.sep}versions"

    def aliases_dir_text(self, name: str) -> str:
        return f"{self._models_text}{name}{os.sep}aliases"

    def version_file(self, name: str, version: int) -> Path:
        return self.versions_dir(name) / f"{version}.toml"

    def aliases_dir(self, name: str) -> Path:
        return self._model_folder(name, "aliases")

    def alias_file(self, name: str, alias: str) -> Path:
        return self.aliases_dir(name) / alias

    def history_dir(self, name: str) -> Path:
        return self._model_folder(name, "history")

    def event_file(self, name: str | None, event_id: str) -> Path:
        """A model's event (``name`` None: a store-level event)."""
        folder = self.store_history if name is None else self.history_dir(name)
        return folder / f"{event_id}.toml"


# A remote holds blobs as the store does, under the same names: keys relative to its URL.

REMOTE_OBJECTS = "objects/sha256"


def remote_blob_key(hexdigest: str) -> str:
    """The key of a blob on a remote, relative to the remote's URL."""
    return f"{REMOTE_OBJECTS}/{hexdigest[:2]}/{hexdigest[2:]}"


def remote_blob_digest(key: str) -> str | None:
    """The sha256 a key under ``REMOTE_OBJECTS`` names (relative to it: ``ab/cdef…``); None for
    anything else, such as the temp name of an upload in flight."""
    parts = key.strip("/").split("/")
    if len(parts) != 2 or len(parts[0]) != 2 or len(parts[1]) != 62:
        return None
    digest = parts[0] + parts[1]
    return digest if all(c in "0123456789abcdef" for c in digest) else None


# POSIX paths relative to the store, as git names them (diff, merge and the git side of gc).


def rel_model_file(name: str) -> str:
    return f"models/{name}/model.toml"


def rel_versions_dir(name: str) -> str:
    return f"models/{name}/versions"


def rel_version_file(name: str, version: int) -> str:
    return f"models/{name}/versions/{version}.toml"


def rel_aliases_dir(name: str) -> str:
    return f"models/{name}/aliases"


def rel_alias_file(name: str, alias: str) -> str:
    return f"models/{name}/aliases/{alias}"


def rel_policy() -> str:
    return POLICY


def rel_history_dir(name: str | None) -> str:
    return "history" if name is None else f"models/{name}/history"


def rel_event_file(name: str | None, event_id: str) -> str:
    return f"{rel_history_dir(name)}/{event_id}.toml"


class StorePath(NamedTuple):
    """What a record path holds: ``kind`` is model, version, alias, event or store_event;
    ``key`` the version number, alias or event id (None for a model file)."""

    kind: str
    model: str
    key: str | int | None


def parse_rel(path: str) -> StorePath | None:
    """What the POSIX path ``path`` inside the store holds; None for anything that is not a
    record (config, objects, temp files)."""
    parts = path.split("/")
    if len(parts) == 2 and parts[0] == "history":
        event_id = event_id_from_filename(parts[1])
        return None if event_id is None else StorePath("store_event", "", event_id)
    if len(parts) < 3 or parts[0] != "models" or parts[1].startswith("."):
        return None
    model = parts[1]
    if len(parts) == 3:
        return StorePath("model", model, None) if parts[2] == "model.toml" else None
    if len(parts) != 4 or parts[3].startswith("."):
        return None
    folder, filename = parts[2], parts[3]
    if folder == "versions":
        number = version_from_filename(filename)
        return None if number is None else StorePath("version", model, number)
    if folder == "aliases":
        return StorePath("alias", model, filename)
    if folder == "history":
        event_id = event_id_from_filename(filename)
        return None if event_id is None else StorePath("event", model, event_id)
    return None


def event_id_from_filename(filename: str) -> str | None:
    """``'<id>.toml'`` → the event id; None for temp files and stray names."""
    if filename.startswith(".") or not filename.endswith(".toml"):
        return None
    return filename[: -len(".toml")]


_VERSION_DIGITS_MAX = len(str(VERSION_MAX))


def version_from_filename(filename: str) -> int | None:
    """``'7.toml'`` → 7; anything else (temp files, stray names, a number above ``VERSION_MAX``)
    → None. Every reader lists versions through this, so a file named with an out-of-range
    number is ignored alike by listings, ``latest``, the next number and fsck (which warns)."""
    stem, dot, ext = filename.partition(".")
    if ext != "toml" or not dot or not stem.isascii() or not stem.isdigit() or stem.startswith("0"):
        return None
    if len(stem) > _VERSION_DIGITS_MAX:
        return None
    number = int(stem)
    return number if number <= VERSION_MAX else None
