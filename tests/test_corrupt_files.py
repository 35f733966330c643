"""A table of corrupted files, each placed as a model.toml, a version file and an alias file:
commands exit 1 with one line naming the file and the line (no traceback unless --debug), and
fsck exits 5 naming the same."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from helpers import Cli

from mreg import Registry
from mreg.store.files import MAX_METADATA_BYTES

Corruption = Callable[[bytes], tuple[bytes, int | None]]  # original → (content, line named or None)


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def truncated(data: bytes) -> tuple[bytes, int | None]:
    """Cut inside the value of the last key: what a torn, non-atomic write would leave."""
    lines = _lines(data)
    number = max(i for i, line in enumerate(lines) if b" = " in line)
    line = lines[number]
    cut = line.index(b" = ") + 3 + (1 if line[line.index(b" = ") + 3 :].startswith(b'"') else 0)
    return b"".join(lines[:number]) + line[:cut], number + 1


def unterminated_table(data: bytes) -> tuple[bytes, int | None]:
    return b"[lineage\n" + data, 1


def duplicate_key(data: bytes) -> tuple[bytes, int | None]:
    lines = _lines(data)
    return b"".join([lines[0], lines[0], *lines[1:]]), 2


def conflict_markers(data: bytes) -> tuple[bytes, int | None]:
    lines = _lines(data)
    theirs = b"".join(lines[1:]).replace(b"1", b"2")
    return b"".join([lines[0], b"<<<<<<< HEAD\n", *lines[1:], b"=======\n", theirs, b">>>>>>> feature\n"]), 2


def wrong_type(data: bytes) -> tuple[bytes, int | None]:
    lines = _lines(data)
    for number, line in enumerate(lines):
        key = line.split(b" = ")[0]
        if key in (b"created_by", b"version"):
            replacement = b'version = "seven"\n' if key == b"version" else b"created_by = 42\n"
            return b"".join([*lines[:number], replacement, *lines[number + 1 :]]), number + 1
    raise AssertionError("no key to corrupt")


def empty(data: bytes) -> tuple[bytes, int | None]:
    return b"", 1


def invalid_utf8(data: bytes) -> tuple[bytes, int | None]:
    lines = _lines(data)
    return b"".join([lines[0], b"# caf\xe9 (Latin-1)\n", *lines[1:]]), 2


def too_big(data: bytes) -> tuple[bytes, int | None]:
    return data + b"#" * (2 * 1024 * 1024) + b"\n", None


CORRUPTIONS: dict[str, Corruption] = {
    "truncated": truncated,
    "unterminated table": unterminated_table,
    "duplicate key": duplicate_key,
    "conflict markers": conflict_markers,
    "wrong type": wrong_type,
    "empty": empty,
    "invalid UTF-8": invalid_utf8,
    "2 MiB": too_big,
}

# file inside the store → commands that must read it
TARGETS: dict[str, list[list[str]]] = {
    "models/m/model.toml": [["models", "show", "m"], ["models", "list"], ["tag", "set", "m", "k=v"]],
    "models/m/versions/1.toml": [
        ["versions", "show", "m", "1"],
        ["versions", "list", "m"],
        ["resolve", "m/1", "--field", "path"],
    ],
    "models/m/aliases/champion": [["resolve", "m@champion"], ["alias", "list", "m"], ["models", "show", "m"]],
}


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupted_file(populated: Registry, cli: Cli, target: str, corruption: str) -> None:
    path = populated.root / target
    content, line = CORRUPTIONS[corruption](path.read_bytes())
    path.write_bytes(content)
    shown = f".mreg/{target}"
    where = re.escape(shown) + (rf":{line}(:\d+)?: " if line else r":? ")
    for args in TARGETS[target]:
        result = cli(*args)
        # a damaged store file is an integrity failure; a listing shows what it can read and also
        # exits 5 for the rest
        assert result.exit_code == 5, (args, result.stderr)
        assert re.match(rf"error: {where}", result.stderr), (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        if corruption == "conflict markers":
            assert "unresolved git merge conflict" in result.stderr
    debug = cli("--debug", *TARGETS[target][0])
    assert debug.exit_code == 5
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip("\n").splitlines()[-1] == result.stderr.rstrip("\n") or re.search(
        rf"error: {where}", debug.stderr
    )
    fsck = cli("fsck")
    assert fsck.exit_code == 5
    assert re.search(rf"^error +{where}", fsck.stdout, re.MULTILINE), fsck.stdout
    assert fsck.stderr.startswith("error: fsck found ")
    if corruption == "conflict markers":
        assert "unresolved git merge" in fsck.stdout and "resolve them in git first" in fsck.stderr
    as_json = cli("fsck", "--json")
    assert as_json.exit_code == 5 and '"ok": false' in as_json.stdout


def test_a_deeply_nested_value_is_an_error_not_a_crash(populated: Registry, cli: Cli) -> None:
    path = populated.root / "models/m/model.toml"
    path.write_bytes(path.read_bytes() + b"deep = " + b"[" * 5000 + b"]" * 5000 + b"\n")
    result = cli("models", "show", "m")
    assert result.exit_code == 5
    assert result.stderr == "error: .mreg/models/m/model.toml: invalid TOML: values nested too deeply\n"


def test_the_size_limit_is_the_metadata_limit() -> None:
    assert MAX_METADATA_BYTES < 2 * 1024 * 1024
