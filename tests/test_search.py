"""Search: MLflow's filter grammar over models and versions, order-by keys, page tokens.

One store is built for the module (six models, nineteen live versions and a deleted one, tags,
aliases, stages, and creation times set by a fake clock); each table row is a filter and the
exact set of results it must give, through the Python API and, for errors, through the CLI.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Cli, run_mreg

from mreg import InvalidFilter, InvalidInput, PagedList, Registry, history, search
from mreg.search import like_regex, make_page_token, parse_page_token, parse_version_filter
from mreg.store import store as store_module
from mreg.store.records import ModelRecord


class FakeClock:
    """Stands in for ``history.now``: returns the time last set, then one microsecond later each call."""

    def __init__(self) -> None:
        self.current = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)

    def at(self, when: str) -> None:
        self.current = dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        value = self.current
        self.current += dt.timedelta(microseconds=1)
        return value


def _build(reg: Registry, clock: FakeClock) -> None:
    for day, name, tags in [
        ("2026-01-05", "fraud", {"team": "risk", "owner name": "ana", "a.b": "dotted"}),
        ("2026-01-06", "Fraud-EU", {"team": "Risk"}),
        ("2026-01-07", "Iris Classifier", {"team": "growth", "my key": "spaced"}),
        ("2026-01-08", "churn_v2", {}),
        ("2026-01-09", "churn-v2", {"team": "growth"}),
        ("2026-01-10", "empty", {"team": "risk"}),
    ]:
        clock.at(f"{day}T12:00:00")
        reg.create_registered_model(name, tags=tags)
    versions: list[tuple[str, str, str, str | None, dict[str, str]]] = [
        ("2026-01-10", "fraud", "s3://bucket/fraud/1", "run-a1", {"dataset": "may", "my key": "x y"}),
        ("2026-02-15", "fraud", "s3://bucket/fraud/2", "run-b2", {"dataset": "june", "score": "0.91"}),
        ("2026-03-20", "fraud", "gs://models/fraud_3", None, {"dataset": "50%_off", "quote": "it's"}),
        ("2026-03-21", "fraud", "s3://bucket/fraud/4", "run-d4", {}),
        (
            "2026-04-01",
            "fraud",
            "s3://bucket/fraud/5",
            "RUN-E5",
            {"path": "C:\\models\\fraud", "dataset": "May"},
        ),
        ("2026-02-01", "Fraud-EU", "s3://bucket/eu/1", "run-a1", {"dataset": "may"}),
        ("2026-02-20", "Iris Classifier", "https://example.com/iris/1.pkl", "iris-1", {}),
        ("2026-02-21", "Iris Classifier", "https://example.com/iris/2.pkl", "iris-2", {}),
        *[
            (f"2026-05-{n:02d}", "churn_v2", f"s3://bucket/churn/{n}", f"churn-{n}", {"fold": str(n % 3)})
            for n in range(1, 12)
        ],
        ("2026-06-01", "churn-v2", "s3://bucket/churn-x/1", "churn-x", {}),
    ]
    for day, name, source, run_id, tags in versions:
        clock.at(f"{day}T12:00:00")
        reg.create_model_version(name, source, run_id=run_id, tags=tags)
    for when, name, version, stage in [
        ("2026-07-01T09:00:00", "fraud", 1, "Archived"),
        ("2026-07-01T10:00:00", "fraud", 2, "Production"),
        ("2026-07-01T11:00:00", "fraud", 3, "Staging"),
        ("2026-07-01T12:00:00", "Iris Classifier", 1, "production"),
    ]:
        clock.at(when)
        reg.transition_model_version_stage(name, version, stage)
    clock.at("2026-07-02T09:00:00")
    for name, alias, version in [
        ("fraud", "champion", 2),
        ("fraud", "challenger", 3),
        ("fraud", "canary", 3),
        ("Fraud-EU", "champion", 1),
        ("churn_v2", "best", 10),
    ]:
        reg.set_registered_model_alias(name, alias, version)
    clock.at("2026-07-03T09:00:00")
    reg.delete_model_version("fraud", 4)


@pytest.fixture(scope="module")
def search_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    clock = FakeClock()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(history, "now", clock.now)
        patch.setenv("MREG_USER", "tester")
        reg = Registry.init(tmp_path_factory.mktemp("search-store"))
        _build(reg, clock)
    yield reg


ALL_MODELS = {"fraud", "Fraud-EU", "Iris Classifier", "churn_v2", "churn-v2", "empty"}
CHURN = {f"churn_v2/{n}" for n in range(1, 12)}
ALL_VERSIONS = {
    "fraud/1",
    "fraud/2",
    "fraud/3",
    "fraud/5",
    "Fraud-EU/1",
    "Iris Classifier/1",
    "Iris Classifier/2",
    "churn-v2/1",
} | CHURN
FIRSTS = {"fraud/1", "Fraud-EU/1", "Iris Classifier/1", "churn_v2/1", "churn-v2/1"}

MODEL_CASES: list[tuple[str, set[str]]] = [
    ("", ALL_MODELS),
    ("   ", ALL_MODELS),
    ("name = 'fraud'", {"fraud"}),
    ('name = "fraud"', {"fraud"}),
    ("  name   =   'fraud'  ", {"fraud"}),
    ("name='fraud'", {"fraud"}),
    ("attribute.name = 'fraud'", {"fraud"}),
    ("`name` = 'fraud'", {"fraud"}),
    ("name != 'fraud'", ALL_MODELS - {"fraud"}),
    ("name = 'FRAUD'", set()),
    ("name LIKE 'fraud%'", {"fraud"}),
    ("name like 'fraud%'", {"fraud"}),
    ("name ILIKE 'fraud%'", {"fraud", "Fraud-EU"}),
    ("name LIKE '%Classifier'", {"Iris Classifier"}),
    ("name = 'Iris Classifier'", {"Iris Classifier"}),
    ("name LIKE 'churn_v2'", {"churn_v2", "churn-v2"}),
    ("name LIKE 'churn\\_v2'", {"churn_v2"}),
    ("name LIKE '%'", ALL_MODELS),
    ("name LIKE '_mpty'", {"empty"}),
    ("name IN ('fraud', 'empty')", {"fraud", "empty"}),
    ("name in ('fraud')", {"fraud"}),
    ("name IN ('fraud', \"Iris Classifier\", 'nosuch')", {"fraud", "Iris Classifier"}),
    ("name NOT IN ('fraud', 'empty')", ALL_MODELS - {"fraud", "empty"}),
    ("name not in ('fraud')", ALL_MODELS - {"fraud"}),
    ("tags.team = 'risk'", {"fraud", "empty"}),
    ("tag.team = 'risk'", {"fraud", "empty"}),
    ("tags.team ILIKE 'RISK'", {"fraud", "Fraud-EU", "empty"}),
    ("tags.team != 'risk'", {"Fraud-EU", "Iris Classifier", "churn-v2"}),
    ("tags.team LIKE '%'", ALL_MODELS - {"churn_v2"}),
    ("tags.`owner name` = 'ana'", {"fraud"}),
    ("tags.\"owner name\" = 'ana'", {"fraud"}),
    ("tags.`a.b` = 'dotted'", {"fraud"}),
    ("tags.a.b = 'dotted'", {"fraud"}),
    ("tags.`my key` LIKE 'sp%'", {"Iris Classifier"}),
    ("tags.missing = 'x'", set()),
    ("tags.missing != 'x'", set()),
    ("tags.team = 'growth' AND name LIKE 'churn%'", {"churn-v2"}),
    ("name = 'fraud' AND name = 'empty'", set()),
    ("name = 'fraud' and tags.team = 'risk'", {"fraud"}),
    ("created_at >= '2026-01-07'", {"Iris Classifier", "churn_v2", "churn-v2", "empty"}),
    ("created_at = '2026-01-05'", {"fraud"}),
    ("created_at < '2026-01-06T00:00:00Z'", {"fraud"}),
    ("created_at <= '2026-01-06'", {"fraud", "Fraud-EU"}),
    ("updated_at > '2026-01-09'", {"empty"}),
]

VERSION_CASES: list[tuple[str, set[str]]] = [
    ("", ALL_VERSIONS),
    ("name = 'fraud'", {"fraud/1", "fraud/2", "fraud/3", "fraud/5"}),
    ("name = 'Iris Classifier'", {"Iris Classifier/1", "Iris Classifier/2"}),
    ("name = 'nosuch'", set()),
    ("name ILIKE 'FRAUD%' AND version_number = 1", {"fraud/1", "Fraud-EU/1"}),
    ("version_number = 4", {"churn_v2/4"}),
    ("name = 'fraud' AND version_number = 4", set()),
    ("version_number > 9", {"churn_v2/10", "churn_v2/11"}),
    ("version_number >= 10", {"churn_v2/10", "churn_v2/11"}),
    ("version_number < 2", FIRSTS),
    ("version_number <= 2 AND name = 'Iris Classifier'", {"Iris Classifier/1", "Iris Classifier/2"}),
    ("version_number != 1 AND name LIKE 'churn%'", CHURN - {"churn_v2/1"}),
    ("version_number = '3'", {"fraud/3", "churn_v2/3"}),
    ("version_number IN (1, 11)", FIRSTS | {"churn_v2/11"}),
    ("version_number NOT IN (1, 2, 3) AND name = 'fraud'", {"fraud/5"}),
    ("version_number > 2.5 AND name = 'fraud'", {"fraud/3", "fraud/5"}),
    ("version_number>-1 AND name='fraud'", {"fraud/1", "fraud/2", "fraud/3", "fraud/5"}),
    ("run_id = 'run-a1'", {"fraud/1", "Fraud-EU/1"}),
    ("run_id IN ('run-b2', 'iris-2')", {"fraud/2", "Iris Classifier/2"}),
    ("run_id ILIKE 'run-e%'", {"fraud/5"}),
    ("run_id LIKE 'run-e%'", set()),
    ("run_id != 'run-a1' AND name = 'fraud'", {"fraud/2", "fraud/5"}),
    ("run_id NOT IN ('run-a1') AND name = 'fraud'", {"fraud/2", "fraud/5"}),
    ("source_path = 's3://bucket/fraud/2'", {"fraud/2"}),
    ("source_path LIKE 'https://%'", {"Iris Classifier/1", "Iris Classifier/2"}),
    ("source_path LIKE '%fraud\\_3'", {"fraud/3"}),
    ("tags.dataset = 'may'", {"fraud/1", "Fraud-EU/1"}),
    ("tags.dataset ILIKE 'may'", {"fraud/1", "Fraud-EU/1", "fraud/5"}),
    ("tags.dataset != 'may' AND name = 'fraud'", {"fraud/2", "fraud/3", "fraud/5"}),
    ("tags.dataset LIKE '50\\%\\_%'", {"fraud/3"}),
    ("tags.dataset LIKE '50%'", {"fraud/3"}),
    ("tags.dataset = '50%_off'", {"fraud/3"}),
    ("tags.dataset LIKE '5_\\%%'", {"fraud/3"}),
    ("tags.`my key` = 'x y'", {"fraud/1"}),
    ("tags.\"my key\" = 'x y'", {"fraud/1"}),
    ("tags.quote = 'it\\'s'", {"fraud/3"}),
    ("tags.quote = 'it''s'", {"fraud/3"}),
    ('tags.quote = "it\'s"', {"fraud/3"}),
    ("tags.path = 'C:\\\\models\\\\fraud'", {"fraud/5"}),
    ("tags.path LIKE 'C:\\\\\\\\models%'", {"fraud/5"}),
    ("tags.fold = '0'", {"churn_v2/3", "churn_v2/6", "churn_v2/9"}),
    ("tags.fold = '0' AND version_number > 5", {"churn_v2/6", "churn_v2/9"}),
    ("alias = 'champion'", {"fraud/2", "Fraud-EU/1"}),
    ("alias = 'champion' AND name = 'fraud'", {"fraud/2"}),
    ("alias IN ('challenger', 'best')", {"fraud/3", "churn_v2/10"}),
    ("alias LIKE 'c%' AND name = 'fraud'", {"fraud/2", "fraud/3"}),
    ("alias ILIKE 'CANARY'", {"fraud/3"}),
    ("alias != 'champion' AND name = 'fraud'", {"fraud/1", "fraud/3", "fraud/5"}),
    ("alias NOT IN ('champion', 'challenger') AND name = 'fraud'", {"fraud/1", "fraud/5"}),
    ("stage = 'Production'", {"fraud/2", "Iris Classifier/1"}),
    ("stage = 'production'", {"fraud/2", "Iris Classifier/1"}),
    ("current_stage = 'Staging'", {"fraud/3"}),
    ("stage != 'None' AND name = 'fraud'", {"fraud/1", "fraud/2", "fraud/3"}),
    ("stage IN ('archived', 'Staging')", {"fraud/1", "fraud/3"}),
    ("stage LIKE 'Prod%'", {"fraud/2", "Iris Classifier/1"}),
    ("stage = 'None' AND name = 'Iris Classifier'", {"Iris Classifier/2"}),
    ("created_at >= '2026-05-01'", CHURN | {"churn-v2/1"}),
    ("created_at = '2026-02-15'", {"fraud/2"}),
    ("created_at < '2026-02-01'", {"fraud/1"}),
    ("created_at <= '2026-02-01'", {"fraud/1", "Fraud-EU/1"}),
    ("created_at > '2026-02-21' AND created_at < '2026-05-02'", {"fraud/3", "fraud/5", "churn_v2/1"}),
    ("created_at > '2026-02-21T11:59:59Z' AND created_at < '2026-03-01'", {"Iris Classifier/2"}),
    ("created_at = '2026-02-21T12:00:00Z'", {"Iris Classifier/2"}),
    ("created_at = '2026-02-21T13:00:00+01:00'", {"Iris Classifier/2"}),
    ("created_at != '2026-02-21' AND name = 'Iris Classifier'", {"Iris Classifier/1"}),
    ("created_at >= '2026-03-01' AND created_at < '2026-04-01'", {"fraud/3"}),
    ("updated_at >= '2026-07-01'", {"fraud/1", "fraud/2", "fraud/3", "Iris Classifier/1"}),
    (
        "name = 'fraud' AND tags.dataset = 'june' AND alias = 'champion' AND stage = 'Production' "
        "AND version_number = 2 AND run_id = 'run-b2' AND source_path LIKE 's3://%' "
        "AND created_at = '2026-02-15'",
        {"fraud/2"},
    ),
    ("name='fraud'AND version_number=1", {"fraud/1"}),
]

INVALID_VERSION_FILTERS: list[tuple[str, list[str]]] = [
    ("nme = 'x'", ["expected a field of model versions", "found 'nme' at position 1"]),
    ("NAME = 'x'", ["found 'NAME' at position 1"]),
    ("foo.bar = 'x'", ["found 'foo.bar' at position 1"]),
    ("name = fraud", ["expected a quoted string for name", "found 'fraud' at position 8"]),
    ("run_id = 123", ["expected a quoted string for run_id", "found '123' at position 10"]),
    (
        "name = 'fraud' OR name = 'x'",
        ["expected AND or the end of the filter", "found 'OR' at position 16", "AND only"],
    ),
    ("name = 'x' name = 'y'", ["expected AND or the end of the filter", "found 'name' at position 12"]),
    ("name = 'x' ; drop", ["expected AND or the end of the filter", "found ';' at position 12"]),
    ("name = 'fraud", ["expected a closing ' for the string at position 8", "found the end of the filter"]),
    ("name LIKE", ["expected a quoted string for name", "found the end of the filter at position 10"]),
    ("name", ["expected an operator for name (=, !=, LIKE, ILIKE, IN, NOT IN)", "found the end"]),
    ("name == 'x'", ["expected a quoted string for name", "found '=' at position 7"]),
    ("name <> 'x'", ["expected an operator for name", "found '<' at position 6"]),
    ("name ~ 'x'", ["expected an operator for name", "found '~' at position 6"]),
    ("name IN 'x'", ["expected '(' to open the list of values after IN", "found \"'x'\" at position 9"]),
    ("name IN ()", ["expected a quoted string for name", "found ')' at position 10"]),
    ("name IN ('a' 'b')", ["expected ',' or ')' in the list of values", "found \"'b'\" at position 14"]),
    ("name IN ('a',)", ["expected a quoted string for name", "found ')' at position 14"]),
    ("name IN ('a'", ["expected ',' or ')' in the list of values", "found the end of the filter"]),
    ("name NOT LIKE 'x'", ["expected IN after NOT", "found 'LIKE' at position 10"]),
    ("tags.team IN ('a')", ["expected an operator for tags.team (=, !=, LIKE, ILIKE)", "found 'IN'"]),
    ("tags.team > 'a'", ["expected an operator for tags.team", "found '>' at position 11"]),
    ("tags. = 'x'", ["expected a key after 'tags.'", "found ' ' at position 6"]),
    ("tags.`unclosed = 'x'", ["expected a closing ` for the key at position 6"]),
    ("version_number = 'abc'", ["expected a number for version_number", "found \"'abc'\" at position 18"]),
    ("version_number > 3abc", ["expected a number for version_number", "found '3abc' at position 18"]),
    ("version_number LIKE '1%'", ["expected an operator for version_number", "found 'LIKE'"]),
    ("stage = 'prod'", ["expected a stage (None, Staging, Production, Archived)", "found \"'prod'\""]),
    ("stage IN ('Staging', 'live')", ["expected a stage", "found \"'live'\" at position 22"]),
    (
        "created_at > 'yesterday'",
        ["expected an ISO-8601 date or time for created_at", "found \"'yesterday'\""],
    ),
    ("created_at LIKE '2026%'", ["expected an operator for created_at", "found 'LIKE'"]),
    ("created_at > 20260101", ["expected a quoted string for created_at", "found '20260101'"]),
    ("(name = 'x')", ["expected a field of model versions", "found '(' at position 1", "IN lists"]),
    ("name = 'x' AND", ["expected a field of model versions", "found the end of the filter at position 15"]),
    ("name = 'x' AND AND name = 'y'", ["expected a field of model versions", "found 'AND' at position 16"]),
    ("AND name = 'x'", ["expected a field of model versions", "found 'AND' at position 1"]),
]

INVALID_MODEL_FILTERS: list[tuple[str, list[str]]] = [
    ("run_id = 'x'", ["expected a field of registered models (name, tags.KEY", "found 'run_id'"]),
    ("alias = 'champion'", ["expected a field of registered models", "found 'alias' at position 1"]),
    ("version_number = 1", ["expected a field of registered models", "found 'version_number'"]),
    ("tags.team NOT IN ('risk')", ["expected an operator for tags.team", "found 'NOT' at position 11"]),
]


def _names(models: list[object]) -> set[str]:
    return {m.name for m in models}  # type: ignore[attr-defined]


def _ids(versions: list[object]) -> set[str]:
    return {f"{v.name}/{v.version}" for v in versions}  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------ filters


@pytest.mark.parametrize(
    ("filter_string", "expected"), MODEL_CASES, ids=[c[0] or "empty" for c in MODEL_CASES]
)
def test_model_filter(search_store: Registry, filter_string: str, expected: set[str]) -> None:
    assert _names(search_store.search_registered_models(filter_string)) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"), VERSION_CASES, ids=[c[0][:60] or "empty" for c in VERSION_CASES]
)
def test_version_filter(search_store: Registry, filter_string: str, expected: set[str]) -> None:
    found = search_store.search_model_versions(filter_string)
    assert _ids(found) == expected
    assert len(found) == len(expected)


@pytest.mark.parametrize(
    ("filter_string", "parts"), INVALID_VERSION_FILTERS, ids=[c[0] for c in INVALID_VERSION_FILTERS]
)
def test_invalid_version_filter(search_store: Registry, filter_string: str, parts: list[str]) -> None:
    with pytest.raises(InvalidFilter) as caught:
        search_store.search_model_versions(filter_string)
    message = str(caught.value)
    assert message.startswith("invalid filter: expected ")
    assert f'in "{filter_string}"' in message
    for part in parts:
        assert part in message
    assert caught.value.exit_code == 1
    assert caught.value.position is not None and caught.value.expected and caught.value.found


@pytest.mark.parametrize(
    ("filter_string", "parts"), INVALID_MODEL_FILTERS, ids=[c[0] for c in INVALID_MODEL_FILTERS]
)
def test_invalid_model_filter(search_store: Registry, filter_string: str, parts: list[str]) -> None:
    with pytest.raises(InvalidFilter) as caught:
        search_store.search_registered_models(filter_string)
    for part in parts:
        assert part in str(caught.value)


def test_every_case_table_is_large_enough() -> None:
    """The issue asks for at least 60 cases, valid and invalid."""
    total = len(MODEL_CASES) + len(VERSION_CASES) + len(INVALID_VERSION_FILTERS) + len(INVALID_MODEL_FILTERS)
    assert total >= 60


@pytest.mark.parametrize(
    ("filter_string", "parts"),
    [*INVALID_VERSION_FILTERS, ("version_number >", ["expected a number"])],
    ids=[c[0] for c in [*INVALID_VERSION_FILTERS, ("version_number >", [])]],
)
def test_invalid_filter_through_the_cli(
    search_store: Registry, cli: Cli, filter_string: str, parts: list[str]
) -> None:
    result = cli("--store", str(search_store.root), "versions", "list", "--filter", filter_string)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: invalid filter: expected ")
    for part in parts:
        assert part in lines[0]


def test_filter_is_parsed_once_into_conditions() -> None:
    parsed = parse_version_filter("name = 'a' AND version_number > 2 AND tags.`k x` LIKE 'v%'")
    assert [(c.field, c.op, c.position) for c in parsed.conditions] == [
        ("name", "=", 1),
        ("version_number", ">", 16),
        ("tags.k x", "LIKE", 39),
    ]
    assert parsed.conditions[2].test("value") and not parsed.conditions[2].test("other")


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("a%", ["a", "abc", "a\nb"], ["ba", "A"]),
        ("%b", ["b", "ab"], ["ba"]),
        ("a_c", ["abc", "a.c"], ["ac", "abbc"]),
        ("100\\%", ["100%"], ["1000", "100"]),
        ("a\\_b", ["a_b"], ["axb"]),
        ("a\\\\b", ["a\\b"], ["ab"]),
        ("a.b*", ["a.b*"], ["axb*", "a.bb"]),
        ("(x)[y]", ["(x)[y]"], ["x"]),
    ],
)
def test_like_patterns(pattern: str, matches: list[str], misses: list[str]) -> None:
    regex = like_regex(pattern)
    assert all(regex.fullmatch(m) for m in matches)
    assert not any(regex.fullmatch(m) for m in misses)


# ------------------------------------------------------------------------------------- ordering


def _model_order(search_store: Registry, order_by: list[str] | None) -> list[str]:
    return [m.name for m in search_store.search_registered_models(order_by=order_by)]


def test_models_are_ordered_by_name_by_default(search_store: Registry) -> None:
    assert _model_order(search_store, None) == [
        "Fraud-EU",
        "Iris Classifier",
        "churn-v2",
        "churn_v2",
        "empty",
        "fraud",
    ]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["name DESC"], ["fraud", "empty", "churn_v2", "churn-v2", "Iris Classifier", "Fraud-EU"]),
        (["name asc"], ["Fraud-EU", "Iris Classifier", "churn-v2", "churn_v2", "empty", "fraud"]),
        (
            ["creation_timestamp DESC"],
            ["empty", "churn-v2", "churn_v2", "Iris Classifier", "Fraud-EU", "fraud"],
        ),
        (["creation_timestamp"], ["fraud", "Fraud-EU", "Iris Classifier", "churn_v2", "churn-v2", "empty"]),
        (
            ["last_updated_timestamp DESC"],
            ["empty", "churn-v2", "churn_v2", "Iris Classifier", "Fraud-EU", "fraud"],
        ),
        (["timestamp ASC"], ["fraud", "Fraud-EU", "Iris Classifier", "churn_v2", "churn-v2", "empty"]),
        (
            ["attribute.created_at DESC"],
            ["empty", "churn-v2", "churn_v2", "Iris Classifier", "Fraud-EU", "fraud"],
        ),
    ],
)
def test_model_order_by(search_store: Registry, order_by: list[str], expected: list[str]) -> None:
    assert _model_order(search_store, order_by) == expected


def _version_order(search_store: Registry, filter_string: str, order_by: list[str] | None) -> list[str]:
    return [
        f"{v.name}/{v.version}" for v in search_store.search_model_versions(filter_string, order_by=order_by)
    ]


def test_versions_are_ordered_newest_change_first_by_default(search_store: Registry) -> None:
    """MLflow's default: last_updated_timestamp DESC, then name ASC, then version DESC. The stage
    changes of July made fraud 1 to 3 the most recently updated, 3 last."""
    assert _version_order(search_store, "name = 'fraud'", None) == [
        "fraud/3",
        "fraud/2",
        "fraud/1",
        "fraud/5",
    ]


@pytest.mark.parametrize(
    ("filter_string", "order_by", "expected"),
    [
        ("name = 'churn_v2'", ["version_number ASC"], [f"churn_v2/{n}" for n in range(1, 12)]),
        (
            "name = 'churn_v2' AND version_number > 8",
            ["version_number DESC"],
            ["churn_v2/11", "churn_v2/10", "churn_v2/9"],
        ),
        (
            "version_number <= 2",
            ["name ASC"],
            [
                "Fraud-EU/1",
                "Iris Classifier/2",
                "Iris Classifier/1",
                "churn-v2/1",
                "churn_v2/2",
                "churn_v2/1",
                "fraud/2",
                "fraud/1",
            ],
        ),
        (
            "version_number <= 2",
            ["name DESC", "version_number ASC"],
            [
                "fraud/1",
                "fraud/2",
                "churn_v2/1",
                "churn_v2/2",
                "churn-v2/1",
                "Iris Classifier/1",
                "Iris Classifier/2",
                "Fraud-EU/1",
            ],
        ),
        ("alias = 'champion'", ["creation_timestamp ASC"], ["Fraud-EU/1", "fraud/2"]),
        ("alias = 'champion'", ["creation_timestamp DESC"], ["fraud/2", "Fraud-EU/1"]),
        ("name = 'fraud'", ["last_updated_timestamp ASC"], ["fraud/5", "fraud/1", "fraud/2", "fraud/3"]),
    ],
)
def test_version_order_by(
    search_store: Registry, filter_string: str, order_by: list[str], expected: list[str]
) -> None:
    assert _version_order(search_store, filter_string, order_by) == expected


@pytest.mark.parametrize(
    ("order_by", "parts"),
    [
        ("nme", ["expected a key to order by (name, version_number", "found 'nme' at position 1"]),
        ("name UP", ["expected ASC, DESC or the end", "found 'UP' at position 6"]),
        ("name ASC DESC", ["expected the end of the order-by", "found 'DESC' at position 10"]),
        ("name, version_number", ["found ',' at position 5", "its own order-by clause"]),
        ("", ["expected a key to order by", "found the end of the order-by at position 1"]),
        ("tags.x", ["expected a key to order by", "found 'tags.x'"]),
    ],
)
def test_invalid_order_by(search_store: Registry, order_by: str, parts: list[str]) -> None:
    with pytest.raises(InvalidFilter) as caught:
        search_store.search_model_versions(order_by=[order_by])
    assert str(caught.value).startswith("invalid order-by: expected ")
    for part in parts:
        assert part in str(caught.value)


def test_order_by_must_be_a_list(search_store: Registry) -> None:
    with pytest.raises(InvalidInput, match="must be a list"):
        search_store.search_model_versions(order_by="name ASC")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- paging


def test_pages_cover_every_result_once(search_store: Registry) -> None:
    everything = [f"{v.name}/{v.version}" for v in search_store.search_model_versions()]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = search_store.search_model_versions(max_results=5, page_token=token)
        assert isinstance(page, PagedList) and len(page) <= 5
        seen += [f"{v.name}/{v.version}" for v in page]
        pages += 1
        token = page.token
        if token is None:
            break
    assert seen == everything
    assert pages == 4  # 19 versions in pages of 5


def test_page_token_is_mlflows(search_store: Registry) -> None:
    page = search_store.search_registered_models(max_results=2)
    assert [m.name for m in page] == ["Fraud-EU", "Iris Classifier"]
    assert page.token is not None
    assert json.loads(base64.b64decode(page.token)) == {"offset": 2}
    second = search_store.search_registered_models(max_results=2, page_token=page.token)
    assert [m.name for m in second] == ["churn-v2", "churn_v2"]
    last = search_store.search_registered_models(max_results=2, page_token=second.token)
    assert [m.name for m in last] == ["empty", "fraud"] and last.token is None


def test_a_page_past_the_end_is_empty(search_store: Registry) -> None:
    page = search_store.search_model_versions(page_token=make_page_token(1000))
    assert list(page) == [] and page.token is None


@pytest.mark.parametrize(
    "token",
    [
        "abc",
        "not base64!",
        base64.b64encode(b"[1]").decode(),
        make_page_token(-1),
        make_page_token(0),
        base64.b64encode(b'{"offset": "2"}').decode(),
    ],
)
def test_invalid_page_tokens(search_store: Registry, token: str) -> None:
    with pytest.raises(InvalidFilter, match=r"invalid page token .*does not come from a previous search"):
        search_store.search_registered_models(page_token=token)
    assert parse_page_token(None) == 0 and parse_page_token("") == 0


@pytest.mark.parametrize(
    ("call", "value", "limit"),
    [
        ("models", 0, 1000),
        ("models", 1001, 1000),
        ("versions", 0, 200000),
        ("versions", 200001, 200000),
        ("models", True, 1000),
    ],
)
def test_max_results_limits(search_store: Registry, call: str, value: int, limit: int) -> None:
    search = search_store.search_registered_models if call == "models" else search_store.search_model_versions
    with pytest.raises(InvalidInput, match=f"max_results must be an integer from 1 to {limit}"):
        search(max_results=value)


def test_defaults_are_mlflows() -> None:
    import inspect

    models = inspect.signature(Registry.search_registered_models).parameters
    versions = inspect.signature(Registry.search_model_versions).parameters
    assert list(models) == ["self", "filter_string", "max_results", "order_by", "page_token"]
    assert list(versions)[:5] == ["self", "filter_string", "max_results", "order_by", "page_token"]
    assert models["max_results"].default == search.SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT == 100
    assert versions["max_results"].default == search.SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT == 10_000
    assert search.SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD == 1000
    assert search.SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD == 200_000
    from mreg.cli import models as models_cli
    from mreg.cli import versions as versions_cli

    cli_models = inspect.signature(models_cli.list_models).parameters["max_results"].default
    cli_versions = inspect.signature(versions_cli.list_versions).parameters["max_results"].default
    assert cli_models == 100 and cli_versions == 10_000


def test_commands_that_do_not_search_do_not_load_it() -> None:
    """The parser and the fast TOML reader cost start-up time: only searches import them."""
    import subprocess
    import sys

    lazy = "{'mreg.search', 'mreg.store.simple_toml'}"
    code = f"import sys, mreg, mreg.cli.app; print(sorted(m for m in sys.modules if m in {lazy}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"


# ------------------------------------------------------------------------------ what is read


def count_reads(monkeypatch: pytest.MonkeyPatch, reader: str) -> list[str]:
    """The paths of the version files (``read_version``) or model files (``read_model``) that the
    store parses from now on, in order."""
    read: list[str] = []
    owner: Any = store_module if reader == "read_version" else ModelRecord
    name = "parse_version" if reader == "read_version" else "parse"
    original = getattr(owner, name)

    def counting(path: Path | str, record: dict[str, Any]) -> Any:
        read.append(str(path))
        return original(path, record)

    monkeypatch.setattr(owner, name, counting)
    return read


def test_only_versions_that_can_match_are_read(
    search_store: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Conditions on name, version_number and alias are settled before a version file is read;
    every other search reads each version file (live or deleted) exactly once."""
    read = count_reads(monkeypatch, "read_version")
    assert _ids(search_store.search_model_versions("alias = 'champion'")) == {"fraud/2", "Fraud-EU/1"}
    assert len(read) == 2
    read.clear()
    search_store.search_model_versions("name = 'churn_v2' AND version_number >= 10")
    assert len(read) == 2
    read.clear()
    search_store.search_model_versions("tags.dataset = 'may'")
    assert len(read) == 20 and len(set(read)) == 20  # 19 live versions and one tombstone


