"""Property-based tests: for any name, alias, tag or text, mreg either refuses it with a clean
error and creates nothing, or stores it inside the store and reads back exactly what was written.

The strategies lean on what breaks file systems and parsers: lone surrogates, NUL and other
control characters, NFC and NFD forms of one word, Windows device names, trailing dots and
spaces, path separators, '..', very long values."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import snapshot
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mreg import AlreadyExists, InvalidInput, ModelRef, MregError, NotFound, Registry, parse_model_uri
from mreg.names import VERSION_MAX

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TRICKY = [
    "\x00",
    "\n",
    "\r",
    "\t",
    "\x1b",
    "\x7f",
    "\x85",
    "\x9b",
    "\ud800",
    "\udcff",
    "\udfff",
    "\u0300",
    "\u202e",
    "\ufeff",
    "\uffff",
    "\U0001f600",
    "/",
    "\\",
    ".",
    " ",
    ":",
    "=",
    '"',
    "'",
    "[",
    "#",
    "é",
    "ß",
    "İ",
    "ﬁ",
]
WORDS = [
    "CON",
    "con",
    "Nul",
    "AUX",
    "COM1",
    "LPT9",
    "COM0",
    "CONIN$",
    "latest",
    "LATEST",
    "v1",
    "V007",
    "..",
    ".",
    "fraud",
    "Iris Classifier",
    unicodedata.normalize("NFC", "modèle"),
    unicodedata.normalize("NFD", "modèle"),
]


def tricky_text(max_size: int) -> st.SearchStrategy[str]:
    """Text built from tricky characters, ASCII, any Unicode (surrogates too) and tricky words,
    with trailing dots or spaces now and then."""
    pieces = st.one_of(
        st.sampled_from(TRICKY),
        st.sampled_from(WORDS),
        st.text(st.characters(codec="ascii"), max_size=12),
        st.text(st.characters(), max_size=6),
    )
    base = st.lists(pieces, max_size=6).map("".join)
    return st.tuples(base, st.sampled_from(["", "", ".", " ", "..", ". "])).map(
        lambda parts: (parts[0] + parts[1])[:max_size]
    )


NAMES = st.one_of(tricky_text(140), st.sampled_from(WORDS), st.text(min_size=120, max_size=140))
ALIASES = st.one_of(
    tricky_text(260), st.sampled_from(WORDS), st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)
)
TAG_KEYS = st.one_of(tricky_text(260), st.from_regex(r"[A-Za-z0-9_./ :-]{1,30}", fullmatch=True))
TEXTS = st.one_of(tricky_text(300), st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=300))


@pytest.fixture
def one_version(registry: Registry, isolated: Path) -> Iterator[Registry]:
    (isolated / "model.bin").write_bytes(b"weights\n")
    registry.create_model_version("m", isolated / "model.bin")
    outside = sorted(p.name for p in isolated.iterdir())
    yield registry
    assert sorted(p.name for p in isolated.iterdir()) == outside  # nothing written beside the store


def refused_or_round_trip(
    one_version: Registry, change: Callable[[], Any], check: Callable[[], None], undo: Callable[[], None]
) -> bool:
    """Run ``change``: if mreg refuses, it raised one of its own errors, with a one-line message,
    and the store is as it was; if it accepts, ``check`` reads it back and ``undo`` reverts it.
    Every file of the store stays inside it either way. Returns whether it was accepted."""
    before = snapshot(one_version.root, everything=True)
    try:
        change()
    except (InvalidInput, AlreadyExists) as err:
        message = str(err)
        assert message and "\n" not in message and "\x00" not in message
        message.encode("utf-8")  # printable: no lone surrogate leaks into the message
        assert snapshot(one_version.root, everything=True) == before
        return False
    check()
    for folder, dirnames, filenames in os.walk(one_version.root):
        for name in dirnames + filenames:
            path = os.path.join(folder, name)
            assert not os.path.islink(path)
            assert os.path.realpath(path).startswith(str(one_version.root) + os.sep)
    undo()
    return True


WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{b}{n}" for b in ("COM", "LPT") for n in range(10)
}


def valid_name_by_the_rules(name: str) -> bool:
    """An independent statement of DESIGN §1's model name rules."""
    import re

    devices = WINDOWS_DEVICES
    return (
        0 < len(name) <= 128
        and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._ -]*", name) is not None
        and not name.endswith((" ", "."))
        and ".." not in name
        and name.split(".")[0].rstrip(" ").upper() not in devices
    )


@SETTINGS
@given(name=NAMES)
@example("Iris Classifier")
@example("a.b-c_d 9")
@example("CON")
@example("com1.txt")
@example("x.")
@example("x ")
@example("mode\u0300le")
@example("a\udcff")
@example("../x")
def test_model_names(one_version: Registry, name: str) -> None:
    def check() -> None:
        assert valid_name_by_the_rules(name)
        assert one_version.get_registered_model(name).name == name
        assert name in Registry(one_version.root).model_names()
        assert (one_version.root / "models" / name / "model.toml").is_file()

    accepted = refused_or_round_trip(
        one_version,
        lambda: one_version.create_registered_model(name, description="d"),
        check,
        lambda: one_version.delete_registered_model(name),
    )
    if not accepted and valid_name_by_the_rules(name):
        assert name.casefold() == "m"  # the only name taken


