"""The Store: what each read opens, and the batched reader's handling of bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from mreg import AlreadyExists, InvalidInput, Registry, StoreError
from mreg.store import store as store_module
from mreg.store.records import AnyVersion, Tombstone, VersionRecord
from mreg.store.store import Store


def _count_version_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    original = store_module.parse_version

    def counting(path: Path | str, raw: dict[str, object]) -> AnyVersion:
        read.append(str(path))
        return original(path, raw)

    monkeypatch.setattr(store_module, "parse_version", counting)
    return read


def test_a_listing_of_newest_versions_reads_one_version_file_per_model(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(1, 9):
        registry.create_model_version("m", f"s3://bucket/m/{n}")
    registry.transition_model_version_stage("m", 2, "Production")
    registry.delete_model_version("m", 8)
    read = _count_version_reads(monkeypatch)
    (model,) = registry.list_registered_models_page()
    assert [v.version for v in model.latest_versions] == [7]
    assert len(read) <= 4  # the newest batch: 8 is a tombstone, 7 the newest live version
    read.clear()
    (full,) = registry.search_registered_models()
    assert [v.version for v in full.latest_versions] == [2, 7]
    assert len(read) == 8


def test_history_with_a_limit_reads_only_the_newest_event_files(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(1, 6):
        registry.create_model_version("m", f"s3://bucket/m/{n}")
        registry.set_registered_model_alias("m", "champion", n)
    everything = registry.get_history("m")
    opened: list[str] = []
    original = store_module.files.read_toml

    def counting(root: Path, path: Path) -> dict[str, object]:
        opened.append(path.name)
        return original(root, path)

    monkeypatch.setattr(store_module.files, "read_toml", counting)
    newest = registry.get_history("m", limit=3)
    assert newest == everything[-3:]
    assert sorted(opened) == sorted(f"{e.id}.toml" for e in newest)


def test_scan_versions_names_each_bad_file_and_goes_on(registry: Registry) -> None:
    for n in range(1, 4):
        registry.create_model_version("m", f"s3://bucket/m/{n}")
    registry.delete_model_version("m", 3)
    store = Store(registry.root)
    store.layout.version_file("m", 2).write_text("status = [broken\n")
    found = dict(store.scan_versions("m", [1, 2, 3, 4]))
    assert isinstance(found[1], VersionRecord) and isinstance(found[3], Tombstone)
    assert isinstance(found[2], StoreError) and "2.toml:1" in str(found[2])
    assert 4 not in found
    with pytest.raises(StoreError, match=r"2\.toml"):
        list(store.versions("m", [1, 2]))


def test_next_version_counts_tombstones_and_versions_added_since_the_listing(registry: Registry) -> None:
    for n in range(1, 4):
        registry.create_model_version("m", f"s3://bucket/m/{n}")
    registry.delete_model_version("m", 3)
    store = registry.store
    assert store.next_version("m", 3) == 4
    assert store.next_version("m", 1) == 4  # 2 and 3 were added since a listing that saw 1
    assert store.next_version("m", 0) == 4


def test_the_store_refuses_a_name_taken_in_another_case(registry: Registry) -> None:
    registry.create_registered_model("Fraud")
    with pytest.raises(AlreadyExists, match="differ only in case"):
        registry.store.refuse_case_twin("fraud")
    registry.store.refuse_case_twin("Fraud", ignore="Fraud")


@pytest.mark.parametrize("where", ["store", "inside", "project"])
def test_the_python_api_refuses_a_destination_at_the_store_or_project(
    registry: Registry, model_file: Path, where: str
) -> None:
    mv = registry.create_model_version("m", model_file)
    (registry.root.parent / ".git").mkdir()
    dest = {"store": registry.root, "inside": registry.root / "out.bin", "project": registry.root.parent}[
        where
    ]
    before = sorted(p.name for p in registry.root.parent.iterdir())
    with pytest.raises(InvalidInput, match="refusing to write"):
        registry.download_artifact(mv, dest, force=True)
    assert sorted(p.name for p in registry.root.parent.iterdir()) == before
    assert registry.get_model_version("m", 1) == mv
