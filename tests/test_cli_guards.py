"""Guards a new user meets: `get --force` never replaces the store or the project, `init` does not
nest a store silently, a declined delete says so, descriptions come from files everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Cli, git, snapshot
from test_cli_terminal import run_on_terminal

from mreg import Registry
from mreg.destination import check_destination
from mreg.errors import InvalidInput

# --- get -o DEST ---------------------------------------------------------------------------------


@pytest.fixture
def project(fraud: Registry, isolated: Path) -> Registry:
    """The fraud store inside a git work tree (the working directory)."""
    git("init", "-q", cwd=isolated)
    (isolated / "src").mkdir()
    (isolated / "src" / "train.py").write_text("print('train')\n")
    return fraud


@pytest.mark.parametrize(
    ("dest", "why"),
    [
        (".mreg", "it is the store"),
        (".mreg/models", "it is inside the store"),
        (".mreg/objects/new.bin", "it is inside the store"),
        (".mreg/models/fraud/versions/1.toml", "it is inside the store"),
        (".", "it holds the git work tree"),
        ("..", "it holds the git work tree"),
        ("src/../.mreg/x", "it is inside the store"),
        ("link-to-store", "it is the store"),
        ("link-to-project", "it holds the git work tree"),
    ],
)
@pytest.mark.parametrize("force", [True, False])
def test_get_refuses_a_destination_that_is_holds_or_lies_in_the_store_or_project(
    cli: Cli, project: Registry, isolated: Path, dest: str, why: str, force: bool
) -> None:
    (isolated / "link-to-store").symlink_to(project.root)
    (isolated / "link-to-project").symlink_to(isolated)
    before = snapshot(project.root)
    listing = sorted(p.name for p in isolated.iterdir())
    result = cli("get", "fraud/2", "-o", dest, *(["--force"] if force else []))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"error: refusing to write to {dest}: {why}")
    assert len(result.stderr.splitlines()) == 1
    assert snapshot(project.root) == before
    assert sorted(p.name for p in isolated.iterdir()) == listing
    assert (isolated / "src" / "train.py").read_text() == "print('train')\n"


def test_a_store_outside_git_refuses_the_folder_that_holds_it(
    cli: Cli, fraud: Registry, isolated: Path
) -> None:
    result = cli("get", "fraud/1", "-o", ".", "--force")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: refusing to write to .: it holds the store")


@pytest.mark.parametrize("dest", ["model.bin", "src/model.bin", "build/out/model.bin", "src"])
def test_get_still_writes_anywhere_else(cli: Cli, project: Registry, isolated: Path, dest: str) -> None:
    result = cli("get", "fraud/2", "-o", dest, "--force")
    assert result.exit_code == 0, result.stderr
    assert (isolated / dest).read_bytes() == b"weights 2\n"


def test_check_destination_directly(project: Registry, isolated: Path, tmp_path: Path) -> None:
    check_destination(project.root, tmp_path / "elsewhere")
    check_destination(project.root, isolated / "src" / "m.bin")
    for dest in (project.root, project.root / "a", isolated, tmp_path):
        with pytest.raises(InvalidInput):
            check_destination(project.root, dest)


# --- init inside a project that has a store ------------------------------------------------------


def test_init_below_a_store_refuses_and_names_it(cli: Cli, registry: Registry, isolated: Path) -> None:
    sub = isolated / "services" / "scoring"
    sub.mkdir(parents=True)
    result = cli("init", str(sub))
    assert result.exit_code == 4
    assert len(result.stderr.splitlines()) == 1
    assert str(registry.root) in result.stderr and "--force" in result.stderr
    assert not (sub / ".mreg").exists()
    result = cli("init", str(sub / ".mreg"))
    assert result.exit_code == 4 and not (sub / ".mreg").exists()
    result = cli("init", str(sub), "--force", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["created"] is True
    assert (sub / ".mreg" / "config.toml").is_file()
    # once it exists, init there checks it as before (no --force needed)
    result = cli("init", str(sub), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["created"] is False


def test_init_again_in_the_store_folder_still_works(cli: Cli, registry: Registry, isolated: Path) -> None:
    result = cli("init", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["created"] is False


# --- declining a delete --------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["models", "delete", "fraud"], ["versions", "delete", "fraud", "1"]])
def test_declining_a_delete_says_so_in_one_error_line(
    fraud: Registry, isolated: Path, args: list[str]
) -> None:
    code, screen = run_on_terminal(*args, cwd=isolated, answer="n\n")
    assert code == 1
    assert screen.rstrip("\n").endswith("error: not deleted (answered no)"), screen
    assert fraud.list_model_versions("fraud")[0].version == 1


# --- --description-file everywhere a description is given ----------------------------------------


def test_register_and_versions_update_read_the_description_from_a_file(
    cli: Cli, registry: Registry, model_file: Path, isolated: Path
) -> None:
    notes = isolated / "notes.md"
    notes.write_text("# Fraud v1\n\nTrained on *May* data.\n", encoding="utf-8")
    result = cli("register", str(model_file), "--name", "fraud", "--description-file", "notes.md", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["description"] == notes.read_text(encoding="utf-8")
    notes.write_text("Retrained.\n", encoding="utf-8")
    result = cli("versions", "update", "fraud", "1", "-D", "notes.md", "--json")
    assert result.exit_code == 0, result.stderr
    assert registry.get_model_version("fraud", 1).description == "Retrained.\n"


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["versions", "update", "fraud", "1", "-d", "x", "-D", "n.md"], 2, "not both"),
        (["versions", "update", "fraud", "1"], 2, "nothing to update"),
        (["versions", "update", "fraud", "1", "-D", "missing.md"], 3, "missing.md does not exist"),
        (["register", "m1.bin", "--name", "fraud", "-d", "x", "-D", "n.md"], 2, "not both"),
        (["register", "m1.bin", "--name", "fraud", "-D", "missing.md"], 3, "missing.md does not exist"),
    ],
)
def test_description_file_errors(
    cli: Cli, fraud: Registry, isolated: Path, args: list[str], code: int, text: str
) -> None:
    (isolated / "n.md").write_text("n\n")
    before = snapshot(fraud.root)
    result = cli(*args)
    assert result.exit_code == code, result.stderr
    assert result.stderr.startswith("error: ") and text in result.stderr
    assert snapshot(fraud.root) == before
