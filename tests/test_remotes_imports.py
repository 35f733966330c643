"""Commands that do not touch a remote do not import fsspec or mreg.remotes (start-up is a
feature); those that do, import them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mreg import Registry

DRIVER = """
import sys
out = sys.argv.pop(1)
from mreg.cli.app import main
try:
    main()
except SystemExit as exc:
    code = exc.code
with open(out, "w", encoding="utf-8") as handle:
    handle.write("\\n".join(sorted(sys.modules)))
sys.exit(code)
"""


def modules_of(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.txt"
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(out), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(out.read_text(encoding="utf-8").splitlines())


def remote_modules(modules: set[str]) -> list[str]:
    return sorted(
        m
        for m in modules
        if m.split(".")[0] in ("fsspec", "s3fs", "botocore") or m.startswith("mreg.remotes")
    )


@pytest.mark.parametrize(
    "args",
    [
        ("resolve", "fraud@champion", "--field", "path"),
        ("alias", "set", "fraud", "challenger", "1"),
        ("versions", "list"),
        ("get", "fraud/1", "-o", "OUT"),
        ("register", "SOURCE", "--name", "fraud"),
        ("fsck",),
        ("gc",),
    ],
)
def test_commands_without_a_remote_import_none_of_it(
    registry: Registry, model_file: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    registry.create_model_version("fraud", model_file, aliases=["champion"])
    registry.add_remote("team", str(tmp_path / "share"))  # configured, but not needed by these
    args = tuple(
        str(tmp_path / "out.bin") if a == "OUT" else str(model_file) if a == "SOURCE" else a for a in args
    )
    assert remote_modules(modules_of(tmp_path, "--store", str(registry.root), *args)) == []


def test_push_imports_fsspec(registry: Registry, model_file: Path, tmp_path: Path) -> None:
    registry.create_model_version("fraud", model_file)
    registry.add_remote("team", str(tmp_path / "share"))
    modules = modules_of(tmp_path, "--store", str(registry.root), "push")
    assert "fsspec" in modules and "mreg.remotes.transfer" in modules
