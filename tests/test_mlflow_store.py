"""The MLflow registry-store plugin (``mreg.mlflow_store``), driven by real MLflow: its fluent API,
MlflowClient, pyfunc loading, and the command line on the same store."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
import pytest
from helpers import Cli
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
from mlflow.exceptions import MlflowException
from mlflow.store.model_registry.abstract_store import AbstractStore

from mreg import Registry
from mreg.mlflow_store import MregRegistryStore, store_path, without_prompt_clause


class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """A model small enough to read: it doubles column ``x``."""

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.Series:
        return model_input["x"] * 2


@pytest.fixture
def project(registry: Registry) -> Path:
    """The folder holding the store (``registry`` made ``.mreg`` in the working directory)."""
    return registry.root.parent


@pytest.fixture
def mlflow_on_store(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """MLflow's tracking in a SQLite file of tmp_path and its registry on the mreg store; the
    registry URI is returned. MLflow's process-wide URIs are put back afterwards."""
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registry_uri = f"mreg://{project}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", registry_uri)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry_uri)
    try:
        yield registry_uri
    finally:
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def save_doubler(path: Path) -> Path:
    # pip_requirements given: MLflow would otherwise infer them in a subprocess.
    mlflow.pyfunc.save_model(str(path), python_model=Doubler(), pip_requirements=["mlflow"])
    return path


