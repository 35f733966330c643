"""Registered models through the Python API: DESIGN §1's rules, MLflow's method names."""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mreg import AlreadyExists, InvalidInput, NotFound, Registry, StoreError
from mreg.errors import MregError


def test_create_records_description_tags_creator_and_utc_times(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MREG_USER", "release-bot")
    before = dt.datetime.now(dt.UTC)
    model = registry.create_registered_model("fraud", tags={"team": "risk"}, description="# Fraud\nscores")
    assert model.name == "fraud"
    assert model.description == "# Fraud\nscores"
    assert model.tags == {"team": "risk"}
    assert model.created_by == "release-bot"
    assert before <= model.created_at <= dt.datetime.now(dt.UTC)
    assert model.created_at.tzinfo == dt.UTC
    assert model.aliases == {}
    assert model.latest_versions == []
    assert registry.get_registered_model("fraud") == model


def test_model_file_is_toml_with_keys_in_a_fixed_order(registry: Registry) -> None:
    registry.create_registered_model("fraud", tags={"b": "2", "a": "1"}, description="d")
    text = (registry.root / "models" / "fraud" / "model.toml").read_text()
    keys = [line.split(" =")[0] for line in text.splitlines() if " = " in line]
    assert keys == ["created_at", "created_by", "updated_at", "description", "a", "b"]
    record = tomllib.loads(text)
    assert record["tags"] == {"a": "1", "b": "2"}
    assert record["created_at"].tzinfo is not None


def test_empty_description_and_tags_are_left_out_of_the_file(registry: Registry) -> None:
    registry.create_registered_model("fraud")
    record = tomllib.loads((registry.root / "models" / "fraud" / "model.toml").read_text())
    assert set(record) == {"created_at", "created_by", "updated_at"}


def test_to_dict_uses_mlflow_field_names(registry: Registry) -> None:
    data = registry.create_registered_model("fraud").to_dict()
    for key in ("name", "creation_timestamp", "last_updated_timestamp", "description", "tags", "aliases"):
        assert key in data
    assert data["created_at"].endswith("Z")
    assert isinstance(data["creation_timestamp"], int)


def test_names_keep_their_case_and_inner_spaces(registry: Registry) -> None:
    registry.create_registered_model("Iris Classifier")
    assert registry.model_names() == ["Iris Classifier"]
    assert registry.get_registered_model("Iris Classifier").name == "Iris Classifier"


def test_names_are_unique(registry: Registry) -> None:
    registry.create_registered_model("fraud")
    with pytest.raises(AlreadyExists, match="model 'fraud' already exists"):
        registry.create_registered_model("fraud")


@pytest.mark.parametrize("other", ["Fraud", "FRAUD", "fRaUd"])
def test_names_differing_only_in_case_may_not_coexist(registry: Registry, other: str) -> None:
    registry.create_registered_model("fraud")
    with pytest.raises(AlreadyExists, match="differ only in case"):
        registry.create_registered_model(other)
    assert registry.model_names() == ["fraud"]


def test_a_lookup_in_the_wrong_case_says_which_name_exists(registry: Registry) -> None:
    registry.create_registered_model("Fraud")
    with pytest.raises(NotFound, match="there is 'Fraud'"):
        registry.get_registered_model("fraud")


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "CON", "con.txt", "x" * 129, "x.", "x "])
def test_bad_names_are_refused_and_nothing_is_created(registry: Registry, bad: str) -> None:
    with pytest.raises(InvalidInput):
        registry.create_registered_model(bad)
    assert registry.model_names() == []
    assert os.listdir(registry.root / "models") == []


def test_list_is_sorted_by_name(registry: Registry) -> None:
    for name in ["b", "C", "a"]:
        registry.create_registered_model(name)
    assert [m.name for m in registry.list_registered_models()] == ["C", "a", "b"]


def test_unknown_model_is_not_found(registry: Registry) -> None:
    with pytest.raises(NotFound, match="model 'nope' not found"):
        registry.get_registered_model("nope")


def test_update_replaces_the_description_and_the_update_time(registry: Registry) -> None:
    created = registry.create_registered_model("fraud", description="old")
    updated = registry.update_registered_model("fraud", "new *markdown*")
    assert updated.description == "new *markdown*"
    assert updated.updated_at > created.updated_at
    assert updated.created_at == created.created_at


def test_update_with_the_same_description_changes_nothing(registry: Registry) -> None:
    registry.create_registered_model("fraud", description="same")
    path = registry.root / "models" / "fraud" / "model.toml"
    before = path.read_bytes()
    events = len(registry.get_history("fraud"))
    registry.update_registered_model("fraud", "same")
    assert path.read_bytes() == before
    assert len(registry.get_history("fraud")) == events


