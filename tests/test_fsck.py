"""mreg fsck and mreg gc: each kind of damage is found and named; leftovers are told apart from
errors, and gc removes exactly the leftovers."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Cli

from mreg import IntegrityError, Registry
from mreg import fsck as fsck_module
from mreg.fsck import ERROR, LEFTOVER, WARNING, Finding
from mreg.store.lock import ObjectsPin, StoreLock


def found(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.severity, f.kind, f.path) for f in findings}


def blob_of(registry: Registry, name: str, version: int) -> Path:
    return registry.store.layout.blob(registry.get_model_version(name, version).artifact.files[0].sha256)


def test_a_sound_store_has_no_findings(populated: Registry, cli: Cli) -> None:
    assert populated.fsck() == [] and populated.fsck(full=True) == []
    result = cli("fsck", "--full")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", ".mreg: no errors\n")


def test_alias_to_a_missing_version(populated: Registry) -> None:
    (populated.root / "models/m/aliases/ghost").write_text("version = 9\n")
    (finding,) = populated.fsck()
    assert (finding.severity, finding.kind, finding.path) == (
        ERROR,
        "dangling-alias",
        "models/m/aliases/ghost",
    )
    assert (
        finding.message
        == ".mreg/models/m/aliases/ghost: alias 'ghost' points at version 9, which does not exist"
    )


def test_alias_to_a_deleted_version(populated: Registry) -> None:
    populated.delete_model_version("m", 2)
    (populated.root / "models/m/aliases/stale").write_text("version = 2\n")
    assert (ERROR, "dangling-alias", "models/m/aliases/stale") in found(populated.fsck())


def test_missing_object(populated: Registry) -> None:
    blob = blob_of(populated, "other", 1)
    blob.unlink()
    assert found(populated.fsck()) == {
        (ERROR, "missing-object", "models/m/versions/1.toml"),
        (ERROR, "missing-object", "models/other/versions/1.toml"),
    }


def test_object_of_the_wrong_size_without_full(populated: Registry) -> None:
    blob = blob_of(populated, "m", 1)
    blob.chmod(0o644)
    blob.write_bytes(b"x")
    assert found(populated.fsck()) == {(ERROR, "corrupt-object", blob.relative_to(populated.root).as_posix())}


def test_corrupt_object_content_needs_full(populated: Registry) -> None:
    blob = blob_of(populated, "m", 1)
    data = bytearray(blob.read_bytes())
    data[0] ^= 1
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    assert populated.fsck() == []
    (finding,) = populated.fsck(full=True)
    assert (finding.severity, finding.kind) == (ERROR, "corrupt-object")
    assert "not to its name; used by .mreg/models/m/versions/1.toml" in finding.message


def test_artifact_digest_that_does_not_match_its_files(populated: Registry) -> None:
    path = populated.root / "models/m/versions/2.toml"
    text = path.read_text()
    digest = populated.get_model_version("m", 2).artifact.digest
    assert digest
    path.write_text(text.replace(digest, "0" * 64, 1))
    assert found(populated.fsck()) == {(ERROR, "artifact", "models/m/versions/2.toml")}


def _copy_event(populated: Registry, action: str, **changes: str) -> Path:
    folder = populated.root / "models/m/history"
    source = next(p for p in sorted(folder.iterdir()) if f'action = "{action}"' in p.read_text())
    text = source.read_text()
    for old, new in changes.items():
        text = text.replace(old, new)
    target = folder / (source.stem[:-6] + "abcdef.toml")
    target.write_text(text)
    return target


def test_event_naming_a_version_that_does_not_exist(populated: Registry) -> None:
    event = _copy_event(populated, "version_registered", **{"version = 1": "version = 9"})
    (finding,) = populated.fsck()
    assert (finding.kind, finding.path) == ("history", event.relative_to(populated.root).as_posix())
    assert "names version 9 of 'm', which has no version file" in finding.message


def test_event_deleting_a_live_version(populated: Registry) -> None:
    _copy_event(populated, "version_registered", **{'"version_registered"': '"version_deleted"'})
    (finding,) = populated.fsck()
    assert finding.kind == "history" and "its file is a live version" in finding.message


def test_event_file_names(populated: Registry) -> None:
    folder = populated.root / "models/m/history"
    event = next(folder.iterdir())
    shutil.copy(event, folder / "not-an-id.toml")
    shutil.copy(event, folder / "20200101T000000.000000Z-abcdef.toml")
    findings = found(populated.fsck())
    assert (ERROR, "bad-name", "models/m/history/not-an-id.toml") in findings
    assert (ERROR, "history", "models/m/history/20200101T000000.000000Z-abcdef.toml") in findings


def test_unknown_action_is_a_warning(populated: Registry, cli: Cli) -> None:
    _copy_event(populated, "alias_set", **{'"alias_set"': '"alias_blessed"'})
    assert {(f.severity, f.kind) for f in populated.fsck()} == {(WARNING, "unknown-action")}
    result = cli("fsck")
    assert result.exit_code == 0 and result.stdout.startswith("warning ")


def test_model_folder_names(populated: Registry) -> None:
    shutil.copytree(populated.root / "models/m", populated.root / "models/a..b")
    shutil.copytree(populated.root / "models/other", populated.root / "models/OTHER")
    findings = found(populated.fsck())
    assert (ERROR, "bad-name", "models/a..b") in findings
    assert (ERROR, "case-collision", "models/other") in findings or (
        ERROR,
        "case-collision",
        "models/OTHER",
    ) in findings


def test_model_folder_without_model_toml(populated: Registry) -> None:
    (populated.root / "models/m/model.toml").unlink()
    (populated.root / "models/half/versions").mkdir(parents=True)
    (populated.root / "models/half/.model.toml.1a2b3c4d.tmp").write_text("created_at = ")
    findings = found(populated.fsck())
    assert (ERROR, "missing-file", "models/m/model.toml") in findings
    assert (LEFTOVER, "incomplete-model", "models/half") in findings


def test_leftovers_and_gc(populated: Registry, model_dir: Path, cli: Cli) -> None:
    populated.artifact_path(populated.get_model_version("m", 2))  # a tree cache
    populated.delete_model_version("m", 2)  # its blobs and cache are now unreferenced
    populated.create_model_version("gone", "s3://bucket/x")
    populated.delete_registered_model("gone")
    (populated.root / "trash" / "gone.20260101T000000.000000Z-abcdef").mkdir(parents=True)
    (populated.root / "tmp" / ".blob.1a2b3c4d.tmp").write_bytes(b"partial")
    (populated.root / "models/m/versions/.4.toml.1a2b3c4d.tmp").write_text("status = ")
    (populated.root / "cache/trees/.abc.1a2b3c4d.tmp").mkdir(parents=True)
    findings = populated.fsck()
    assert {f.severity for f in findings} == {LEFTOVER}
    kinds = {f.kind for f in findings}
    assert kinds == {"unreferenced-object", "stale-cache", "trash", "tmp", "temp-file", "cache-temp"}

    dry = cli("gc")
    assert dry.exit_code == 0
    assert dry.stdout.count("would remove  ") == len(findings)
    assert "run `mreg gc --yes` to remove" in dry.stderr
    assert populated.fsck() == findings  # a dry run removes nothing

    result = cli("gc", "--yes", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["deleted"] is True and report["bytes"] > 0 and report["kept"] == []
    assert {r["path"] for r in report["removed"]} == {f.path for f in findings}
    assert populated.fsck(full=True) == []
    assert [mv.version for mv in populated.list_model_versions("m")] == [1, 3]
    assert not any(p.name == ".4.toml.1a2b3c4d.tmp" for p in populated.root.rglob("*"))
    assert cli("gc").stderr == "nothing to remove\n"


def test_gc_leaves_objects_alone_while_a_registration_is_in_flight(populated: Registry) -> None:
    populated.delete_model_version("m", 2)
    (populated.root / "tmp" / ".blob.1a2b3c4d.tmp").write_bytes(b"being copied")
    (populated.root / "models/m/versions/.4.toml.1a2b3c4d.tmp").write_text("status = ")
    with populated.store.pin.shared():  # what create_model_version holds
        report = populated.gc(delete=True)
    assert {f.kind for f in report.kept} == {"unreferenced-object", "tmp"}
    assert {f.kind for f in report.removed} == {"temp-file"}
    assert (populated.root / "tmp" / ".blob.1a2b3c4d.tmp").exists()
    assert {f.kind for f in populated.gc(delete=True).removed} == {"unreferenced-object", "tmp"}


def test_a_registration_holds_the_pin_until_its_version_is_written(
    populated: Registry, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    original = Registry._event

    def event(self: Registry, *args: object, **kwargs: object) -> object:
        with populated.store.pin.exclusive_if_free() as free:
            seen.append(free)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Registry, "_event", event)
    populated.create_model_version("m", model_file)
    assert seen and not any(seen)


def test_gc_removes_nothing_while_the_store_has_errors(populated: Registry, cli: Cli) -> None:
    populated.delete_model_version("m", 2)
    (populated.root / "models/m/aliases/ghost").write_text("version = 9\n")
    before = sorted(populated.root.rglob("*"))
    with pytest.raises(IntegrityError, match="gc removes nothing while the store has errors"):
        populated.gc(delete=True)
    result = cli("gc", "--yes")
    assert result.exit_code == 5 and "see `mreg fsck`" in result.stderr
    assert sorted(populated.root.rglob("*")) == before


def test_unreadable_version_file_means_no_object_is_garbage(populated: Registry) -> None:
    (populated.root / "models/other/versions/1.toml").write_text("status = [\n")
    findings = populated.fsck()
    assert {f.kind for f in findings} == {"invalid-file"}  # its object is not called unreferenced


def test_unexpected_files_are_warnings(populated: Registry) -> None:
    (populated.root / "NOTES").write_text("x")
    (populated.root / "models/m/notes.txt").write_text("x")
    (populated.root / "models/m/versions/07.toml").write_text("x")
    (populated.root / "models/README").write_text("x")
    assert found(populated.fsck()) == {
        (WARNING, "unexpected-file", "NOTES"),
        (WARNING, "unexpected-file", "models/m/notes.txt"),
        (WARNING, "unexpected-file", "models/m/versions/07.toml"),
        (WARNING, "unexpected-file", "models/README"),
    }


def test_special_files_and_bad_alias_names(populated: Registry) -> None:
    os.mkfifo(populated.root / "models/m/versions/9.toml")
    (populated.root / "models/m/aliases/latest").write_text("version = 1\n")
    findings = found(populated.fsck())
    assert (ERROR, "special-file", "models/m/versions/9.toml") in findings
    assert (ERROR, "bad-name", "models/m/aliases/latest") in findings


def test_merge_conflict_is_named_as_such(populated: Registry, cli: Cli) -> None:
    path = populated.root / "models/m/versions/3.toml"
    text = path.read_text()
    path.write_text(f"<<<<<<< HEAD\n{text}=======\n{text}>>>>>>> feature\n")
    (finding,) = populated.fsck()
    assert (finding.kind, finding.path) == ("merge-conflict", "models/m/versions/3.toml")
    assert finding.message == ".mreg/models/m/versions/3.toml:1: unresolved git merge (conflict markers)"
    result = cli("fsck", "--json")
    assert result.exit_code == 5
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["errors"] == 1 and data["findings"] == [finding.to_dict()]
    assert (
        result.stderr == "error: fsck found 1 error in .mreg (merge conflicts: resolve them in git first)\n"
    )


def test_newer_config_format(populated: Registry) -> None:
    (populated.root / "config.toml").write_text("format = 1\n[objects]\ncommit = 3\n")
    (finding,) = populated.fsck()
    assert finding.path == "config.toml" and finding.severity == ERROR


def test_checks_are_a_list_that_can_grow(populated: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    def check_every_model_has_a_description(scan: fsck_module.Scan) -> Iterator[Finding]:
        for model in scan.models.values():
            if model.record is not None and not model.record.description:
                yield scan.finding(WARNING, "no-description", model.folder, "has no description")

    monkeypatch.setattr(fsck_module, "CHECKS", [*fsck_module.CHECKS, check_every_model_has_a_description])
    assert {(f.kind, f.path) for f in populated.fsck()} == {
        ("no-description", "models/m"),
        ("no-description", "models/other"),
    }


def test_a_check_that_cannot_finish_is_an_error_and_the_others_run(
    populated: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(scan: fsck_module.Scan) -> Iterator[Finding]:
        raise PermissionError(errno.EACCES, "Permission denied", "somewhere")
        yield  # pragma: no cover

    monkeypatch.setattr(fsck_module, "CHECKS", [broken, *fsck_module.CHECKS])
    (populated.root / "models/m/aliases/ghost").write_text("version = 9\n")
    kinds = {f.kind for f in populated.fsck()}
    assert kinds == {"check-failed", "dangling-alias"}


def test_fsck_runs_without_the_lock_on_a_read_only_store(
    populated: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(self: StoreLock) -> StoreLock:
        raise OSError(errno.EROFS, "Read-only file system", self.path)

    monkeypatch.setattr(StoreLock, "__enter__", read_only)
    (populated.root / "models/m/aliases/ghost").write_text("version = 9\n")
    assert {f.kind for f in populated.fsck()} == {"dangling-alias"}
    with pytest.raises(IntegrityError, match="gc removes nothing while the store has errors"):
        populated.gc()  # a dry run needs no write access: it gets as far as the checks
    with pytest.raises(OSError, match="Read-only"):
        populated.gc(delete=True)  # removing files needs the lock


def test_fsck_output_lines(populated: Registry, cli: Cli) -> None:
    (populated.root / "models/m/aliases/ghost").write_text("version = 9\n")
    (populated.root / "tmp" / ".blob.1a2b3c4d.tmp").parent.mkdir(exist_ok=True)
    (populated.root / "tmp" / ".blob.1a2b3c4d.tmp").write_bytes(b"x")
    result = cli("fsck")
    assert result.exit_code == 5
    assert result.stdout.splitlines() == [
        "error     .mreg/models/m/aliases/ghost: alias 'ghost' points at version 9, which does not exist",
        "leftover  .mreg/tmp/.blob.1a2b3c4d.tmp: partial copy of an artifact being registered",
    ]
    assert result.stderr == "error: fsck found 1 error in .mreg\n"


def test_a_read_only_store_still_resolves_folder_artifacts(
    populated: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    mv = populated.get_model_version("m", 2)
    path = populated.artifact_path(mv)

    def read_only(self: ObjectsPin) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(self.path))

    monkeypatch.setattr(ObjectsPin, "_open", read_only)
    assert populated.artifact_path(mv) == path


def test_a_git_merge_in_progress_is_explained_in_registry_terms(isolated: Path, cli: Cli) -> None:
    from helpers import Repo

    repo = Repo(isolated / "proj")
    repo.register("fraud", "v1")
    repo.commit("fraud 1")
    repo.both_branches_register("fraud", 2)
    assert repo.try_git("merge", "--no-edit", "feature").returncode != 0
    findings = {f.kind: f for f in repo.registry.fsck()}
    collision = findings["version-collision"]
    assert collision.severity == ERROR and collision.path == "models/fraud/versions/2.toml"
    assert "fraud version 2 was registered on both sides" in collision.message
    assert "`mreg merge --renumber` settles it" in collision.message
    assert findings["merge-conflict"].path == "models/fraud/versions/2.toml"  # the markers, too
    result = cli("--store", str(repo.top), "fsck")
    assert result.exit_code == 5 and "resolve them in git first" in result.stderr
    assert cli("--store", str(repo.top), "merge", "--renumber").exit_code == 0
    assert repo.registry.fsck() == []


def test_a_checkout_without_objects(isolated: Path, cli: Cli) -> None:
    """The objects are kept out of git by default: a clone (a CI job) has the records only."""
    from helpers import Repo

    repo = Repo(isolated / "proj")
    repo.register("fraud", "v1")
    repo.registry.create_model_version("fraud", "s3://bucket/fraud")
    repo.commit("fraud 1 and 2")
    repo.git("clone", "-q", str(repo.top), str(isolated / "clone"))
    clone = Registry(isolated / "clone")
    (finding,) = clone.fsck()
    assert (finding.severity, finding.kind, finding.path) == (WARNING, "objects-absent", "objects")
    assert cli("--store", str(isolated / "clone"), "fsck").exit_code == 0
    assert {f.kind for f in clone.fsck(full=True)} == {"missing-object"}  # asked to check the bytes
    # With some objects present, the others are still "not here" (never held in this copy):
    # warnings, not damage.
    shutil.copytree(repo.registry.store.layout.objects, clone.store.layout.objects, dirs_exist_ok=True)
    assert clone.fsck(full=True) == []
    for blob in clone.store.layout.objects.rglob("*"):
        if blob.is_file():
            blob.unlink()
    (clone.store.layout.objects / "00").mkdir()
    (clone.store.layout.objects / "00" / ("0" * 62)).write_bytes(b"another object")
    assert {f.kind for f in clone.fsck()} == {"object-not-here", "unreferenced-object"}