def cli_json(cli: Cli, *args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# ---------------------------------------------------------------------------------- structure


def abstract_methods() -> list[str]:
    """AbstractStore's abstract methods (its ABCMeta is declared Python 2 style, so the class has
    no ``__abstractmethods__``: the markers are read one by one)."""
    return sorted(
        name for name, member in vars(AbstractStore).items() if getattr(member, "__isabstractmethod__", False)
    )


def test_every_abstract_method_is_implemented() -> None:
    names = abstract_methods()
    assert len(names) >= 20  # the list is real, not an empty walk
    missing = [n for n in names if n not in vars(MregRegistryStore)]
    assert missing == []


def test_the_entry_point_names_the_store() -> None:
    from importlib.metadata import entry_points

    (point,) = [e for e in entry_points(group="mlflow.model_registry_store") if e.name == "mreg"]
    assert point.load() is MregRegistryStore


# ------------------------------------------------------------------------------ registry URIs


def test_registry_uri_forms(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert store_path(f"mreg://{project}") == project
    assert store_path("mreg:") is None
    assert store_path("mreg://") is None
    for bad in ("mreg:relative/path", "mreg://host/abs", "mreg:///x?y=1", "file:///x"):
        with pytest.raises(MlflowException) as caught:
            store_path(bad)
        assert caught.value.error_code == "INVALID_PARAMETER_VALUE", bad
    # mreg: finds the store from the working directory, as the command line does
    inner = project / "src" / "deep"
    inner.mkdir(parents=True)
    with monkeypatch.context() as inside:
        inside.chdir(inner)
        found = MregRegistryStore("mreg:")
        found.create_registered_model("fraud")
    assert Registry(project).model_names() == ["fraud"]


def test_a_uri_without_a_store_is_refused_when_mlflow_builds_the_store(tmp_path: Path) -> None:
    with pytest.raises(MlflowException) as caught:
        MregRegistryStore(f"mreg://{tmp_path / 'nothing'}")
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "no mreg store" in caught.value.message


def test_the_prompt_condition_mlflowclient_adds_is_dropped() -> None:
    clause = "tag.`mlflow.prompt.is_prompt` != 'true'"
    assert without_prompt_clause(clause) is None
    assert without_prompt_clause(f"name = 'a' AND {clause}") == "name = 'a'"
    assert without_prompt_clause("name = 'a'") == "name = 'a'"
    assert without_prompt_clause(None) is None


# -------------------------------------------------------------------- MLflow's fluent API


def test_register_alias_load_and_predict(mlflow_on_store: str, tmp_path: Path, cli: Cli) -> None:
    model_dir = save_doubler(tmp_path / "doubler")
    mv = mlflow.register_model(str(model_dir), "fraud", tags={"team": "risk", "n": 12345})
    assert (mv.name, mv.version) == ("fraud", "1")
    client = MlflowClient()
    client.set_registered_model_alias("fraud", "champion", mv.version)

    model = mlflow.pyfunc.load_model("models:/fraud@champion")
    assert list(model.predict(pd.DataFrame({"x": [1, 2, 3]}))) == [2, 4, 6]

    # the command line sees what MLflow did
    (version,) = cli_json(cli, "versions", "list", "fraud")["model_versions"]
    assert version["version"] == 1
    assert version["tags"] == {"team": "risk", "n": "12345"}
    assert version["aliases"] == ["champion"]
    assert version["artifact"]["kind"] == "directory"
    assert "MLmodel" in [f["path"] for f in version["artifact"]["files"]]
    assert cli_json(cli, "alias", "list", "fraud")["aliases"] == {"champion": 1}

    # the artifact was copied in: the saved folder may go
    for path in sorted(model_dir.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    model_dir.rmdir()
    download = Path(client.get_model_version_download_uri("fraud", "1"))
    assert download.is_absolute() and (download / "MLmodel").is_file()
    again = mlflow.pyfunc.load_model("models:/fraud/1")
    assert list(again.predict(pd.DataFrame({"x": [5]}))) == [10]


def test_mlflow_sees_what_the_command_line_does_at_once(
    mlflow_on_store: str, tmp_path: Path, cli: Cli, project: Path
) -> None:
    client = MlflowClient()
    store = MregRegistryStore(mlflow_on_store)  # one object across calls, as MLflow caches it
    assert store.search_registered_models() == []

    save_doubler(tmp_path / "doubler")
    result = cli("register", str(tmp_path / "doubler"), "--name", "fraud", "--tag", "team=risk")
    assert result.exit_code == 0, result.stderr
    assert cli("alias", "set", "fraud", "champion", "1").exit_code == 0

    assert [m.name for m in store.search_registered_models()] == ["fraud"]
    assert [m.name for m in client.search_registered_models()] == ["fraud"]
    by_alias = client.get_model_version_by_alias("fraud", "champion")
    assert (by_alias.version, by_alias.tags, by_alias.aliases) == ("1", {"team": "risk"}, ["champion"])
    assert client.get_registered_model("fraud").aliases == {"champion": "1"}
    model = mlflow.pyfunc.load_model("models:/fraud@champion")
    assert list(model.predict(pd.DataFrame({"x": [4]}))) == [8]

    assert cli("alias", "set", "fraud", "champion", "1").exit_code == 0
    assert cli("versions", "delete", "fraud", "1", "--yes").exit_code == 0
    with pytest.raises(MlflowException) as caught:
        store.get_model_version("fraud", "1")
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_a_run_artifact_is_copied_in(mlflow_on_store: str, tmp_path: Path) -> None:
    mlflow.set_experiment("exp")
    with mlflow.start_run() as run:
        mlflow.pyfunc.log_model(name="model", python_model=Doubler(), pip_requirements=["mlflow"])
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", "fraud")
    assert mv.run_id == run.info.run_id
    (version,) = Registry(store_path(mlflow_on_store)).list_model_versions("fraud")
    assert version.artifact.kind == "directory"
    assert version.run_id == run.info.run_id
    model = mlflow.pyfunc.load_model("models:/fraud/1")
    assert list(model.predict(pd.DataFrame({"x": [21]}))) == [42]


def test_a_remote_source_is_recorded_as_a_reference(mlflow_on_store: str) -> None:
    client = MlflowClient()
    client.create_registered_model("fraud")
    mv = client.create_model_version("fraud", "s3://bucket/models/fraud/7")
    assert mv.source == "s3://bucket/models/fraud/7"
    assert client.get_model_version_download_uri("fraud", mv.version) == "s3://bucket/models/fraud/7"
    (version,) = Registry(store_path(mlflow_on_store)).list_model_versions("fraud")
    assert version.artifact.kind == "uri"


# --------------------------------------------------------------- every method, by MlflowClient


def test_every_registry_method_through_mlflowclient(mlflow_on_store: str, tmp_path: Path) -> None:
    client = MlflowClient()
    source = save_doubler(tmp_path / "doubler").as_uri()  # a file:// URI is a local path

    created = client.create_registered_model("fraud", tags={"team": "risk"}, description="Flags fraud.")
    assert (created.name, created.tags, created.description) == ("fraud", {"team": "risk"}, "Flags fraud.")
    assert client.get_registered_model("fraud").creation_timestamp == created.creation_timestamp
    assert created.creation_timestamp > 1_600_000_000_000  # milliseconds
    assert client.update_registered_model("fraud", description="New.").description == "New."
    assert client.create_registered_model("empty").description is None

    client.set_registered_model_tag("fraud", "owner", 7)
    assert client.get_registered_model("fraud").tags == {"team": "risk", "owner": "7"}
    client.delete_registered_model_tag("fraud", "owner")
    assert client.get_registered_model("fraud").tags == {"team": "risk"}

    v1 = client.create_model_version("fraud", source, run_id=None, tags={"k": "v"}, description="first")
    v2 = client.create_model_version("fraud", source)
    assert (v1.version, v2.version) == ("1", "2")
    assert (v1.description, v2.description, v2.run_id, v2.run_link) == ("first", None, None, None)
    assert client.get_model_version("fraud", "1").tags == {"k": "v"}
    assert client.update_model_version("fraud", "2", description="second").description == "second"

    staged = client.transition_model_version_stage("fraud", "1", "production")
    assert staged.current_stage == "Production"
    client.transition_model_version_stage("fraud", "2", "Production", archive_existing_versions=True)
    assert client.get_model_version("fraud", "1").current_stage == "Archived"
    latest = client.get_latest_versions("fraud", stages=["Production"])
    assert [v.version for v in latest] == ["2"]
    # an empty list asks for every stage, as in MLflow
    assert sorted(v.current_stage for v in client.get_latest_versions("fraud", stages=[])) == [
        "Archived",
        "Production",
    ]

    client.set_model_version_tag("fraud", "2", "score", 0.9)
    assert client.get_model_version("fraud", "2").tags == {"score": "0.9"}
    client.delete_model_version_tag("fraud", "2", "score")
    assert client.get_model_version("fraud", "2").tags == {}

    client.set_registered_model_alias("fraud", "champion", "2")
    assert client.get_model_version_by_alias("fraud", "champion").version == "2"
    assert client.get_registered_model("fraud").aliases == {"champion": "2"}
    client.delete_registered_model_alias("fraud", "champion")
    assert client.get_registered_model("fraud").aliases == {}

    assert Path(client.get_model_version_download_uri("fraud", "2"), "MLmodel").is_file()

    found = client.search_model_versions("name = 'fraud'", order_by=["version_number ASC"])
    assert [v.version for v in found] == ["1", "2"]
    page = client.search_registered_models(max_results=1)
    assert [m.name for m in page] == ["empty"] and page.token
    assert [m.name for m in client.search_registered_models(page_token=page.token)] == ["fraud"]
    assert [m.name for m in client.search_registered_models("name LIKE 'fr%'")] == ["fraud"]

    copied = client.copy_model_version("models:/fraud/2", "fraud-copy")
    assert (copied.name, copied.version) == ("fraud-copy", "1")
    assert Path(client.get_model_version_download_uri("fraud-copy", "1"), "MLmodel").is_file()

    client.rename_registered_model("fraud", "fraud-v2")
    assert client.get_registered_model("fraud-v2").aliases == {}
    assert client.get_model_version("fraud-v2", "2").description == "second"
    client.delete_model_version("fraud-v2", "1")
    assert [v.version for v in client.search_model_versions("name = 'fraud-v2'")] == ["2"]
    client.delete_registered_model("fraud-v2")
    assert sorted(m.name for m in client.search_registered_models()) == ["empty", "fraud-copy"]


def test_the_store_takes_mlflow_tag_entities(project: Path) -> None:
    store = MregRegistryStore(f"mreg://{project}")
    store.create_registered_model("fraud", tags=[RegisteredModelTag("team", "risk")])
    store.create_model_version("fraud", "s3://b/m", tags=[ModelVersionTag("k", "v")], run_id="abc")
    assert store.get_registered_model("fraud").tags == {"team": "risk"}
    version = store.get_model_version("fraud", 1)
    assert (version.tags, version.run_id) == ({"k": "v"}, "abc")


# -------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.get_registered_model("missing"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda c: c.get_model_version("fraud", "9"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda c: c.get_model_version_by_alias("fraud", "nobody"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda c: c.create_registered_model("fraud"), "RESOURCE_ALREADY_EXISTS"),
        (lambda c: c.create_registered_model("FRAUD"), "RESOURCE_ALREADY_EXISTS"),
        (lambda c: c.rename_registered_model("other", "fraud"), "RESOURCE_ALREADY_EXISTS"),
        (lambda c: c.create_registered_model("bad/name"), "INVALID_PARAMETER_VALUE"),
        (lambda c: c.set_registered_model_alias("fraud", "latest", "1"), "INVALID_PARAMETER_VALUE"),
        (lambda c: c.search_registered_models("name === 'x'"), "INVALID_PARAMETER_VALUE"),
        (lambda c: c.create_model_version("fraud", "/does/not/exist"), "RESOURCE_DOES_NOT_EXIST"),
    ],
)
def test_mreg_errors_carry_mlflow_error_codes(mlflow_on_store: str, call: Any, code: str) -> None:
    client = MlflowClient()
    client.create_registered_model("fraud")
    client.create_registered_model("other")
    client.create_model_version("fraud", "s3://b/m")
    with pytest.raises(MlflowException) as caught:
        call(client)
    assert caught.value.error_code == code, caught.value.message


PROMPT_AND_WEBHOOK_METHODS = [
    name
    for name, member in vars(AbstractStore).items()
    if inspect.isfunction(member)
    and ("prompt" in name or "webhook" in name)
    and not name.startswith("_")
    and name not in ("list_webhooks", "list_webhooks_by_event")
]


@pytest.mark.parametrize("method", PROMPT_AND_WEBHOOK_METHODS)
def test_prompts_and_webhooks_are_refused_clearly(project: Path, method: str) -> None:
    store = MregRegistryStore(f"mreg://{project}")
    arguments = [None] * (len(inspect.signature(getattr(AbstractStore, method)).parameters) - 1)
    with pytest.raises(MlflowException) as caught:
        getattr(store, method)(*arguments)
    assert "not supported by mreg" in caught.value.message
    assert caught.value.error_code == "NOT_IMPLEMENTED"
    assert Registry(project).model_names() == []  # nothing was written on the way


def test_prompt_registration_through_mlflow_is_refused(mlflow_on_store: str, project: Path) -> None:
    """MlflowClient builds a prompt from a registered model and a version tagged as a prompt."""
    with pytest.raises(MlflowException, match="not supported by mreg"):
        mlflow.genai.register_prompt(name="greeting", template="Hello {{name}}")
    assert Registry(project).model_names() == []
    MlflowClient().create_registered_model("fraud")
    with pytest.raises(MlflowException, match="not supported by mreg"):
        MlflowClient().set_registered_model_tag("fraud", "mlflow.prompt.is_prompt", "true")


def test_there_are_no_webhooks(project: Path) -> None:
    store = MregRegistryStore(f"mreg://{project}")
    assert store.list_webhooks() == []
    assert store.list_webhooks_by_event(None) == []
