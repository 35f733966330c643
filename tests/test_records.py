"""The typed records: the fast reader of version files agrees with the checked one."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mreg import Registry, StoreError
from mreg.store import files
from mreg.store.records import (
    AliasRecord,
    ConfigRecord,
    ModelRecord,
    Tombstone,
    VersionRecord,
    _checked_version,
    _fast_version,
    parse_version,
)

HEX = "ab" * 32
WHEN = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)


def version_table() -> dict[str, Any]:
    return {
        "status": "READY",
        "created_at": WHEN,
        "created_by": "ana",
        "updated_at": WHEN,
        "source": "model.bin",
        "run_id": "r1",
        "stage": "Staging",
        "description": "first",
        "artifact": {
            "kind": "directory",
            "digest": f"sha256:{HEX}",
            "size": 3,
            "files": [{"path": "a/b.txt", "sha256": HEX, "size": 3}],
        },
        "lineage": {"git_commit": "c" * 40, "git_dirty": False},
        "tags": {"k": "v"},
    }


def _checked(raw: dict[str, Any]) -> object:
    try:
        return _checked_version("7.toml", raw)
    except StoreError:
        return StoreError


def test_the_fast_reader_reads_what_the_writer_writes(
    registry: Registry, model_file: Path, model_dir: Path
) -> None:
    registry.create_model_version("m", model_file, run_id="r", tags={"a": "b"}, description="d")
    registry.create_model_version("m", model_dir)
    registry.create_model_version("m", "s3://bucket/model")
    registry.delete_model_version("m", 1)
    layout = registry.store.layout
    fast_hits = 0
    for number in (1, 2, 3):
        path = layout.version_file("m", number)
        raw = files.read_toml(registry.root, path)
        fast = _fast_version(raw)
        fast_hits += fast is not None
        assert fast is None or fast == _checked_version(path, raw)
        assert parse_version(path, raw) == _checked_version(path, raw)
    assert fast_hits == 1  # the folder; the tombstone and the reference take the checked path


# Changes to a good record: each either leaves it good or breaks it; the fast reader must then
# give what the checked reader gives, or step aside.
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from(
        ["", "x", "READY", "DELETED", "None", "Production", "../x", "a//b", "/a", "sha256:" + HEX, HEX]
    ),
    st.just(WHEN),
    st.just(dt.datetime(2026, 1, 1)),
    st.just([]),
    st.just({}),
    st.just([{"path": "x", "sha256": HEX, "size": 1}]),
)
_PLACES = st.sampled_from(
    [
        ("status",),
        ("created_at",),
        ("created_by",),
        ("updated_at",),
        ("source",),
        ("run_id",),
        ("run_link",),
        ("stage",),
        ("description",),
        ("artifact",),
        ("artifact", "kind"),
        ("artifact", "digest"),
        ("artifact", "size"),
        ("artifact", "files"),
        ("artifact", "uri"),
        ("lineage",),
        ("lineage", "git_commit"),
        ("lineage", "git_dirty"),
        ("lineage", "other"),
        ("tags",),
        ("tags", "k"),
        ("extra",),
        ("files", "path"),
        ("files", "sha256"),
        ("files", "size"),
        ("files", "extra"),
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_PLACES, _VALUES, st.booleans()), max_size=3))
def test_the_fast_reader_never_disagrees_with_the_checked_one(
    changes: list[tuple[tuple[str, ...], Any, bool]],
) -> None:
    raw = version_table()
    for place, value, remove in changes:
        target: Any = raw
        if place[0] == "files":
            target = (
                raw["artifact"]["files"][0]
                if isinstance(raw.get("artifact"), dict)
                and isinstance(raw["artifact"].get("files"), list)
                and raw["artifact"]["files"]
                and isinstance(raw["artifact"]["files"][0], dict)
                else None
            )
            place = place[1:]
        for key in place[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if remove:
            target.pop(place[-1], None)
        else:
            target[place[-1]] = copy.deepcopy(value)
    fast = _fast_version(raw)
    if fast is not None:
        assert fast == _checked(raw)


def test_records_write_what_they_read() -> None:
    for record in (
        ModelRecord(WHEN, "ana", WHEN, "text", {"b": "2", "a": "1"}),
        _checked_version("7.toml", version_table()),
        Tombstone(WHEN, "ana", WHEN, "model.bin", "bo"),
    ):
        written = tomllib.loads(files.dumps_toml(record.to_toml()))
        again = (ModelRecord.parse if isinstance(record, ModelRecord) else parse_version)("f", written)
        assert again == record
    assert AliasRecord.parse("a", AliasRecord(3).to_toml()) == AliasRecord(3)
    # A table this mreg does not know ("future") is kept as it is; "remotes" is known now.
    config = ConfigRecord.parse("c", {"format": 1, "objects": {"commit": True, "x": 1}, "future": {"a": 1}})
    assert config.commit_objects and ConfigRecord.parse("c", config.to_toml()) == config
    assert config.to_toml()["future"] == {"a": 1}


@pytest.mark.parametrize("version", [0, -1, 2**53 + 1, True])
def test_alias_records_refuse_numbers_out_of_range(version: object) -> None:
    with pytest.raises(StoreError, match="version"):
        AliasRecord.parse("aliases/champion", {"version": version})


def test_a_live_record_and_a_tombstone_differ_in_kind() -> None:
    live = parse_version("7.toml", version_table())
    assert isinstance(live, VersionRecord) and live.artifact_id == f"sha256:{HEX}"
    gone = parse_version("7.toml", Tombstone(WHEN, "ana", WHEN).to_toml())
    assert isinstance(gone, Tombstone)
