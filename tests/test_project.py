"""The project's own promises: CI runs the README's test command, typer stays below 0.29, and the
code passes ``mypy --strict`` and ruff (so type and lint errors fail CI like any other test)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from helpers import REPO
from test_quickstart import sh_blocks_under


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = sh_blocks_under("## Try it", readme)
    assert len(blocks) == 2
    command = blocks[1]
    assert "pytest" in command
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert command in ci.splitlines()
    commands = [line for line in ci.splitlines() if "pytest" in line and not line.lstrip().startswith("#")]
    assert commands == [command], "CI runs no other test command"


def test_typer_is_pinned_below_0_29() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    typer = [d for d in project["dependencies"] if re.match(r"typer\b", d)]
    assert len(typer) == 1
    upper = re.search(r"<\s*([0-9.]+)", typer[0])
    assert upper is not None, f"typer has no upper bound: {typer[0]}"
    assert tuple(int(p) for p in upper.group(1).split(".")) <= (0, 29)
    installed = tuple(int(p) for p in version("typer").split(".")[:2])
    assert installed < (0, 29)


def test_the_checkers_are_pinned_exactly_and_filelock_has_the_floor_the_code_needs() -> None:
    """The suite runs mypy and ruff: an unpinned new release could fail it without a code change.
    filelock before 4.3 silently ignores ``fallback_to_soft=False`` and ``preserve_lock_file``."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    test_extra = {
        re.split(r"[<>=!~ ]", d, maxsplit=1)[0]: d for d in project["optional-dependencies"]["test"]
    }
    for checker in ("mypy", "ruff"):
        assert re.fullmatch(rf"{checker}==[0-9.]+", test_extra[checker]), test_extra[checker]
        assert test_extra[checker] == f"{checker}=={version(checker)}"
    (filelock,) = [d for d in project["dependencies"] if re.match(r"filelock\b", d)]
    floor = re.search(r">=\s*([0-9.]+)", filelock)
    assert floor is not None and tuple(int(p) for p in floor.group(1).split(".")) >= (4, 3)


@pytest.mark.parametrize(
    "command",
    [
        ["mypy", "--strict", "src"],
        ["ruff", "check", "src", "tests"],
        ["ruff", "format", "--check", "src", "tests"],
    ],
    ids=" ".join,
)
def test_type_check_lint_and_format_pass(command: list[str], tmp_path: Path) -> None:
    # Caches go to the test's temporary folder, not into the checkout.
    cache = ["--cache-dir", str(tmp_path / "cache")] if command[0] == "mypy" else ["--no-cache"]
    result = subprocess.run(
        [sys.executable, "-m", *command[:2], *cache, *command[2:]],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_documents_the_readme_links_to_exist() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert links
    for link in links:
        assert (REPO / link).is_file(), link


def test_every_exit_code_is_documented() -> None:
    from mreg.errors import EXIT_CODES

    page = (REPO / "docs" / "exit-codes.md").read_text(encoding="utf-8")
    documented = {int(code) for code in re.findall(r"^\| +(\d+) \|", page, re.MULTILINE)}
    assert set(EXIT_CODES.values()) <= documented
    assert {130, 141} <= documented


@pytest.mark.parametrize(
    "variable", ["MREG_STORE", "MREG_LOCK_TIMEOUT", "MREG_USER", "MREG_DEBUG", "NO_COLOR"]
)
def test_every_environment_variable_is_documented(variable: str) -> None:
    assert f"| `{variable}` |" in (REPO / "docs" / "environment.md").read_text(encoding="utf-8")
