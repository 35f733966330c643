"""``mreg register`` and ``mreg versions …`` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import Cli

from mreg import Registry


def test_register_prints_the_new_version(cli: Cli, registry: Registry, model_file: Path) -> None:
    result = cli("register", "model.bin", "--name", "fraud")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Registered fraud version 1 (sha256:")
    assert result.stdout.endswith(", 11 B)\n")
    assert registry.get_model_version("fraud", 1).artifact.size == 11


def test_register_quiet_prints_only_the_number(cli: Cli, registry: Registry, model_file: Path) -> None:
    assert cli("register", "model.bin", "--name", "fraud", "-q").stdout == "1\n"
    assert cli("register", "model.bin", "--name", "fraud", "--quiet").stdout == "2\n"


def test_register_json_is_the_version_object(cli: Cli, registry: Registry, model_dir: Path) -> None:
    result = cli(
        "register",
        "model",
        "--name",
        "fraud",
        "--json",
        "-d",
        "first",
        "-t",
        "dataset=may",
        "--tag",
        "owner=risk-team",
        "--run-id",
        "8f2c",
        "--run-link",
        "https://ci.example/runs/8f2c",
        "--alias",
        "champion",
        "-a",
        "challenger",
        "-m",
        "first try",
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["name"] == "fraud"
    assert data["version"] == 1
    assert data["description"] == "first"
    assert data["tags"] == {"dataset": "may", "owner": "risk-team"}
    assert data["run_id"] == "8f2c"
    assert data["run_link"] == "https://ci.example/runs/8f2c"
    assert data["aliases"] == ["challenger", "champion"]
    assert data["current_stage"] == "None"
    assert data["status"] == "READY"
    assert data["artifact"]["kind"] == "directory"
    assert data["artifact"]["digest"].startswith("sha256:")
    assert sorted(f["path"] for f in data["artifact"]["files"]) == [
        "config.json",
        "sub/vocab.txt",
        "weights.json",
    ]
    assert data["created_at"].endswith("Z")
    assert isinstance(data["creation_timestamp"], int)
    assert registry.get_history("fraud")[1].message == "first try"


def test_register_a_uri_records_a_reference(cli: Cli, registry: Registry) -> None:
    result = cli("register", "s3://bucket/fraud/model.onnx", "--name", "fraud")
    assert result.exit_code == 0
    assert result.stdout == "Registered fraud version 1 (reference to s3://bucket/fraud/model.onnx)\n"
    assert cli("resolve", "fraud/1", "--field", "source").stdout == "s3://bucket/fraud/model.onnx\n"


def test_register_shows_aliases_it_set(cli: Cli, registry: Registry, model_file: Path) -> None:
    result = cli("register", "model.bin", "--name", "fraud", "--alias", "champion")
    assert result.stdout.endswith(", aliases: champion)\n")


def test_register_with_store_option_and_env(cli: Cli, tmp_path: Path, model_file: Path) -> None:
    Registry.init(tmp_path / "a")
    Registry.init(tmp_path / "b")
    assert cli("--store", str(tmp_path / "a"), "register", "model.bin", "--name", "x").exit_code == 0
    assert (
        cli(
            "register", "model.bin", "--name", "y", env={"MREG_STORE": str(tmp_path / "b" / ".mreg")}
        ).exit_code
        == 0
    )
    assert Registry(tmp_path / "a").model_names() == ["x"]
    assert Registry(tmp_path / "b").model_names() == ["y"]


def test_list_one_model_or_every_model(cli: Cli, registry: Registry, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file, run_id="r1")
    registry.create_model_version("fraud", model_file)
    registry.create_model_version("churn", model_file)
    registry.set_registered_model_alias("fraud", "champion", 2)
    registry.transition_model_version_stage("fraud", 1, "staging")
    # The order of a listing is the search's business; these checks do not depend on it.
    one = cli("versions", "list", "fraud").stdout.splitlines()
    assert one[0].split() == ["version", "aliases", "stage", "created", "by", "size", "run"]
    rows = {row.split()[0]: row for row in one[1:]}
    assert sorted(rows) == ["1", "2"]
    assert "Staging" in rows["1"] and rows["1"].endswith("r1")
    assert rows["2"].split()[:2] == ["2", "champion"]
    every = cli("versions", "list").stdout.splitlines()
    assert every[0].split()[:2] == ["name", "version"]
    assert sorted(row.split()[:2] for row in every[1:]) == [["churn", "1"], ["fraud", "1"], ["fraud", "2"]]
    data = json.loads(cli("versions", "list", "--json").stdout)
    assert sorted((v["name"], v["version"]) for v in data["model_versions"]) == [
        ("churn", 1),
        ("fraud", 1),
        ("fraud", 2),
    ]


def test_list_of_a_model_without_versions(cli: Cli, registry: Registry) -> None:
    registry.create_registered_model("fraud")
    result = cli("versions", "list", "fraud")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "no versions\n"


def test_show_a_version_by_number_alias_latest_or_stage(
    cli: Cli, registry: Registry, model_dir: Path
) -> None:
    registry.create_model_version("fraud", model_dir, run_id="r1", tags={"k": "v"}, description="# Notes")
    registry.set_registered_model_alias("fraud", "champion", 1)
    registry.transition_model_version_stage("fraud", 1, "production")
    outputs = {
        spec: cli("versions", "show", "fraud", spec).stdout
        for spec in ("1", "@champion", "latest", "Production")
    }
    assert len(set(outputs.values())) == 1
    lines = outputs["1"].splitlines()
    assert lines[:4] == [
        "model        fraud",
        "version      1",
        "aliases      champion",
        "stage        Production",
    ]
    assert any(line.startswith("artifact     directory, 37 B, sha256:") for line in lines)
    assert sum(line.startswith("  file") for line in lines) == 3
    assert "run          r1" in lines
    assert "tag k        v" in lines
    assert lines[-1] == "# Notes"
    data = json.loads(cli("versions", "show", "fraud", "1", "--json").stdout)
    assert data["version"] == 1 and data["aliases"] == ["champion"]


def test_update_a_version_description(cli: Cli, registry: Registry, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file)
    result = cli("versions", "update", "fraud", "1", "-d", "Trained on May data", "-m", "notes")
    assert result.exit_code == 0
    assert result.stderr == "Updated the description of fraud version 1\n"
    assert registry.get_model_version("fraud", 1).description == "Trained on May data"
    data = json.loads(cli("versions", "update", "fraud", "latest", "--description", "x", "--json").stdout)
    assert data["description"] == "x"


def test_delete_a_version_with_yes_never_reuses_its_number(
    cli: Cli, registry: Registry, model_file: Path
) -> None:
    registry.create_model_version("fraud", model_file, aliases=["champion"])
    registry.create_model_version("fraud", model_file)
    result = cli("versions", "delete", "fraud", "2", "--yes", "-m", "bad data")
    assert result.exit_code == 0
    assert result.stderr == "Deleted fraud version 2\n"
    assert cli("register", "model.bin", "--name", "fraud", "-q").stdout == "3\n"
    assert cli("versions", "delete", "fraud", "@champion", "-y").exit_code == 0
    assert registry.get_aliases("fraud") == {}
    assert [v.version for v in registry.list_model_versions("fraud")] == [3]
    assert cli("versions", "show", "fraud", "2").stderr == "error: version 2 of model 'fraud' was deleted\n"