def test_rename_moves_versions_aliases_tags_and_history(registry: Registry, model_file: Path) -> None:
    registry.create_registered_model("fraud", tags={"team": "risk"}, description="d")
    registry.create_model_version("fraud", model_file)
    registry.set_registered_model_alias("fraud", "champion", 1)
    renamed = registry.rename_registered_model("fraud", "fraud-detector")
    assert renamed.name == "fraud-detector"
    assert renamed.tags == {"team": "risk"}
    assert renamed.description == "d"
    assert renamed.aliases == {"champion": 1}
    assert registry.get_model_version("fraud-detector", 1).artifact.size == model_file.stat().st_size
    assert registry.model_names() == ["fraud-detector"]
    actions = [e.action for e in registry.get_history("fraud-detector")]
    assert actions[0] == "model_created"
    assert actions[-1] == "model_renamed"
    with pytest.raises(NotFound):
        registry.get_registered_model("fraud")


def test_rename_to_a_taken_name_is_refused(registry: Registry) -> None:
    registry.create_registered_model("a")
    registry.create_registered_model("b")
    with pytest.raises(AlreadyExists, match="'b' already exists"):
        registry.rename_registered_model("a", "b")
    with pytest.raises(AlreadyExists, match="differ only in case"):
        registry.rename_registered_model("a", "B")
    assert registry.model_names() == ["a", "b"]


def test_rename_may_change_only_the_case(registry: Registry) -> None:
    registry.create_registered_model("fraud")
    assert registry.rename_registered_model("fraud", "Fraud").name == "Fraud"
    assert registry.model_names() == ["Fraud"]


def test_rename_to_the_same_name_is_a_no_op(registry: Registry) -> None:
    registry.create_registered_model("fraud")
    events = len(registry.get_history("fraud"))
    registry.rename_registered_model("fraud", "fraud")
    assert len(registry.get_history("fraud")) == events


def test_rename_of_an_unknown_model_is_not_found(registry: Registry) -> None:
    with pytest.raises(NotFound):
        registry.rename_registered_model("nope", "other")


def test_delete_is_hard_and_frees_the_name(registry: Registry, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file)
    registry.set_registered_model_alias("fraud", "champion", 1)
    registry.delete_registered_model("fraud", message="obsolete")
    assert registry.model_names() == []
    assert not (registry.root / "models" / "fraud").exists()
    with pytest.raises(NotFound):
        registry.get_registered_model("fraud")
    again = registry.create_model_version("fraud", model_file)
    assert again.version == 1  # a new model: its numbering starts over
    assert registry.get_aliases("fraud") == {}


def test_delete_is_recorded_in_the_store_history(registry: Registry, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file)
    registry.delete_registered_model("fraud", message="obsolete")
    events = registry.get_history("fraud")
    assert [e.action for e in events] == ["model_deleted"]
    assert events[0].message == "obsolete"
    assert events[0].old == "1 live version(s)"
    assert list((registry.root / "history").iterdir())


def test_delete_of_an_unknown_model_is_not_found(registry: Registry) -> None:
    with pytest.raises(NotFound):
        registry.delete_registered_model("nope")


def test_model_tags_set_update_and_delete(registry: Registry) -> None:
    registry.create_registered_model("fraud")
    registry.set_registered_model_tag("fraud", "team", "risk")
    registry.set_registered_model_tags("fraud", {"team": "fraud-ops", "tier": "1"})
    assert registry.get_registered_model("fraud").tags == {"team": "fraud-ops", "tier": "1"}
    registry.delete_registered_model_tag("fraud", "tier")
    registry.delete_registered_model_tags("fraud", ["missing"])  # not an error
    assert registry.get_registered_model("fraud").tags == {"team": "fraud-ops"}
    with pytest.raises(InvalidInput):
        registry.set_registered_model_tag("fraud", "bad=key", "v")


def test_registry_accepts_the_store_folder_or_the_folder_holding_it(
    registry: Registry, isolated: Path
) -> None:
    registry.create_registered_model("fraud")
    assert Registry(isolated).model_names() == ["fraud"]
    assert Registry(isolated / ".mreg").model_names() == ["fraud"]


