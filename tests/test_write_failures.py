"""An I/O error at any write step (a full disk, an I/O error, a permission refused) leaves the
store as it was before the command or as the command leaves it, and the exit status says which:
0 after, non-zero before. ``MREG_FAIL_AT=N[:ERRNO]`` (``files._fail_at`` in process) makes the
N-th step that goes through ``files.checkpoint`` raise ``OSError``, as ``MREG_CRASH_AT=N`` kills
the process there (tests/test_crash.py); each command is failed at each of its steps in turn.
Unlike a kill, an error is undone: the history is exact too, and no leftover is needed."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Cli, Repo, run_mreg
from helpers import snapshot as file_snapshot

from mreg import Registry
from mreg.store import files
from mreg.store.records import Tombstone

ERRNOS = (errno.ENOSPC, errno.EIO, errno.EACCES)


def state(store: Path) -> dict[str, Any]:
    """The committed records without timestamps: models, live versions, tombstones, aliases,
    and every event (what, not when)."""
    registry = Registry(store)
    found: dict[str, Any] = {"models": {}, "versions": {}, "tombstones": {}, "aliases": {}, "events": []}
    for name in registry.model_names():
        model = registry.get_registered_model(name)
        found["models"][name] = (model.description, sorted(model.tags.items()))
        found["aliases"].update({f"{name}@{a}": v for a, v in model.aliases.items()})
        for number in registry.store.version_numbers(name):
            record = registry.store.version(name, number)
            if isinstance(record, Tombstone):
                found["tombstones"][f"{name}/{number}"] = record.source
            elif record is not None:
                mv = record.entity(name, number)
                artifact, tags = mv.artifact.to_dict(), sorted(mv.tags.items())
                found["versions"][f"{name}/{number}"] = (
                    mv.source, artifact, mv.description, tags, mv.current_stage
                )  # fmt: skip
        for event in registry.store.events(name):
            found["events"].append(
                (name, event.action, event.version, event.alias, event.key, event.old, event.new)
            )
    for event in registry.store.events(None):
        found["events"].append((event.model, event.action, event.version, event.alias, event.key, event.old))
    found["events"].sort(key=repr)
    return found


def records(store: Path) -> dict[str, str]:
    """Every file of the store but the objects (a blob copied in before the failure is kept as
    an unreferenced object, which gc removes): byte for byte."""
    return {k: v for k, v in file_snapshot(store).items() if not k.startswith("objects/")}


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """m/1 (a file, @old, tag t), m/2 (a folder, @champion, Production), m/3 (Staging, a URI),
    model tags, other/1, a deleted other/2; and the sources new commands register."""
    root = tmp_path / "template"
    registry = Registry.init(root)
    (root / "one.bin").write_text("one\n")
    (root / "two").mkdir()
    (root / "two" / "w.bin").write_text("two w\n")
    registry.create_model_version("m", root / "one.bin", tags={"t": "1"}, aliases=["old"])
    registry.create_model_version("m", root / "two", aliases=["champion"], description="second")
    registry.create_model_version("m", "s3://bucket/three")
    registry.transition_model_version_stage("m", 2, "Production")
    registry.transition_model_version_stage("m", 3, "Staging")
    registry.update_registered_model("m", "the model")
    registry.set_registered_model_tags("m", {"team": "risk"})
    registry.create_model_version("other", root / "one.bin")
    registry.create_model_version("other", root / "one.bin")
    registry.delete_model_version("other", 2)
    (root / "fresh.bin").write_text("fresh weights\n")
    (root / "new" / "sub").mkdir(parents=True)
    (root / "new" / "a.txt").write_text("new a\n")
    (root / "new" / "sub" / "b.txt").write_text("new b\n")
    return root


COMMANDS = {
    "register a file": ["register", "{root}/fresh.bin", "--name", "m", "--alias", "champion",
                        "--alias", "beta", "--tag", "k=v", "-m", "why"],
    "register a folder": ["register", "{root}/new", "--name", "m", "--description", "folder"],
    "register a new model": ["register", "{root}/fresh.bin", "--name", "Fresh", "--alias", "beta"],
    "alias set": ["alias", "set", "m", "champion", "1"],
    "alias delete": ["alias", "delete", "m", "old"],
    "models create": ["models", "create", "created", "--description", "new one", "--tag", "a=b"],
    "models rename": ["models", "rename", "m", "renamed"],
    "models update": ["models", "update", "m", "--description", "changed"],
    "models delete": ["models", "delete", "m", "--yes"],
    "versions update": ["versions", "update", "m", "1", "--description", "changed"],
    "versions delete": ["versions", "delete", "m", "2", "--yes"],
    "tag set on a model": ["tag", "set", "m", "a=1", "team=ml"],
    "tag delete on a model": ["tag", "delete", "m", "team"],
    "tag set on a version": ["tag", "set", "m", "--version", "1", "a=1", "t=2"],
    "tag delete on a version": ["tag", "delete", "m", "--version", "1", "t"],
    "stage set --archive-existing": ["stage", "set", "m", "3", "Production", "--archive-existing"],
}  # fmt: skip


@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(files, "_fail_at", 0)
    monkeypatch.setattr(files, "_steps_taken", 0)
    yield


def fail_at(step: int, code: int = errno.ENOSPC) -> None:
    files._fail_at, files._fail_errno, files._steps_taken = step, code, 0


def fresh_copy(template: Path, where: Path) -> Path:
    shutil.copytree(template, where, symlinks=True)
    return where / ".mreg"


def assert_no_fsck_error(store: Path) -> None:
    fail_at(0)
    errors = [f for f in Registry(store).fsck(full=True) if f.severity == "error"]
    assert errors == []


def run_at_every_step(cli: Cli, template: Path, tmp_path: Path, args: list[str]) -> int:
    """Fail ``args`` at each of its write steps in turn; return how many it has."""
    before_state, before_files = state(template / ".mreg"), records(template / ".mreg")
    done = fresh_copy(template, tmp_path / "done")
    fail_at(10**9)  # counts the steps without failing any
    result = cli("--store", str(done), *[a.format(root=template) for a in args])
    assert result.exit_code == 0, result.stderr
    steps = files._steps_taken
    after_state = state(done)
    assert after_state != before_state and steps >= 2
    for step in range(1, steps + 1):
        code = ERRNOS[step % len(ERRNOS)]
        store = fresh_copy(template, tmp_path / f"fail{step}")
        fail_at(step, code)
        result = cli("--store", str(store), *[a.format(root=template) for a in args])
        assert files._steps_taken >= step, "the command no longer reaches this step"
        fail_at(0)
        if result.exit_code == 0:
            assert state(store) == after_state, step
        else:
            assert result.exit_code == 1, (step, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), (step, result.stderr)
            assert os.strerror(code) in lines[0], (step, lines)
            assert state(store) == before_state, step
            assert records(store) == before_files, step
        assert_no_fsck_error(store)
        shutil.rmtree(store.parent)
    return steps


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_error_at_every_write_step_leaves_the_store_before_or_after(
    cli: Cli, template: Path, tmp_path: Path, failing: None, command: str
) -> None:
    run_at_every_step(cli, template, tmp_path, COMMANDS[command])


def test_versions_delete_on_a_full_disk_keeps_the_alias(
    cli: Cli, template: Path, tmp_path: Path, failing: None
) -> None:
    """The case of the report: the disk fills after the version's alias is removed, before its
    tombstone is written. Each failing step leaves the alias and the live version."""
    failures = 0
    for step in range(1, 100):
        copy = fresh_copy(template, tmp_path / f"s{step}")
        fail_at(step)
        result = cli("--store", str(copy), "versions", "delete", "m", "2", "--yes")
        fail_at(0)
        registry = Registry(copy)
        if result.exit_code == 0:
            assert registry.get_aliases("m") == {"old": 1}
            break
        failures += 1
        assert "No space left on device" in result.stderr and "nothing was changed" in result.stderr
        assert registry.get_aliases("m") == {"old": 1, "champion": 2}, step
        assert registry.get_model_version("m", 2).aliases == ["champion"]
    assert failures >= 8  # alias removed, its event, the tombstone, its event: each step failed


def test_the_variable_makes_a_real_process_fail(template: Path) -> None:
    store = template / ".mreg"
    before = records(store)

    result = run_mreg(
        "--store", str(store), "alias", "set", "m", "champion", "1", env={"MREG_FAIL_AT": "2:EIO"}
    )

    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "Input/output error" in result.stderr and "nothing was changed" in result.stderr
    assert records(store) == before
    ok = run_mreg("--store", str(store), "alias", "set", "m", "champion", "1", env={"MREG_FAIL_AT": "999"})
    assert ok.returncode == 0, ok.stderr


@pytest.mark.slow
def test_merge_renumber_fails_at_every_step_as_all_or_nothing(
    isolated: Path, tmp_path: Path, cli: Cli, failing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repo(isolated / "repo")
    repo.register("m", "m-1")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.register("m", "feature-2")
    repo.registry.set_registered_model_alias("m", "challenger", 2)
    repo.commit("feature")
    repo.git("checkout", "-q", "main")
    repo.register("m", "main-2")
    repo.commit("main")
    assert repo.try_git("merge", "--no-edit", "feature").returncode != 0
    template = repo.top
    before_files = records(template / ".mreg")

    def run(where: Path, step: int) -> tuple[int, str]:
        shutil.copytree(template, where, symlinks=True)
        monkeypatch.chdir(where)
        fail_at(step)
        try:
            result = cli("merge", "--renumber")
        finally:
            fail_at(0)
            monkeypatch.chdir(isolated)
        unmerged = subprocess.run(["git", "diff", "--name-only", "--diff-filter=U"], cwd=where,
                                  capture_output=True, text=True, check=True).stdout  # fmt: skip
        return result.exit_code, unmerged

    status, unmerged = run(tmp_path / "done", 10**9)
    assert status == 0 and unmerged == ""
    after = state(tmp_path / "done" / ".mreg")
    for step in range(1, 10**3):
        where = tmp_path / f"merge{step}"
        status, unmerged = run(where, step)
        if status == 0:
            assert state(where / ".mreg") == after and unmerged == ""
            break
        assert records(where / ".mreg") == before_files, step
        assert unmerged.strip() == ".mreg/models/m/versions/2.toml", step
        shutil.rmtree(where)
    assert step > 8


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_really_full_disk(tmp_path: Path) -> None:
    """A 2 MiB tmpfs filled to the last byte: every write command fails cleanly, with nothing
    changed, and works again once space is freed."""
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"mount -t tmpfs refused here: {mounted.stderr.decode().strip()}")
    try:
        registry = Registry.init(mount)
        (mount / "a.bin").write_bytes(b"a" * 1000)
        registry.create_model_version("m", mount / "a.bin", aliases=["champion"])
        registry.create_model_version("m", mount / "a.bin")
        (mount / "a.bin").unlink()
        filler = mount / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC
        finally:
            os.close(fd)
        before = records(registry.root)
        for args in (
            ["versions", "delete", "m", "1", "--yes"],
            ["models", "rename", "m", "renamed"],
            ["alias", "set", "m", "champion", "2"],
            ["alias", "delete", "m", "champion"],
            ["tag", "set", "m", "a=b"],
            ["models", "delete", "m", "--yes"],
        ):
            result = run_mreg("--store", str(registry.root), *args)
            if result.returncode == 0:
                pytest.fail(f"{args} succeeded on a full disk: {result.stdout}")  # nothing to write?
            assert "No space left on device" in result.stderr and "nothing was changed" in result.stderr, args
            assert records(registry.root) == before, args
            assert Registry(registry.root).get_aliases("m") == {"champion": 1}
        fsck = run_mreg("--store", str(registry.root), "fsck")
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        filler.unlink()
        done = run_mreg("--store", str(registry.root), "versions", "delete", "m", "1", "--yes")
        assert done.returncode == 0, done.stderr
        assert Registry(registry.root).get_aliases("m") == {}
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
