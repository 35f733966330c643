"""``mreg import mlflow`` against real MLflow registries built here with MlflowClient (a SQLite
database and a file store): numbers with tombstones for deleted versions, aliases, stages,
descriptions, tags and times, folder and file artifacts, re-runs, conflicts, ``--model``,
``--no-artifacts``, and a SQLite original left byte for byte as it was."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO, Cli, snapshot
from jsonschema_lite import validate

from mreg import Registry
from mreg.mlflow_import import redact, sqlite_path
from mreg.store.records import Tombstone

SCHEMA: dict[str, Any] = json.loads(
    (REPO / "docs" / "json-schema" / "mreg-output.schema.json").read_text(encoding="utf-8")
)


@dataclass
class MlflowRegistry:
    """An MLflow registry built for the tests, and what was put into it."""

    uri: str
    run_id: str
    created: dict[tuple[str, int], int]  # (model, version) → creation time, ms
    model_created: dict[str, int]


def _folder(base: Path) -> Path:
    folder = base / "export"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.json").write_text('{"w": [1, 2, 3]}\n')
    (folder / "sub" / "vocab.txt").write_text("a\nb\n")
    return folder


def build(base: Path, uri: str) -> MlflowRegistry:
    """Model ``fraud``: versions 1..5 of which 2 and 4 are deleted, 1 in Production, 3 in
    Staging, @champion → 3, @challenger → 5 (a single file); model ``churn``: one version; a
    prompt ``greeting``. Artifacts are a plain folder and a file logged to a run."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("train", artifact_location=(base / "artifacts").as_uri())
    run_id = client.create_run(experiment).info.run_id
    client.log_artifacts(run_id, str(_folder(base)), "model")
    single = base / "model.bin"
    single.write_bytes(b"single file weights\n")
    client.log_artifact(run_id, str(single), "file")
    client.create_registered_model("fraud", tags={"team": "risk"}, description="Card *fraud*")
    created: dict[tuple[str, int], int] = {}
    for n in range(1, 6):
        source = f"runs:/{run_id}/file/model.bin" if n == 5 else f"runs:/{run_id}/model"
        mv = client.create_model_version(
            "fraud", source, run_id=run_id, tags={"n": str(n)}, description=f"version {n}"
        )
        created[("fraud", n)] = mv.creation_timestamp
    client.delete_model_version("fraud", "2")
    client.delete_model_version("fraud", "4")
    client.transition_model_version_stage("fraud", "1", "Production")
    client.transition_model_version_stage("fraud", "3", "Staging")
    client.set_registered_model_alias("fraud", "champion", "3")
    client.set_registered_model_alias("fraud", "challenger", "5")
    client.create_registered_model("churn")
    created[("churn", 1)] = client.create_model_version("churn", f"runs:/{run_id}/model").creation_timestamp
    client.register_prompt("greeting", "Hello {{name}}")
    models = {m: client.get_registered_model(m).creation_timestamp for m in ("fraud", "churn")}
    return MlflowRegistry(uri, run_id, created, models)


@pytest.fixture(scope="module", params=["sqlite", "file"])
def source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowRegistry]:
    import warnings

    base = tmp_path_factory.mktemp(f"mlflow-{request.param}")
    uri = f"sqlite:///{base / 'mlflow.db'}" if request.param == "sqlite" else str(base / "mlruns")
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's deprecation of stages and of the file store
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        mp.chdir(base)  # anything MLflow writes by default lands here
        yield build(base, uri)


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory: pytest.TempPathFactory) -> MlflowRegistry:
    import warnings

    base = tmp_path_factory.mktemp("mlflow-only-sqlite")
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's deprecation of stages
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        mp.chdir(base)
        return build(base, f"sqlite:///{base / 'mlflow.db'}")


def run_import(cli: Cli, registry: Registry, *args: str) -> Any:
    return cli("--store", str(registry.root), "import", "mlflow", *args)


