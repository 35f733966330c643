"""Text from the store, made safe to print.

Everything under ``.mreg/`` may come from someone else (a pull request, a clone), so a description,
a tag, a user name or a folder name may hold characters that drive a terminal instead of showing
on it: ESC sequences that set the window title, clear the screen or print a hyperlink, C1 controls,
and the bidirectional overrides that make text read differently from what it is. Every string that
comes from the store and is printed as text goes through one of the two functions here, and shows
such a character as a visible escape (``\\x1b``, ``\\u202e``) instead. ``--json`` keeps exact values
(see ``json_safe``): JSON's own escapes carry them.
"""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


# C0 controls, DEL, C1 controls, the bidi embeddings and overrides (U+202A-U+202E) and isolates
# (U+2066-U+2069).
_LINE_TABLE = {code: _visible(chr(code)) for code in [*range(0x20), *range(0x7F, 0xA0)]} | {
    code: _visible(chr(code)) for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
}
_TEXT_TABLE = {code: text for code, text in _LINE_TABLE.items() if chr(code) not in "\n\t"}
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def escape_line(text: str) -> str:
    """``text`` for one line of output (a table cell, a field, an error message): every control
    character escaped, newline and tab included, so that stored text cannot start a line of its own.
    """
    if text.isprintable():  # the common case, checked in C
        return text
    return text.translate(_LINE_TABLE)


def escape_text(text: str) -> str:
    """``text`` that spans lines (a Markdown description): newlines and tabs kept, every other
    control character escaped (a carriage return too: it would let a line overwrite another)."""
    if text.isprintable():
        return text
    return text.translate(_TEXT_TABLE)


def json_safe(document: str) -> str:
    """A JSON document with the characters JSON leaves raw (DEL, C1 controls, bidi overrides)
    written as ``\\uXXXX`` escapes: the same values once parsed, nothing for a terminal to obey.
    JSON syntax is ASCII, so such a character can only be inside a string."""
    if document.isascii() and "\x7f" not in document:
        return document
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", document)


def unsafe_characters() -> str:
    """Every character this module escapes (for tests and docs)."""
    return "".join(chr(code) for code in _LINE_TABLE)


def human_size(size: int | None) -> str:
    """``976.6 KiB``: a byte count for people (the command line and the page); "" for None."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)