@SETTINGS
@given(name=NAMES)
@example("Renamed")
@example("M")
@example("nul")
def test_renaming_to_any_name(one_version: Registry, name: str) -> None:
    def check() -> None:
        assert valid_name_by_the_rules(name)
        assert [mv.version for mv in one_version.list_model_versions(name)] == [1]

    refused_or_round_trip(
        one_version,
        lambda: one_version.rename_registered_model("m", name),
        check,
        lambda: one_version.rename_registered_model(name, "m"),
    )


@SETTINGS
@given(alias=ALIASES)
@example("champion")
@example("Latest")
@example("v12")
@example("con")
@example("a.b")
@example("x" * 255)
@example("x" * 256)
def test_aliases(one_version: Registry, alias: str) -> None:
    def check() -> None:
        assert alias.isascii() and alias.lower() != "latest" and alias.upper() not in WINDOWS_DEVICES
        assert Registry(one_version.root).get_aliases("m") == {alias: 1}
        assert one_version.resolve(ModelRef("m", alias=alias)).version == 1

    refused_or_round_trip(
        one_version,
        lambda: one_version.set_registered_model_alias("m", alias, 1),
        check,
        lambda: one_version.delete_registered_model_alias("m", alias),
    )


@SETTINGS
@given(key=TAG_KEYS, value=TEXTS)
@example("task", "fraud")
@example("a/b: c.d", unicodedata.normalize("NFD", "modèle"))
@example("k", "line one\nline two\r\n\ttab \U0001f600 \u202e")
@example("k", "x" * 100_000)
@example("k", "x" * 100_001)
@example("k", "a\x00")
@example("k=v", "x")
def test_tags(one_version: Registry, key: str, value: str) -> None:
    def check() -> None:
        fresh = Registry(one_version.root)  # read back from the files, not from memory
        assert fresh.get_model_version("m", 1).tags == {key: value}
        assert fresh.get_registered_model("m").tags == {key: value}

    def change() -> None:
        one_version.set_model_version_tag("m", 1, key, value)
        one_version.set_registered_model_tag("m", key, value)

    def undo() -> None:
        one_version.delete_model_version_tag("m", 1, key)
        one_version.delete_registered_model_tag("m", key)

    refused_or_round_trip(one_version, change, check, undo)


@SETTINGS
@given(text=TEXTS, message=TEXTS)
@example("# Title\n\nSome *Markdown* with \u00e9 and \U0001f600", "why")
@example("\udcff", "")
@example("ok", "\x1b[2J")
def test_descriptions_and_messages(one_version: Registry, text: str, message: str) -> None:
    def check() -> None:
        fresh = Registry(one_version.root)
        assert fresh.get_registered_model("m").description == (text or None)
        assert fresh.get_model_version("m", 1).description == (text or None)
        if text:
            assert fresh.get_history("m")[-1].message == (message or None)

    def change() -> None:
        one_version.update_registered_model("m", text, message=message)
        one_version.update_model_version("m", 1, text, message=message)

    def undo() -> None:
        one_version.update_registered_model("m", "")
        one_version.update_model_version("m", 1, "")

    refused_or_round_trip(one_version, change, check, undo)


def test_normalization_forms_are_kept_apart(one_version: Registry) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "modèle"), unicodedata.normalize("NFD", "modèle")
    assert nfc != nfd
    one_version.set_registered_model_tags("m", {"nfc": nfc, "nfd": nfd})
    tags = Registry(one_version.root).get_registered_model("m").tags
    assert tags["nfc"] == nfc and tags["nfd"] == nfd


@SETTINGS
@given(version=st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=25)))
def test_version_numbers(one_version: Registry, version: int | str) -> None:
    try:
        one_version.get_model_version("m", version)
    except InvalidInput:
        return
    except NotFound:
        number = int(str(version).strip())
        assert 1 <= number <= VERSION_MAX and number != 1
    else:
        assert int(str(version).strip()) == 1


@SETTINGS
@given(uri=st.one_of(tricky_text(80), st.from_regex(r"models:/[A-Za-z0-9 ._-]{1,10}[/@][A-Za-z0-9_-]{1,8}")))
def test_uris_parse_or_are_refused(uri: str) -> None:
    try:
        ref = parse_model_uri(uri)
    except InvalidInput as err:
        assert "\n" not in str(err)
        return
    assert parse_model_uri(str(ref)) == ref
    assert valid_name_by_the_rules(ref.name)


def test_errors_are_mreg_errors_for_any_type(one_version: Registry) -> None:
    for value in [None, 1, 1.5, b"bytes", object()]:
        for call in (
            lambda v=value: one_version.create_registered_model(v),
            lambda v=value: one_version.set_registered_model_alias("m", v, 1),
            lambda v=value: one_version.set_registered_model_tag("m", v, "x"),
            lambda v=value: one_version.update_registered_model("m", v or 1),  # None: no description
        ):
            with pytest.raises(MregError):
                call()
