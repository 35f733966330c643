"""The fast paths of listings, checked without a clock: `versions list` prints its table from
what the search found (no ``ModelVersion`` made), in the same order and pages as the search;
alias and version files the writer wrote are read by one pattern each, and anything else takes
the checked reader; a model's folders are each opened once; the plain table is the same text
whichever way it is made."""

from __future__ import annotations

import dataclasses
import os
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest
from helpers import Cli

from mreg import Registry
from mreg.cli.output import cell_by_cell, plain_table
from mreg.entities import Artifact, ArtifactFile, Lineage
from mreg.errors import DamagedStore
from mreg.names import VERSION_MAX
from mreg.search import PagedList
from mreg.store import files
from mreg.store.records import (
    AliasRecord,
    VersionRecord,
    parse_version,
    parse_written_alias,
    parse_written_version,
)


@pytest.fixture
def many(registry: Registry, isolated: Path) -> Registry:
    """Models a, b, c with 4, 3 and 2 versions; aliases, a stage, tags, one URI version."""
    source = isolated / "w.bin"
    for name, count in (("a", 4), ("b", 3), ("c", 2)):
        for n in range(1, count + 1):
            source.write_bytes(f"{name} {n}\n".encode())
            registry.create_model_version(name, source, run_id=f"run-{name}-{n}", tags={"n": str(n)})
    registry.create_model_version("c", "s3://bucket/model")
    registry.set_registered_model_alias("a", "champion", 2)
    registry.set_registered_model_alias("a", "best", 2)
    registry.set_registered_model_alias("b", "champion", 3)
    registry.transition_model_version_stage("a", 3, "Production")
    return registry


def _same_versions(hits: PagedList[Any], versions: PagedList[Any]) -> None:
    assert [hit.entity() for hit in hits] == list(versions)
    assert hits.token == versions.token
    assert [str(p) for p in hits.problems] == [str(p) for p in versions.problems]


@pytest.mark.parametrize(
    ("filter_string", "order_by", "max_results", "model"),
    [
        (None, None, 10_000, None),
        (None, None, 10_000, "a"),
        (None, ["version_number ASC"], 3, None),
        ("alias = 'champion'", None, 10_000, None),
        ("version_number > 1 AND name != 'b'", ["created_at DESC"], 10_000, None),
        ("tags.n = '2'", None, 10_000, None),  # a condition on what only the file holds
        ("stage = 'Production'", None, 10_000, "a"),
    ],
)
def test_the_listing_finds_what_the_search_finds(
    many: Registry, filter_string: str | None, order_by: list[str] | None, max_results: int, model: str | None
) -> None:
    hits = many.list_model_versions_page(filter_string, max_results, order_by, model=model)
    versions = many.search_model_versions(filter_string, max_results, order_by, model=model)
    assert versions  # every case finds something
    _same_versions(hits, versions)
    if hits.token:
        _same_versions(
            many.list_model_versions_page(filter_string, max_results, order_by, hits.token, model=model),
            many.search_model_versions(filter_string, max_results, order_by, versions.token, model=model),
        )