def _utc_ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def test_import_copies_models_versions_aliases_and_artifacts(
    source: MlflowRegistry, registry: Registry, cli: Cli, isolated: Path
) -> None:
    result = run_import(cli, registry, source.uri)
    assert result.exit_code == 0, result.stderr
    assert sorted(os.listdir(isolated)) == [".mreg"]  # no mlflow.db or mlruns/ by default here
    assert "INFO" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "imported 2 models, 6 versions (2 tombstones), 2 aliases; skipped 1 prompt"
    )
    assert registry.model_names() == ["churn", "fraud"]

    model = registry.get_registered_model("fraud")
    assert (model.description, model.tags) == ("Card *fraud*", {"team": "risk"})
    assert model.created_at == _utc_ms(source.model_created["fraud"])
    assert model.aliases == {"challenger": 5, "champion": 3}

    store = registry.store
    assert store.version_numbers("fraud") == [1, 2, 3, 4, 5]
    assert isinstance(store.version("fraud", 2), Tombstone) and isinstance(
        store.version("fraud", 4), Tombstone
    )
    live = {mv.version: mv for mv in registry.list_model_versions("fraud")}
    assert sorted(live) == [1, 3, 5]
    assert [live[n].current_stage for n in (1, 3, 5)] == ["Production", "Staging", "None"]
    for n, mv in live.items():
        assert mv.description == f"version {n}"
        assert mv.tags == {"n": str(n)}
        assert mv.run_id == source.run_id
        assert mv.created_at == _utc_ms(source.created[("fraud", n)])
        assert mv.source.startswith(f"runs:/{source.run_id}/")
    assert live[3].aliases == ["champion"]

    folder = registry.artifact_path(live[3])
    assert (folder / "weights.json").read_text() == '{"w": [1, 2, 3]}\n'
    assert (folder / "sub" / "vocab.txt").read_text() == "a\nb\n"
    assert live[5].artifact.kind == "file"
    assert registry.artifact_path(live[5]).read_bytes() == b"single file weights\n"
    assert registry.get_model_version("churn", 1).artifact.kind == "directory"
    assert registry.fsck(full=True) == []


def test_each_version_has_one_imported_event_naming_where_it_came_from(
    source: MlflowRegistry, registry: Registry, cli: Cli
) -> None:
    assert run_import(cli, registry, source.uri).exit_code == 0
    events = [e for e in registry.get_history("fraud") if e.action == "imported"]
    assert sorted(e.version for e in events if e.version is not None) == [1, 2, 3, 4, 5]
    assert all(e.old == source.uri for e in events)
    by_version = {e.version: e for e in events}
    assert by_version[3].new == f"sha256:{registry.get_model_version('fraud', 3).artifact.digest}"
    assert by_version[2].new is None  # a tombstone has no artifact
    alias_events = [e for e in registry.get_history("fraud") if e.action == "alias_set"]
    assert {(e.alias, e.new) for e in alias_events} == {("champion", 3), ("challenger", 5)}
    assert [s.version for s in registry.get_alias_history("fraud", "champion")] == [3]
    shown = cli("--store", str(registry.root), "history", "fraud", "--json")
    assert validate(json.loads(shown.stdout), {"$ref": "#/$defs/History"}, SCHEMA) == []


def test_a_second_run_changes_nothing(source: MlflowRegistry, registry: Registry, cli: Cli) -> None:
    assert run_import(cli, registry, source.uri).exit_code == 0
    before = snapshot(registry.root)
    again = run_import(cli, registry, source.uri, "--json")
    assert again.exit_code == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["models"], report["versions"], report["aliases"]) == (0, 0, 0)
    assert report["unchanged"] == 8  # 6 versions (2 of them tombstones) and 2 aliases
    assert report["conflicts"] == [] and report["refused"] == []
    assert snapshot(registry.root) == before