def test_models_list_reads_only_the_page(search_store: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    read = count_reads(monkeypatch, "read_model")
    page = search_store.search_registered_models(max_results=2)
    assert [m.name for m in page] == ["Fraud-EU", "Iris Classifier"]
    assert len(read) == 2


def test_latest_versions_read_newest_first_in_batches(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batched reads of a model's versions give the answers one-by-one reads gave, and `latest`
    still stops at the newest live version."""
    for n in range(1, 11):
        registry.create_model_version("m", f"s3://bucket/m/{n}")
    registry.transition_model_version_stage("m", 3, "Production")
    registry.transition_model_version_stage("m", 5, "Staging")
    registry.transition_model_version_stage("m", 6, "Staging")
    registry.delete_model_version("m", 10)
    registry.delete_model_version("m", 6)
    read = count_reads(monkeypatch, "read_version")
    assert registry.resolve("models:/m/latest").version == 9
    assert len(read) <= 4  # the first batch
    assert [(v.version, v.current_stage) for v in registry.get_latest_versions("m")] == [
        (3, "Production"),
        (5, "Staging"),
        (9, "None"),
    ]
    assert registry.resolve("models:/m/staging").version == 5
    assert [v.version for v in registry.get_registered_model("m").latest_versions] == [3, 5, 9]


def test_search_results_equal_direct_reads(search_store: Registry) -> None:
    for mv in search_store.search_model_versions("name = 'fraud'"):
        assert mv == search_store.get_model_version(mv.name, mv.version)
    for model in search_store.search_registered_models("name LIKE 'fraud%'"):
        assert model == search_store.get_registered_model(model.name)


def test_a_missing_model_is_not_found(search_store: Registry) -> None:
    from mreg import NotFound

    with pytest.raises(NotFound):
        search_store.search_model_versions(model="nosuch")
    assert _ids(search_store.search_model_versions("version_number = 1", model="fraud")) == {"fraud/1"}


# ------------------------------------------------------------------------------------------ CLI


def test_cli_models_list_json_and_pages(search_store: Registry, cli: Cli) -> None:
    result = cli("--store", str(search_store.root), "models", "list", "--max-results", "4", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [m["name"] for m in data["registered_models"]] == [
        "Fraud-EU",
        "Iris Classifier",
        "churn-v2",
        "churn_v2",
    ]
    token = data["next_page_token"]
    assert token and result.stderr == ""
    result = cli(
        "--store", str(search_store.root), "models", "list", "--max-results", "4", "--page-token", token, "-q"
    )
    assert result.stdout.splitlines() == ["empty", "fraud"]
    assert result.stderr == ""


def test_cli_prints_the_next_page_token_to_stderr(search_store: Registry, cli: Cli) -> None:
    result = cli("--store", str(search_store.root), "versions", "list", "fraud", "--max-results", "2", "-q")
    assert result.stdout.splitlines() == ["3", "2"]
    assert result.stderr == f"more results: run again with --page-token {make_page_token(2)}\n"


def test_cli_versions_list_filter_order_and_fields(search_store: Registry, cli: Cli) -> None:
    base = ("--store", str(search_store.root), "versions", "list")
    result = cli(*base, "--filter", "alias = 'champion'", "--order-by", "name DESC", "-q")
    assert result.stdout.splitlines() == ["fraud/2", "Fraud-EU/1"]
    result = cli(
        *base, "churn_v2", "--filter", "tags.fold = '1'", "--order-by", "version_number ASC", "--field", "uri"
    )
    assert result.stdout.splitlines() == [f"models:/churn_v2/{n}" for n in (1, 4, 7, 10)]
    result = cli(
        *base,
        "--filter",
        "stage = 'production'",
        "--order-by",
        "name",
        "--order-by",
        "version_number",
        "--json",
    )
    data = json.loads(result.stdout)
    assert [(v["name"], v["version"]) for v in data["model_versions"]] == [
        ("Iris Classifier", 1),
        ("fraud", 2),
    ]
    assert data["next_page_token"] is None
    result = cli(*base, "Iris Classifier", "--filter", "version_number = 2")
    assert result.exit_code == 0 and "iris-2" in result.stdout


def test_cli_errors(search_store: Registry, cli: Cli) -> None:
    base = ("--store", str(search_store.root))
    result = cli(*base, "versions", "list", "nosuch")
    assert result.exit_code == 3 and "model 'nosuch' not found" in result.stderr
    result = cli(*base, "models", "list", "--order-by", "version_number")
    assert result.exit_code == 1 and result.stderr.startswith(
        "error: invalid order-by: expected a key to order by"
    )
    result = cli(*base, "models", "list", "--max-results", "5000")
    assert result.exit_code == 2 and "max_results must be an integer from 1 to 1000" in result.stderr
    result = cli(*base, "versions", "list", "--page-token", "garbage")
    assert result.exit_code == 1 and "invalid page token 'garbage'" in result.stderr
    result = cli(*base, "models", "list", "--filter", "tags.team IN ('risk')")
    assert result.exit_code == 1 and "found 'IN' at position 11" in result.stderr


def test_cli_says_when_nothing_matches(search_store: Registry, cli: Cli) -> None:
    result = cli("--store", str(search_store.root), "versions", "list", "--filter", "name = 'nosuch'")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == "no versions match\n"
    result = cli("--store", str(search_store.root), "models", "list", "--filter", "name = 'nosuch'")
    assert result.exit_code == 0 and result.stderr == "no registered models match\n"


@pytest.mark.slow
def test_invalid_filter_exit_code_in_a_real_process(search_store: Registry) -> None:
    done = run_mreg("--store", str(search_store.root), "versions", "list", "--filter", "name = fraud")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "error: invalid filter: expected a quoted string for name, found 'fraud' at position 8 "
        'in "name = fraud"\n'
    )
