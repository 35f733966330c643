"""The -q and --field conventions of docs/cli-conventions.md, command by command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from helpers import REPO, Cli

from mreg import Registry
from mreg.cli.app import app
from mreg.cli.common import Field

# (command, arguments, what -q leaves on stdout): every command that writes a message on success.
QUIET: list[tuple[str, list[str], str]] = [
    ("init", ["other", "--force"], ""),  # other/ lies below the store: nested on purpose
    ("register", ["model.bin", "--name", "fraud"], "3\n"),
    ("get", ["fraud@champion", "-o", "copy.bin"], ""),
    ("models create", ["empty"], ""),
    ("models update", ["fraud", "-d", "new"], ""),
    ("models rename", ["fraud", "fraud2"], ""),
    ("models delete", ["fraud", "--yes"], ""),
    ("models list", [], "fraud\n"),
    ("versions list", ["fraud", "--order-by", "version_number"], "1\n2\n"),
    ("versions list", ["--order-by", "version_number"], "fraud/1\nfraud/2\n"),
    ("versions update", ["fraud", "1", "-d", "new"], ""),
    ("versions copy", ["fraud/1", "fraud-eu"], "1\n"),
    ("versions delete", ["fraud", "1", "--yes"], ""),
    ("alias set", ["fraud", "challenger", "1"], ""),
    ("alias delete", ["fraud", "champion"], ""),
    ("tag set", ["fraud", "a=b"], ""),
    ("tag set", ["fraud", "--version", "1", "a=b"], ""),
    ("tag delete", ["fraud", "team"], ""),
    ("stage set", ["fraud", "1", "staging"], ""),
    ("gc", ["--yes"], ""),
    ("ui export", ["site"], ""),
]


@pytest.fixture
def fraud_with_a_uri(registry: Registry, model_file: Path) -> Registry:
    registry.create_registered_model("fraud", tags={"team": "risk"})
    registry.create_model_version("fraud", model_file, run_id="r1")
    registry.create_model_version("fraud", "s3://bucket/fraud/2")
    registry.set_registered_model_alias("fraud", "champion", 1)
    return registry


def _commands(option: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        for param in command.params:
            if option in getattr(param, "opts", []):
                found[" ".join(path)] = param

    walk(typer.main.get_command(app), [])
    return found


@pytest.mark.parametrize(("path", "args", "stdout"), QUIET, ids=[f"{q[0]} {' '.join(q[1])}" for q in QUIET])
def test_quiet_prints_only_the_essential_value(
    fraud_with_a_uri: Registry, cli: Cli, path: str, args: list[str], stdout: str
) -> None:
    loud = cli(*path.split(), *args) if path in ("models list", "versions list") else None
    result = cli(*path.split(), *args, "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == stdout
    assert result.stderr == ""
    if loud is not None:  # listings: -q shortens the table to the identifiers
        assert len(loud.stdout) > len(stdout)


def test_every_quiet_command_is_covered() -> None:
    assert set(_commands("--quiet")) == {path for path, _, _ in QUIET}


def test_commands_without_quiet_print_no_message(fraud_with_a_uri: Registry, cli: Cli) -> None:
    """The rest print data only (or nothing): nothing for -q to silence."""
    for args in (
        ["resolve", "fraud@champion"],
        ["models", "show", "fraud"],
        ["versions", "show", "fraud", "1"],
        ["alias", "list", "fraud"],
        ["history", "fraud"],
    ):
        result = cli(*args)
        assert result.exit_code == 0 and result.stdout and result.stderr == "", args


def test_field_means_the_same_everywhere(fraud_with_a_uri: Registry, cli: Cli) -> None:
    fields = _commands("--field")
    assert set(fields) == {"resolve", "register", "versions show", "versions list"}
    for param in fields.values():
        assert list(param.type.choices) == [f.value for f in Field]
        assert "-f" in param.opts
    for field in Field:
        if field is Field.path:
            continue
        values = {
            cli("resolve", "fraud/1", "--field", field.value).stdout,
            cli("versions", "show", "fraud", "1", "--field", field.value).stdout,
            cli("versions", "list", "fraud", "--filter", "version_number = 1", "--field", field.value).stdout,
        }
        assert len(values) == 1, field
    assert cli("resolve", "fraud/1", "-f", "uri").stdout == "models:/fraud/1\n"
    assert cli("versions", "list", "fraud", "-f", "run_id", "--order-by", "version_number").stdout == "r1\n\n"


def test_field_path_is_the_artifact(fraud_with_a_uri: Registry, cli: Cli) -> None:
    path = cli("versions", "show", "fraud", "1", "--field", "path").stdout.strip()
    assert Path(path).read_bytes() == b"weights v1\n"
    result = cli("versions", "show", "fraud", "2", "--field", "path")
    assert result.exit_code == 1 and "is a reference to s3://bucket/fraud/2" in result.stderr


def test_field_wins_over_json_which_wins_over_quiet(fraud_with_a_uri: Registry, cli: Cli) -> None:
    result = cli("register", "model.bin", "--name", "fraud", "-q", "--json", "--field", "version")
    assert result.stdout == "3\n"
    result = cli("register", "model.bin", "--name", "fraud", "-q", "--json")
    assert result.stdout.startswith("{") and '"version": 4' in result.stdout


def test_the_conventions_page_lists_every_quiet_and_field_command() -> None:
    text = (REPO / "docs" / "cli-conventions.md").read_text(encoding="utf-8")
    for path in _commands("--field"):
        assert f"`{path}`" in text, path
    table = text[text.index("| command | `-q` prints |") :]
    for path in _commands("--quiet"):
        words = path.split()
        assert f"`{path}`" in table or (len(words) == 2 and f"`{words[0]} " in table and words[1] in table), (
            path
        )
