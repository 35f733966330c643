"""`mreg init` and git: `git add .mreg` never stages the lock, temp files or caches, and stages
artifact blobs only when the store is set to commit them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from helpers import Cli, Repo, git

from mreg import Registry


def _litter(store: Path) -> None:
    """What a working store holds besides its records: the lock, temp files, caches, trash."""
    (store / "lock").touch()
    for folder in ("tmp", "trash/fraud.x", "cache/trees/abc"):
        (store / folder).mkdir(parents=True, exist_ok=True)
        (store / folder / "leftover").write_text("x")
    (store / "models" / "fraud" / "versions" / ".3.toml.1a2b3c4d.tmp").write_text("half")
    (store / "models" / "fraud" / "aliases" / ".champion.5e6f.tmp").write_text("half")


def _staged_after_add(top: Path) -> list[str]:
    git("add", ".mreg", cwd=top)
    return git("diff", "--cached", "--name-only", cwd=top).splitlines()


@pytest.mark.parametrize("commit_objects", [False, True])
def test_git_add_stages_records_only(isolated: Path, model_dir: Path, cli: Cli, commit_objects: bool) -> None:
    git("init", "-q", "-b", "main", cwd=isolated)
    args = ["init", "--commit-objects"] if commit_objects else ["init"]
    assert cli(*args).exit_code == 0
    assert cli("register", str(model_dir), "--name", "fraud").exit_code == 0
    assert cli("alias", "set", "fraud", "champion", "1").exit_code == 0
    # A directory artifact materialized for `resolve --field path` lands in the cache.
    path = cli("resolve", "fraud@champion", "--field", "path").stdout.strip()
    assert "/cache/" in path
    store = isolated / ".mreg"
    _litter(store)

    staged = _staged_after_add(isolated)

    for path in staged:
        assert not path.endswith((".tmp", "/lock", "leftover")), path
        assert "/cache/" not in path and "/tmp/" not in path and "/trash/" not in path, path
    assert {".mreg/.gitignore", ".mreg/.gitattributes", ".mreg/config.toml"} <= set(staged)
    assert ".mreg/models/fraud/versions/1.toml" in staged
    assert ".mreg/models/fraud/aliases/champion" in staged
    blobs = [p for p in staged if p.startswith(".mreg/objects/")]
    assert len(blobs) == (3 if commit_objects else 0)
    config = tomllib.loads((store / "config.toml").read_text())
    assert config["objects"]["commit"] is commit_objects


def test_lock_is_ignored_even_when_forced_listing(isolated: Path) -> None:
    git("init", "-q", "-b", "main", cwd=isolated)
    Registry.init(isolated)
    _store = isolated / ".mreg"
    (_store / "lock").touch()
    (_store / "models" / "fraud" / "versions").mkdir(parents=True)
    (_store / "models" / "fraud" / "aliases").mkdir(parents=True)
    _litter(_store)
    ignored = git("status", "--porcelain", "--ignored", "--untracked-files=all", cwd=isolated)
    assert "!! .mreg/lock" in ignored
    assert "!! .mreg/tmp/" in ignored
    for line in ignored.splitlines():
        if line.startswith("??"):
            assert not line.endswith((".tmp", "lock", "leftover")), line


def test_init_again_follows_the_objects_commit_setting(isolated: Path, cli: Cli) -> None:
    git("init", "-q", "-b", "main", cwd=isolated)
    store = isolated / ".mreg"
    assert cli("init").exit_code == 0
    blob = store / "objects" / "sha256" / "ab" / ("c" * 62)
    blob.parent.mkdir(parents=True)
    blob.write_text("x")
    assert git("check-ignore", "-q", str(blob), cwd=isolated) == ""  # exit 0: ignored

    result = cli("init", "--commit-objects")

    assert result.exit_code == 0, result.stderr
    assert tomllib.loads((store / "config.toml").read_text())["objects"]["commit"] is True
    assert "/objects/" not in (store / ".gitignore").read_text().splitlines()
    assert ".mreg/objects/" in " ".join(_staged_after_add(isolated))
    assert "/lock" in (store / ".gitignore").read_text().splitlines()


def test_init_again_restores_missing_git_files_and_config_key_rules(isolated: Path, cli: Cli) -> None:
    store = isolated / ".mreg"
    Registry.init(isolated)
    config = (store / "config.toml").read_text().replace("commit = false", "commit = true")
    (store / "config.toml").write_text(config)
    (store / ".gitignore").unlink()
    (store / ".gitattributes").unlink()

    assert cli("init").exit_code == 0

    lines = (store / ".gitignore").read_text().splitlines()
    assert "/lock" in lines and "/objects/" not in lines
    assert "/objects/** binary" in (store / ".gitattributes").read_text()


def test_init_again_on_a_consistent_store_changes_nothing(isolated: Path, cli: Cli) -> None:
    store = isolated / ".mreg"
    Registry.init(isolated)
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    assert cli("init").exit_code == 0
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before


def test_fresh_clone_of_a_registry_repo_is_clean(isolated: Path) -> None:
    repo = Repo(isolated / "origin")
    repo.register("fraud", "weights 1")
    repo.registry.set_registered_model_alias("fraud", "champion", 1)
    repo.commit("register fraud")
    (repo.top / ".mreg" / "lock").touch()
    assert repo.git("status", "--porcelain") == ""
    clone = isolated / "clone"
    git("clone", "-q", str(repo.top), str(clone), cwd=isolated)
    registry = Registry(clone)
    assert registry.get_aliases("fraud") == {"champion": 1}
    assert registry.get_model_version("fraud", 1).artifact.digest is not None
