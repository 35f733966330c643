"""``mreg init`` and ``mreg models …`` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import Cli

from mreg import Registry


def test_init_creates_a_store_and_a_second_init_finds_it(cli: Cli, isolated: Path) -> None:
    first = cli("init")
    assert first.exit_code == 0
    assert "Initialized empty mreg store in" in first.stderr
    assert (isolated / ".mreg" / "config.toml").is_file()
    second = cli("init", "--json")
    assert second.exit_code == 0
    assert json.loads(second.stdout) == {"store": str((isolated / ".mreg").resolve()), "created": False}


def test_init_in_another_folder_and_with_store(cli: Cli, isolated: Path) -> None:
    assert cli("init", "sub").exit_code == 0
    assert (isolated / "sub" / ".mreg" / "config.toml").is_file()
    assert cli("--store", "other", "init").exit_code == 0
    assert (isolated / "other" / ".mreg" / "config.toml").is_file()
    assert cli("init", "--commit-objects", "objs").exit_code == 0
    assert "/objects/" not in (isolated / "objs" / ".mreg" / ".gitignore").read_text()


def test_init_refuses_a_store_of_a_newer_format(cli: Cli, isolated: Path) -> None:
    Registry.init(isolated)
    (isolated / ".mreg" / "config.toml").write_text("format = 2\n")
    result = cli("init")
    assert result.exit_code == 1
    assert "upgrade mreg" in result.stderr


def test_create_show_and_list(cli: Cli, registry: Registry, isolated: Path) -> None:
    (isolated / "fraud.md").write_text("# Fraud\n\nScores *card* payments.\n")
    created = cli("models", "create", "fraud", "-D", "fraud.md", "-t", "team=risk", "--tag", "tier=1")
    assert created.exit_code == 0, created.stderr
    assert created.stderr == "Created model fraud\n"
    assert cli("models", "create", "Iris Classifier", "-d", "iris").exit_code == 0

    shown = cli("models", "show", "fraud")
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    assert lines[0] == "name         fraud"
    assert "tag          team=risk" in lines
    assert "tag          tier=1" in lines
    assert "Scores *card* payments." in lines
    assert "aliases      none" in lines

    data = json.loads(cli("models", "show", "fraud", "--json").stdout)
    assert data["name"] == "fraud"
    assert data["tags"] == {"team": "risk", "tier": "1"}
    assert data["description"] == "# Fraud\n\nScores *card* payments.\n"

    listed = cli("models", "list")
    assert listed.stdout.splitlines()[0].split() == ["name", "latest", "aliases", "updated", "description"]
    assert [line.split("  ")[0] for line in listed.stdout.splitlines()[1:]] == ["Iris Classifier", "fraud"]
    assert cli("models", "list", "-q").stdout == "Iris Classifier\nfraud\n"
    names = [m["name"] for m in json.loads(cli("models", "list", "--json").stdout)["registered_models"]]
    assert names == ["Iris Classifier", "fraud"]


def test_an_empty_list_says_how_to_start(cli: Cli, registry: Registry) -> None:
    result = cli("models", "list")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "mreg register" in result.stderr
    assert json.loads(cli("models", "list", "--json").stdout)["registered_models"] == []


def test_show_lists_the_newest_versions_first_with_aliases(
    cli: Cli, registry: Registry, model_file: Path
) -> None:
    for _ in range(3):
        registry.create_model_version("fraud", model_file, run_id="r9")
    registry.set_registered_model_alias("fraud", "champion", 2)
    result = cli("models", "show", "fraud", "--versions", "2")
    lines = result.stdout.splitlines()
    assert "aliases      champion → 2" in lines
    table = lines[lines.index(next(line for line in lines if line.startswith("version"))) :]
    assert table[0].split() == ["version", "aliases", "stage", "created", "by", "size", "run"]
    assert [row.split()[0] for row in table[1:]] == ["3", "2"]
    assert "champion" in table[2]
    assert table[1].endswith("r9")
    none = cli("models", "show", "fraud", "--versions", "0").stdout
    assert "version  aliases" not in none
    listed = cli("models", "list").stdout.splitlines()[1].split()
    assert listed[:3] == ["fraud", "3", "champion→2"]


def test_rename(cli: Cli, registry: Registry, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file)
    result = cli("models", "rename", "fraud", "fraud-detector", "-m", "clearer")
    assert result.exit_code == 0
    assert result.stderr == "Renamed model fraud to fraud-detector\n"
    assert registry.model_names() == ["fraud-detector"]
    assert registry.get_history("fraud-detector")[-1].message == "clearer"
    assert cli("models", "rename", "fraud-detector", "x", "-q").stderr == ""


def test_update_inline_or_from_a_file(cli: Cli, registry: Registry, isolated: Path) -> None:
    registry.create_registered_model("fraud", description="old")
    result = cli("models", "update", "fraud", "-d", "new", "-m", "typo")
    assert result.exit_code == 0
    assert registry.get_registered_model("fraud").description == "new"
    (isolated / "d.md").write_text("from *file*\n")
    data = json.loads(cli("models", "update", "fraud", "--description-file", "d.md", "--json").stdout)
    assert data["description"] == "from *file*\n"
    assert [e.message for e in registry.get_history("fraud") if e.action == "model_described"] == [
        "typo",
        None,
    ]


def test_delete_with_yes(cli: Cli, registry: Registry, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file)
    result = cli("models", "delete", "fraud", "--yes", "-m", "obsolete")
    assert result.exit_code == 0
    assert result.stderr == "Deleted model fraud\n"
    assert registry.model_names() == []
