"""Shared fixtures. An autouse guard keeps every test inside its own temporary folder: the working
directory, HOME and git's global config all point there, and no MREG_* variable leaks in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Cli

from mreg import Registry

# MLflow's usage telemetry reaches for the network from a thread: never in the tests.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

# The S3 server and bucket fixtures of the remote tests, and the browser and server fixtures of the
# page's tests, loaded here (before any test module imports the modules) so that pytest rewrites
# their asserts.
pytest_plugins = ["remote_helpers", "browser_helpers"]


def pytest_configure(config: pytest.Config) -> None:
    """Keep test folders in memory where the machine has a tmpfs: the store fsyncs every file it
    writes (as it must), which costs milliseconds each on a disk and made the suite several times
    slower; the code paths are the same. ``--basetemp`` or PYTEST_DEBUG_TEMPROOT still win."""
    shm = Path("/dev/shm")
    if (
        config.option.basetemp is None
        and "PYTEST_DEBUG_TEMPROOT" not in os.environ
        and shm.is_dir()
        and os.access(shm, os.W_OK | os.X_OK)
    ):
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(shm)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    for var in list(os.environ):
        if var.startswith("MREG_") or var.startswith("GIT_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work
    assert Path.cwd() == work, "a test changed the working directory and did not restore it"


@pytest.fixture
def registry(isolated: Path) -> Registry:
    return Registry.init(isolated)


@pytest.fixture
def fraud(registry: Registry, isolated: Path) -> Registry:
    """Model ``fraud`` with versions 1..3, each of different bytes."""
    for n in (1, 2, 3):
        source = isolated / f"m{n}.bin"
        source.write_bytes(f"weights {n}\n".encode())
        registry.create_model_version("fraud", source)
    return registry


@pytest.fixture
def model_file(isolated: Path) -> Path:
    path = isolated / "model.bin"
    path.write_bytes(b"weights v1\n")
    return path


@pytest.fixture
def model_dir(isolated: Path) -> Path:
    folder = isolated / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.json").write_text('{"w": [1, 2, 3]}\n')
    (folder / "config.json").write_text('{"layers": 2}\n')
    (folder / "sub" / "vocab.txt").write_text("a\nb\nc\n")
    return folder


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def populated(registry: Registry, model_file: Path, model_dir: Path) -> Registry:
    """Model ``m``: version 1 a file (@champion), 2 a folder (tagged k=v), 3 a URI; model ``other``:
    version 1, the same file as m/1."""
    registry.create_model_version("m", model_file, aliases=["champion"])
    registry.create_model_version("m", model_dir, tags={"k": "v"})
    registry.create_model_version("m", "s3://bucket/model")
    registry.create_model_version("other", model_file)
    return registry


@pytest.fixture(scope="module")
def completion_store(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """fraud: versions 1 (Production) and 2 (@champion), tags team and owner, version 2 tagged
    validated; Iris Classifier: version 1. Built once a module: the completion tests only read it."""
    folder = tmp_path_factory.mktemp("completion")
    registry = Registry.init(folder)
    artifact = folder / "model.bin"
    artifact.write_bytes(b"weights v1\n")
    registry.create_model_version("fraud", artifact)
    artifact.write_bytes(b"weights v2\n")
    registry.create_model_version("fraud", artifact, aliases=["champion"])
    registry.transition_model_version_stage("fraud", 1, "Production", False)
    registry.set_registered_model_tags("fraud", {"team": "risk", "owner": "ana"})
    registry.set_model_version_tags("fraud", 2, {"validated": "yes"})
    registry.create_model_version("Iris Classifier", artifact)
    return registry
