"""Concurrent writers: many processes (and threads) on one store lose nothing and tear nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import WORKERS, CliProcesses, run_mreg, snapshot

from mreg import Registry


def start_workers(*jobs: list[str]) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, str(WORKERS), *job], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for job in jobs
    ]


def outputs(procs: list[subprocess.Popen[str]]) -> list[list[str]]:
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(out.split("\n")[:-1])
    return results


@pytest.fixture
def cli_processes() -> Iterator[dict[int, CliProcesses]]:
    """Servers by thread number (each forks a process per ``mreg`` command), started on first use."""
    lock = threading.Lock()

    class Servers(dict[int, CliProcesses]):
        def __missing__(self, worker: int) -> CliProcesses:
            with lock:
                return self.setdefault(worker, CliProcesses())

    servers = Servers()
    yield servers
    for server in servers.values():  # all at once: each then ends while the others do
        assert server.proc.stdin is not None
        server.proc.stdin.close()
    for server in servers.values():
        server.close()


FORKED_CASES = [
    ["register", "m.bin", "--name", "m", "-q"],
    ["register", "m.bin", "--name", "m"],
    ["resolve", "m@champion", "--field", "version"],
    ["alias", "set", "m", "champion", "1", "--expect", "2"],
    ["models", "list", "--bogus"],
    ["--debug", "resolve", "nothing/1"],
]


def test_a_forked_command_answers_as_a_started_one(
    registry: Registry, isolated: Path, tmp_path: Path, cli_processes: dict[int, CliProcesses]
) -> None:
    """The concurrency tests fork their ``mreg`` processes from a warm server: each command gives
    the exit code, stdout and stderr, and leaves the store, that ``python -m mreg`` does."""
    (isolated / "m.bin").write_text("weights\n")
    registry.create_model_version("m", isolated / "m.bin", aliases=["champion"])
    pristine = tmp_path / "pristine"
    shutil.copytree(registry.root, pristine, symlinks=True)
    history = re.compile(r"/history/[^/]+$")  # event files are named by the time they were written

    def files() -> list[str]:
        return sorted(history.sub("/history/", f) for f in snapshot(registry.root))

    for args in FORKED_CASES:
        shutil.rmtree(registry.root)
        shutil.copytree(pristine, registry.root, symlinks=True)
        forked = cli_processes[0].run(*args, cwd=isolated)
        forked_files = files()
        shutil.rmtree(registry.root)
        shutil.copytree(pristine, registry.root, symlinks=True)
        started = run_mreg(*args, cwd=isolated)
        assert (forked.returncode, forked.stdout, forked.stderr) == (
            started.returncode,
            started.stdout,
            started.stderr,
        ), args
        assert forked_files == files(), args


@pytest.mark.slow
def test_16_processes_register_50_versions_each(registry: Registry) -> None:
    procs = start_workers(*[["register-many", str(registry.root), str(w), "50"] for w in range(16)])
    printed = {}
    for worker, lines in enumerate(outputs(procs)):
        assert len(lines) == 50
        for line in lines:
            version, who, seq = line.split()
            assert who == str(worker)
            printed[int(version)] = (who, seq)
    assert sorted(printed) == list(range(1, 801))
    versions = registry.list_model_versions("shared")
    assert [mv.version for mv in versions] == list(range(1, 801))
    for mv in versions:  # each process's records are all there, under the number it was told
        assert (mv.tags["worker"], mv.tags["seq"]) == printed[mv.version]
    registered = [e for e in registry.get_history("shared") if e.action == "version_registered"]
    assert sorted(e.version for e in registered if e.version) == list(range(1, 801))
    assert registry.fsck(full=True) == []


@pytest.mark.slow
def test_8_cli_processes_register_10_versions_each(
    registry: Registry, isolated: Path, cli_processes: dict[int, CliProcesses]
) -> None:
    """Eight threads each run ``mreg register`` ten times, every time as a process of its own."""
    for worker in range(8):
        for i in range(10):
            (isolated / f"m-{worker}-{i}.bin").write_text(f"{worker} {i}\n")

    def register_ten(worker: int) -> list[int]:
        numbers = []
        for i in range(10):
            mreg = cli_processes[worker].run
            result = mreg("register", f"m-{worker}-{i}.bin", "--name", "cli", "-q", cwd=isolated)
            assert result.returncode == 0, result.stderr
            numbers.append(int(result.stdout))
        return numbers

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = [n for ns in pool.map(register_ten, range(8)) for n in ns]
    assert sorted(numbers) == list(range(1, 81))
    assert [mv.version for mv in registry.list_model_versions("cli")] == list(range(1, 81))
    result = run_mreg("fsck", "--full", cwd=isolated)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


@pytest.mark.slow
def test_concurrent_alias_moves_leave_a_value_that_was_written(registry: Registry) -> None:
    for i in range(5):
        registry.create_model_version("counted", f"s3://bucket/{i}")
    procs = start_workers(*[["move-alias", str(registry.root), str(w), "25", "5"] for w in range(4)])
    written = {int(line) for lines in outputs(procs) for line in lines}
    final = registry.get_aliases("counted")["hot"]
    assert final in written
    moves = [e for e in registry.get_history("counted", alias="hot")]
    assert moves and moves[-1].new == final  # the history ends where the alias is
    assert all(e.old != e.new for e in moves)
    assert registry.fsck() == []


@pytest.mark.slow
def test_compare_and_swap_loses_no_update(registry: Registry) -> None:
    """Six processes add 1 to a counter (an alias's version) ten times each with expect=: the
    count is exactly 60, and the history shows 60 steps of one."""
    for i in range(60):
        registry.create_model_version("counted", f"s3://bucket/{i}")
    procs = start_workers(*[["count", str(registry.root), "10"] for _ in range(6)])
    conflicts = sum(int(lines[0]) for lines in outputs(procs))
    assert registry.get_aliases("counted") == {"counter": 60}
    steps = [(e.old, e.new) for e in registry.get_history("counted", alias="counter")]
    assert steps == [(None, 1)] + [(n, n + 1) for n in range(1, 60)]
    assert conflicts >= 0


@pytest.mark.slow
def test_compare_and_swap_through_the_cli(
    registry: Registry, isolated: Path, cli_processes: dict[int, CliProcesses]
) -> None:
    """The same with `mreg alias set --expect` from three processes retrying on exit 4 (each
    command a process of its own)."""
    for i in range(9):
        registry.create_model_version("counted", f"s3://bucket/{i}")

    def count(worker: int) -> int:
        mreg = cli_processes[worker].run
        retries = 0
        for _ in range(3):
            while True:
                current = mreg("resolve", "counted@counter", "--field", "version", cwd=isolated)
                assert current.returncode in (0, 3), current.stderr
                now = int(current.stdout) if current.returncode == 0 else 0
                moved = mreg(
                    "alias", "set", "counted", "counter", str(now + 1), "--expect", str(now), cwd=isolated
                )
                if moved.returncode == 0:
                    break
                assert moved.returncode == 4 and "as expected" in moved.stderr, moved.stderr
                retries += 1
        return retries

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(count, range(3)))
    assert registry.get_aliases("counted") == {"counter": 9}
    assert len(registry.get_history("counted", alias="counter")) == 9
