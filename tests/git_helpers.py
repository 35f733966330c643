"""Helpers for tests that drive a real git repository holding a store."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from conftest import git

from mreg import Registry


class Repo:
    """A git repository (branch ``main``) with a store at ``.mreg`` and a first commit."""

    def __init__(self, top: Path) -> None:
        self.top = top
        top.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "-b", "main", cwd=top)
        self.registry = Registry.init(top)
        self.commit("empty registry")

    def git(self, *args: str) -> str:
        return git(*args, cwd=self.top)

    def try_git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=self.top, capture_output=True, text=True)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def write(self, name: str, content: str) -> Path:
        path = self.top / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        return path

    def register(self, model: str, content: str, **kwargs: object) -> int:
        """Register ``content`` (a small file) as a new version; returns its number."""
        source = self.write(f"artifacts/{model}-{sha256_of(content)[:12]}.bin", content)
        return self.registry.create_model_version(model, source, **kwargs).version  # type: ignore[arg-type]

    def store_files(self) -> list[str]:
        return self.git("ls-files", "--", ".mreg").splitlines()

    def unmerged(self) -> list[str]:
        return sorted(set(self.git("diff", "--name-only", "--diff-filter=U").splitlines()))


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def assert_consistent(registry: Registry) -> None:
    """Every alias points at a live version, and each model's history ends where its alias files
    say (checked through the public API), and ``mreg fsck --full`` finds no error."""
    errors = [f for f in registry.fsck(full=True) if f.severity == "error"]
    assert errors == [], errors
    for model in registry.list_registered_models():
        live = {v.version for v in registry.list_model_versions(model.name)}
        for alias, version in model.aliases.items():
            assert version in live, f"{model.name}@{alias} points at missing version {version}"
        spans = registry.get_alias_history(model.name)
        current = {s.alias: s.version for s in spans if s.until is None}
        assert current == model.aliases, f"history of {model.name} disagrees with its alias files"
        for version in registry.list_model_versions(model.name):
            registry.check_integrity(version)
