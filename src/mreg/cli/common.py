"""What every command shares: the global options, the registry they open, typed option aliases."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mreg.cli import complete
from mreg.cli.actions import Field
from mreg.cli.options import options
from mreg.errors import IntegrityError, InvalidInput
from mreg.textsafe import human_size as human_size  # re-exported for the commands

if TYPE_CHECKING:
    from mreg.entities import ModelVersion
    from mreg.registry import Registry
    from mreg.search import VersionHit


def open_registry(ctx: typer.Context) -> Registry:
    from mreg.registry import Registry

    opts = options(ctx)
    return Registry(opts.store, lock_timeout=opts.lock_timeout)


Description = Annotated[str | None, typer.Option("--description", "-d", help="Markdown description.")]
DescriptionFile = Annotated[
    Path | None, typer.Option("--description-file", "-D", help="Read the Markdown description from a file.")
]


def read_description(text: str | None, file: Path | None) -> str | None:
    """``--description`` or ``--description-file`` (Markdown), not both."""
    if text is not None and file is not None:
        raise InvalidInput("give --description or --description-file, not both")
    if file is None:
        return text
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        from mreg.errors import NotFound

        raise NotFound(f"description file {file} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"cannot read description file {file}: {err}") from None


def parse_since(text: str | None) -> dt.datetime | None:
    """``2026-11-01``, ``2026-11-01T09:30``, with an optional offset; naive means UTC."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"invalid date {text!r}: expected ISO-8601, e.g. 2026-11-01 or 2026-11-01T09:30Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def short_time(when: dt.datetime | None) -> str:
    """``2026-11-26 10:35:40`` (UTC) for tables; JSON carries the full ISO form."""
    if when is None:
        return ""
    when = when.astimezone(dt.UTC)
    if when.year >= 1000:  # four digits: the ISO form's first 19 characters, without strftime
        return when.isoformat(" ")[:19]
    from mreg.entities import iso

    return (iso(when) or "")[:19].replace("T", " ")


def version_row(mv: ModelVersion, *, with_name: bool) -> list[str]:
    return [
        *([mv.name] if with_name else []),
        str(mv.version),
        ",".join(mv.aliases),
        "" if mv.current_stage == "None" else mv.current_stage,
        short_time(mv.created_at),
        mv.user_id,
        human_size(mv.artifact.size) if mv.artifact.kind != "uri" else "ref",
        mv.run_id or "",
    ]


VERSION_HEADERS = ["version", "aliases", "stage", "created", "by", "size", "run"]

Json = Annotated[bool, typer.Option("--json", help="Print JSON (documented in docs/json-output.md).")]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="No messages; print only the essential value, if any.")
]
Message = Annotated[str | None, typer.Option("--message", "-m", help="Why: recorded in the model's history.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


FieldOpt = Annotated[
    Field | None,
    typer.Option("--field", "-f", help="Print only this value of the version, for $(…) in scripts."),
]
FilterOpt = Annotated[
    str | None,
    typer.Option(
        "--filter",
        help="MLflow's search filter, e.g. \"tags.team = 'risk' AND name LIKE 'fraud%'\" (docs/search.md).",
        show_default=False,
    ),
]
OrderBy = Annotated[
    list[str] | None,
    typer.Option(
        "--order-by", help="KEY [ASC|DESC], e.g. 'creation_timestamp DESC'; repeatable.", show_default=False
    ),
]
PageToken = Annotated[
    str | None,
    typer.Option(
        "--page-token", help="Continue a search: the token the previous page printed.", show_default=False
    ),
]


def next_page_hint(token: str | None) -> None:
    """Tell the person at the terminal that there is more (stderr; scripts read the JSON's
    ``next_page_token``)."""
    if token:
        from mreg.cli.output import message

        message(f"more results: run again with --page-token {token}")


_CONTROL_RE = r"[\x00-\x1f\x7f-\x9f]"


def _escape_controls(text: str) -> str:
    """Control characters shown as Python escapes (``\x1b``), so a name from the store cannot
    drive the terminal."""
    import re

    return re.sub(_CONTROL_RE, lambda m: repr(m.group())[1:-1], text)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Around a listing that makes a few objects for each of thousands of entries and frees
    them all at the end: Python's cycle collector, run every few hundred new objects and now
    and then over every object of the process (Typer's and Click's included), finds nothing to
    free there and cost a tenth of the listing's time."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def hit_rows(hits: Sequence[VersionHit], *, with_name: bool) -> list[list[str]]:
    """``version_row`` of each version a listing found, from its record (no ``ModelVersion``
    made); a size shown once is not formatted again."""
    sizes: dict[int | None, str] = {}
    rows = []
    for hit in hits:
        record = hit.record
        artifact = record.artifact
        if artifact.kind == "uri":
            size = "ref"
        else:
            size = sizes.get(artifact.size) or sizes.setdefault(artifact.size, human_size(artifact.size))
        row = [
            str(hit.version),
            ",".join(hit.aliases),
            "" if record.stage == "None" else record.stage,
            short_time(record.created_at),
            record.created_by,
            size,
            record.run_id,
        ]
        rows.append([hit.name, *row] if with_name else row)
    return rows


def finish_listing(problems: Sequence[Exception]) -> None:
    """After a listing has printed every entry it could read: one line ``error: …`` on stderr
    for each entry it could not (each names its file), and exit 5 when there was any."""
    if not problems:
        return
    for problem in problems:
        sys.stderr.write(f"error: {_escape_controls(str(problem))}\n")
    raise typer.Exit(IntegrityError.exit_code)


# The NAME argument of every command that takes a model, completed from the store.
ModelName = Annotated[
    str,
    typer.Argument(
        help="The registered model's name.", show_default=False, autocompletion=complete.model_names
    ),
]
