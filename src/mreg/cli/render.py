"""Rich rendering, imported only when output goes to a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mreg.entities import ModelVersion, RegisteredModel

console = Console()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None) -> None:
    if not rows:
        return
    grid = Table(*headers, title=title, header_style="bold", title_justify="left")
    for row in rows:
        grid.add_row(*(Text(cell) for cell in row))
    console.print(grid)


def key_values(pairs: Sequence[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in pairs:
        grid.add_row(key, Text(value))
    return grid


def model_card(
    model: RegisteredModel,
    summary: Sequence[tuple[str, str]],
    versions: tuple[Sequence[str], Sequence[Sequence[str]]],
) -> None:
    parts: list[RenderableType] = [key_values(summary)]
    if model.description:
        parts += [Text(""), Markdown(model.description)]
    if model.tags:
        tags = Table("tag", "value", header_style="bold", box=None)
        for key, value in model.tags.items():
            tags.add_row(Text(key), Text(value))
        parts += [Text(""), tags]
    headers, rows = versions
    if rows:
        grid = Table(*headers, header_style="bold", box=None, title="versions", title_justify="left")
        for row in rows:
            grid.add_row(*(Text(cell) for cell in row))
        parts += [Text(""), grid]
    console.print(Panel(Group(*parts), title=Text(model.name, style="bold"), title_align="left"))


def version_card(version: ModelVersion, pairs: Sequence[tuple[str, str]]) -> None:
    parts: list[RenderableType] = [key_values(pairs)]
    if version.description:
        parts += [Text(""), Markdown(version.description)]
    console.print(
        Panel(
            Group(*parts),
            title=Text(f"{version.name} version {version.version}", style="bold"),
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


_DIFF_STYLES = {"added": "green", "removed": "red", "changed": "yellow"}


def registry_diff(title: str, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """``mreg diff``: one row per change (model, what, added/removed/changed, who and why)."""
    grid = Table("model", "change", "who / why", title=title, header_style="bold", title_justify="left")
    for model, text, kind, reason in rows:
        grid.add_row(Text(model), Text(text, style=_DIFF_STYLES.get(kind, "")), Text(reason))
    console.print(grid)
