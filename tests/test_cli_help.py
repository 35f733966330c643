"""`--help` at 80 columns, for every command: the usage line names values as the reference does
(SOURCE, [PATH], PAIRS...), and every example is one unbroken line that can be copied."""

from __future__ import annotations

import inspect
import re

import pytest
import typer.main
from helpers import Cli

from mreg.cli.app import app


def commands() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(command: typer.main.TyperGroup | typer.main.TyperCommand, path: list[str]) -> None:  # type: ignore[name-defined]
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = commands()


def example_lines(help_text: str) -> list[str]:
    """The lines of the indented blocks of a command's help (its examples)."""
    text = inspect.cleandoc(help_text or "")
    return [line.strip() for line in text.split("\n") if line.startswith("  ") and line.strip()]


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "mreg")
def test_help_at_80_columns_keeps_every_example_whole(cli: Cli, path: list[str]) -> None:
    result = cli(*path, "--help", env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert result.exit_code == 0, result.stderr
    shown = [line.strip() for line in result.stdout.splitlines()]
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    assert "Example:  " not in (command.help or "") and "Examples:  " not in (command.help or "")
    for line in example_lines(command.help or ""):
        assert line in shown, f"{line!r} is wrapped in:\n{result.stdout}"


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "mreg")
def test_usage_names_values_as_the_reference_does(cli: Cli, path: list[str]) -> None:
    result = cli(*path, "--help", env={"COLUMNS": "80"})
    usage = next(line for line in result.stdout.splitlines() if "Usage:" in line)
    assert not re.search(r"[{}]|<str>|<path>", usage), usage
    assert "<str>" not in result.stdout and "<path>" not in result.stdout
    words = usage.split("[OPTIONS]")[-1].split()
    for word in words:
        if word not in ("COMMAND", "[ARGS]..."):
            assert re.fullmatch(r"\[?[A-Z_]+(\.\.\.)?\]?", word), usage


@pytest.mark.parametrize(
    ("args", "env", "hint"),
    [
        (["--lock-timeout", "-1", "models", "list"], {}, "error: Invalid value for '--lock-timeout': "),
        (
            ["models", "list"],
            {"MREG_LOCK_TIMEOUT": "-1"},
            "error: Invalid value for '--lock-timeout' (env var: 'MREG_LOCK_TIMEOUT'): ",
        ),
    ],
)
def test_an_invalid_value_names_where_it_came_from(
    cli: Cli, args: list[str], env: dict[str, str], hint: str
) -> None:
    result = cli(*args, env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith(hint), result.stderr
