"""Aliases, stages, URI resolution and verified downloads through the Python API."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mreg import AlreadyExists, Conflict, IntegrityError, InvalidInput, NotFound, Registry
from mreg.errors import MregError


def blob_of(registry: Registry, version: int) -> Path:
    return registry.artifact_path(registry.get_model_version("fraud", version))


# ----------------------------------------------------------------------------------------- aliases


def test_set_creates_then_moves_an_alias(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 1)
    assert fraud.get_aliases("fraud") == {"champion": 1}
    fraud.set_registered_model_alias("fraud", "champion", "2")
    assert fraud.get_aliases("fraud") == {"champion": 2}
    assert fraud.get_model_version_by_alias("fraud", "champion").version == 2
    assert fraud.get_model_version("fraud", 2).aliases == ["champion"]
    assert fraud.get_model_version("fraud", 1).aliases == []
    assert fraud.get_registered_model("fraud").aliases == {"champion": 2}


def test_an_alias_is_one_small_file(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 3)
    assert (fraud.root / "models" / "fraud" / "aliases" / "champion").read_text() == "version = 3\n"


def test_several_aliases_may_point_at_one_version(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 2)
    fraud.set_registered_model_alias("fraud", "stable", 2)
    assert fraud.get_model_version("fraud", 2).aliases == ["champion", "stable"]


@pytest.mark.parametrize("reserved", ["latest", "LATEST", "Latest", "v1", "V12"])
def test_reserved_aliases_are_rejected(fraud: Registry, reserved: str) -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        fraud.set_registered_model_alias("fraud", reserved, 1)
    assert fraud.get_aliases("fraud") == {}


def test_an_alias_of_255_characters_is_allowed_and_256_is_not(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "a" * 255, 1)
    assert fraud.resolve(f"fraud@{'a' * 255}").version == 1
    with pytest.raises(InvalidInput, match="limit is 255"):
        fraud.set_registered_model_alias("fraud", "a" * 256, 1)


def test_aliases_differing_only_in_case_may_not_coexist(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 1)
    with pytest.raises(AlreadyExists, match="differ only in case"):
        fraud.set_registered_model_alias("fraud", "Champion", 2)


def test_an_alias_must_point_at_a_live_version(fraud: Registry) -> None:
    with pytest.raises(NotFound, match="version 9 of model 'fraud' not found"):
        fraud.set_registered_model_alias("fraud", "champion", 9)
    fraud.delete_model_version("fraud", 1)
    with pytest.raises(NotFound, match="was deleted"):
        fraud.set_registered_model_alias("fraud", "champion", 1)
    with pytest.raises(NotFound, match="model 'nope' not found"):
        fraud.set_registered_model_alias("nope", "champion", 1)
    assert fraud.get_aliases("fraud") == {}


def test_expect_is_a_compare_and_swap(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 1, expect=0)
    with pytest.raises(Conflict, match="points at version 1, not version 2 as expected"):
        fraud.set_registered_model_alias("fraud", "champion", 3, expect=2)
    with pytest.raises(Conflict, match="not no version as expected"):
        fraud.set_registered_model_alias("fraud", "champion", 3, expect=0)
    fraud.set_registered_model_alias("fraud", "champion", 3, expect=1)
    assert fraud.get_aliases("fraud") == {"champion": 3}


def test_deleting_an_alias_and_a_missing_one(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 1)
    fraud.delete_registered_model_alias("fraud", "champion")
    fraud.delete_registered_model_alias("fraud", "champion")  # not an error
    assert fraud.get_aliases("fraud") == {}
    assert [e.action for e in fraud.get_history("fraud", alias="champion")] == ["alias_set", "alias_deleted"]
    with pytest.raises(NotFound):
        fraud.delete_registered_model_alias("nope", "champion")


def test_deleting_a_version_removes_its_aliases_and_the_event_says_why(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 2)
    fraud.set_registered_model_alias("fraud", "challenger", 3)
    fraud.delete_model_version("fraud", 2, message="leaked test data")
    assert fraud.get_aliases("fraud") == {"challenger": 3}
    removed = fraud.get_history("fraud", alias="champion")[-1]
    assert removed.action == "alias_deleted"
    assert removed.old == 2
    assert removed.reason == "version 2 deleted"
    assert removed.message == "leaked test data"
    with pytest.raises(NotFound, match="alias 'champion' of model 'fraud' not found"):
        fraud.resolve("fraud@champion")


def test_register_with_aliases_sets_them_in_the_same_step(registry: Registry, model_file: Path) -> None:
    mv = registry.create_model_version("fraud", model_file, aliases=["champion", "challenger"])
    assert mv.aliases == ["challenger", "champion"]
    actions = [e.action for e in registry.get_history("fraud")]
    assert actions == ["model_created", "version_registered", "alias_set", "alias_set"]


def test_register_with_a_reserved_alias_registers_nothing(registry: Registry, model_file: Path) -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        registry.create_model_version("fraud", model_file, aliases=["latest"])
    assert registry.model_names() == []


# ---------------------------------------------------------------------------------------- latest


def test_latest_resolves_to_the_highest_live_version(fraud: Registry) -> None:
    assert fraud.resolve("models:/fraud/latest").version == 3
    assert fraud.resolve("fraud@latest").version == 3
    assert fraud.get_model_version_by_alias("fraud", "LATEST").version == 3
    fraud.delete_model_version("fraud", 3)
    assert fraud.resolve("fraud/latest").version == 2
    fraud.delete_model_version("fraud", 1)
    assert fraud.resolve("fraud/latest").version == 2
    fraud.delete_model_version("fraud", 2)
    with pytest.raises(NotFound, match="model 'fraud' has no versions"):
        fraud.resolve("fraud/latest")


def test_v_number_is_the_version_itself(fraud: Registry) -> None:
    assert fraud.resolve("fraud@v2").version == 2


# ---------------------------------------------------------------------------------------- stages


def test_stage_transition_is_case_insensitive_with_canonical_output(fraud: Registry) -> None:
    mv = fraud.transition_model_version_stage("fraud", 1, "production")
    assert mv.current_stage == "Production"
    assert fraud.get_model_version("fraud", 1).current_stage == "Production"
    assert fraud.resolve("models:/fraud/PRODUCTION").version == 1


def test_archive_existing_archives_the_others_in_that_stage(fraud: Registry) -> None:
    fraud.transition_model_version_stage("fraud", 1, "Production")
    fraud.transition_model_version_stage("fraud", 2, "Production")
    fraud.transition_model_version_stage("fraud", 3, "staging")
    fraud.transition_model_version_stage("fraud", 3, "Production", archive_existing_versions=True)
    stages = {v.version: v.current_stage for v in fraud.list_model_versions("fraud")}
    assert stages == {1: "Archived", 2: "Archived", 3: "Production"}
    archived = [e for e in fraud.get_history("fraud") if e.new == "Archived"]
    assert {e.version for e in archived} == {1, 2}
    assert all(e.reason == "version 3 moved to Production" for e in archived)


def test_without_archive_existing_several_versions_share_a_stage(fraud: Registry) -> None:
    fraud.transition_model_version_stage("fraud", 1, "Production")
    fraud.transition_model_version_stage("fraud", 2, "Production")
    assert [v.version for v in fraud.get_latest_versions("fraud", ["production"])] == [2]
    assert fraud.resolve("fraud/Production").version == 2


@pytest.mark.parametrize("stage", ["None", "Archived"])
def test_archive_existing_only_applies_to_staging_and_production(fraud: Registry, stage: str) -> None:
    with pytest.raises(InvalidInput, match="only to the Staging and Production"):
        fraud.transition_model_version_stage("fraud", 1, stage, archive_existing_versions=True)


def test_an_unknown_stage_is_refused(fraud: Registry) -> None:
    with pytest.raises(InvalidInput, match="invalid stage 'prod'"):
        fraud.transition_model_version_stage("fraud", 1, "prod")


def test_get_latest_versions_gives_the_newest_per_stage(fraud: Registry) -> None:
    fraud.transition_model_version_stage("fraud", 1, "Staging")
    latest = {v.current_stage: v.version for v in fraud.get_latest_versions("fraud")}
    assert latest == {"None": 3, "Staging": 1}
    assert [v.version for v in fraud.get_registered_model("fraud").latest_versions] == [1, 3]
    with pytest.raises(NotFound, match="has no version in stage Production"):
        fraud.resolve("fraud/production")


# ----------------------------------------------------------------------------------------- resolve


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/nope/1", "model 'nope' not found"),
        ("nope@champion", "model 'nope' not found"),
        ("nope/latest", "model 'nope' not found"),
        ("models:/fraud/9", "version 9 of model 'fraud' not found"),
        ("models:/fraud@ghost", "alias 'ghost' of model 'fraud' not found"),
    ],
)
def test_a_uri_for_something_missing_is_not_found(fraud: Registry, uri: str, message: str) -> None:
    with pytest.raises(NotFound, match=message) as err:
        fraud.resolve(uri)
    assert err.value.exit_code == 3


def test_resolve_reads_only_the_files_named_by_the_request(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 2)
    (fraud.root / "models" / "fraud" / "versions" / "1.toml").write_text("broken = [\n")
    assert fraud.resolve("fraud@champion").version == 2
    assert fraud.resolve("fraud/3").version == 3


def test_the_download_uri_is_the_local_artifact(fraud: Registry) -> None:
    path = Path(fraud.get_model_version_download_uri("fraud", 2))
    assert path.read_bytes() == b"weights 2\n"


def test_a_reference_has_no_local_path(registry: Registry) -> None:
    mv = registry.create_model_version("fraud", "s3://bucket/m.onnx")
    with pytest.raises(MregError, match=r"reference to s3://bucket/m\.onnx"):
        registry.artifact_path(mv)


# ------------------------------------------------------------------------------------------- get


def test_download_copies_a_file_and_verifies_it(fraud: Registry, isolated: Path) -> None:
    out = fraud.download_artifact(fraud.resolve("fraud/2"), isolated / "out" / "model.bin")
    assert out.read_bytes() == b"weights 2\n"
    assert os.access(out, os.W_OK)  # the user's copy, not the read-only blob


def test_download_copies_a_directory(registry: Registry, model_dir: Path, isolated: Path) -> None:
    mv = registry.create_model_version("fraud", model_dir)
    out = registry.download_artifact(mv, isolated / "copy")
    got = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    want = {p.relative_to(model_dir).as_posix(): p.read_bytes() for p in model_dir.rglob("*") if p.is_file()}
    assert got == want


def test_download_refuses_to_overwrite_without_force(fraud: Registry, isolated: Path) -> None:
    dest = isolated / "model.bin"
    dest.write_bytes(b"mine")
    with pytest.raises(AlreadyExists, match="already exists"):
        fraud.download_artifact(fraud.resolve("fraud/1"), dest)
    assert dest.read_bytes() == b"mine"
    fraud.download_artifact(fraud.resolve("fraud/1"), dest, force=True)
    assert dest.read_bytes() == b"weights 1\n"


def test_download_with_force_replaces_a_folder(registry: Registry, model_dir: Path, isolated: Path) -> None:
    mv = registry.create_model_version("fraud", model_dir)
    dest = isolated / "dest"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    registry.download_artifact(mv, dest, force=True)
    assert not (dest / "old.txt").exists()
    assert (dest / "weights.json").is_file()


def test_download_of_a_tampered_blob_fails_and_leaves_nothing(fraud: Registry, isolated: Path) -> None:
    blob = blob_of(fraud, 2)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"weights X\n")  # same size, other bytes
    dest = isolated / "model.bin"
    with pytest.raises(IntegrityError, match="corrupt") as err:
        fraud.download_artifact(fraud.resolve("fraud/2"), dest)
    assert err.value.exit_code == 5
    assert not dest.exists()
    assert [p.name for p in isolated.iterdir() if p.name.startswith(".model.bin")] == []


def test_download_of_a_tampered_directory_leaves_nothing(
    registry: Registry, model_dir: Path, isolated: Path
) -> None:
    mv = registry.create_model_version("fraud", model_dir)
    entry = next(f for f in mv.artifact.files if f.path == "sub/vocab.txt")
    blob = registry.root / "objects" / "sha256" / entry.sha256[:2] / entry.sha256[2:]
    os.chmod(blob, 0o644)
    blob.write_bytes(b"evil")
    with pytest.raises(IntegrityError):
        registry.download_artifact(mv, isolated / "dest")
    assert sorted(p.name for p in isolated.iterdir()) == [".mreg", "model"]