def test_json_report_matches_the_schema(sqlite_source: MlflowRegistry, registry: Registry, cli: Cli) -> None:
    result = run_import(cli, registry, sqlite_source.uri, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert validate(report, {"$ref": "#/$defs/ImportReport"}, SCHEMA) == []
    assert report["tracking_uri"] == sqlite_source.uri
    assert (report["models"], report["versions"], report["tombstones"]) == (2, 6, 2)
    assert (report["aliases"], report["prompts_skipped"]) == (2, 1)
    assert {"model": "fraud", "version": 4, "tombstone": True} in report["imported"]
    assert list(SCHEMA["$defs"]["ImportReport"]["properties"]) == list(report)


def test_a_different_version_here_is_a_conflict_and_the_rest_is_imported(
    sqlite_source: MlflowRegistry, registry: Registry, cli: Cli
) -> None:
    assert run_import(cli, registry, sqlite_source.uri, "--model", "fraud").exit_code == 0
    assert registry.model_names() == ["fraud"]
    registry.update_model_version("fraud", 3, "changed here")
    registry.set_registered_model_alias("fraud", "challenger", 1)
    result = run_import(cli, registry, sqlite_source.uri, "--json")
    assert result.exit_code == 4
    report = json.loads(result.stdout)
    conflicts = {(c["version"], c["alias"]) for c in report["conflicts"]}
    assert conflicts == {(3, None), (5, "challenger")}
    assert "description differs" in next(c["reason"] for c in report["conflicts"] if c["version"] == 3)
    assert result.stderr.startswith("error: 2 conflict(s)")
    assert registry.get_model_version("fraud", 3).description == "changed here"  # not overwritten
    assert registry.get_aliases("fraud")["challenger"] == 1
    assert registry.model_names() == ["churn", "fraud"]  # the others were imported
    assert report["models"] == 1 and report["versions"] == 1


def test_a_native_model_of_the_same_name_is_left_alone(
    sqlite_source: MlflowRegistry, registry: Registry, cli: Cli, model_file: Path
) -> None:
    registry.create_model_version("churn", model_file)
    before = snapshot(registry.root)
    result = run_import(cli, registry, sqlite_source.uri, "--model", "churn")
    assert result.exit_code == 4
    assert "conflict: model 'churn': a model of this name exists here" in result.stderr
    assert snapshot(registry.root) == before


def test_model_filter_imports_only_the_named_models(
    sqlite_source: MlflowRegistry, registry: Registry, cli: Cli
) -> None:
    result = run_import(cli, registry, sqlite_source.uri, "-M", "churn", "--model", "greeting")
    assert result.exit_code == 0, result.stderr
    assert registry.model_names() == ["churn"]
    assert "imported 1 model, 1 version (0 tombstones), 0 aliases; skipped 1 prompt" in result.stderr
    missing = run_import(cli, registry, sqlite_source.uri, "--model", "nope")
    assert missing.exit_code == 3 and missing.stderr.startswith("error: MLflow: model 'nope'")


def test_no_artifacts_records_references(sqlite_source: MlflowRegistry, registry: Registry, cli: Cli) -> None:
    result = run_import(cli, registry, sqlite_source.uri, "--no-artifacts")
    assert result.exit_code == 0, result.stderr
    mv = registry.get_model_version("fraud", 3)
    assert mv.artifact.kind == "uri" and mv.artifact.uri == f"runs:/{sqlite_source.run_id}/model"
    assert [p for p in (registry.root / "objects").rglob("*") if p.is_file()] == []


def test_the_sqlite_original_is_not_touched(
    sqlite_source: MlflowRegistry, registry: Registry, cli: Cli
) -> None:
    database = sqlite_path(sqlite_source.uri)
    assert database is not None
    folder = sorted(p.name for p in database.parent.iterdir())
    digest = hashlib.sha256(database.read_bytes()).hexdigest()
    stat = database.stat()
    assert run_import(cli, registry, sqlite_source.uri, "--no-artifacts").exit_code == 0
    assert hashlib.sha256(database.read_bytes()).hexdigest() == digest
    assert database.stat().st_mtime_ns == stat.st_mtime_ns
    assert sorted(p.name for p in database.parent.iterdir()) == folder  # no journal, no copy
    assert not any(p.name.startswith("import-") for p in (registry.root / "tmp").iterdir())


def test_errors_are_one_line(registry: Registry, cli: Cli, tmp_path: Path) -> None:
    missing = run_import(cli, registry, f"sqlite:///{tmp_path / 'none.db'}")
    assert (missing.exit_code, missing.stderr) == (
        3,
        f"error: no SQLite database at {tmp_path / 'none.db'}\n",
    )
    memory = run_import(cli, registry, "sqlite://")
    assert memory.exit_code == 2 and memory.stderr.count("\n") == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run_import(cli, registry, str(empty))
    assert nothing.exit_code == 3 and "no MLflow file store with a model registry" in nothing.stderr
    assert list(empty.iterdir()) == []  # MLflow would have made its folders there


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("https://alice:s3cret@mlflow.example.com:8443/x", "https://alice@mlflow.example.com:8443/x"),
        ("http://:token@host/", "http://host/"),
        ("sqlite:////data/mlflow.db", "sqlite:////data/mlflow.db"),
        ("postgresql://bob:pw@db/mlflow", "postgresql://bob@db/mlflow"),
    ],
)
def test_passwords_never_reach_the_store(uri: str, shown: str) -> None:
    assert redact(uri) == shown


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("sqlite:////abs/mlflow.db", Path("/abs/mlflow.db")),
        ("sqlite:///rel/mlflow.db", Path("rel/mlflow.db")),
        ("sqlite:///mlflow.db?timeout=5", Path("mlflow.db")),
        ("http://host", None),
        ("/some/mlruns", None),
    ],
)
def test_sqlite_paths(uri: str, path: Path | None) -> None:
    assert sqlite_path(uri) == path


