"""Validation of everything a caller names (DESIGN §1): models, aliases, tags, versions, stages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mreg import names
from mreg.errors import InvalidInput

GOOD_MODEL_NAMES = [
    "fraud",
    "Iris Classifier",  # inner spaces, as MLflow users name models
    "a",
    "7",
    "model-v2.onnx_export",
    "a" * 128,
    "CONSOLE",  # only the exact device names are reserved
    "con-model",
    "LPT10",
    "a.b.c",
]

BAD_MODEL_NAMES = [
    ("", "must not be empty"),
    ("../x", "invalid model name '../x'"),
    ("a/b", "invalid model name 'a/b'"),
    ("a\\b", "invalid model name"),
    (".hidden", "starting with a letter or digit"),
    ("-x", "starting with a letter or digit"),
    (" x", "starting with a letter or digit"),
    ("x ", "may not end with a space"),
    ("x.", "may not end with a space or '.'"),
    ("a..b", "may not contain '..'"),
    ("CON", "reserved device name"),
    ("con", "reserved device name"),
    ("con.txt", "reserved device name"),
    ("NUL.tar.gz", "reserved device name"),
    ("Com1", "reserved device name"),
    ("lpt9", "reserved device name"),
    ("AUX", "reserved device name"),
    ("PRN", "reserved device name"),
    ("a" * 129, "129 characters long; the limit is 128"),
    ("naïve", "invalid model name"),
    ("tab\there", "invalid model name"),
    ("new\nline", "invalid model name"),
    ("a:b", "invalid model name"),
    ("a@b", "invalid model name"),
    ("a*b", "invalid model name"),
]


@pytest.mark.parametrize("name", GOOD_MODEL_NAMES)
def test_valid_model_names_are_accepted_unchanged(name: str) -> None:
    assert names.validate_model_name(name) == name


@pytest.mark.parametrize(("name", "why"), BAD_MODEL_NAMES)
def test_invalid_model_names_are_refused_with_the_reason(name: str, why: str) -> None:
    with pytest.raises(InvalidInput) as err:
        names.validate_model_name(name)
    assert why in str(err.value)
    assert "\n" not in str(err.value)


def test_a_very_long_bad_name_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidInput) as err:
        names.validate_model_name("/" * 100)
    assert len(str(err.value)) < 200


@pytest.mark.parametrize(
    "alias", ["champion", "challenger", "a", "A-b_c", "x" * 255, "v", "vnext", "v1a", "latest2"]
)
def test_valid_aliases(alias: str) -> None:
    assert names.validate_alias(alias) == alias


@pytest.mark.parametrize(
    ("alias", "why"),
    [
        ("latest", "reserved"),
        ("LATEST", "reserved"),
        ("Latest", "reserved"),
        ("v1", "reserved"),
        ("V12", "reserved"),
        ("v007", "reserved"),
        ("", "must not be empty"),
        ("x" * 256, "256 characters long; the limit is 255"),
        ("a.b", "invalid alias"),
        ("a b", "invalid alias"),
        ("a/b", "invalid alias"),
        ("@champion", "invalid alias"),
        ("chämpion", "invalid alias"),
    ],
)
def test_invalid_and_reserved_aliases_are_refused(alias: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        names.validate_alias(alias)


@pytest.mark.parametrize("key", ["team", "mlflow.source.git", "a/b", "with space", "k:v", "x-y_z", "k" * 250])
def test_valid_tag_keys(key: str) -> None:
    assert names.validate_tag_key(key) == key


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("", "must not be empty"),
        ("k" * 251, "251 characters long; the limit is 250"),
        ("a=b", "invalid tag key"),
        ("ké", "invalid tag key"),
        ("a\nb", "invalid tag key"),
        ("a@b", "invalid tag key"),
    ],
)
def test_invalid_tag_keys(key: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        names.validate_tag_key(key)


def test_tag_values_may_be_long_multiline_unicode_but_not_longer_than_100000() -> None:
    start = "ünïcode\tand\nlines "
    value = start + "x" * (100_000 - len(start))
    assert len(value) == 100_000
    assert names.validate_tag_value(value) == value
    with pytest.raises(InvalidInput, match="100001 characters long; the limit is 100000"):
        names.validate_tag_value(value + "x")


@pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\x7f", "\ud800"])
def test_free_text_refuses_control_characters_and_lone_surrogates(bad: str) -> None:
    with pytest.raises(InvalidInput, match="forbidden character"):
        names.validate_text(f"ok{bad}", "description")


def test_empty_tag_value_is_allowed() -> None:
    assert names.validate_tags({"k": ""}) == {"k": ""}


@pytest.mark.parametrize(("given", "expected"), [(1, 1), ("7", 7), (" 12 ", 12), (2**53, 2**53)])
def test_valid_versions(given: int | str, expected: int) -> None:
    assert names.validate_version(given) == expected


@pytest.mark.parametrize("bad", [0, -1, "0", "-1", "1.5", "x", "", "\u0661", True, 2**53 + 1, "latest"])
def test_invalid_versions(bad: int | str) -> None:
    with pytest.raises(InvalidInput, match="invalid version"):
        names.validate_version(bad)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("none", "None"),
        ("NONE", "None"),
        ("staging", "Staging"),
        ("STAGING", "Staging"),
        ("Production", "Production"),
        ("production", "Production"),
        ("archived", "Archived"),
    ],
)
def test_stages_are_case_insensitive_with_canonical_spelling(given: str, canonical: str) -> None:
    assert names.canonical_stage(given) == canonical


@pytest.mark.parametrize("bad", ["prod", "", "Deployed", "staging "])
def test_unknown_stages_are_refused_listing_the_known_ones(bad: str) -> None:
    with pytest.raises(InvalidInput, match="None, Staging, Production, Archived"):
        names.canonical_stage(bad)


def test_key_value_pairs_split_on_the_first_equals_sign() -> None:
    assert names.parse_key_value("query=a=b") == ("query", "a=b")
    assert names.parse_key_value("empty=") == ("empty", "")
    with pytest.raises(InvalidInput, match="expected KEY=VALUE"):
        names.parse_key_value("novalue")
    with pytest.raises(InvalidInput, match="tag key must not be empty"):
        names.parse_key_value("=v")


@pytest.mark.parametrize("run_id", ["8f2c", "a" * 256])
def test_valid_run_ids(run_id: str) -> None:
    assert names.validate_run_id(run_id) == run_id


@pytest.mark.parametrize(("run_id", "why"), [("a b", "white space"), ("a" * 257, "limit is 256")])
def test_invalid_run_ids(run_id: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        names.validate_run_id(run_id)


@given(st.text(max_size=140))
def test_an_accepted_model_name_is_always_a_safe_folder_name(name: str) -> None:
    try:
        names.validate_model_name(name)
    except InvalidInput:
        return
    assert "/" not in name and "\\" not in name and ".." not in name
    assert name.isascii() and name.isprintable()
    assert not name.startswith((".", " ", "-")) and not name.endswith((".", " "))
    assert 1 <= len(name) <= 128
