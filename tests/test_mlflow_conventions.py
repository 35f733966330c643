"""mreg.Registry called the way MlflowClient is called, side by side with a real MlflowClient on a
SQLite registry in the test's folder: where MLflow's behaviour is the contract (docs/mlflow.md,
"MlflowClient conventions"), both must agree."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from helpers import Cli
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from mreg import Registry
from mreg.errors import InvalidFilter, InvalidInput, NotFound

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # MLflow deprecates stages


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowClient]:
    """One MlflowClient on a SQLite registry for the module (creating the schema takes seconds);
    each test uses model names of its own."""
    db = tmp_path_factory.mktemp("mlflow") / "registry.db"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield MlflowClient(tracking_uri=f"sqlite:///{db}", registry_uri=f"sqlite:///{db}")


@pytest.fixture
def source(isolated: Path) -> Path:
    path = isolated / "model.bin"
    path.write_bytes(b"weights\n")
    return path


def _both(
    client: MlflowClient, registry: Registry, method: str, *args: Any, **kwargs: Any
) -> tuple[Any, Any]:
    return getattr(client, method)(*args, **kwargs), getattr(registry, method)(*args, **kwargs)


def test_the_comparison_runs_against_mlflow_3() -> None:
    assert mlflow.__version__.startswith("3.")  # the installed MLflow these tests compare with


# ---------------------------------------------------------------------------------- tag values


def test_tag_values_that_are_not_text_are_converted_with_str(
    client: MlflowClient, registry: Registry, source: Path
) -> None:
    tags = {"n": 12345, "f": 1.5, "b": True, "none": None}
    theirs, ours = _both(client, registry, "create_registered_model", "tags-m", tags=tags)
    assert ours.tags == theirs.tags == {"n": "12345", "f": "1.5", "b": "True", "none": "None"}

    for target in (client, registry):
        target.set_registered_model_tag("tags-m", "later", 7)
    assert registry.get_registered_model("tags-m").tags == client.get_registered_model("tags-m").tags
    assert registry.get_registered_model("tags-m").tags["later"] == "7"

    mv_theirs = client.create_model_version("tags-m", "/nowhere/model", tags={"epoch": 3})
    mv_ours = registry.create_model_version("tags-m", source, tags={"epoch": 3})
    client.set_model_version_tag("tags-m", mv_theirs.version, "score", 0.25)
    registry.set_model_version_tag("tags-m", mv_ours.version, "score", 0.25)
    expected = {"epoch": "3", "score": "0.25"}
    assert client.get_model_version("tags-m", mv_theirs.version).tags == expected
    assert registry.get_model_version("tags-m", mv_ours.version).tags == expected


def test_converted_tag_values_are_checked_as_text_is(registry: Registry) -> None:
    registry.create_registered_model("long")
    with pytest.raises(InvalidInput, match="tag value is 100005 characters long"):
        registry.set_registered_model_tag("long", "k", ["x" * 100_001])
    with pytest.raises(InvalidInput, match="cannot be converted to text"):
        registry.set_registered_model_tag("long", "k", 10**5000)
    with pytest.raises(InvalidInput, match="tag key"):
        registry.set_registered_model_tag("long", 5, "v")  # keys are not converted, as in MLflow
    assert registry.get_registered_model("long").tags == {}


# ------------------------------------------------------------------------- unset fields, lists


def test_unset_fields_are_none_and_collections_are_lists(
    client: MlflowClient, registry: Registry, source: Path
) -> None:
    theirs = client.create_registered_model("fields-m")
    ours = registry.create_registered_model("fields-m")
    assert ours.description is theirs.description is None
    assert ours.latest_versions == theirs.latest_versions == []
    assert isinstance(ours.latest_versions, list)

    mv_theirs = client.create_model_version("fields-m", "/nowhere/model")
    mv_ours = registry.create_model_version("fields-m", source)
    for field in ("description", "run_id", "run_link", "status_message"):
        assert getattr(mv_ours, field) is getattr(mv_theirs, field) is None, field
    assert mv_ours.aliases == mv_theirs.aliases == []
    assert (mv_ours.status, mv_ours.current_stage) == (mv_theirs.status, mv_theirs.current_stage)

    for target in (client, registry):
        target.set_registered_model_alias("fields-m", "champion", 1)
    assert registry.get_model_version("fields-m", 1).aliases == ["champion"]
    assert client.get_model_version("fields-m", "1").aliases == ["champion"]
    data = registry.get_model_version("fields-m", 1).to_dict()
    assert (data["description"], data["run_id"], data["run_link"]) == (None, None, None)


def test_fields_that_are_set_come_back_as_given(registry: Registry, source: Path) -> None:
    mv = registry.create_model_version(
        "set-m", source, run_id="abc123", run_link="https://runs.example/abc123", description="first"
    )
    assert (mv.run_id, mv.run_link, mv.description) == ("abc123", "https://runs.example/abc123", "first")
    registry.update_model_version("set-m", 1, "")
    assert registry.get_model_version("set-m", 1).description is None


def test_unset_fields_print_as_empty_and_json_null(registry: Registry, source: Path, cli: Cli) -> None:
    registry.create_model_version("cli-m", source)
    assert cli("versions", "show", "cli-m", "1", "--field", "run_id").stdout == "\n"
    assert '"run_id": null' in cli("versions", "show", "cli-m", "1", "--json").stdout
    assert '"description": null' in cli("models", "show", "cli-m", "--json").stdout


def test_a_search_page_has_to_list(client: MlflowClient, registry: Registry) -> None:
    for target in (client, registry):
        target.create_registered_model("page-a")
        target.create_registered_model("page-b")
    theirs, ours = _both(client, registry, "search_registered_models", "name LIKE 'page-%'", 1)
    assert type(ours.to_list()) is list
    assert [m.name for m in ours.to_list()] == [m.name for m in theirs.to_list()] == ["page-a"]
    assert ours.token is not None and theirs.token is not None


# ------------------------------------------------------------------------------ latest versions


def _stages(versions: list[Any]) -> list[tuple[int, str]]:
    return [(int(v.version), v.current_stage) for v in versions]


def test_latest_versions_of_no_stages_means_every_stage(
    client: MlflowClient, registry: Registry, source: Path
) -> None:
    client.create_registered_model("latest-m")
    for _ in range(4):
        client.create_model_version("latest-m", "/nowhere/model")
        registry.create_model_version("latest-m", source)
    for target in (client, registry):
        target.transition_model_version_stage("latest-m", 1, "Production")
        target.transition_model_version_stage("latest-m", 2, "Staging")
        target.transition_model_version_stage("latest-m", 3, "Production", archive_existing_versions=True)
    theirs, ours = _both(client, registry, "get_latest_versions", "latest-m", stages=[])
    assert (
        _stages(ours)
        == _stages(theirs)
        == [
            (1, "Archived"),
            (2, "Staging"),
            (3, "Production"),
            (4, "None"),
        ]
    )
    assert _stages(registry.get_latest_versions("latest-m")) == _stages(ours)
    assert _stages(registry.get_latest_versions("latest-m", ["production"])) == [(3, "Production")]


def test_archiving_gives_the_archived_and_the_promoted_version_one_time(
    client: MlflowClient, registry: Registry, source: Path
) -> None:
    client.create_registered_model("archive-m")
    for _ in range(3):
        client.create_model_version("archive-m", "/nowhere/model")
        registry.create_model_version("archive-m", source)
    for target in (client, registry):
        target.transition_model_version_stage("archive-m", 1, "Production")
        target.transition_model_version_stage("archive-m", 2, "Production")
        promoted = target.transition_model_version_stage(
            "archive-m", 3, "Production", archive_existing_versions=True
        )
        archived = [target.get_model_version("archive-m", n) for n in (1, 2)]
        assert [mv.current_stage for mv in archived] == ["Archived", "Archived"]
        assert {mv.last_updated_timestamp for mv in archived} == {promoted.last_updated_timestamp}
    events = [e for e in registry.get_history("archive-m") if e.action == "version_stage_changed"][-3:]
    assert sorted((e.version, e.new) for e in events) == [(1, "Archived"), (2, "Archived"), (3, "Production")]


# ------------------------------------------------------------------------------ create options


def test_create_model_version_takes_mlflow_client_keywords(registry: Registry, source: Path) -> None:
    mv = registry.create_model_version(
        "kw-m", str(source), None, {"a": "b"}, None, "desc", 300, "m-0123456789abcdef"
    )
    assert (mv.version, mv.tags, mv.description) == (1, {"a": "b"}, "desc")
    mv = registry.create_model_version("kw-m", str(source), await_creation_for=0, model_id=None)
    assert mv.status == "READY" and mv.status_message is None


def test_local_model_path_supplies_the_bytes_of_a_source_mreg_cannot_read(
    registry: Registry, source: Path
) -> None:
    mv = registry.create_model_version(
        "local-m", "runs:/0123abcd/model", local_model_path=source, run_id="0123abcd"
    )
    assert mv.source == "runs:/0123abcd/model"
    assert mv.artifact.kind == "file" and registry.artifact_path(mv).read_bytes() == b"weights\n"
    plain = registry.create_model_version("local-m", "runs:/0123abcd/model")
    assert plain.artifact.kind == "uri"  # without it, a URI stays a reference
    with pytest.raises(NotFound):
        registry.create_model_version("local-m", "runs:/x/model", local_model_path=source.parent / "gone")


# ------------------------------------------------------------------------------------- copying


def _object_files(registry: Registry) -> set[Path]:
    return {p for p in (registry.root / "objects").rglob("*") if p.is_file()}


def test_copy_model_version_as_mlflow(client: MlflowClient, registry: Registry, source: Path) -> None:
    client.create_registered_model("copy-src")
    theirs_src = client.create_model_version(
        "copy-src", "/nowhere/model", run_id=None, tags={"k": "v"}, description="the original"
    )
    ours_src = registry.create_model_version("copy-src", source, tags={"k": "v"}, description="the original")
    registry.set_registered_model_alias("copy-src", "champion", 1)
    registry.transition_model_version_stage("copy-src", 1, "Staging")
    objects_before = _object_files(registry)

    theirs = client.copy_model_version("models:/copy-src/1", "copy-dst")
    ours = registry.copy_model_version("models:/copy-src/1", "copy-dst")
    for field in ("name", "version", "source", "tags", "description", "run_id", "run_link", "aliases"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert ours.source == "models:/copy-src/1"
    assert ours.current_stage == theirs.current_stage == "None"
    assert ours.artifact == ours_src.artifact  # the same object: nothing was copied
    assert _object_files(registry) == objects_before
    assert registry.artifact_path(ours).read_bytes() == b"weights\n"

    event = registry.get_history("copy-dst")[-1]
    assert (event.action, event.version) == ("version_registered", 1)
    assert event.reason == "copied from models:/copy-src/1"
    assert event.new == f"sha256:{ours_src.artifact.digest}"

    # a ModelVersion (MLflow's own or mreg's) and an alias URI are sources too; the model exists now
    second = registry.copy_model_version(theirs_src, "copy-dst")
    third = registry.copy_model_version("models:/copy-src@champion", "copy-dst")
    assert (second.version, third.version) == (2, 3)
    assert third.source == "models:/copy-src/1"


def test_copy_of_a_reference_and_copy_errors(registry: Registry) -> None:
    ref = registry.create_model_version("ref-src", "s3://bucket/model")
    copied = registry.copy_model_version(ref, "ref-dst")
    assert copied.artifact == ref.artifact and copied.source == "models:/ref-src/1"
    with pytest.raises(NotFound):
        registry.copy_model_version("models:/ref-src/9", "ref-dst")
    with pytest.raises(NotFound):
        registry.copy_model_version("models:/nothing/1", "ref-dst")
    assert [mv.version for mv in registry.list_model_versions("ref-dst")] == [1]


def test_versions_copy_on_the_command_line(registry: Registry, source: Path, cli: Cli) -> None:
    registry.create_model_version("cli-src", source, aliases=["champion"])
    result = cli("versions", "copy", "cli-src@champion", "cli-dst", "-m", "start the EU model")
    assert result.exit_code == 0, result.stderr
    assert "Copied models:/cli-src/1 to cli-dst version 1" in result.stderr
    data = json.loads(cli("versions", "copy", "cli-src/1", "cli-dst", "--json").stdout)
    assert (data["name"], data["version"], data["source"]) == ("cli-dst", 2, "models:/cli-src/1")
    assert registry.get_history("cli-dst")[1].message == "start the EU model"
    missing = cli("versions", "copy", "cli-src/7", "cli-dst")
    assert missing.exit_code == 3 and missing.stderr.startswith("error: ")


# -------------------------------------------------------------------------------------- search


@pytest.mark.parametrize("order_by", [["name ASC", "name DESC"], ["timestamp ASC", "last_updated_timestamp"]])
def test_order_by_naming_a_key_twice_is_refused(
    client: MlflowClient, registry: Registry, order_by: list[str]
) -> None:
    with pytest.raises(MlflowException, match="duplicate"):
        client.search_registered_models(order_by=order_by)
    with pytest.raises(InvalidFilter, match="twice"):
        registry.search_registered_models(order_by=order_by)
    with pytest.raises(InvalidFilter, match="twice"):
        registry.search_model_versions(order_by=["name", "name DESC"])


PROMPT_FILTERS = [
    ("tags.`mlflow.prompt.is_prompt` != 'true'", True),
    ("tags.`mlflow.prompt.is_prompt` = 'false'", True),
    ("tags.`mlflow.prompt.is_prompt` = 'true'", False),
    ("tags.`mlflow.prompt.is_prompt` != 'false'", False),
    ("tags.other != 'x'", False),  # any other missing tag matches nothing, as in MLflow
]


@pytest.mark.parametrize(("filter_string", "matches"), PROMPT_FILTERS)
def test_missing_prompt_tag_matches_as_in_mlflow(
    client: MlflowClient, registry: Registry, source: Path, filter_string: str, matches: bool
) -> None:
    registry.create_model_version("prompt-m", source)
    if not client.search_registered_models("name = 'prompt-m'"):  # one MLflow registry per module
        client.create_registered_model("prompt-m")
        client.create_model_version("prompt-m", "/nowhere/model")
    scoped = f"name = 'prompt-m' AND {filter_string}"
    theirs, ours = _both(client, registry, "search_registered_models", scoped)
    assert [m.name for m in ours] == [m.name for m in theirs] == (["prompt-m"] if matches else [])
    theirs_v, ours_v = _both(client, registry, "search_model_versions", scoped)
    assert len(ours_v) == len(theirs_v) == (1 if matches else 0)


def test_a_model_tagged_as_a_prompt_is_left_out(registry: Registry) -> None:
    registry.create_registered_model("plain")
    registry.create_registered_model("a-prompt", tags={"mlflow.prompt.is_prompt": "true"})
    found = registry.search_registered_models("tags.`mlflow.prompt.is_prompt` != 'true'")
    assert [m.name for m in found] == ["plain"]
    assert [m.name for m in registry.search_registered_models()] == ["a-prompt", "plain"]