def test_versions_list_makes_no_model_version_for_its_table(
    many: Registry, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = cli("versions", "list")
    assert expected.exit_code == 0 and "champion" in expected.stdout

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a ModelVersion was made for the table")

    monkeypatch.setattr(VersionRecord, "entity", refuse)
    for args in (["versions", "list"], ["versions", "list", "a", "-q"], ["versions", "list", "-q"]):
        assert cli(*args).exit_code == 0
    assert cli("versions", "list").stdout == expected.stdout
    assert cli("versions", "list", "--json").exit_code != 0  # JSON has every field: it makes them


def test_versions_list_reports_damaged_files_and_shows_the_rest(many: Registry, cli: Cli) -> None:
    layout = many.store.layout
    layout.version_file("a", 3).write_text('status = "READY"\n')  # no created_at
    layout.alias_file("b", "champion").write_text("version = 01\n")  # not TOML
    result = cli("versions", "list")
    assert result.exit_code == 5
    assert "3.toml" in result.stderr and "champion" in result.stderr
    assert len(result.stdout.splitlines()) == 1 + 4 + 3 + 3 - 1


def test_a_model_folder_s_folders_are_each_opened_once(
    many: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    listed: list[object] = []
    real_open, real_listdir = os.open, os.listdir

    def spy_open(path: object, *args: object, **kwargs: object) -> int:
        opened.append(os.fspath(path))  # type: ignore[arg-type]
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    def spy_listdir(path: object = ".") -> list[str]:
        listed.append(path)
        return real_listdir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(os, "listdir", spy_listdir)
    assert len(many.list_model_versions_page()) == 10
    layout = many.store.layout
    for name in ("a", "b", "c"):
        assert opened.count(str(layout.versions_dir(name))) == 1
        assert opened.count(str(layout.aliases_dir(name))) == 1  # c has none: one failed open
    assert all(isinstance(path, int) for path in listed)  # listed through the open descriptor


@pytest.mark.parametrize("target", ["folder", "file", "nothing"])
@pytest.mark.parametrize("folder", ["versions", "aliases"])
def test_a_symlinked_folder_of_a_model_is_refused_by_the_listing(
    many: Registry, isolated: Path, folder: str, target: str
) -> None:
    model_dir = many.store.layout.model_dir("b")
    elsewhere = isolated / "elsewhere"
    (model_dir / folder).rename(elsewhere)
    if target == "file":
        elsewhere = elsewhere / "3.toml" if folder == "versions" else elsewhere / "champion"
    elif target == "nothing":
        elsewhere = isolated / "missing"
    (model_dir / folder).symlink_to(elsewhere)
    with pytest.raises(DamagedStore, match=f"refusing to follow symlink .*{folder}"):
        many.list_model_versions_page()
    with pytest.raises(DamagedStore, match=f"refusing to follow symlink .*{folder}"):
        many.search_model_versions()


def test_read_folder_reads_what_pick_chooses_and_nothing_of_a_missing_folder(registry: Registry) -> None:
    root = registry.store.root
    folder = root / "some"
    folder.mkdir()
    for name in ("x", "y", ".hidden"):
        (folder / name).write_text(f'name = "{name}"\n')
    (folder / "z").write_text("not toml\n")
    seen: list[list[str]] = []

    def pick(names: list[str]) -> list[str]:
        seen.append(names)
        return [n for n in names if not n.startswith(".")]

    with files.scanning():
        read = files.read_folder(root, folder, pick, errors=True)
    assert seen == [[".hidden", "x", "y", "z"]]
    assert [name for name, _ in read] == ["x", "y", "z"]
    assert read[0][1] == {"name": "x"} and read[1][1] == {"name": "y"}
    assert isinstance(read[2][1], DamagedStore)
    with pytest.raises(DamagedStore):
        files.read_folder(root, folder, pick)
    assert files.read_folder(root, root / "missing", pick) == []


# ------------------------------------------------------------------------ the one-pattern readers


@pytest.mark.parametrize("version", [1, 7, 10_000, VERSION_MAX])
def test_an_alias_file_as_written_is_read_by_one_pattern(version: int) -> None:
    text = f"version = {version}\n"
    assert parse_written_alias(text) == AliasRecord.parse("x", tomllib.loads(text)) == AliasRecord(version)


@pytest.mark.parametrize(
    "text",
    [
        "version = 0\n",
        "version = 01\n",
        f"version = {VERSION_MAX + 1}\n",
        "version = 1",
        "version =  1\n",
        "version = 1\n\n",
        "version = 1 # champion\n",
        "version = -1\n",
        "version = +1\n",
        "version = 1_0\n",
        '"version" = 1\n',
        "",
    ],
)
def test_any_other_alias_text_takes_the_checked_reader(text: str) -> None:
    assert parse_written_alias(text) is None


def test_the_fast_version_reader_sets_every_field(many: Registry) -> None:
    """Records made without their ``__init__`` hold each field their class declares, as the
    checked reader's do (a field added to a record must be added to the fast reader too)."""
    layout = many.store.layout
    for name, number in (("a", 1), ("a", 3), ("c", 1)):
        path = layout.version_file(name, number)
        text = path.read_text()
        fast = parse_written_version(text)
        assert fast is not None
        assert fast == parse_version(path, tomllib.loads(text))
        for value in (fast, fast.artifact, fast.artifact.files[0], fast.lineage):
            assert set(vars(value)) == {f.name for f in dataclasses.fields(value)}
        assert type(fast.artifact) is Artifact and type(fast.artifact.files[0]) is ArtifactFile
        assert type(fast.lineage) is Lineage


# --------------------------------------------------------------------------------- plain tables


def test_the_plain_table_is_the_same_text_whichever_way_it_is_made() -> None:
    rng = random.Random(7)
    alphabet = ["a", "B", "7", " ", "%", "%s", "é", "漢", "-", "\t", "\x1b", "\u202e", "\n", ""]
    for _ in range(300):
        columns = rng.randint(1, 5)
        plain = rng.random() < 0.6  # most tables need no escaping: the fast path
        letters = alphabet[:10] if plain else alphabet
        headers = ["".join(rng.choices(letters[:3], k=rng.randint(1, 6))) for _ in range(columns)]
        rows = [
            ["".join(rng.choices(letters, k=rng.randint(0, 8))) for _ in range(columns)]
            for _ in range(rng.randint(0, 6))
        ]
        assert plain_table(headers, rows) == cell_by_cell(headers, rows), (headers, rows)
    ragged = [["a", "bb"], ["ccc"]]
    assert plain_table(["x", "y"], ragged) == cell_by_cell(["x", "y"], ragged)
