"""``files.scanning``: within one listing a folder is checked once; outside it, every read checks
every component again, so a symlink planted between two calls is still refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mreg import Registry, StoreError
from mreg.store import files


def test_a_symlink_planted_between_two_listings_is_refused(
    registry: Registry, model_file: Path, tmp_path: Path
) -> None:
    registry.create_model_version("m", model_file)
    assert [v.version for v in registry.list_model_versions("m")] == [1]
    outside = tmp_path / "outside"
    outside.mkdir()
    versions = registry.store.layout.versions_dir("m")
    os.rename(versions, outside / "versions")
    os.symlink(outside / "versions", versions)
    with pytest.raises(StoreError, match="symlink"):
        registry.list_model_versions("m")


def test_within_a_scan_folders_are_checked_once(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_lstat = os.lstat
    monkeypatch.setattr(files.os, "lstat", lambda p: calls.append(os.fspath(p)) or real_lstat(p))
    target = registry.store.layout.versions_dir("m") / "1.toml"
    registry.store.layout.versions_dir("m").mkdir(parents=True)
    with files.scanning():
        files.ensure_no_symlink(registry.root, target)
        first = len(calls)
        files.ensure_no_symlink(registry.root, target)
    assert first == 4 and len(calls) == first + 1  # models, m, versions, 1.toml; then 1.toml only
    files.ensure_no_symlink(registry.root, target)
    assert len(calls) == first + 1 + 4  # outside the scan: every component again


def test_paths_outside_or_not_plain_are_refused(registry: Registry) -> None:
    with pytest.raises(StoreError, match="outside the store"):
        files.ensure_no_symlink(registry.root, registry.root.parent / "x")
    with pytest.raises(StoreError, match="not a plain path"):
        files.ensure_no_symlink(registry.root, Path(f"{registry.root}/models/../x"))
