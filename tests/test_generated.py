"""The files scripts/generate.py writes from the command line (man page, command reference,
completion scripts) are committed up to date, complete, and go stale when the command line changes."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated

import pytest
import typer
import typer.main
from helpers import REPO

SCRIPT = REPO / "scripts" / "generate.py"
MAN_PAGE = REPO / "man" / "mreg.1"
GENERATED = {
    "completions/bash/mreg",
    "completions/zsh/_mreg",
    "completions/fish/mreg.fish",
    "man/mreg.1",
    "docs/cli.md",
}


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mreg_generate", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


generate = load_generator()


def dummy_command(option: str = "--frobs") -> typer.Typer:
    dummy = typer.Typer()

    @dummy.command()
    def frobnicate(
        name: Annotated[str, typer.Argument(help="The model to frobnicate.")],
        frobs: int = typer.Option(1, option, help="How many times."),  # a name chosen by the test
    ) -> None:
        """Frobnicate a model.

        Example:  mreg frobnicate fraud
        """

    return dummy


def test_committed_files_are_up_to_date() -> None:
    stale = generate.stale(generate.render(generate.root_command()), REPO)
    assert stale == [], f"out of date: {stale}; run python scripts/generate.py and commit the result"
    assert set(generate.render(generate.root_command())) == GENERATED


def test_a_new_command_or_option_makes_them_stale(tmp_path: Path) -> None:
    """What the staleness test above catches: the command line changed, the generator did not run."""
    with_command = generate.root_command()  # a fresh copy of the command tree
    with_command.add_command(typer.main.get_command(dummy_command()), "frobnicate")
    files = generate.render(with_command)
    generate.write(files, tmp_path / "new-command")
    # the completion scripts ask mreg for candidates at each TAB: a new command changes nothing there
    assert set(generate.stale(files, REPO)) == {"man/mreg.1", "docs/cli.md"}
    for rel in ("man/mreg.1", "docs/cli.md"):
        assert "frobnicate" in (tmp_path / "new-command" / rel).read_text()

    with_option = generate.root_command()
    init = with_option.get_command(None, "init")
    init.params.append(typer.main.get_command(dummy_command("--frobnicate-harder")).params[1])
    files = generate.render(with_option)
    assert set(generate.stale(files, REPO)) == {"man/mreg.1", "docs/cli.md"}
    assert "frobnicate-harder" in files["docs/cli.md"]
    assert "frobnicate\\-harder" in files["man/mreg.1"]


def test_the_script_writes_and_checks(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(SCRIPT), *args, "--root", str(tmp_path)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    check = run("--check")
    assert check.returncode == 1
    assert sorted(re.findall(r"stale: (\S+)", check.stderr)) == sorted(GENERATED)
    assert run().returncode == 0
    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()} == GENERATED
    assert (run("--check").returncode, run("--check").stderr) == (0, "")
    (tmp_path / "man" / "mreg.1").write_text("edited by hand\n")
    assert run("--check").stderr == "stale: man/mreg.1 (run python scripts/generate.py)\n"


def entries() -> list:  # type: ignore[type-arg]
    return list(generate.walk(generate.root_command()))


def test_every_command_and_option_has_help() -> None:
    missing = []
    for entry in entries():
        if not (entry.command.help or "").strip():
            missing.append(entry.path)
        for param in entry.params():
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"{entry.path} {param.name}")
    assert missing == []


def test_every_command_shows_an_example() -> None:
    without = []
    for entry in entries():
        if entry.is_group:
            continue
        code = [
            line
            for block in generate.blocks(entry.command.help)
            if block.kind == "code"
            for line in block.lines
        ]
        if not any(entry.path in line for line in code):
            without.append(entry.path)
    assert without == []


def test_man_page_covers_every_command_option_variable_exit_code_and_file() -> None:
    text = MAN_PAGE.read_text().replace("\\-", "-")
    for entry in entries():
        assert f'.SS "{entry.path}"' in text or entry.path == "mreg"
        for option in entry.options():
            for name in [*option.opts, *option.secondary_opts]:
                assert f"\\fB{name}\\fR" in text, f"{entry.path} {name}"
    for variable in ("MREG_STORE", "MREG_LOCK_TIMEOUT", "MREG_USER", "MREG_DEBUG", "NO_COLOR"):
        assert f".TP\n\\fB{variable}\\fR" in text
    for code in (0, 1, 2, 3, 4, 5, 75):
        assert f".TP\n\\fB{code}\\fR" in text
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "ENVIRONMENT", "EXIT STATUS", "FILES"):
        assert f".SH {section}\n" in text
    assert "models/<name>/versions/<n>.toml" in text


def test_reference_covers_every_command_and_option() -> None:
    text = (REPO / "docs" / "cli.md").read_text()
    for entry in entries()[1:]:
        assert f"\n## {entry.path}\n" in text
        for option in entry.options():
            assert max(option.opts, key=len) in text


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed (.ci/run installs it)")
def test_groff_finds_nothing_to_warn_about() -> None:
    done = subprocess.run(
        ["groff", "-man", "-ww", "-z", str(MAN_PAGE)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed (.ci/run installs it)")
def test_man_renders_the_page() -> None:
    env = {**os.environ, "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "100", "LANG": "C.UTF-8"}
    done = subprocess.run(["man", "-l", str(MAN_PAGE)], capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    text = re.sub(".\b", "", done.stdout)  # overstrike bold, if any
    assert text.startswith("MREG(1)")
    for heading in ("SYNOPSIS", "GLOBAL OPTIONS", "COMMANDS", "ENVIRONMENT", "EXIT STATUS", "FILES"):
        assert f"\n{heading}\n" in text
    assert "mreg alias set [OPTIONS] NAME ALIAS VERSION" in text
    assert re.search(r"\n +75 +Lock +timeout", text)  # man justifies lines: spaces vary with the width
