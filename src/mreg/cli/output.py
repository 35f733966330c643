"""Where command results go: JSON for scripts, Rich on a terminal, plain text when piped.

Data goes to stdout, messages and errors to stderr. Rich is imported lazily (``render``), so a
command whose output is piped or JSON never pays for it.

Text from the store may hold control characters (see ``mreg.textsafe``): table cells are escaped
here as one-line fields, and every line written goes through ``escape_text`` as a last guard, so no
control character but newline and tab reaches the terminal whatever a command forgot. A command
escapes a one-line field it prints outside a table with ``escape_line``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from mreg.textsafe import escape_line, escape_text, json_safe


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def emit_json(data: Any) -> None:
    """Indented for a person at a terminal; one line otherwise, which the C encoder writes ten
    times faster (a listing of 10,000 versions). Scripts parse it: whitespace is no contract."""
    import json  # not at the top: `--field` and plain output never pay for it

    indent = 2 if stdout_is_terminal() else None
    sys.stdout.write(json_safe(json.dumps(data, indent=indent, ensure_ascii=False)) + "\n")


def emit_line(text: str) -> None:
    sys.stdout.write(escape_text(text) + "\n")


def message(text: str) -> None:
    """A one-line message for the person at the terminal (stderr, so stdout stays data)."""
    sys.stderr.write(escape_line(text) + "\n")


def report(data: Any, text: str, *, as_json: bool, quiet: bool) -> None:
    """The result of a command that changes something: ``data`` as JSON with ``--json``, else
    ``text`` as a message for the person, unless ``-q``."""
    if as_json:
        emit_json(data)
    elif not quiet:
        message(text)


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded with two spaces; the last column is not padded. Cells are one-line fields."""
    count = len(headers)
    if count and all(len(row) == count for row in rows):
        cells = [cell for row in rows for cell in row]
        if "".join(cells).isprintable():  # nothing to escape in any cell (checked in C)
            return _plain_columns([escape_line(cell) for cell in headers], rows)
    return cell_by_cell(headers, rows)


def cell_by_cell(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """``plain_table`` made one cell at a time: any cell may need escaping, rows may be ragged."""
    headers = [escape_line(cell) for cell in headers]
    rows = [[escape_line(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _plain_columns(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """``plain_table`` of rows of as many cells as ``headers``, none of which needs escaping:
    each line made by one ``%`` format of the column widths (a listing prints 10,000 rows)."""
    widths = (
        [
            max(len(header), *map(len, column))
            for header, column in zip(headers, zip(*rows, strict=True), strict=True)
        ]
        if rows
        else [len(h) for h in headers]
    )
    line = "  ".join([f"%-{width}s" for width in widths[:-1]] + ["%s"])
    return "\n".join([(line % tuple(row)).rstrip() for row in [headers, *rows]])


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None) -> None:
    """A table: Rich on a terminal, plain columns otherwise."""
    if stdout_is_terminal():
        from mreg.cli import render

        render.table(headers, rows, title=title)
    elif rows:
        emit_line(plain_table(headers, rows))
