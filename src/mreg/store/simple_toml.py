"""A fast reader for the plain subset of TOML that mreg's own writer (tomli-w) produces.

Reading 10,000 version files with ``tomllib`` costs half a second of pure-Python parsing; this
reader handles what the store's writer emits (``key = value`` lines with basic strings, integers,
booleans and offset date-times; ``[table]`` and ``[[array]]`` headers) in a third of that time.
Anything outside that subset (a comment, a float, an inline table, a literal string, a duplicate
key, CRLF line endings …) makes it return None, and the caller hands the text to ``tomllib``,
which then also produces the error message for a broken file. So whenever this reader returns a
value, it is the value ``tomllib`` returns; the tests check that on generated documents.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

# A basic string's body: characters but quote, backslash and controls (tab is allowed), and
# escapes; written as "plain* (escape plain*)*" so that the regex engine does not backtrack.
_PLAIN = r'[^"\\\x00-\x08\x0a-\x1f\x7f]*'
STRING_BODY = rf'{_PLAIN}(?:\\(?:["\\bfnrt]|u[0-9A-Fa-f]{{4}}|U[0-9A-Fa-f]{{8}}){_PLAIN})*'
KEY = rf'(?:[A-Za-z0-9_-]+|"{STRING_BODY}")'
_STRING = rf'"({STRING_BODY})"'
# An offset date-time as tomli-w writes it (``datetime.fromisoformat`` reads it as tomllib does;
# the lower-case ``t`` and ``z`` TOML also allows are left to tomllib).
DATETIME = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
# One ``key = value`` line; the value's kind is the number of the last group that matched.
_KEY_VALUE_LINE = re.compile(
    rf"({KEY})[ \t]*=[ \t]*"
    rf"(?:{_STRING}|(-?(?:0|[1-9][0-9]*))(?![0-9.eE_:-])|(true|false)|({DATETIME}))[ \t]*\n"
)
_STRING_VALUE, _INTEGER_VALUE, _BOOLEAN_VALUE, _DATETIME_VALUE = 2, 3, 4, 5
_HEADER = re.compile(rf"(\[\[?)({KEY}(?:\.{KEY})*)(\]\]?)[ \t]*\n")
_HEADER_PART = re.compile(KEY)
_ESCAPE = re.compile(r'\\(["\\bfnrt]|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})')
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class NotSimple(Exception):
    """The document leaves the subset: let tomllib read it."""


def _unescape_one(match: re.Match[str]) -> str:
    code = match.group(1)
    if code in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[code]
    value = int(code[1:], 16)
    if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
        raise NotSimple
    return chr(value)


def unescape(body: str) -> str:
    """A basic string's body (between the quotes) as the string it stands for."""
    if "\\" not in body:
        return body
    return _ESCAPE.sub(_unescape_one, body)


def _key(text: str) -> str:
    return unescape(text[1:-1]) if text.startswith('"') else text


@functools.lru_cache(maxsize=256)
def _header_path(dotted: str) -> tuple[str, ...]:
    """``artifact.files`` → ``['artifact', 'files']`` (headers repeat in every file: cached)."""
    return tuple(_key(part.group(0)) for part in _HEADER_PART.finditer(dotted))


def _open_table(
    root: dict[str, Any], path: tuple[str, ...], *, array: bool, explicit: set[int]
) -> dict[str, Any]:
    """The table a ``[path]`` or ``[[path]]`` header opens, with TOML's rules: intermediate tables
    are created implicitly, a table is declared once, ``[[path]]`` appends to an array of tables."""
    table = root
    for part in path[:-1]:
        child = table.setdefault(part, {})
        if isinstance(child, list):
            child = child[-1]
        if not isinstance(child, dict):
            raise NotSimple
        table = child
    last = path[-1]
    current = table.get(last)
    if array:
        if current is None:
            current = table[last] = []
        if not isinstance(current, list):
            raise NotSimple
        new: dict[str, Any] = {}
        current.append(new)
        explicit.add(id(new))
        return new
    if current is None:
        current = table[last] = {}
    if not isinstance(current, dict) or id(current) in explicit:
        raise NotSimple
    explicit.add(id(current))
    return current


def _parse(text: str) -> dict[str, Any]:
    root: dict[str, Any] = {}
    table = root
    explicit: set[int] = set()
    pos, end = 0, len(text)
    key_value, header = _KEY_VALUE_LINE.match, _HEADER.match
    while pos < end:
        first = text[pos]
        if first == "\n":
            pos += 1
            continue
        if first == "[":
            m = header(text, pos)
            if m is None or len(m.group(1)) != len(m.group(3)):
                raise NotSimple
            table = _open_table(root, _header_path(m.group(2)), array=len(m.group(1)) == 2, explicit=explicit)
            pos = m.end()
            continue
        m = key_value(text, pos)
        if m is None:  # a comment, an indented or blank-with-spaces line, another kind of value …
            raise NotSimple
        key = m.group(1)
        if key[0] == '"':
            key = unescape(key[1:-1])
        if key in table:
            raise NotSimple
        kind = m.lastindex or 0
        value = m.group(kind)
        if kind == _STRING_VALUE:
            table[key] = unescape(value) if "\\" in value else value
        elif kind == _INTEGER_VALUE:
            number = int(value) if len(value) <= 20 else None
            if number is None or not -(2**63) <= number < 2**63:
                raise NotSimple  # outside TOML's 64-bit range: parse_toml reports it
            table[key] = number
        elif kind == _BOOLEAN_VALUE:
            table[key] = value == "true"
        else:
            try:
                table[key] = dt.datetime.fromisoformat(value)
            except ValueError:
                raise NotSimple from None
        pos = m.end()
    return root


def parse_simple_toml(text: str) -> dict[str, Any] | None:
    """The document as ``tomllib.loads`` returns it, or None if it is outside the simple subset."""
    if text and not text.endswith("\n"):
        text += "\n"
    try:
        return _parse(text)
    except NotSimple:
        return None
