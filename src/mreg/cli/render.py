"""Rich rendering, imported only when output goes to a terminal.

Stored text is never read as Rich markup (it goes in as ``Text``) and its control characters are
escaped before layout (``cell``, ``SafeMarkdown``). A description is escaped once more after
rendering, since Markdown turns entities such as ``&#27;`` into the characters they name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markdown import Markdown
from rich.panel import Panel
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from mreg.entities import ModelVersion, RegisteredModel
from mreg.textsafe import escape_line, escape_text


def escaped_segments(segments: Iterable[Segment]) -> Iterator[Segment]:
    """Rendered output with the control characters of its text escaped. Rich's own control
    segments (cursor moves of a progress bar) stay as they are."""
    for segment in segments:
        if segment.control:
            yield segment
        else:
            yield Segment(escape_text(segment.text), segment.style)


class SafeMarkdown:
    """A Markdown description: its text escaped before layout, links shown as text with their
    target (not as terminal hyperlinks whose target the reader cannot see)."""

    def __init__(self, text: str) -> None:
        self.markdown = Markdown(escape_text(text), hyperlinks=False)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from escaped_segments(console.render(self.markdown, options))


def cell(text: str) -> Text:
    """A one-line field of stored text: literal (no markup), control characters escaped."""
    return Text(escape_line(text))


console = Console()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None) -> None:
    if not rows:
        return
    grid = Table(*headers, title=cell(title) if title else None, header_style="bold", title_justify="left")
    for row in rows:
        grid.add_row(*(cell(text) for text in row))
    console.print(grid)


def key_values(pairs: Sequence[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in pairs:
        grid.add_row(key, cell(value))
    return grid


def model_card(
    model: RegisteredModel,
    summary: Sequence[tuple[str, str]],
    versions: tuple[Sequence[str], Sequence[Sequence[str]]],
) -> None:
    parts: list[RenderableType] = [key_values(summary)]
    if model.description:
        parts += [Text(""), SafeMarkdown(model.description)]
    if model.tags:
        tags = Table("tag", "value", header_style="bold", box=None)
        for key, value in model.tags.items():
            tags.add_row(cell(key), cell(value))
        parts += [Text(""), tags]
    headers, rows = versions
    if rows:
        grid = Table(*headers, header_style="bold", box=None, title="versions", title_justify="left")
        for row in rows:
            grid.add_row(*(cell(text) for text in row))
        parts += [Text(""), grid]
    console.print(Panel(Group(*parts), title=Text(escape_line(model.name), style="bold"), title_align="left"))


def version_card(
    version: ModelVersion,
    pairs: Sequence[tuple[str, str]],
    tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[str]]]] = (),
) -> None:
    parts: list[RenderableType] = [key_values(pairs)]
    for title, headers, rows in tables:  # the MLmodel signature: "Inputs (n)", "Outputs (n)" …
        grid = Table(*headers, header_style="bold", box=None, title=cell(title), title_justify="left")
        for row in rows:
            grid.add_row(*(cell(text) for text in row))
        parts += [Text(""), grid]
    if version.description:
        parts += [Text(""), SafeMarkdown(version.description)]
    console.print(
        Panel(
            Group(*parts),
            title=Text(escape_line(f"{version.name} version {version.version}"), style="bold"),
            title_align="left",
        )
    )


err_console = Console(stderr=True)


@contextmanager
def byte_progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A bar on stderr for ``total`` bytes: size done, rate, time left. Gone when finished."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


class TransferBar:
    """A push or pull drawn as a bar on stderr: bytes, rate, files done (``TransferProgress``)."""

    def __init__(self, bar: Any, description: str) -> None:
        self.bar = bar
        self.description = description
        self.task: Any = None
        self.files = 0
        self.done = 0

    def start(self, files: int, total: int) -> None:
        self.files = files
        self.task = self.bar.add_task(f"{self.description} 0/{files}", total=total)

    def advance(self, nbytes: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, nbytes)

    def file_done(self) -> None:
        self.done += 1
        if self.task is not None:
            self.bar.update(self.task, description=f"{self.description} {self.done}/{self.files}")


@contextmanager
def transfer_progress(description: str) -> Iterator[TransferBar]:
    """The bar of ``mreg push`` and ``mreg pull``; gone when finished."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        yield TransferBar(bar, description)


_DIFF_STYLES = {"added": "green", "removed": "red", "changed": "yellow"}


def registry_diff(title: str, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """``mreg diff``: one row per change (model, what, added/removed/changed, who and why)."""
    grid = Table("model", "change", "who / why", title=cell(title), header_style="bold", title_justify="left")
    for model, text, kind, reason in rows:
        grid.add_row(cell(model), Text(escape_line(text), style=_DIFF_STYLES.get(kind, "")), cell(reason))
    console.print(grid)
