"""The ``mreg`` command as a whole: version, help with an example on every command, streams."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main
from helpers import Cli, run_mreg

from mreg import Registry, __version__
from mreg.cli.app import app


def all_commands() -> list[tuple[str, ...]]:
    """Every leaf command as its words: ('init',), ('models', 'list'), …"""
    found: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in sorted(children.items()):
                walk(child, (*path, name))
        else:
            found.append(path)

    walk(typer.main.get_command(app), ())
    return found


EXPECTED_COMMANDS = {
    ("init",),
    ("register",),
    ("resolve",),
    ("get",),
    ("history",),
    ("models", "list"),
    ("models", "show"),
    ("models", "create"),
    ("models", "rename"),
    ("models", "update"),
    ("models", "delete"),
    ("versions", "list"),
    ("versions", "show"),
    ("versions", "update"),
    ("versions", "delete"),
    ("alias", "set"),
    ("alias", "delete"),
    ("alias", "list"),
    ("tag", "set"),
    ("tag", "delete"),
    ("stage", "set"),
}


def test_the_commands_of_the_design_exist() -> None:
    assert set(all_commands()) >= EXPECTED_COMMANDS


@pytest.mark.parametrize("words", sorted(EXPECTED_COMMANDS), ids=" ".join)
def test_every_command_has_help_with_an_example(cli: Cli, words: tuple[str, ...]) -> None:
    result = cli(*words, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert "mreg " + " ".join(words) in result.stdout


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"mreg {__version__}\n"


def test_no_arguments_shows_help(cli: Cli) -> None:
    result = cli()
    assert "Usage" in result.stdout + result.stderr
    assert "register" in result.stdout + result.stderr


def test_data_goes_to_stdout_and_messages_to_stderr(cli: Cli, registry: Registry, model_file: Path) -> None:
    registered = cli("register", "model.bin", "--name", "fraud", "-q")
    assert (registered.stdout, registered.stderr) == ("1\n", "")
    moved = cli("alias", "set", "fraud", "champion", "1")
    assert (moved.stdout, moved.stderr) == ("", "fraud@champion → version 1\n")


def test_the_store_option_takes_the_folder_or_the_mreg_folder(
    cli: Cli, tmp_path: Path, model_file: Path
) -> None:
    Registry.init(tmp_path / "proj")
    assert cli("--store", str(tmp_path / "proj"), "models", "create", "a").exit_code == 0
    assert cli("--store", str(tmp_path / "proj" / ".mreg"), "models", "list", "-q").stdout == "a\n"


def test_python_dash_m_mreg_is_the_same_command(registry: Registry, isolated: Path) -> None:
    result = run_mreg("--version", cwd=isolated)
    assert result.returncode == 0
    assert result.stdout == f"mreg {__version__}\n"
