"""Completion answered in-process: what ``mreg`` tells a shell for a command line, read from a real
store. The shells themselves run in test_completion_shells.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer.main

from mreg import Registry
from mreg.cli import complete, shells
from mreg.cli.app import app

BREAKS = " \t\n\"'@><=;|&(:"


@pytest.fixture
def store_in_env(completion_store: Registry, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setenv("MREG_STORE", str(completion_store.root))
    return completion_store


@pytest.fixture
def answer(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def bash(line: str) -> list[str]:
        """The lines mreg prints for bash with the cursor at the end of ``line``."""
        monkeypatch.setenv("COMP_LINE", line)
        monkeypatch.setenv("COMP_POINT", str(len(line)))
        monkeypatch.setenv("COMP_WORDBREAKS", BREAKS)
        complete.partial.clear()
        command = typer.main.get_command(app)
        return shells.BashComplete(command, {}, "mreg", "_MREG_COMPLETE").complete().splitlines()

    yield bash


SUBCOMMANDS = ["init", "register", "resolve", "get", "history", "models", "versions", "alias", "tag"]


def plain(lines: list[str]) -> list[str]:
    return [line.removeprefix("plain,") for line in lines if line.startswith("plain,")]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("mreg al", ["plain,alias"]),
        ("mreg models show ", ["plain,Iris\\ Classifier", "plain,fraud"]),
        ("mreg models show fr", ["plain,fraud"]),
        ("mreg models show Ir", ["plain,Iris\\ Classifier"]),
        ("mreg models show 'Ir", ["plain,Iris Classifier'"]),
        ("mreg versions list f", ["plain,fraud"]),
        ("mreg history fraud --alias ", ["plain,champion"]),
        ("mreg register model.bin --name f", ["plain,fraud"]),
        ("mreg register model.bin --name=f", ["plain,fraud"]),
        ("mreg register model.bin --name fraud --alias ", ["plain,champion"]),
        ("mreg alias set fraud ", ["plain,champion"]),
        ("mreg alias delete fraud ch", ["plain,champion"]),
        (
            "mreg alias set fraud champion ",
            ["plain,2", "plain,1", "plain,latest", "plain,Production", "plain,@champion"],
        ),
        ("mreg versions show fraud @", ["plain,@champion"]),
        (
            "mreg versions show fraud ",
            ["plain,2", "plain,1", "plain,latest", "plain,Production", "plain,@champion"],
        ),
        ("mreg stage set fraud 1 pro", ["plain,production"]),
        ("mreg stage set fraud 1 St", ["plain,Staging"]),
        ("mreg tag delete fraud ", ["plain,owner", "plain,team"]),
        ("mreg tag delete fraud --version 2 ", ["plain,validated"]),
        ("mreg tag set fraud t", ["plain,team=", "nospace,"]),
        # bash completes only the text after the last ':', or from the last '@': answers replace that
        ("mreg resolve models:/fr", ["plain,/fraud", "nospace,"]),
        ("mreg resolve models:/fraud@", ["plain,@champion"]),
        ("mreg resolve models:/fraud@ch", ["plain,@champion"]),
        (
            "mreg resolve models:/fraud/",
            ["plain,/fraud/2", "plain,/fraud/1", "plain,/fraud/latest", "plain,/fraud/Production"],
        ),
        ("mreg get fraud/l", ["plain,fraud/latest"]),
        ("mreg resolve fraud@", ["plain,@champion"]),
        ("mreg resolve models:", ["plain,/", "nospace,"]),
        ("mreg resolve mo", ["plain,models:/", "nospace,"]),
        ("mreg resolve 'models:/Ir", ["plain,models:/Iris Classifier", "nospace,"]),
        ("mreg models show nosuch", []),
        ("mreg register ", ["files,"]),
        ("mreg init ", ["files,"]),
    ],
)
def test_bash_answers(store_in_env: Registry, answer, line: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert answer(line) == expected


def test_subcommands_and_options(answer) -> None:  # type: ignore[no-untyped-def]
    assert set(SUBCOMMANDS) <= set(plain(answer("mreg ")))
    assert {"list", "show", "create", "rename", "update", "delete"} <= set(plain(answer("mreg models ")))
    assert {"--name", "--tag", "--alias", "--quiet", "--json"} <= set(plain(answer("mreg register --")))
    assert plain(answer("mreg --st")) == ["--store"]


def test_store_named_by_option_and_environment(
    store_in_env: Registry, answer, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    other = Registry.init(tmp_path / "other")
    other.create_registered_model("churn")
    assert plain(answer("mreg models show f")) == ["fraud"]  # MREG_STORE
    assert plain(answer(f"mreg --store {other.root} models show ")) == ["churn"]
    monkeypatch.delenv("MREG_STORE")
    here = Path.cwd()
    os.chdir(other.root.parent / ".mreg" / "models")
    try:
        assert plain(answer("mreg models show ")) == ["churn"]  # found walking up from here
    finally:
        os.chdir(here)


@pytest.mark.parametrize(
    "line",
    [
        "mreg models show ",
        "mreg alias set fraud ",
        "mreg resolve models:/fraud@",
        "mreg resolve models:/",
        "mreg tag delete fraud ",
        "mreg versions show fraud ",
    ],
)
def test_no_store_no_candidates(answer, line: str) -> None:  # type: ignore[no-untyped-def]
    assert answer(line) == []


def test_broken_store_gives_no_candidates_instead_of_an_error(
    store_in_env: Registry, answer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    broken = Registry(shutil.copytree(store_in_env.root, tmp_path / "broken" / ".mreg"))
    monkeypatch.setenv("MREG_STORE", str(broken.root))
    broken.store.layout.version_file("fraud", 2).write_text("<<<<<<< HEAD\n")
    broken.store.layout.alias_file("fraud", "champion").write_text("not toml [")
    assert answer("mreg alias set fraud champion ") == []
    assert answer("mreg resolve fraud@") == []
    assert answer("mreg models show f") == ["plain,fraud"]  # what can still be read is offered
    monkeypatch.setenv("MREG_LOCK_TIMEOUT", "soon")
    assert answer("mreg models show f") == []


@pytest.mark.parametrize("store_option", ["/nonexistent", None])
def test_callbacks_never_raise(store_in_env: Registry, store_option: str | None) -> None:
    """A missing store, or names no model can have, give no candidates and no exception."""
    root = SimpleNamespace(params={"store": store_option})
    ctx = SimpleNamespace(
        params={"name": "../../etc", "version": "@nosuch"},
        args=[],
        command=SimpleNamespace(params=[]),
        find_root=lambda: root,
    )
    for callback in (complete.versions, complete.aliases, complete.tag_keys, complete.tag_pairs):
        assert callback(ctx, "") == []  # type: ignore[arg-type]
    assert complete.model_names(ctx, "") == ([] if store_option else ["Iris Classifier", "fraud"])  # type: ignore[arg-type]
    for word in ("models:/../x@", "models:/x/", "nosuch@"):
        assert complete.model_uris(ctx, word) == []  # type: ignore[arg-type]


def test_every_name_version_alias_and_uri_parameter_completes() -> None:
    """New commands get completion too: every parameter called name, version, alias or uri."""
    wanted = {"name", "version", "alias", "aliases", "uri"}
    missing = []

    def visit(command, path: str) -> None:  # type: ignore[no-untyped-def]
        for param in command.params:
            if param.name in wanted and param._custom_shell_complete is None:
                missing.append(f"{path} {param.name}")
        for name, sub in getattr(command, "commands", {}).items():
            visit(sub, f"{path} {name}")

    visit(typer.main.get_command(app), "mreg")
    # the root's --version prints mreg's version; models create names a new model
    assert missing == ["mreg version"]


def test_completion_imports_no_rich(store_in_env: Registry) -> None:
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('rich loaded: %s' % ('rich' in sys.modules)))\n"
        "sys.argv = ['mreg']\n"
        "from mreg.cli.app import main\n"
        "main()\n"
    )
    line = "mreg alias set fraud champion "
    env = {**os.environ, "_MREG_COMPLETE": "complete_bash", "COMP_LINE": line, "COMP_POINT": str(len(line))}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "plain,@champion" in done.stdout
    assert done.stderr.endswith("rich loaded: False")


def test_typer_completion_options_are_not_offered() -> None:
    """mreg ships its completion files; Typer's --install-completion would write a weaker script."""
    options = {o for p in typer.main.get_command(app).params for o in p.opts}
    assert not options & {"--install-completion", "--show-completion"}
