"""The fast TOML reader must give exactly what tomllib gives, or step aside (None)."""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from mreg import Registry, StoreError
from mreg.store import files
from mreg.store.simple_toml import parse_simple_toml

_keys = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
_values = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.datetimes(
        min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(dt.UTC)
    ),
    st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(-dt.timedelta(hours=8))]
        ),
    ),
)
_documents = st.recursive(
    st.dictionaries(_keys, _values, max_size=6),
    lambda inner: st.dictionaries(
        _keys, st.one_of(_values, inner, st.lists(inner, min_size=1, max_size=3)), max_size=5
    ),
    max_leaves=25,
)


def _same(a: Any, b: Any) -> bool:
    """Equal, and equal in every datetime's offset too (== ignores it)."""
    return a == b and repr(a) == repr(b)


@settings(max_examples=150, deadline=None)
@given(_documents)
def test_agrees_with_tomllib_on_what_tomli_w_writes(document: dict[str, Any]) -> None:
    text = tomli_w.dumps(document)
    fast = parse_simple_toml(text)
    if fast is not None:
        assert _same(fast, tomllib.loads(text))


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet='ab= "\n[].\\tu0123456789-:TZ+', max_size=60))
def test_never_accepts_what_tomllib_rejects_or_reads_otherwise(text: str) -> None:
    fast = parse_simple_toml(text)
    if fast is None:
        return
    assert _same(fast, tomllib.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        "[a]\n[a.b]\n[a]\n",
        "[[a]]\n[a]\n",
        "a = 1\n[a]\n",
        "[a]\nb = 1\n[a.b]\n",
        'a = "x"\na = "y"\n',
        "t = 2026-01-01 00:00:00+05:75\n",
        "n = 01\n",
        'k = "\\ud800"\n',
        'k = "\x7f"\n',
        "t = 2026-02-30 00:00:00Z\n",
        "[a]]\n",
        "[[a]\n",
        "<<<<<<< HEAD\na = 1\n=======\na = 2\n>>>>>>> branch\n",
    ],
)
def test_steps_aside_for_broken_documents(text: str) -> None:
    assert parse_simple_toml(text) is None
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        "x = 1 # comment\n",
        "x = 1\r\n",
        "a.b = 1\n",
        "x = 1.5\n",
        "t = 1979-05-27\n",
        "x = [1, 2]\n",
        "x = 'lit'\n",
    ],
)
def test_steps_aside_for_valid_toml_outside_the_subset(text: str) -> None:
    assert parse_simple_toml(text) is None
    tomllib.loads(text)


def test_reads_every_record_mreg_writes(registry: Registry, model_file: Path, model_dir: Path) -> None:
    """The point of the fast path: no file of a store ever needs tomllib."""
    registry.create_registered_model("fraud", tags={"team": "risk", "my key": 'a "quoted" \\ value\n'})
    registry.create_model_version("fraud", model_file, run_id="r1", description="line 1\nline 2\t")
    registry.create_model_version("fraud", model_dir, tags={"a.b": "é ✓"})
    registry.create_model_version("fraud", "s3://bucket/x", run_link="https://example.com/?q=1")
    registry.set_registered_model_alias("fraud", "champion", 2)
    registry.transition_model_version_stage("fraud", 1, "Production")
    registry.delete_model_version("fraud", 3)
    checked = 0
    for folder, _, names in os.walk(registry.root):
        for name in names:
            path = Path(folder) / name
            if path.suffix != ".toml" and path.parent.name != "aliases":
                continue
            text = path.read_text(encoding="utf-8")
            assert _same(parse_simple_toml(text), tomllib.loads(text)), path
            checked += 1
    assert checked >= 12


# ----------------------------------------------------------------------------- read_toml_many


def test_read_toml_many_reads_like_read_toml(tmp_path: Path) -> None:
    root = tmp_path / "store"
    folder = root / "f"
    folder.mkdir(parents=True)
    files.write_toml_atomic(root, folder / "1.toml", {"a": 1})
    files.write_toml_atomic(root, folder / "2.toml", {"b": "x"})
    (folder / "3.toml").write_text("x = 1 # not in the fast subset\n")
    got = list(files.read_toml_many(root, folder, ["1.toml", "missing.toml", "2.toml", "3.toml"]))
    assert got == [("1.toml", {"a": 1}), ("missing.toml", None), ("2.toml", {"b": "x"}), ("3.toml", {"x": 1})]
    assert list(files.read_toml_many(root, root / "nofolder", ["1.toml"])) == [("1.toml", None)]


def test_read_toml_many_refuses_symlinks_and_odd_files(tmp_path: Path) -> None:
    root = tmp_path / "store"
    folder = root / "f"
    folder.mkdir(parents=True)
    outside = tmp_path / "outside.toml"
    outside.write_text("secret = 1\n")
    (folder / "link.toml").symlink_to(outside)
    (folder / "dir.toml").mkdir()
    os.mkfifo(folder / "fifo.toml")
    (folder / "big.toml").write_bytes(b"x = 1\n" + b" " * files.MAX_METADATA_BYTES)
    (folder / "bad.toml").write_text("x = \n")
    (root / "linked").symlink_to(folder)
    cases = {
        "link.toml": "refusing to follow symlink",
        "dir.toml": "is not a regular file",
        "fifo.toml": "is not a regular file",
        "big.toml": "over the 1048576-byte limit",
        "bad.toml": "invalid TOML",
    }
    for name, message in cases.items():
        with pytest.raises(StoreError, match=message):
            list(files.read_toml_many(root, folder, [name]))
    with pytest.raises(StoreError, match="refusing to follow symlink"):
        list(files.read_toml_many(root, root / "linked", ["x.toml"]))


def test_conflict_markers_are_still_named(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    data = b'status = "READY"\n<<<<<<< HEAD\nstage = "None"\n=======\nstage = "Staging"\n>>>>>>> other\n'
    with pytest.raises(StoreError, match="2: unresolved git merge conflict"):
        files.parse_toml(path, data)
