"""Every path inside ``.mreg/``. Nothing else builds a store path by hand.

```
.mreg/
  config.toml                      format version and settings
  .gitignore  .gitattributes       lock, temp and cache files kept out of git
  lock                             the store lock (never committed)
  tmp/                             artifacts being copied in (never committed)
  tmp/pin                          held by writers with objects in flight, so gc leaves them alone
  cache/trees/<hex>/               directory artifacts materialized for `resolve --field path`
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
from pathlib import Path

STORE_DIRNAME = ".mreg"
FORMAT = 1


class Layout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._model_dirs: dict[str, Path] = {}

    @functools.cached_property
    def config(self) -> Path:
        return self.root / "config.toml"

    @functools.cached_property
    def lock(self) -> Path:
        return self.root / "lock"

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
        return self.root / "models"

    @functools.cached_property
    def store_history(self) -> Path:
        return self.root / "history"

    def blob(self, hexdigest: str) -> Path:
        return self.objects / hexdigest[:2] / hexdigest[2:]

    def tree_cache(self, hexdigest: str) -> Path:
        return self.root / "cache" / "trees" / hexdigest

    def model_dir(self, name: str) -> Path:
        # Cached: a listing of 10,000 models asks for each model's folders several times.
        folder = self._model_dirs.get(name)
        if folder is None:
            folder = self._model_dirs[name] = self.models / name
        return folder

    def model_file(self, name: str) -> Path:
        return self.model_dir(name) / "model.toml"

    def versions_dir(self, name: str) -> Path:
        return self.model_dir(name) / "versions"

    def version_file(self, name: str, version: int) -> Path:
        return self.model_dir(name) / "versions" / f"{version}.toml"

    def aliases_dir(self, name: str) -> Path:
        return self.model_dir(name) / "aliases"

    def alias_file(self, name: str, alias: str) -> Path:
        return self.model_dir(name) / "aliases" / alias

    def history_dir(self, name: str) -> Path:
        return self.model_dir(name) / "history"


def version_from_filename(filename: str) -> int | None:
    """``'7.toml'`` → 7; anything else (temp files, stray names) → None."""
    stem, dot, ext = filename.partition(".")
    if ext != "toml" or not dot or not stem.isascii() or not stem.isdigit() or stem.startswith("0"):
        return None
    return int(stem)