def test_file_store_env_is_not_left_behind(
    sqlite_source: MlflowRegistry, registry: Registry, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # the file-store fixture sets it
    assert run_import(cli, registry, sqlite_source.uri, "--no-artifacts").exit_code == 0
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ


def test_what_mreg_refuses_is_reported_and_keeps_its_number_free(
    registry: Registry, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    from mlflow import MlflowClient

    base = tmp_path / "odd"
    base.mkdir()
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's deprecations inside MLflow
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.create_registered_model("odd")
        for n in (1, 2, 3):
            tags = {"größe": "1"} if n == 2 else {}  # MLflow takes any word character, mreg ASCII
            client.create_model_version("odd", f"s3://bucket/odd/{n}", tags=tags)
        client.create_registered_model("trailing.")
    result = run_import(cli, registry, uri, "--no-artifacts", "--json")
    assert result.exit_code == 1
    refused = {(p["model"], p["version"]) for p in json.loads(result.stdout)["refused"]}
    assert refused == {("odd", 2), ("trailing.", None)}
    assert registry.store.version_numbers("odd") == [1, 3]  # 2 is no tombstone: MLflow has it
    assert registry.model_names() == ["odd"]
    assert result.stderr.startswith("error: 2 item(s) refused")


def test_a_progress_bar_only_for_a_person_watching(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mreg.cli import imports, progress

    assert imports._bar_factory(False) is None  # the tests' output is no terminal
    monkeypatch.setattr(imports, "watched", lambda quiet: not quiet)
    monkeypatch.setattr(progress, "watched", lambda quiet: not quiet)
    assert imports._bar_factory(True) is None  # --json
    factory = imports._bar_factory(False)
    assert factory is not None
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(progress.THRESHOLD)
    drawn: list[tuple[str, int]] = []

    class FakeRender:
        @staticmethod
        def byte_progress(description: str, total: int) -> Any:
            import contextlib

            drawn.append((description, total))
            return contextlib.nullcontext(lambda n: None)

    import mreg.cli

    monkeypatch.setitem(sys.modules, "mreg.cli.render", FakeRender)
    monkeypatch.setattr(mreg.cli, "render", FakeRender, raising=False)  # if imported already
    with factory("Hashing fraud version 1", tmp_path / "missing") as advance:
        assert advance is None  # no size known, no bar
    with factory("Hashing fraud version 1", big) as advance:
        assert advance is not None
    assert drawn == [("Hashing fraud version 1", progress.THRESHOLD)]
