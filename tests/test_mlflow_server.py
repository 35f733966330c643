"""``mlflow server --registry-store-uri mreg:///…`` serves the store through MLflow's REST API, and
only MLflow imports the plugin: mreg's own commands never import mlflow."""

from __future__ import annotations

import ast
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import REPO
from test_remotes_imports import modules_of

from mreg import Registry

STARTUP_ATTEMPTS = 240  # of 0.5 s each: MLflow's server imports a great deal before it listens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


@pytest.mark.slow
def test_mlflow_server_answers_from_the_store(registry: Registry, model_dir: Path, tmp_path: Path) -> None:
    registry.create_model_version("fraud", model_dir, tags={"team": "risk"}, aliases=["champion"])
    registry.create_registered_model("churn", description="Who leaves.")
    port = free_port()
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking,
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            tracking,
            "--registry-store-uri",
            f"mreg://{registry.root.parent}",
            "--default-artifact-root",
            (tmp_path / "artifacts").as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    try:
        for _ in range(STARTUP_ATTEMPTS):
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                found = get_json(f"{base}/registered-models/search")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):  # not up yet, or busy
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not answer: " + (tmp_path / "server.log").read_text())
        models = {m["name"]: m for m in found["registered_models"]}  # type: ignore[attr-defined]
        assert sorted(models) == ["churn", "fraud"]
        assert models["churn"]["description"] == "Who leaves."
        assert models["fraud"]["aliases"] == [{"alias": "champion", "version": "1"}]

        # a change made by mreg shows in the next answer of the same server
        registry.set_registered_model_alias("fraud", "challenger", 1)
        version = get_json(f"{base}/registered-models/alias?name=fraud&alias=challenger")
        assert version["model_version"]["version"] == "1"  # type: ignore[index]
        assert version["model_version"]["tags"] == [{"key": "team", "value": "risk"}]  # type: ignore[index]

        with pytest.raises(urllib.error.HTTPError) as missing:
            get_json(f"{base}/registered-models/get?name=nobody")
        assert missing.value.code == 404
        assert json.loads(missing.value.read())["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


# ---------------------------------------------------------------------------------- structure


def test_no_module_of_mreg_imports_the_plugin() -> None:
    """Only MLflow imports ``mreg.mlflow_store`` (through its entry point)."""
    importers = []
    for path in sorted((REPO / "src" / "mreg").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                named = [node.module or "", *(a.name for a in node.names)]
            elif isinstance(node, ast.Import):
                named = [a.name for a in node.names]
            else:
                continue
            if any("mlflow_store" in n for n in named):
                importers.append(path.name)
    assert importers == []


@pytest.mark.parametrize(
    "args",
    [
        ("resolve", "fraud@champion", "--field", "path"),
        ("alias", "set", "fraud", "challenger", "1"),
        ("versions", "list"),
        ("models", "list"),
        ("register", "SOURCE", "--name", "fraud"),
    ],
)
def test_commands_import_neither_mlflow_nor_yaml(
    registry: Registry, model_dir: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    registry.create_model_version("fraud", model_dir, aliases=["champion"])
    argv = [str(model_dir) if a == "SOURCE" else a for a in args]
    loaded = modules_of(tmp_path, "--store", str(registry.root), *argv)
    assert "mreg.cli.app" in loaded  # the walk saw the command run
    assert sorted(m for m in loaded if m.split(".")[0] in ("mlflow", "yaml") or "mlflow" in m) == []
