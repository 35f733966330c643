"""The model URI parser: every form of DESIGN §1, and what it refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mreg.errors import InvalidInput
from mreg.names import validate_alias, validate_model_name
from mreg.uris import ModelRef, parse_model_uri, parse_version_ref


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/fraud/7", ModelRef("fraud", version=7)),
        ("models:/fraud@champion", ModelRef("fraud", alias="champion")),
        ("models:/fraud/latest", ModelRef("fraud", latest=True)),
        ("models:/fraud/LATEST", ModelRef("fraud", latest=True)),
        ("models:/fraud/Production", ModelRef("fraud", stage="Production")),
        ("models:/fraud/staging", ModelRef("fraud", stage="Staging")),
        ("models:/fraud/none", ModelRef("fraud", stage="None")),
        ("fraud/7", ModelRef("fraud", version=7)),
        ("fraud@champion", ModelRef("fraud", alias="champion")),
        ("fraud/latest", ModelRef("fraud", latest=True)),
        ("fraud@latest", ModelRef("fraud", latest=True)),
        ("fraud@v3", ModelRef("fraud", version=3)),
        ("fraud@V3", ModelRef("fraud", version=3)),
        ("models:/Iris Classifier/2", ModelRef("Iris Classifier", version=2)),
        ("models:/a.b-c_d@x-y_z", ModelRef("a.b-c_d", alias="x-y_z")),
        ("fraud@-", ModelRef("fraud", alias="-")),  # a valid alias, even if an odd one
        ("fraud@__", ModelRef("fraud", alias="__")),
    ],
)
def test_every_uri_form_parses(uri: str, expected: ModelRef) -> None:
    assert parse_model_uri(uri) == expected


@pytest.mark.parametrize(
    ("ref", "text"),
    [
        (ModelRef("fraud", version=7), "models:/fraud/7"),
        (ModelRef("fraud", alias="champion"), "models:/fraud@champion"),
        (ModelRef("fraud", latest=True), "models:/fraud/latest"),
        (ModelRef("fraud", stage="Staging"), "models:/fraud/Staging"),
    ],
)
def test_a_ref_prints_as_the_uri_that_parses_back_to_it(ref: ModelRef, text: str) -> None:
    assert str(ref) == text
    assert parse_model_uri(text) == ref


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("models:/fraud", "expected models:/NAME/VERSION"),
        ("fraud", "expected models:/NAME/VERSION"),
        ("models:fraud/1", "expected models:/NAME/VERSION"),
        ("models:/fraud/", "expected models:/NAME/VERSION"),
        ("models:/fraud/0", "invalid version"),
        ("models:/fraud/prod", "is not a version number, 'latest' or a stage"),
        ("models:/fraud/1.5", "is not a version number"),
        ("models:/fraud@", "invalid alias"),
        ("models:/fraud@a.b", "invalid alias"),
        ("models:/fraud@a/b", "invalid alias"),
        ("models:/../x/1", "invalid model name"),
        ("models:/a/b/1", "invalid model name"),
        ("/1", "must not be empty"),
        ("@champion", "must not be empty"),
        ("models:/CON/1", "reserved device name"),
    ],
)
def test_bad_uris_are_refused_with_what_was_expected(uri: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        parse_model_uri(uri)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("7", ModelRef("fraud", version=7)),
        ("latest", ModelRef("fraud", latest=True)),
        ("@champion", ModelRef("fraud", alias="champion")),
        ("production", ModelRef("fraud", stage="Production")),
    ],
)
def test_a_version_next_to_a_name_parses_by_the_uri_rules(spec: str, expected: ModelRef) -> None:
    assert parse_version_ref("fraud", spec) == expected


def test_a_non_string_uri_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_model_uri(7)  # type: ignore[arg-type]


NAME_CHARS = "abcXYZ019._- "
names = st.text(alphabet=NAME_CHARS, min_size=1, max_size=40).filter(lambda n: _is_valid_name(n))
aliases = st.text(alphabet="abcXYZ019_-", min_size=1, max_size=30).filter(lambda a: _is_valid_alias(a))


def _is_valid_name(name: str) -> bool:
    try:
        validate_model_name(name)
    except InvalidInput:
        return False
    return True


def _is_valid_alias(alias: str) -> bool:
    try:
        validate_alias(alias)
    except InvalidInput:
        return False
    return True


@given(name=names, version=st.integers(min_value=1, max_value=2**53))
def test_any_valid_name_and_version_round_trips(name: str, version: int) -> None:
    ref = ModelRef(name, version=version)
    assert parse_model_uri(str(ref)) == ref
    assert parse_model_uri(f"{name}/{version}") == ref


@given(name=names, alias=aliases)
def test_any_valid_name_and_alias_round_trips(name: str, alias: str) -> None:
    ref = ModelRef(name, alias=alias)
    assert parse_model_uri(str(ref)) == ref
    assert parse_model_uri(f"{name}@{alias}") == ref


@given(st.text(max_size=60))
def test_the_parser_only_ever_raises_invalid_input(text: str) -> None:
    try:
        ref = parse_model_uri(text)
    except InvalidInput:
        return
    validate_model_name(ref.name)
    assert [ref.version, ref.alias, ref.stage, ref.latest or None].count(None) == 3
