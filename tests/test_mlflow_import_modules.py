"""MLflow (and the YAML reader it brings) is imported by ``mreg import mlflow`` alone: every
other command starts as fast as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_remotes_imports import modules_of

from mreg import Registry


def mlflow_modules(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in ("mlflow", "yaml") or m == "mreg.mlflow_import")


@pytest.mark.parametrize(
    "args",
    [
        ("resolve", "fraud@champion", "--field", "path"),
        ("alias", "set", "fraud", "challenger", "1"),
        ("versions", "list"),
        ("models", "list"),
        ("register", "SOURCE", "--name", "fraud"),
        ("history", "fraud"),
        ("fsck",),
        ("import", "--help"),
    ],
)
def test_other_commands_do_not_import_mlflow(
    registry: Registry, model_dir: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    registry.create_model_version("fraud", model_dir, aliases=["champion"])
    args = tuple(str(model_dir) if a == "SOURCE" else a for a in args)
    assert mlflow_modules(modules_of(tmp_path, "--store", str(registry.root), *args)) == []


def test_import_mlflow_imports_it(registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "mlruns" / "models").mkdir(parents=True)  # an empty file store
    modules = modules_of(
        tmp_path, "--store", str(registry.root), "import", "mlflow", str(tmp_path / "mlruns")
    )
    assert "mreg.mlflow_import" in modules
