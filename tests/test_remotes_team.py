"""The team scenario end to end, as processes: A registers a file and a folder and pushes; B
clones with git, gets byte-identical artifacts (fetched from the remote) and a clean fsck; B
registers and pushes, A pulls; fsck --remote catches a version whose objects were never pushed.
Run against a shared folder and against S3 on loopback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import git, run_mreg
from remote_helpers import Bucket


def mreg(cwd: Path, *args: str) -> str:
    done = run_mreg(*args, cwd=cwd)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def team_scenario(tmp_path: Path, url: str) -> None:
    a = tmp_path / "a"
    a.mkdir()
    git("init", "-q", "-b", "main", cwd=a)
    mreg(a, "init")
    (a / "model.bin").write_bytes(os.urandom(300_000))
    export = a / "export"
    (export / "sub").mkdir(parents=True)
    (export / "weights.bin").write_bytes(os.urandom(50_000))
    (export / "sub" / "config.json").write_text('{"layers": 3}')
    mreg(a, "register", "model.bin", "--name", "fraud", "--alias", "champion")
    mreg(a, "register", "export", "--name", "ranker")
    mreg(a, "remote", "add", "team", url)
    report = json.loads(mreg(a, "push", "--json"))
    assert len(report["pushed"]) == 3 and report["failed"] == []
    git("add", "-A", cwd=a)
    git("commit", "-qm", "two models", cwd=a)

    b = tmp_path / "b"
    git("clone", "-q", str(a), str(b), cwd=tmp_path)
    assert not (b / ".mreg" / "objects").exists() or not any((b / ".mreg" / "objects").rglob("*/*"))
    mreg(b, "get", "fraud@champion", "-o", str(tmp_path / "got.bin"))
    assert (tmp_path / "got.bin").read_bytes() == (a / "model.bin").read_bytes()
    mreg(b, "get", "ranker/1", "-o", str(tmp_path / "got"))
    for rel in ("weights.bin", "sub/config.json"):
        assert (tmp_path / "got" / rel).read_bytes() == (export / rel).read_bytes()
    mreg(b, "fsck", "--full")

    (b / "new.bin").write_bytes(b"B's model")
    mreg(b, "register", "new.bin", "--name", "fraud", "--push")
    git("add", "-A", cwd=b)
    git("commit", "-qm", "fraud v2", cwd=b)
    git("pull", "-q", str(b), "main", cwd=a)
    pulled = json.loads(mreg(a, "pull", "--json"))
    assert len(pulled["pulled"]) == 1 and pulled["failed"] == []
    assert Path(mreg(a, "resolve", "fraud/2", "--field", "path").strip()).read_bytes() == b"B's model"
    mreg(a, "fsck", "--remote")

    # A registers without pushing and loses the object: fsck --remote says so (exit 5).
    (a / "unpushed.bin").write_bytes(b"never pushed")
    mreg(a, "register", "unpushed.bin", "--name", "fraud")
    mreg(a, "fsck", "--remote")  # still here: not lost yet
    git("add", "-A", cwd=a)
    git("commit", "-qm", "fraud v3", cwd=a)
    git("pull", "-q", str(a), "main", cwd=b)
    done = run_mreg("fsck", "--remote", cwd=b)
    assert done.returncode == 5
    assert (
        "models/fraud/versions/3.toml" in done.stdout and "neither here nor on remote 'team'" in done.stdout
    )
    assert done.stderr.startswith("error: fsck found 1 error")


def test_team_scenario_with_a_shared_folder(tmp_path: Path) -> None:
    team_scenario(tmp_path, str(tmp_path / "share"))


@pytest.mark.slow
def test_team_scenario_with_s3(tmp_path: Path, bucket: Bucket) -> None:
    team_scenario(tmp_path, bucket.url)
    assert len(bucket.keys()) == 4
