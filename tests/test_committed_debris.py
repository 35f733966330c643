"""Working files of one copy (tree caches, temp files, trash, the lock) committed to git: fsck
reports them as errors and `mreg diff` shows a change that adds them."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import Repo, run_mreg

from mreg import Registry


def _plant_cache(repo: Repo, isolated: Path) -> str:
    folder = isolated / "export"
    folder.mkdir()
    (folder / "config.json").write_text('{"layers": 2}\n')
    version = repo.registry.create_model_version("fraud", folder)
    tree = repo.registry.artifact_path(version)  # materializes cache/trees/<digest>
    repo.commit("fraud v1")
    poisoned = tree / "config.json"
    poisoned.chmod(0o644)
    poisoned.unlink()
    poisoned.write_text('{"layers": 666}\n')
    repo.git("add", "-f", str(poisoned))
    repo.git("commit", "-q", "-m", "a tree cache sneaks in")
    return poisoned.relative_to(repo.registry.root).as_posix()


def test_fsck_reports_a_committed_tree_cache(isolated: Path) -> None:
    repo = Repo(isolated)
    rel = _plant_cache(repo, isolated)
    done = run_mreg("fsck", "--json", cwd=isolated)
    assert done.returncode == 5, done.stderr
    findings = json.loads(done.stdout)["findings"]
    assert {"severity": "error", "kind": "committed-debris", "path": rel} in [
        {k: f[k] for k in ("severity", "kind", "path")} for f in findings
    ]


def test_diff_shows_a_change_that_commits_a_working_file(isolated: Path) -> None:
    repo = Repo(isolated)
    rel = _plant_cache(repo, isolated)
    done = run_mreg("diff", "HEAD~1", "HEAD", "--json", cwd=isolated)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["committed_debris"] == [rel] and result["changed"] is True
    assert result["changes"] == []
    text = run_mreg("diff", "HEAD~1", "HEAD", "--exit-code", cwd=isolated)
    assert text.returncode == 1
    assert f".mreg/{rel}: a working file is committed" in text.stdout
    # the commit before it added a version and no working file
    clean = json.loads(run_mreg("diff", "HEAD~2", "HEAD~1", "--json", cwd=isolated).stdout)
    assert clean["committed_debris"] == [] and clean["changes"]


def test_a_clean_repository_has_no_debris_finding(isolated: Path) -> None:
    repo = Repo(isolated)
    repo.register("fraud", "weights")
    repo.commit("v1")
    kinds = {f.kind for f in Registry(isolated).fsck()}
    assert "committed-debris" not in kinds
