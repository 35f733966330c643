"""Model versions through the Python API: registration, numbering, tombstones, lineage."""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from helpers import git, snapshot

from mreg import AlreadyExists, InvalidInput, NotFound, Registry, StoreError


def test_register_a_file_creates_the_model_and_version_1(
    registry: Registry, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MREG_USER", "release-bot")
    mv = registry.create_model_version(
        "fraud", model_file, run_id="8f2c", tags={"dataset": "may"}, description="first", message="why"
    )
    assert (mv.name, mv.version, mv.run_id, mv.tags, mv.description) == (
        "fraud",
        1,
        "8f2c",
        {"dataset": "may"},
        "first",
    )
    assert mv.user_id == "release-bot"
    assert mv.current_stage == "None"
    assert mv.status == "READY"
    assert mv.artifact.kind == "file"
    assert mv.artifact.size == len(b"weights v1\n")
    assert mv.artifact.files[0].path == "model.bin"
    assert mv.created_at.tzinfo == dt.UTC
    assert registry.get_registered_model("fraud").created_by == "release-bot"


def test_versions_count_up_from_1(registry: Registry, model_file: Path) -> None:
    numbers = [registry.create_model_version("fraud", model_file).version for _ in range(3)]
    assert numbers == [1, 2, 3]


def test_version_numbers_are_never_reused_after_delete(registry: Registry, model_file: Path) -> None:
    for _ in range(3):
        registry.create_model_version("fraud", model_file)
    registry.delete_model_version("fraud", 3)
    registry.delete_model_version("fraud", 2)
    assert registry.create_model_version("fraud", model_file).version == 4
    assert [v.version for v in registry.list_model_versions("fraud")] == [1, 4]


def test_a_deleted_version_leaves_a_tombstone_without_an_artifact(
    registry: Registry, model_file: Path
) -> None:
    registry.create_model_version("fraud", model_file, run_id="r1")
    registry.delete_model_version("fraud", 1, message="leaked test data")
    record = tomllib.loads((registry.root / "models" / "fraud" / "versions" / "1.toml").read_text())
    assert record["status"] == "DELETED"
    assert "artifact" not in record
    assert {"created_at", "created_by", "updated_at", "deleted_by", "source"} <= set(record)
    with pytest.raises(NotFound, match="version 1 of model 'fraud' was deleted"):
        registry.get_model_version("fraud", 1)
    with pytest.raises(NotFound, match="was deleted"):
        registry.delete_model_version("fraud", 1)


def test_no_counter_file_exists_only_one_file_per_version(registry: Registry, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file)
    registry.create_model_version("fraud", model_file)
    folder = registry.root / "models" / "fraud"
    assert sorted(os.listdir(folder / "versions")) == ["1.toml", "2.toml"]
    assert sorted(p.name for p in folder.iterdir()) == ["history", "model.toml", "versions"]


def test_unknown_model_or_version_is_not_found(registry: Registry, model_file: Path) -> None:
    with pytest.raises(NotFound, match="model 'nope' not found"):
        registry.get_model_version("nope", 1)
    registry.create_model_version("fraud", model_file)
    with pytest.raises(NotFound, match="version 2 of model 'fraud' not found"):
        registry.get_model_version("fraud", 2)
    with pytest.raises(NotFound, match="version 9 of model 'fraud' not found"):
        registry.delete_model_version("fraud", 9)


def test_a_missing_source_is_not_found_and_changes_nothing(registry: Registry, isolated: Path) -> None:
    before = snapshot(registry.root)
    with pytest.raises(NotFound, match=r"source missing\.bin does not exist"):
        registry.create_model_version("fraud", "missing.bin")
    assert snapshot(registry.root) == before
    assert registry.model_names() == []


def test_an_empty_source_folder_is_refused(registry: Registry, isolated: Path) -> None:
    (isolated / "empty").mkdir()
    with pytest.raises(InvalidInput, match="holds no files"):
        registry.create_model_version("fraud", isolated / "empty")
    assert registry.model_names() == []


def test_an_empty_source_string_is_refused(registry: Registry) -> None:
    with pytest.raises(InvalidInput, match="source must not be empty"):
        registry.create_model_version("fraud", "")


@pytest.mark.parametrize(
    "uri", ["s3://bucket/fraud/model.onnx", "gs://b/m", "https://example.com/m.onnx", "runs:/8f2c/model"]
)
def test_a_uri_source_is_recorded_as_a_reference(registry: Registry, uri: str) -> None:
    mv = registry.create_model_version("fraud", uri)
    assert mv.source == uri
    assert mv.artifact.kind == "uri"
    assert mv.artifact.uri == uri
    assert mv.artifact.digest is None
    assert not list((registry.root / "objects").rglob("*")) or all(
        p.is_dir() for p in (registry.root / "objects").rglob("*")
    )
    assert registry.get_model_version_download_uri("fraud", 1) == uri


def test_a_case_only_duplicate_name_is_refused_and_stores_no_blob(registry: Registry, isolated: Path) -> None:
    first = isolated / "first.bin"
    first.write_bytes(b"one")
    registry.create_model_version("fraud", first)
    before = snapshot(registry.root)
    other = isolated / "other.bin"
    other.write_bytes(b"different content")
    with pytest.raises(AlreadyExists, match="differ only in case"):
        registry.create_model_version("Fraud", other)
    assert snapshot(registry.root) == before


def test_register_against_a_malformed_model_file_stores_no_blob(registry: Registry, isolated: Path) -> None:
    registry.create_registered_model("fraud")
    (registry.root / "models" / "fraud" / "model.toml").write_text("x = [\n")
    before = snapshot(registry.root)
    source = isolated / "m.bin"
    source.write_bytes(b"new bytes")
    with pytest.raises(StoreError, match=r"model\.toml\S*: invalid TOML"):
        registry.create_model_version("fraud", source)
    assert snapshot(registry.root) == before


def test_the_version_file_holds_every_field(registry: Registry, model_file: Path) -> None:
    registry.create_model_version(
        "fraud", model_file, run_id="r", run_link="https://ci/r", description="d", tags={"k": "v"}
    )
    record = tomllib.loads((registry.root / "models" / "fraud" / "versions" / "1.toml").read_text())
    assert list(record) == [
        "status",
        "created_at",
        "created_by",
        "updated_at",
        "source",
        "run_id",
        "run_link",
        "stage",
        "description",
        "artifact",
        "lineage",
        "tags",
    ]
    assert record["artifact"]["digest"].startswith("sha256:")
    assert record["artifact"]["files"][0]["size"] == model_file.stat().st_size


def test_update_changes_the_description_only(registry: Registry, model_file: Path) -> None:
    mv = registry.create_model_version("fraud", model_file, description="old")
    updated = registry.update_model_version("fraud", 1, "new")
    assert updated.description == "new"
    assert updated.artifact == mv.artifact
    assert updated.source == mv.source
    assert updated.created_at == mv.created_at
    assert updated.updated_at > mv.updated_at


def test_version_tags(registry: Registry, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file, tags={"a": "1"})
    registry.set_model_version_tag("fraud", 1, "b", "2")
    registry.set_model_version_tags("fraud", "1", {"a": "one", "c": "3"})
    assert registry.get_model_version("fraud", 1).tags == {"a": "one", "b": "2", "c": "3"}
    registry.delete_model_version_tag("fraud", 1, "b")
    registry.delete_model_version_tags("fraud", 1, ["c", "never-set"])
    assert registry.get_model_version("fraud", 1).tags == {"a": "one"}


def test_tags_of_a_deleted_version_cannot_change(registry: Registry, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file)
    registry.delete_model_version("fraud", 1)
    with pytest.raises(NotFound):
        registry.set_model_version_tag("fraud", 1, "k", "v")


def test_list_versions_of_one_model_or_all(registry: Registry, model_file: Path) -> None:
    registry.create_model_version("b", model_file)
    registry.create_model_version("a", model_file)
    registry.create_model_version("a", model_file)
    assert [(v.name, v.version) for v in registry.list_model_versions()] == [("a", 1), ("a", 2), ("b", 1)]
    assert [v.version for v in registry.list_model_versions("a")] == [1, 2]
    with pytest.raises(NotFound):
        registry.list_model_versions("nope")


def test_version_files_sort_numerically_not_as_text(registry: Registry, model_file: Path) -> None:
    for _ in range(11):
        registry.create_model_version("fraud", model_file)
    assert registry.create_model_version("fraud", model_file).version == 12
    assert registry.resolve("fraud/latest").version == 12


def test_stray_files_in_the_versions_folder_are_ignored(registry: Registry, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file)
    folder = registry.root / "models" / "fraud" / "versions"
    (folder / ".2.toml.abcd1234.tmp").write_text("partial")
    (folder / "notes.txt").write_text("x")
    (folder / "07.toml").write_text("x")
    assert registry.create_model_version("fraud", model_file).version == 2


def test_outside_git_the_lineage_is_empty(registry: Registry, model_file: Path) -> None:
    mv = registry.create_model_version("fraud", model_file)
    assert mv.lineage.git_commit is None
    assert mv.lineage.git_dirty is None
    assert mv.source == str(model_file)


def test_in_git_the_lineage_records_commit_branch_dirtiness_and_repo_path(
    isolated: Path,
) -> None:
    git("init", "-q", "-b", "main", cwd=isolated)
    (isolated / "train.py").write_text("print(1)\n")
    git("add", "train.py", cwd=isolated)
    git("commit", "-q", "-m", "code", cwd=isolated)
    commit = git("rev-parse", "HEAD", cwd=isolated).strip()
    registry = Registry.init(isolated)
    (isolated / "out").mkdir()
    (isolated / "out" / "m.bin").write_bytes(b"m")
    clean = registry.create_model_version("fraud", isolated / "out" / "m.bin")
    assert clean.lineage.git_commit == commit
    assert clean.lineage.git_branch == "main"
    assert clean.lineage.git_dirty is False  # the store itself and untracked files do not count
    assert clean.lineage.source_path == "out/m.bin"
    assert clean.source == "out/m.bin"
    (isolated / "train.py").write_text("print(2)\n")
    dirty = registry.create_model_version("fraud", isolated / "out" / "m.bin")
    assert dirty.lineage.git_dirty is True
    assert registry.get_history("fraud")[-1].git_commit == commit


def test_a_deleted_versions_aliases_go_with_it(registry: Registry, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file, aliases=["champion", "stable"])
    registry.create_model_version("fraud", model_file, aliases=["challenger"])
    registry.delete_model_version("fraud", 1)
    assert registry.get_aliases("fraud") == {"challenger": 2}


def test_the_mlflow_method_names_exist() -> None:
    for method in (
        "create_registered_model",
        "get_registered_model",
        "rename_registered_model",
        "update_registered_model",
        "delete_registered_model",
        "create_model_version",
        "get_model_version",
        "update_model_version",
        "delete_model_version",
        "set_registered_model_alias",
        "delete_registered_model_alias",
        "get_model_version_by_alias",
        "set_registered_model_tag",
        "delete_registered_model_tag",
        "set_model_version_tag",
        "delete_model_version_tag",
        "transition_model_version_stage",
        "get_latest_versions",
        "get_model_version_download_uri",
    ):
        assert callable(getattr(Registry, method)), method


def test_a_register_racing_the_creation_of_its_model_is_not_refused_as_a_case_twin(
    registry: Registry, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process is creating "fraud": its folder exists, its model.toml not yet (make_dirs
    # comes before the atomic write). The check made before copying the artifact in must not
    # take the folder for a model whose name differs only in case.
    (registry.root / "models" / "fraud").mkdir()
    store_artifact = registry.store.objects.store_source

    def other_process_finishes_first(*args: Any, **kwargs: Any) -> Any:
        (registry.root / "models" / "fraud").rmdir()
        registry.create_registered_model("fraud")
        return store_artifact(*args, **kwargs)

    monkeypatch.setattr(registry.store.objects, "store_source", other_process_finishes_first)
    assert registry.create_model_version("fraud", model_file).version == 1
    assert [e.action for e in registry.get_history("fraud")] == ["model_created", "version_registered"]
