"""The progress bar of register and get: shown for large artifacts when a person watches, with the
right total; never when output is piped or with -q."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.console import Console

from mreg import Registry
from mreg.cli import progress, render
from mreg.store import objects


class Bars:
    """Stands in for the Rich bar: records each bar's total and the bytes reported to it."""

    def __init__(self) -> None:
        self.bars: list[tuple[str, int, list[int]]] = []

    @contextmanager
    def __call__(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        chunks: list[int] = []
        self.bars.append((description, total, chunks))
        yield chunks.append


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> Bars:
    """A terminal on both streams (the tty check forced) and a 1 KiB threshold."""
    recorder = Bars()
    monkeypatch.setattr(progress, "THRESHOLD", 1024)
    monkeypatch.setattr(progress, "watched", lambda quiet: not quiet)
    monkeypatch.setattr(render, "byte_progress", recorder)
    return recorder


def test_register_file_reports_its_size(
    cli, registry: Registry, isolated: Path, bars: Bars, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(objects, "CHUNK", 1024 * 1024)  # a small file of several chunks
    big = isolated / "big.bin"
    big.write_bytes(b"x" * (3 * 1024 * 1024 + 5))
    assert cli("register", str(big), "--name", "fraud").exit_code == 0
    [(description, total, chunks)] = bars.bars
    assert (description, total) == (f"Copying {big}", big.stat().st_size)
    assert sum(chunks) == total and len(chunks) == 4  # one call per 1 MiB chunk


def test_register_folder_reports_the_sum_of_its_files(
    cli, registry: Registry, model_dir: Path, bars: Bars, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(progress, "THRESHOLD", 10)
    assert cli("register", str(model_dir), "--name", "fraud").exit_code == 0
    [(_, total, chunks)] = bars.bars
    assert total == sum(f.stat().st_size for f in model_dir.rglob("*") if f.is_file())
    assert sum(chunks) == total


def test_get_reports_the_recorded_size(cli, registry: Registry, isolated: Path, bars: Bars) -> None:  # type: ignore[no-untyped-def]
    big = isolated / "big.bin"
    big.write_bytes(b"y" * 5000)
    registry.create_model_version("fraud", big)
    assert cli("get", "fraud/1", "-o", str(isolated / "copy.bin")).exit_code == 0
    [(description, total, chunks)] = bars.bars
    assert (description, total, sum(chunks)) == ("Copying fraud version 1", 5000, 5000)


def test_small_artifacts_quiet_runs_and_references_show_no_bar(
    cli, registry: Registry, isolated: Path, bars: Bars
) -> None:  # type: ignore[no-untyped-def]
    small = isolated / "small.bin"
    small.write_bytes(b"z" * 1000)
    big = isolated / "big.bin"
    big.write_bytes(b"x" * 5000)
    assert cli("register", str(small), "--name", "fraud").exit_code == 0
    assert cli("register", str(big), "--name", "fraud", "-q").exit_code == 0
    assert cli("register", "s3://bucket/model", "--name", "fraud").exit_code == 0
    assert cli("get", "fraud/2", "-o", str(isolated / "copy"), "-q").exit_code == 0
    assert bars.bars == []


def test_piped_output_shows_nothing(cli, registry: Registry, isolated: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """CliRunner's streams are pipes, as in `v=$(mreg register …)`: no bar, whatever the size."""
    monkeypatch.setattr(progress, "THRESHOLD", 0)
    big = isolated / "big.bin"
    big.write_bytes(b"x" * 5000)
    result = cli("register", str(big), "--name", "fraud")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert result.stdout.startswith("Registered fraud version 1")
    result = cli("get", "fraud/1", "-o", str(isolated / "copy.bin"))
    assert result.stderr == f"Copied fraud version 1 to {isolated / 'copy.bin'} (verified)\n"


@pytest.mark.parametrize(
    ("stdout_tty", "stderr_tty", "quiet", "term", "shown"),
    [
        (True, True, False, "xterm", True),
        (False, True, False, "xterm", False),
        (True, False, False, "xterm", False),
        (True, True, True, "xterm", False),
        (True, True, False, "dumb", False),
    ],
)
def test_watched_only_on_two_terminals(
    monkeypatch, stdout_tty: bool, stderr_tty: bool, quiet: bool, term: str, shown: bool
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "stdout", type("Out", (), {"isatty": lambda self: stdout_tty})())
    monkeypatch.setattr(sys, "stderr", type("Err", (), {"isatty": lambda self: stderr_tty})())
    monkeypatch.setenv("TERM", term)
    assert progress.watched(quiet) is shown


def test_the_size_is_not_computed_when_nobody_watches(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(progress, "watched", lambda quiet: False)

    def total() -> int:
        raise AssertionError("walked the source although no bar is shown")

    with progress.byte_progress("Copying", total, quiet=False) as callback:
        assert callback is None


def test_the_bar_shows_bytes_rate_and_time_left(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    screen = io.StringIO()
    monkeypatch.setattr(render, "err_console", Console(file=screen, force_terminal=True, width=120))
    with render.byte_progress("Copying model.bin", 3 * 1024 * 1024) as advance:
        for _ in range(3):
            advance(1024 * 1024)
    drawn = screen.getvalue()
    assert "Copying model.bin" in drawn
    assert "3.0/3.0 MiB" in drawn  # bytes done of the total
    assert "/s" in drawn  # rate
    assert "0:00:00" in drawn  # time left


def test_local_size(model_dir: Path, model_file: Path) -> None:
    assert progress.local_size(str(model_file)) == model_file.stat().st_size
    (model_dir / "link").symlink_to(model_file)  # not followed
    assert progress.local_size(str(model_dir)) == sum(
        f.stat().st_size for f in model_dir.rglob("*") if f.is_file() and not f.is_symlink()
    )
    assert progress.local_size("s3://bucket/model") is None
    assert progress.local_size(str(model_dir / "missing")) is None
