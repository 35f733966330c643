"""The JSON contract: every command's ``--json`` output validates against the schema in
docs/json-schema/, every command with ``--json`` is covered, the CLI prints exactly what the
Python objects' ``to_dict()`` give, and docs/json-output.md names every command and field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from helpers import REPO, Cli, Repo
from jsonschema_lite import SchemaError, validate

from mreg import Registry
from mreg.cli.app import app

SCHEMA_PATH = REPO / "docs" / "json-schema" / "mreg-output.schema.json"
DOC_PATH = REPO / "docs" / "json-output.md"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

# (command path, arguments after it, schema definition of its output)
COMMANDS: list[tuple[str, list[str], str]] = [
    ("init", ["other", "--force", "--json"], "InitResult"),  # other/ lies below the store
    ("register", ["model.bin", "--name", "fraud", "-t", "k=v", "--json"], "ModelVersion"),
    ("resolve", ["models:/fraud@champion", "--json"], "ResolvedVersion"),
    ("resolve", ["fraud/3", "--json"], "ResolvedVersion"),
    ("models list", ["--json"], "RegisteredModelsPage"),
    ("models list", ["--max-results", "1", "--json"], "RegisteredModelsPage"),
    ("models show", ["fraud", "--json"], "RegisteredModel"),
    ("models create", ["empty", "-t", "team=risk", "--json"], "RegisteredModel"),
    ("models update", ["fraud", "-d", "Card *fraud*", "--json"], "RegisteredModel"),
    ("versions list", ["--json"], "ModelVersionsPage"),
    ("versions list", ["fraud", "--filter", "alias = 'champion'", "--json"], "ModelVersionsPage"),
    ("versions show", ["fraud", "2", "--json"], "ModelVersion"),
    ("versions update", ["fraud", "1", "-d", "first", "--json"], "ModelVersion"),
    ("versions copy", ["fraud/1", "fraud-copy", "--json"], "ModelVersion"),
    ("alias list", ["fraud", "--json"], "AliasList"),
    ("history", ["fraud", "--json"], "History"),
    ("history", ["fraud", "--alias", "champion", "--json"], "AliasHistory"),
    ("stage set", ["fraud", "3", "staging", "--json"], "ModelVersion"),
    ("fsck", ["--full", "--json"], "FsckReport"),
    ("gc", ["--json"], "GcReport"),
    ("remote list", ["--json"], "RemoteList"),
    ("push", ["--json"], "PushReport"),
    ("pull", ["--json"], "PullReport"),
    ("policy show", ["--json"], "PolicyShow"),
]

# Commands that need a git repository: run in the one `in_git` builds (a merge of two branches
# that both registered version 2 of a model, left in conflict), with their exit code.
GIT_COMMANDS: list[tuple[str, list[str], str, int]] = [
    ("diff", ["HEAD~2", "HEAD", "--json"], "RegistryDiff", 0),
    ("diff", ["HEAD", "HEAD", "--json"], "RegistryDiff", 0),
    ("merge", ["--json"], "MergeReport", 4),
    ("merge", ["--renumber", "--dry-run", "--json"], "MergeReport", 0),
    ("merge", ["--renumber", "--keep", "theirs", "--json"], "MergeReport", 0),
    ("hooks install", ["--json"], "HookChange", 0),
    ("hooks uninstall", ["--json"], "HookChange", 0),
]

# Commands whose output is validated against the schema in their own test file, where the store
# they need is built: `check` needs a committed policy and a tree without a merge in progress.


@pytest.fixture
def in_git(isolated: Path) -> Path:
    repo = Repo(isolated / "proj")
    repo.register("fraud", "v1", tags={"team": "risk"})
    repo.registry.set_registered_model_alias("fraud", "champion", 1, message="first")
    repo.commit("fraud 1")
    repo.both_branches_register(
        "fraud",
        2,
        feature=lambda: repo.registry.set_registered_model_alias("fraud", "challenger", 2),
        main=lambda: repo.registry.set_registered_model_alias("fraud", "champion", 2, message="main 2 ships"),
    )
    assert repo.try_git("merge", "--no-edit", "feature").returncode != 0
    return repo.top


@pytest.fixture
def fraud_history(registry: Registry, model_file: Path, model_dir: Path) -> Registry:
    """A model with a file, a directory and a URI version, tags, an alias moved twice, a stage."""
    registry.create_registered_model("fraud", tags={"team": "risk"}, description="Fraud *scores*")
    registry.create_model_version("fraud", model_file, run_id="r1", tags={"dataset": "may"})
    registry.create_model_version("fraud", model_dir, description="a folder")
    registry.create_model_version("fraud", "s3://bucket/fraud/3", run_link="https://example.com/r/3")
    registry.set_registered_model_alias("fraud", "champion", 1, message="first")
    registry.set_registered_model_alias("fraud", "champion", 2, message="better")
    registry.transition_model_version_stage("fraud", 1, "Production")
    registry.add_remote("team", str(registry.root.parent.parent / "share"))  # for push and pull
    return registry


def _json_commands() -> set[str]:
    """Every command of the CLI that has a --json option, as 'models list'."""
    found: set[str] = set()

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "commands"):  # a group (typer bundles its own click)
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        elif any("--json" in getattr(p, "opts", []) for p in command.params):
            found.add(" ".join(path))

    walk(typer.main.get_command(app), [])
    return found


def test_the_schema_uses_only_what_the_validator_checks() -> None:
    for name, definition in SCHEMA["$defs"].items():
        try:
            validate(None, definition, SCHEMA, name)
        except SchemaError as err:  # pragma: no cover - the message is the point
            pytest.fail(str(err))


# Commands whose output other test modules check against the schema, with a real source they build.
ELSEWHERE = {"import mlflow": "test_mlflow_import.py (ImportReport)", "check": "test_policy_check.py"}


def test_every_json_command_is_in_the_contract() -> None:
    assert _json_commands() == {path for path, _, _ in COMMANDS} | {
        path for path, _, _, _ in GIT_COMMANDS
    } | set(ELSEWHERE)


@pytest.mark.parametrize(("path", "args", "definition"), COMMANDS, ids=[f"{c[0]} {c[2]}" for c in COMMANDS])
def test_json_output_matches_the_schema(
    fraud_history: Registry, cli: Cli, path: str, args: list[str], definition: str
) -> None:
    result = cli(*path.split(), *args)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert validate(data, {"$ref": f"#/$defs/{definition}"}, SCHEMA) == []


@pytest.mark.parametrize(
    ("path", "args", "definition", "code"),
    GIT_COMMANDS,
    ids=[f"{c[0]} {' '.join(c[1])}" for c in GIT_COMMANDS],
)
def test_json_output_of_git_commands_matches_the_schema(
    in_git: Path, cli: Cli, path: str, args: list[str], definition: str, code: int
) -> None:
    result = cli("--store", str(in_git), *path.split(), *args)
    assert result.exit_code == code, result.stderr
    data = json.loads(result.stdout)
    assert validate(data, {"$ref": f"#/$defs/{definition}"}, SCHEMA) == []
    if path == "merge":
        assert data["merge"]["operation"] == "merge" and data["conflicts"][0]["kind"] == "version_collision"
    elif path == "diff" and args[0] != args[1]:
        assert data["changed"] and {c["action"] for c in data["changes"]} >= {
            "version_registered",
            "alias_set",
        }


def test_the_validator_catches_a_broken_output(fraud_history: Registry) -> None:
    """Guards the guard: wrong types, missing and unknown fields, bad times are all reported."""
    data = fraud_history.get_model_version("fraud", 1).to_dict()
    data["version"] = "1"
    data["created_at"] = "2026-11-26 10:00:00"
    del data["run_id"]
    data["extra"] = 1
    data["artifact"]["kind"] = "blob"
    errors = validate(data, {"$ref": "#/$defs/ModelVersion"}, SCHEMA)
    assert any("$.version: expected integer" in e for e in errors)
    assert any("$.created_at" in e and "not a UTC time" in e for e in errors)
    assert any("missing required field 'run_id'" in e for e in errors)
    assert any("field 'extra' is not in the schema" in e for e in errors)
    assert any("$.artifact.kind: 'blob' is not one of" in e for e in errors)


def test_cli_json_is_the_objects_to_dict(fraud_history: Registry, cli: Cli) -> None:
    def run(*args: str) -> Any:
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    assert run("models", "show", "fraud", "--json") == fraud_history.get_registered_model("fraud").to_dict()
    assert (
        run("versions", "show", "fraud", "2", "--json")
        == fraud_history.get_model_version("fraud", 2).to_dict()
    )
    listed = run("versions", "list", "fraud", "--json")["model_versions"]
    assert listed == [v.to_dict() for v in fraud_history.search_model_versions(model="fraud")]
    models = run("models", "list", "--json")["registered_models"]
    assert models == [m.to_dict() for m in fraud_history.search_registered_models()]
    events = run("history", "fraud", "--json")["events"]
    assert events == [e.to_dict() for e in fraud_history.get_history("fraud")]
    spans = run("history", "fraud", "--alias", "champion", "--json")["spans"]
    assert spans == [s.to_dict() for s in fraud_history.get_alias_history("fraud", "champion")]
    resolved = run("resolve", "fraud@champion", "--json")
    assert {k: v for k, v in resolved.items() if k not in ("uri", "path")} == fraud_history.resolve(
        "fraud@champion"
    ).to_dict()


def test_entity_definitions_list_exactly_the_to_dict_fields(fraud_history: Registry) -> None:
    mv = fraud_history.get_model_version("fraud", 2)
    model = fraud_history.get_registered_model("fraud")
    event = fraud_history.get_history("fraud")[0]
    span = fraud_history.get_alias_history("fraud", "champion")[0]
    for definition, data in [
        ("ModelVersion", mv.to_dict()),
        ("Artifact", mv.to_dict()["artifact"]),
        ("ArtifactFile", mv.to_dict()["artifact"]["files"][0]),
        ("Lineage", mv.to_dict()["lineage"]),
        ("RegisteredModel", model.to_dict()),
        ("Event", event.to_dict()),
        ("AliasSpan", span.to_dict()),
    ]:
        assert list(SCHEMA["$defs"][definition]["properties"]) == list(data), definition


def test_timestamps_are_utc_strings_and_epoch_milliseconds(fraud_history: Registry) -> None:
    data = fraud_history.get_model_version("fraud", 1).to_dict()
    created = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})Z", data["created_at"])
    assert created is not None
    mv = fraud_history.get_model_version("fraud", 1)
    assert data["creation_timestamp"] == int(mv.created_at.timestamp() * 1000)


def test_json_is_one_line_when_piped_and_indented_on_a_terminal(
    fraud_history: Registry, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped = cli("versions", "show", "fraud", "1", "--json").stdout
    assert piped.count("\n") == 1
    import mreg.cli.output as output

    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    shown = cli("versions", "show", "fraud", "1", "--json").stdout
    assert shown.startswith('{\n  "name": "fraud",\n')
    assert json.loads(shown) == json.loads(piped)


def test_the_document_names_every_command_and_field() -> None:
    text = DOC_PATH.read_text(encoding="utf-8")
    for path in {p for p, _, _ in COMMANDS} | {p for p, _, _, _ in GIT_COMMANDS} | set(ELSEWHERE):
        assert f"mreg {path}" in text, path
    for name, definition in SCHEMA["$defs"].items():
        assert f"`{name}`" in text, name
        for field in definition.get("properties", {}):
            assert f"`{field}`" in text, f"{name}.{field}"
