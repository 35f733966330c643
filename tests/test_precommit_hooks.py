"""The hooks published for the pre-commit framework (.pre-commit-hooks.yaml), run by pre-commit
itself in a temp repository (``repo: local`` hooks made from the manifest's entries, with
``language: system`` so pre-commit uses the installed mreg and needs no network)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # pre-commit's own dependency
from helpers import REPO, Repo

MANIFEST = REPO / ".pre-commit-hooks.yaml"
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


def manifest() -> dict[str, dict[str, Any]]:
    return {hook["id"]: hook for hook in yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))}


def pre_commit(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(home),
        # the mreg of this interpreter first: language `system` runs the entry from PATH
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_COLOR": "never",
    }
    return subprocess.run([*PRE_COMMIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def use_manifest_hooks(repo: Repo, ids: list[str]) -> None:
    """A .pre-commit-config.yaml with the manifest's hooks as `repo: local` hooks."""
    hooks = []
    for hook_id in ids:
        hook = dict(manifest()[hook_id])
        hook["language"] = "system"
        hooks.append(hook)
    repo.write(".pre-commit-config.yaml", yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}))


def test_the_manifest_is_valid_for_pre_commit(isolated: Path) -> None:
    done = pre_commit("validate-manifest", str(MANIFEST), cwd=isolated, home=isolated / "pc")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_manifest_names_the_three_hooks_with_their_stages() -> None:
    hooks = manifest()
    assert set(hooks) == {"mreg-fsck", "mreg-push", "mreg-fsck-remote"}
    assert hooks["mreg-fsck"]["entry"] == "mreg fsck" and hooks["mreg-fsck"]["stages"] == ["pre-commit"]
    assert hooks["mreg-fsck"]["files"] == r"^\.mreg/" and hooks["mreg-fsck"]["pass_filenames"] is False
    assert hooks["mreg-push"]["entry"] == "mreg push" and hooks["mreg-push"]["stages"] == ["pre-push"]
    assert hooks["mreg-fsck-remote"]["entry"] == "mreg fsck --remote"
    assert hooks["mreg-fsck-remote"]["stages"] == ["pre-push"]
    assert {h["language"] for h in hooks.values()} == {"python"}
    assert all(h["pass_filenames"] is False for h in hooks.values())


@pytest.mark.slow
def test_the_commit_stage_passes_on_a_clean_store_and_fails_on_a_damaged_one(isolated: Path) -> None:
    repo = Repo(isolated / "proj")
    repo.register("fraud", "one")
    use_manifest_hooks(repo, ["mreg-fsck"])
    repo.commit("fraud 1")
    home = isolated / "pc"

    clean = pre_commit("run", "--hook-stage", "pre-commit", "--all-files", cwd=repo.top, home=home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "mreg fsck" in clean.stdout and "Passed" in clean.stdout

    version = repo.top / ".mreg" / "models" / "fraud" / "versions" / "1.toml"
    version.write_text(version.read_text().replace("sha256:", "sha256:00", 1))
    repo.git("add", "-A")
    damaged = pre_commit("run", "--hook-stage", "pre-commit", "--all-files", cwd=repo.top, home=home)
    assert damaged.returncode == 1
    assert "Failed" in damaged.stdout and "1.toml" in damaged.stdout


@pytest.mark.slow
def test_the_commit_stage_skips_commits_without_store_files(isolated: Path) -> None:
    repo = Repo(isolated / "proj")
    use_manifest_hooks(repo, ["mreg-fsck"])
    repo.write("README.md", "hello")
    repo.git("add", "README.md", ".pre-commit-config.yaml")
    done = pre_commit("run", "--hook-stage", "pre-commit", cwd=repo.top, home=isolated / "pc")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(no files to check)Skipped" in done.stdout


@pytest.mark.slow
def test_the_push_stage_pushes_to_a_folder_remote_and_checks_it(isolated: Path) -> None:
    repo = Repo(isolated / "proj")
    shared = isolated / "shared-models"
    registered = repo.registry.create_model_version("fraud", repo.write("model.bin", "weights"))
    done = subprocess.run(
        [sys.executable, "-m", "mreg", "remote", "add", "team", str(shared), "--default"],
        cwd=repo.top,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    use_manifest_hooks(repo, ["mreg-push", "mreg-fsck-remote"])
    repo.commit("fraud 1")
    home = isolated / "pc"

    pushed = pre_commit("run", "--hook-stage", "pre-push", "--all-files", cwd=repo.top, home=home)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert pushed.stdout.count("Passed") == 2
    digest = registered.artifact.digest
    assert digest is not None
    assert (shared / "objects" / "sha256" / digest[:2] / digest[2:]).read_bytes() == b"weights"

    # A version whose only copy is gone, and never pushed: fsck --remote fails the push.
    second = repo.registry.create_model_version("fraud", repo.write("other.bin", "other"))
    assert second.artifact.digest is not None
    os.remove(
        repo.top / ".mreg" / "objects" / "sha256" / second.artifact.digest[:2] / second.artifact.digest[2:]
    )
    repo.commit("fraud 2")
    checked = pre_commit(
        "run", "mreg-fsck-remote", "--hook-stage", "pre-push", "--all-files", cwd=repo.top, home=home
    )
    assert checked.returncode == 1
    assert "Failed" in checked.stdout and "fraud" in checked.stdout