def test_registry_without_a_path_walks_up_from_the_working_directory(
    registry: Registry, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = isolated / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    try:
        assert Registry().root == registry.root
    finally:
        monkeypatch.chdir(isolated)


def test_mreg_store_overrides_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = Registry.init(tmp_path / "elsewhere")
    Registry.init(Path.cwd())
    monkeypatch.setenv("MREG_STORE", str(tmp_path / "elsewhere"))
    assert Registry().root == elsewhere.root


def test_no_store_is_not_found(isolated: Path) -> None:
    with pytest.raises(NotFound, match=r"no mreg store in .* or any parent folder"):
        Registry()
    with pytest.raises(NotFound, match="no mreg store at"):
        Registry(isolated / "missing")


def test_init_twice_keeps_the_store(registry: Registry, isolated: Path) -> None:
    registry.create_registered_model("fraud")
    assert Registry.init(isolated).model_names() == ["fraud"]


def test_init_writes_config_gitignore_and_gitattributes(isolated: Path) -> None:
    root = Registry.init(isolated).root
    assert tomllib.loads((root / "config.toml").read_text()) == {"format": 1, "objects": {"commit": False}}
    ignore = (root / ".gitignore").read_text().splitlines()
    assert {"/lock", "/tmp/", "/objects/"} <= set(ignore)
    assert "/objects/** binary" in (root / ".gitattributes").read_text()


def test_init_commit_objects_keeps_blobs_in_git(isolated: Path) -> None:
    root = Registry.init(isolated, commit_objects=True).root
    assert "/objects/" not in (root / ".gitignore").read_text().splitlines()
    assert tomllib.loads((root / "config.toml").read_text())["objects"] == {"commit": True}


def test_a_newer_store_format_is_refused_with_upgrade_mreg(registry: Registry) -> None:
    (registry.root / "config.toml").write_text("format = 2\n")
    with pytest.raises(StoreError, match=r"format 2.*upgrade mreg"):
        Registry(registry.root)


@pytest.mark.parametrize(
    ("config", "why"),
    [
        ("format = 0\n", "unknown format 0"),
        ("[objects]\ncommit = false\n", "missing 'format'"),
        ('format = "1"\n', "'format' must be an integer"),
        ("format = [\n", "invalid TOML"),
    ],
)
def test_a_broken_config_is_refused_naming_the_file(registry: Registry, config: str, why: str) -> None:
    (registry.root / "config.toml").write_text(config)
    with pytest.raises(StoreError, match=why) as err:
        Registry(registry.root)
    assert "config.toml" in str(err.value)


def test_a_malformed_model_file_is_reported_with_its_path(registry: Registry) -> None:
    registry.create_registered_model("fraud")
    (registry.root / "models" / "fraud" / "model.toml").write_text("created_at = [\n")
    with pytest.raises(StoreError, match=r"models/fraud/model\.toml\S*: invalid TOML"):
        registry.get_registered_model("fraud")


def test_a_git_conflict_in_a_model_file_is_named_as_such(registry: Registry) -> None:
    registry.create_registered_model("fraud")
    path = registry.root / "models" / "fraud" / "model.toml"
    path.write_text("<<<<<<< HEAD\ndescription = 'a'\n=======\ndescription = 'b'\n>>>>>>> other\n")
    with pytest.raises(StoreError, match=r"model.toml:1: unresolved git merge conflict"):
        registry.get_registered_model("fraud")


def test_a_model_file_with_a_wrong_type_is_reported(registry: Registry) -> None:
    registry.create_registered_model("fraud")
    path = registry.root / "models" / "fraud" / "model.toml"
    path.write_text(path.read_text().replace('created_by = "', "created_by = 1 #"))
    with pytest.raises(StoreError, match="'created_by' must be a string"):
        registry.get_registered_model("fraud")


def test_every_error_is_an_mreg_error_with_an_exit_code() -> None:
    codes = {cls.__name__: cls.exit_code for cls in (InvalidInput, NotFound, AlreadyExists, StoreError)}
    assert codes == {"InvalidInput": 2, "NotFound": 3, "AlreadyExists": 4, "StoreError": 1}
    assert issubclass(StoreError, MregError)


# Any text but control characters (other than tab and line breaks) and lone surrogates.
TEXT = st.text(st.characters(exclude_categories=["Cs", "Cc"]) | st.sampled_from("\t\n\r"), max_size=200)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(key=st.text("abcXYZ09_./ :-", min_size=1, max_size=30), value=TEXT, description=TEXT)
def test_any_valid_tag_and_description_round_trips_through_the_files(
    registry: Registry, key: str, value: str, description: str
) -> None:
    if "fraud" not in registry.model_names():
        registry.create_registered_model("fraud")
    registry.set_registered_model_tag("fraud", key, value)
    registry.update_registered_model("fraud", description)
    again = Registry(registry.root).get_registered_model("fraud")
    assert again.tags[key] == value
    assert again.description == (description or None)
