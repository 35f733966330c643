#!/usr/bin/env python3
"""mreg's benchmark: whole command-line processes on stores of several sizes, next to floors
measured in the same run, against mreg's performance budgets (benchmarks/README.md).

    python benchmarks/bench.py                      # the full run (about 10 minutes on 2 cores)
    python benchmarks/bench.py --quick              # small stores and a 64 MiB file (about 1 minute)
    python benchmarks/bench.py --peers PEERS_SH     # also run a peer-baseline script (MLflow, GTO)
    python benchmarks/bench.py --readme benchmarks/README.md   # rewrite the results section

Stores are built through the Python API (``Registry.create_model_version``, the same code and the
same atomic writer as ``mreg register``), in a tmpfs folder when one is available (its fsync is
free), then copied to the work folder on disk, where every timed command runs. Each timed figure
is a whole process (interpreter start-up included): spawn to reap, median of ``--runs`` runs after
warm-up runs, with the commands of one batch interleaved run by run so that drift in the machine's
load hits them alike. Only the standard library and mreg itself are used.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import csv
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mreg
from mreg import Registry

DEPS_IMPORT = "import typer, rich, tomllib, tomli_w, filelock"
DEPS_FLOOR = f'python -c "{DEPS_IMPORT}"'
# The floor each start-up command really has: what it cannot avoid importing.
OWN_FLOORS = {
    "resolve": ("import typer, tomllib", 1.10),
    "alias set": ("import typer, filelock, tomllib, tomli_w", 1.10),
    "--version": ("import typer", 1.05),
}
MINI_TYPER_APP = '''\
"""Two-command Typer app: what any Typer CLI pays before doing anything."""
import typer

app = typer.Typer(add_completion=False)


@app.command()
def show(name: str) -> None:
    print(name)


@app.command()
def hello() -> None:
    print("hello")


if __name__ == "__main__":
    app()
'''
TIMES = "\u00d7"  # the multiplication sign, for sizes and ratios
SYNCED_FLOOR = "sha256sum + cp + sync (fsync of the copy)"
OPENSSL_FLOOR = "openssl sha256 + cp"
OPENSSL_SYNCED_FLOOR = "openssl sha256 + cp + sync (fsync of the copy)"
RESOLVE = "resolve NAME@champion --field path"
ALIAS_SET = "alias set NAME champion VERSION"
VERSION = "--version"


def own_floor(command: str) -> str:
    """The label of the floor of ``command`` (a start-up command: resolve, alias set, --version)."""
    return f'python -c "{OWN_FLOORS[command][0]}"'


def own_floor_key(command: str) -> str:
    return command.split(" NAME")[0]


MARK_START = "<!-- bench:results:start -->"
MARK_END = "<!-- bench:results:end -->"


# ------------------------------------------------------------------------------------ timing


class BenchError(Exception):
    pass


@dataclass
class Timing:
    label: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "runs": len(self.walls),
            "wall_median_s": round(self.median, 5),
            "wall_min_s": round(min(self.walls), 5),
            "wall_max_s": round(max(self.walls), 5),
            "cpu_median_s": round(statistics.median(self.cpus), 5),
            "peak_rss_median_mib": round(statistics.median(self.peaks), 1),
            "walls_s": [round(w, 5) for w in self.walls],
        }


def paired_ratio(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Median over runs of a's time ÷ b's time in the same round of an interleaved batch: the
    load of the machine at that moment cancels out of each ratio."""
    ratios: list[float] = [x / y for x, y in zip(a["walls_s"], b["walls_s"], strict=False)]
    return statistics.median(ratios)


@dataclass
class Case:
    """One command to time. ``argv(i)`` gives the command of run ``i`` (warm-ups included), so a
    mutating command can differ from run to run; ``before(i)`` runs untimed just before it."""

    label: str
    argv: Callable[[int], Sequence[str]]
    cwd: Path | None = None
    before: Callable[[int], None] | None = None
    runs: int | None = None


def run_once(argv: Sequence[str], cwd: Path | None, env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, cpu s of the process and the children it reaped, peak RSS MiB) of one process."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            text = err.read().decode(errors="replace").strip()[-2000:]
            raise BenchError(f"{' '.join(argv)} exited {proc.returncode} in {cwd}:\n{text}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def time_cases(cases: Sequence[Case], runs: int, warmup: int, env: dict[str, str]) -> dict[str, Timing]:
    """Time every case, interleaved run by run. A case whose warm-up took over a second is warm
    after one warm-up run and gets fewer timed runs (a third, at least 3) unless it says how many."""
    results = {case.label: Timing(case.label) for case in cases}
    wanted = {case.label: case.runs or runs for case in cases}
    slow: set[str] = set()
    for i in range(warmup):
        for case in cases:
            if case.label in slow:
                continue
            if case.before:
                case.before(i)
            wall, _, _ = run_once(case.argv(i), case.cwd, env)
            if wall > 1.0:
                slow.add(case.label)
                if case.runs is None:
                    wanted[case.label] = max(3, runs // 3)
    for i in range(warmup, warmup + max(wanted.values())):
        for case in cases:
            timing = results[case.label]
            if len(timing.walls) >= wanted[case.label]:
                continue
            if case.before:
                case.before(i)
            wall, cpu, peak = run_once(case.argv(i), case.cwd, env)
            timing.walls.append(wall)
            timing.cpus.append(cpu)
            timing.peaks.append(peak)
    return results


def log(text: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {text}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ stores


@dataclass(frozen=True)
class Size:
    models: int
    versions: int

    @property
    def label(self) -> str:
        return f"{self.models:,}{TIMES}{self.versions:,}"

    @property
    def key(self) -> str:
        return f"{self.models}x{self.versions}"

    @property
    def total(self) -> int:
        return self.models * self.versions


def startup_label(command: str, size: Size) -> str:
    return f"{command} [{size.key}]"


def parse_size(text: str) -> Size:
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise argparse.ArgumentTypeError(f"size {text!r}: expected MODELSxVERSIONS, both >= 1")
    return Size(int(match[1]), int(match[2]))


def model_name(index: int) -> str:
    return f"m{index:05d}"


@dataclass
class BuildReport:
    size: Size
    versions_built: int
    build_s: float
    copy_s: float
    files: int


def grow_store(registry: Registry, have: int, size: Size, artifact: Path) -> int:
    """Add models ``have``… until ``size.models``, each with ``size.versions`` versions registered
    through the API, ``champion`` on the middle one and ``challenger`` on the newest."""
    added = 0
    for index in range(have, size.models):
        name = model_name(index)
        for number in range(1, size.versions + 1):
            registry.create_model_version(
                name,
                artifact,
                run_id=f"run-{index}-{number}",
                tags={"dataset": "bench", "seed": str(number)},
                description=f"benchmark version {number}",
            )
            added += 1
        registry.set_registered_model_alias(name, "champion", max(1, size.versions // 2))
        if size.versions > 1:
            registry.set_registered_model_alias(name, "challenger", size.versions)
    return added


def git_init(folder: Path) -> bool:
    """Make ``folder`` a git repository with one commit (the store itself stays uncommitted), so
    events and lineage read a real HEAD as they would in a project."""
    if shutil.which("git") is None:
        return False
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }
    (folder / "README.md").write_text("benchmark project\n")
    for args in (["init", "-q"], ["add", "README.md"], ["commit", "-qm", "init", "--no-gpg-sign"]):
        subprocess.run(["git", *args], cwd=folder, env=env, check=True, capture_output=True)
    return True


def count_files(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


def build_stores(
    sizes: Sequence[Size], build_root: Path, disk_root: Path, artifact: Path
) -> tuple[dict[Size, Path], list[BuildReport]]:
    """Build every size through the API (stores of one versions-per-model family grow in place),
    snapshot each onto disk. Returns the project folder (holding ``.mreg``) of each size."""
    projects: dict[Size, Path] = {}
    reports = []
    families: dict[int, list[Size]] = {}
    for size in sizes:
        families.setdefault(size.versions, []).append(size)
    for versions, members in families.items():
        master = build_root / f"build-x{versions}"
        registry = Registry.init(master)
        have = 0
        for size in sorted(members, key=lambda s: s.models):
            log(f"building {size.label} through the API ({size.total:,} versions)")
            t0 = time.perf_counter()
            added = grow_store(registry, have, size, artifact)
            build_s = time.perf_counter() - t0
            have = size.models
            project = disk_root / size.key
            if project.exists():
                shutil.rmtree(project)
            project.mkdir(parents=True)
            t0 = time.perf_counter()
            if master.resolve() != project.resolve():
                shutil.copytree(master / ".mreg", project / ".mreg", symlinks=True)
            copy_s = time.perf_counter() - t0
            git_init(project)
            projects[size] = project
            reports.append(BuildReport(size, added, build_s, copy_s, count_files(project / ".mreg")))
        if master.resolve().is_relative_to(build_root.resolve()) and build_root != disk_root:
            shutil.rmtree(master)
    return projects, reports


# ----------------------------------------------------------------------------------- batches


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MREG_")}
        self.env.update(NO_COLOR="1", COLUMNS="120", MREG_LOCK_TIMEOUT="60")
        self.python = sys.executable
        self.mreg = args.mreg
        self.results: dict[str, Any] = {"batches": {}, "budgets": []}

    def floor_cases(self) -> list[Case]:
        app = self.work / "mini_typer_app.py"
        if not app.exists():
            app.write_text(MINI_TYPER_APP)
        return [
            Case("python -c pass", lambda i: [self.python, "-c", "pass"]),
            Case(DEPS_FLOOR, lambda i: [self.python, "-c", DEPS_IMPORT]),
            Case("two-command Typer app", lambda i: [self.python, str(app), "show", "x"]),
        ]

    def own_floor_cases(self) -> list[Case]:
        """The honest floors of the start-up commands, and ``mreg --version`` against its own."""
        return [
            *(
                Case(own_floor(command), lambda i, code=code: [self.python, "-c", code])
                for command, (code, _) in OWN_FLOORS.items()
            ),
            Case(VERSION, lambda i: [*self.mreg, "--version"]),
        ]

    def startup_cases(self, size: Size, project: Path) -> list[Case]:
        """The commands of a release script, which must not slow down as the store grows. A store
        of one version per model has nowhere to move an alias: only ``resolve`` runs there."""
        m = model_name(0)
        low, high = max(1, size.versions // 2), size.versions
        cases = [
            Case(
                startup_label(RESOLVE, size),
                lambda i: [*self.mreg, "resolve", f"{m}@champion", "--field", "path"],
                cwd=project,
            )
        ]
        if size.versions > 1:
            cases.append(
                Case(
                    startup_label(ALIAS_SET, size),
                    lambda i: [*self.mreg, "alias", "set", m, "champion", str(high if i % 2 == 0 else low)],
                    cwd=project,
                )
            )
        return cases

    def store_cases(self, size: Size, project: Path, small: Path) -> list[Case]:
        m = model_name(0)
        cases = [
            Case("register (4 KiB file)", lambda i: [*self.mreg, "register", str(small), "--name", m, "-q"]),
            Case("models list", lambda i: [*self.mreg, "models", "list"]),
            Case("versions list NAME", lambda i: [*self.mreg, "versions", "list", m]),
        ]
        if size.total <= 10_000 or size.versions == 1:
            cases.append(Case("versions list (every model)", lambda i: [*self.mreg, "versions", "list"]))
        cases.append(Case("history NAME", lambda i: [*self.mreg, "history", m]))
        cases.append(Case("history NAME --limit 20", lambda i: [*self.mreg, "history", m, "--limit", "20"]))
        for case in cases:
            case.cwd = project
        return cases

    def run_startup_batch(self, projects: dict[Size, Path]) -> None:
        """``resolve`` and ``alias set`` on every store in one interleaved batch, so that the
        comparison across sizes is not blurred by the load changing between batches."""
        log("timing resolve and alias set on every store, interleaved")
        cases = self.floor_cases() + self.own_floor_cases()
        for size, project in projects.items():
            cases += self.startup_cases(size, project)
        load_before = os.getloadavg()[0]
        timings = time_cases(cases, 2 * self.args.runs, self.args.warmup, self.env)
        self.results["startup"] = {
            "timings": {k: t.to_dict() for k, t in timings.items()},
            "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }

    def run_store_batches(self, projects: dict[Size, Path], small: Path) -> None:
        for size, project in projects.items():
            log(f"timing the other commands on the {size.label} store")
            cases = self.floor_cases() + self.store_cases(size, project, small)
            load_before = os.getloadavg()[0]
            timings = time_cases(cases, self.args.runs, self.args.warmup, self.env)
            load = (load_before, os.getloadavg()[0])
            holds = store_lock_holds(Registry(project), model_name(0), small)
            self.results["batches"][size.key] = {
                "size": size.label,
                "models": size.models,
                "versions_per_model": size.versions,
                "timings": {k: t.to_dict() for k, t in timings.items()},
                "lock_hold_ms": holds,
                "loadavg_1min": [round(x, 2) for x in load],
            }

    def run_big_register(self) -> None:
        mib = self.args.big_mib
        project = self.work / "big"
        project.mkdir()
        git_init(project)
        Registry.init(project)
        big = self.work / "big.bin"
        log(f"writing a {mib} MiB file of random bytes")
        with open(big, "wb") as handle:
            block = os.urandom(1 << 20)
            for i in range(mib):
                handle.write(block[:-8] + i.to_bytes(8, "little"))
        dest = self.work / "big.copy"

        def remove_copy(_: int) -> None:
            with contextlib.suppress(FileNotFoundError):
                dest.unlink()

        digest_holder: dict[str, Path] = {}

        def remove_blob(_: int) -> None:
            # Every timed run stores the blob anew (the first-registration path), not the
            # shortcut taken when identical bytes are already stored.
            blob = digest_holder.get("blob")
            if blob is not None:
                with contextlib.suppress(FileNotFoundError):
                    blob.unlink()

        sha = shutil.which("sha256sum")
        openssl = shutil.which("openssl")
        cases = [
            Case(
                f"mreg register ({mib} MiB file)",
                lambda i: [*self.mreg, "register", str(big), "--name", "big", "-q"],
                cwd=project,
                before=remove_blob,
            )
        ]
        if sha:
            cases += [
                Case("sha256sum", lambda i: [sha, str(big)]),
                Case("cp", lambda i: ["cp", str(big), str(dest)], before=remove_copy),
                Case(
                    "sha256sum + cp",
                    lambda i: ["sh", "-c", f'sha256sum "{big}" >/dev/null && cp "{big}" "{dest}"'],
                    before=remove_copy,
                ),
                Case(
                    SYNCED_FLOOR,
                    lambda i: [
                        "sh",
                        "-c",
                        f'sha256sum "{big}" >/dev/null && cp "{big}" "{dest}" && sync "{dest}"',
                    ],
                    before=remove_copy,
                ),
            ]
        if openssl:
            cases.append(
                Case(
                    OPENSSL_FLOOR,
                    lambda i: ["sh", "-c", f'openssl sha256 "{big}" >/dev/null && cp "{big}" "{dest}"'],
                    before=remove_copy,
                )
            )
            cases.append(
                Case(
                    OPENSSL_SYNCED_FLOOR,
                    lambda i: [
                        "sh",
                        "-c",
                        f'openssl sha256 "{big}" >/dev/null && cp "{big}" "{dest}" && sync "{dest}"',
                    ],
                    before=remove_copy,
                )
            )
        registry = Registry(project)
        first = registry.create_model_version("big", big)  # also warms the page cache
        digest_holder["blob"] = registry.artifact_path(first)
        log(f"timing register of the {mib} MiB file against sha256sum and cp")
        for case in cases:
            case.runs = max(3, self.args.runs // 2)
        timings = time_cases(cases, self.args.runs, 1, self.env)
        remove_copy(0)
        self.results["big"] = {"mib": mib, "timings": {k: t.to_dict() for k, t in timings.items()}}
        self.results["big"]["lock_hold_ms"] = lock_hold_ms(
            registry,
            {
                f"register ({mib} MiB file)": lambda i: registry.create_model_version("big", big),
                "alias set": lambda i: registry.set_registered_model_alias("big", "champion", 1 + i % 2),
            },
        )

    def run_concurrency(self) -> None:
        procs, each = self.args.concurrency
        project = self.work / "concurrent"
        project.mkdir()
        git_init(project)
        Registry.init(project)
        small = self.work / "small.bin"
        log(f"{procs} processes {TIMES} {each} registers of one model")
        failures: list[str] = []

        def worker() -> None:
            for _ in range(each):
                try:
                    run_once(
                        [*self.mreg, "register", str(small), "--name", "shared", "-q"], project, self.env
                    )
                except BenchError as err:
                    failures.append(str(err))

        threads = [threading.Thread(target=worker) for _ in range(procs)]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - t0
        numbers = [mv.version for mv in Registry(project).list_model_versions("shared")]
        expected = list(range(1, procs * each + 1))
        self.results["concurrency"] = {
            "processes": procs,
            "registers_each": each,
            "wall_s": round(wall, 2),
            "failures": len(failures),
            "versions": len(numbers),
            "exact": numbers == expected,
        }


def store_lock_holds(registry: Registry, name: str, artifact: Path) -> dict[str, float]:
    kib = artifact.stat().st_size // 1024
    return lock_hold_ms(
        registry,
        {
            f"register ({kib} KiB file)": lambda i: registry.create_model_version(name, artifact),
            "alias set": lambda i: registry.set_registered_model_alias(name, "champion", 1 + i % 2),
        },
    )


def lock_hold_ms(
    registry: Registry, actions: dict[str, Callable[[int], object]], repeat: int = 3
) -> dict[str, float]:
    """How long each action holds the store lock (median of ``repeat``, ms), measured around the
    real lock object of a Registry's store: a benchmark-only wrapper on ``registry.store.lock``. Action
    run ``i`` gets ``i``, so that an alias set can alternate its target and really move."""
    holds: list[float] = []
    inner = registry.store.lock

    class TimedLock:
        def __enter__(self) -> TimedLock:
            inner.__enter__()
            self.t0 = time.perf_counter()
            return self

        def __exit__(self, *exc: Any) -> None:
            holds.append(time.perf_counter() - self.t0)
            inner.__exit__(*exc)

    registry.store.lock = TimedLock()  # type: ignore[assignment]
    try:
        result = {}
        for what, action in actions.items():
            samples = []
            for i in range(repeat):
                holds.clear()
                action(i)
                samples.append(max(holds))
            result[what] = round(1000 * statistics.median(samples), 2)
        return result
    finally:
        registry.store.lock = inner


# ----------------------------------------------------------------------------------- peers


def run_peers(script: Path, work: Path) -> Path:
    results = work / "peers"
    log(f"running {script} (MLflow and GTO baselines; this takes a while)")
    with open(work / "peers.log", "w") as out:
        proc = subprocess.run(
            ["bash", str(script)],
            env={**os.environ, "WORK": str(results)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if proc.returncode != 0:
        raise BenchError(f"{script} exited {proc.returncode}; see {work / 'peers.log'}")
    return results / "results"


def read_peers(results: Path) -> dict[str, Any]:
    """The whole-process timings and MLflow's in-process figures written by the peer script."""
    peers: dict[str, Any] = {"timings": [], "inproc": {}}
    timings = results / "timings.csv"
    if timings.exists():
        with open(timings, newline="") as handle:
            peers["timings"] = list(csv.DictReader(handle))
    for path in sorted(results.glob("mlflow_inproc_*.json")):
        data = json.loads(path.read_text())
        peers["inproc"][path.stem.removeprefix("mlflow_inproc_")] = data
    return peers


# --------------------------------------------------------------------------------- reporting


def machine() -> dict[str, str]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kib / 1048576:.1f} GiB"

    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "-"

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "mreg": mreg.__version__,
        "typer": version("typer"),
        "rich": version("rich"),
        "filelock": version("filelock"),
    }


def ms(seconds: float) -> str:
    return f"{1000 * seconds:,.0f}" if seconds >= 0.1 else f"{1000 * seconds:.1f}"


def budget(results: dict[str, Any], what: str, measured: str, limit: str, met: bool | None) -> None:
    results["budgets"].append(
        {"budget": what, "measured": measured, "limit": limit, "met": None if met is None else bool(met)}
    )


def own_budget(
    results: dict[str, Any], t: dict[str, Any], name: str, mine: dict[str, Any], where: str
) -> None:
    """The budget of a start-up command against the floor it really has (``OWN_FLOORS``)."""
    label = own_floor(name)
    if label not in t:
        return
    floor, limit = t[label], OWN_FLOORS[name][1]
    ratio = paired_ratio(mine, floor)
    budget(
        results,
        f"`{name}`{where} ÷ its own floor `{label}`",
        f"{ratio:.2f}{TIMES} (medians {ms(mine['wall_median_s'])} ms and {ms(floor['wall_median_s'])} ms)",
        f"≤ {limit:.2f}{TIMES}",
        ratio <= limit,
    )


def evaluate_budgets(results: dict[str, Any]) -> None:
    """One row per performance budget, from this run's figures."""
    batches = results["batches"]
    startup = results.get("startup")
    if startup and batches:
        sizes = {k: b["models"] * b["versions_per_model"] for k, b in batches.items()}
        t = startup["timings"]
        floor = t[DEPS_FLOOR]
        for command in (RESOLVE, ALIAS_SET):
            name = command.split(" NAME")[0]
            timed = {k: n for k, n in sizes.items() if f"{command} [{k}]" in t}  # alias set: 2+ versions
            largest, smallest = max(timed, key=timed.__getitem__), min(timed, key=timed.__getitem__)
            big, small = t[f"{command} [{largest}]"], t[f"{command} [{smallest}]"]
            ratio = paired_ratio(big, floor)
            budget(
                results,
                f"`{name}` on the {batches[largest]['size']} store ÷ dependency import floor",
                f"{ratio:.2f}{TIMES} (medians {ms(big['wall_median_s'])} ms and "
                f"{ms(floor['wall_median_s'])} ms)",
                f"≤ 1.5{TIMES}",
                ratio <= 1.5,
            )
            own_budget(results, t, name, big, f" on the {batches[largest]['size']} store")
            ratio = paired_ratio(big, small)
            budget(
                results,
                f"`{name}`: {batches[largest]['size']} store ÷ {batches[smallest]['size']} store",
                f"{ratio:.2f}{TIMES} (medians {ms(big['wall_median_s'])} ms and "
                f"{ms(small['wall_median_s'])} ms)",
                f"flat (≤ 1.10{TIMES})",
                ratio <= 1.10,
            )
    if startup and VERSION in startup["timings"]:
        own_budget(results, startup["timings"], VERSION, startup["timings"][VERSION], "")
    if batches:
        for batch in batches.values():
            t = batch["timings"]
            if batch["versions_per_model"] >= 10_000 and "history NAME --limit 20" in t:
                ratio = t["history NAME --limit 20"]["wall_median_s"] / t[DEPS_FLOOR]["wall_median_s"]
                budget(
                    results,
                    f"`history NAME --limit 20`, {batch['size']} store ÷ dependency import floor",
                    f"{ratio:.2f}{TIMES} ({ms(t['history NAME --limit 20']['wall_median_s'])} ms)",
                    f"≤ 2{TIMES}",
                    ratio <= 2,
                )
            if batch["models"] >= 10_000:
                value = t["models list"]["wall_median_s"]
                budget(
                    results,
                    f"`models list`, {batch['size']} store",
                    f"{ms(value)} ms",
                    "< 1,000 ms",
                    value < 1,
                )
            if batch["versions_per_model"] >= 10_000:
                value = t["versions list NAME"]["wall_median_s"]
                budget(
                    results,
                    f"`versions list NAME`, {batch['size']} store",
                    f"{ms(value)} ms",
                    "< 1,000 ms",
                    value < 1,
                )
            if batch["models"] * batch["versions_per_model"] == 10_000 and "versions list (every model)" in t:
                value = t["versions list (every model)"]["wall_median_s"]
                budget(
                    results,
                    f"`versions list` (every model), {batch['size']} store",
                    f"{ms(value)} ms",
                    "< 1,000 ms",
                    value < 1,
                )
    big = results.get("big")
    if big and "sha256sum + cp" in big["timings"]:
        t = big["timings"]
        mine = t[f"mreg register ({big['mib']} MiB file)"]["wall_median_s"]
        floor = t["sha256sum + cp"]["wall_median_s"]
        budget(
            results,
            f"`register` of a {big['mib']} MiB file ÷ (`sha256sum` + `cp`)",
            f"{mine / floor:.2f}{TIMES} ({ms(mine)} ms vs {ms(floor)} ms)",
            f"≤ 1.3{TIMES}",
            mine / floor <= 1.3,
        )
        synced = t[SYNCED_FLOOR]["wall_median_s"]
        budget(
            results,
            f"`register` of a {big['mib']} MiB file ÷ (`sha256sum` + `cp` + `sync` of the copy)",
            f"{mine / synced:.2f}{TIMES} ({ms(mine)} ms vs {ms(synced)} ms)",
            "(for reference: mreg fsyncs the blob)",
            None,
        )
        if OPENSSL_SYNCED_FLOOR in t:
            fast = t[OPENSSL_SYNCED_FLOOR]["wall_median_s"]
            budget(
                results,
                f"`register` of a {big['mib']} MiB file ÷ (`openssl sha256` + `cp` + `sync` of the copy)",
                f"{mine / fast:.2f}{TIMES} ({ms(mine)} ms vs {ms(fast)} ms)",
                f"≤ 1.3{TIMES} (the same durability, hashlib's SHA-256 code)",
                mine / fast <= 1.3,
            )
        if OPENSSL_FLOOR in t:
            fast = t[OPENSSL_FLOOR]["wall_median_s"]
            budget(
                results,
                f"`register` of a {big['mib']} MiB file ÷ (`openssl sha256` + `cp`)",
                f"{mine / fast:.2f}{TIMES} ({ms(mine)} ms vs {ms(fast)} ms)",
                "(for reference: the SHA-256 code hashlib uses)",
                None,
            )
    if big:
        hold = big["lock_hold_ms"][f"register ({big['mib']} MiB file)"]
        budget(
            results, f"store lock held by a {big['mib']} MiB register", f"{hold:.1f} ms", "< 50 ms", hold < 50
        )
    holds = [
        (value, f"{what} on the {batch['size']} store")
        for batch in batches.values()
        for what, value in batch.get("lock_hold_ms", {}).items()
    ]
    if holds:
        value, where = max(holds)
        budget(
            results,
            "store lock held, longest of any register or alias set",
            f"{value:.1f} ms ({where})",
            "< 50 ms",
            value < 50,
        )
    conc = results.get("concurrency")
    if conc:
        n = conc["processes"] * conc["registers_each"]
        budget(
            results,
            f"{conc['processes']} processes {TIMES} {conc['registers_each']} concurrent "
            "`mreg register` of one model",
            f"{conc['versions']} versions, {'exactly' if conc['exact'] else 'NOT'} 1..{n}, "
            f"{conc['failures']} failed, {conc['wall_s']:.0f} s",
            f"versions exactly 1..{n}",
            conc["exact"] and conc["failures"] == 0,
        )


PEER_ROWS = [
    # (what mreg does, peer system, size, operation in the peer script)
    ("start-up", "mlflow", "-", "python -c 'import mlflow'"),
    ("start-up", "mlflow-skinny", "-", "python -c 'import mlflow'"),
    ("start-up", "gto", "-", "gto --version"),
    ("resolve an alias", "mlflow sqlite", "1000", "MlflowClient"),
    ("resolve an alias", "mlflow-skinny sqlite", "1000", "MlflowClient"),
    ("resolve an alias", "gto", None, "gto show mymodel#prod --ref (resolve stage)"),
    ("move an alias", "gto", None, "gto assign"),
    ("register a version", "gto", None, "gto register"),
    ("list versions", "gto", None, "gto show mymodel (list versions)"),
    ("history", "gto", None, "gto history mymodel"),
]


OPERATIONS = [
    "start-up",
    "resolve an alias",
    "move an alias",
    "register a version",
    "list versions",
    "history",
]


def size_text(size: str | int) -> str:
    return f"{int(size):,}" if str(size).isdigit() else str(size)


def mreg_rows(results: dict[str, Any]) -> list[tuple[str, str, str, float]]:
    """mreg's (operation, system, registry size, wall ms) for the side-by-side table: the same
    operations on the largest stores of this run."""
    batches, startup = results["batches"], results.get("startup")
    if not batches:
        return []
    total = {k: b["models"] * b["versions_per_model"] for k, b in batches.items()}
    largest = max(total, key=total.__getitem__)
    deepest = max(batches, key=lambda k: (batches[k]["versions_per_model"], total[k]))
    picks: list[tuple[str, str, str | None, str]] = [
        ("start-up", DEPS_FLOOR, None, "mreg's dependencies (import floor)")
    ]
    if startup:
        picks += [
            ("resolve an alias", RESOLVE, largest, "mreg resolve"),
            ("move an alias", ALIAS_SET, largest, "mreg alias set"),
        ]
    picks += [
        ("register a version", "register (4 KiB file)", deepest, "mreg register"),
        ("list versions", "versions list NAME", deepest, "mreg versions list NAME"),
        ("history", "history NAME", deepest, "mreg history NAME"),
    ]
    rows = []
    for what, label, key, system in picks:
        if key is None:
            timing = (startup or batches[largest])["timings"][label]
        elif label in (RESOLVE, ALIAS_SET):
            timing = startup["timings"].get(f"{label} [{key}]") if startup else None
        else:
            timing = batches[key]["timings"].get(label)
        if timing is not None:
            size = "-" if key is None else str(total[key])
            rows.append((what, system, size, 1000 * timing["wall_median_s"]))
    return rows


def peer_section(results: dict[str, Any]) -> list[str]:
    peers = results.get("peers")
    if not peers:
        return []
    lines = [
        "",
        "### Peers, same machine" + (" and run" if peers.get("same_run") else f" ({peers.get('note', '')})"),
        "",
        "Whole processes, median wall time, from the peer-baseline script "
        "(MLflow on SQLite with 1,000 versions of one model; GTO with 50, 200 and 1,000 versions), "
        "with mreg's figures of this run beside them (registry size: versions in the registry).",
        "",
        "| operation | system | registry size | wall median ms |",
        "|---|---|---|---|",
    ]
    rows = mreg_rows(results)
    for what, system, size, op in PEER_ROWS:
        for row in peers["timings"]:
            if row["system"] == system and op in row["operation"] and (size is None or row["size"] == size):
                rows.append((what, system, row["size"], 1000 * float(row["wall_median_s"])))
    rows.sort(key=lambda row: OPERATIONS.index(row[0]))  # stable: mreg first within an operation
    lines += [
        f"| {what} | {system} | {size_text(size)} | {value:,.0f} |" for what, system, size, value in rows
    ]
    in_process = []
    for name, data in peers["inproc"].items():
        by_op = {r["op"]: r for r in data["rows"]}
        picks = [
            ("register a version", "create_model_version", "mean_ms"),
            ("move an alias", "set_registered_model_alias", "median_ms"),
            ("resolve an alias", "get_model_version_by_alias", "median_ms"),
        ]
        for what, op, key in picks:
            if op in by_op:
                in_process.append(
                    f"| {what} | {name.replace('_', ' ')} {data.get('mlflow', '')} | "
                    f"{size_text(data.get('n_versions', ''))} | {by_op[op][key]:,.1f} |"
                )
    if in_process:
        lines += [
            "",
            "MLflow inside one long-lived Python process, without start-up (as measured by the peer "
            "script: registration the mean of 1,000, the alias move one call, the lookup the median "
            "of 50):",
            "",
            "| operation | system | registry size | ms |",
            "|---|---|---|---|",
            *in_process,
        ]
    return lines


def shown_command(command: str) -> str:
    """The command line as the report shows it: absolute paths (a work folder, the peer script)
    by their last part only, since they say nothing about the results."""
    return " ".join(os.path.basename(part) if os.path.isabs(part) else part for part in command.split(" "))


def report(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Run of {m['date']} on {m['cpus']} CPUs ({m['cpu']}), {m['memory']}, {m['os']}; "
        f"Python {m['python']}, mreg {m['mreg']}, typer {m['typer']}, rich {m['rich']}, "
        f"filelock {m['filelock']}. Command: `{shown_command(results['command'])}`.",
        "",
        "### Budgets",
        "",
        "| budget | measured | limit | met |",
        "|---|---|---|---|",
    ]
    for row in results["budgets"]:
        met = {True: "yes", False: "**no**", None: "-"}[row["met"]]
        lines.append(f"| {row['budget']} | {row['measured']} | {row['limit']} | {met} |")
    batches = results["batches"]
    keys = list(batches)
    startup = results.get("startup")
    if startup and keys:
        t = startup["timings"]
        floor = t[DEPS_FLOOR]
        lines += [
            "",
            "### `resolve` and `alias set` across store sizes",
            "",
            "One batch, every command interleaved run by run; median wall ms and, in brackets, the "
            "median of the per-round ratios to the dependency import floor of the batch and to the "
            "command's own floor (`resolve`: `import typer, tomllib`; `alias set`: `import typer, "
            "filelock, tomllib, tomli_w`) "
            f"(median {ms(floor['wall_median_s'])} ms). Load average (1 min) "
            "{:.1f} → {:.1f}.".format(*startup["loadavg_1min"]),
            "",
            "| command | " + " | ".join(batches[k]["size"] for k in keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        for command in (RESOLVE, ALIAS_SET):
            own = t.get(own_floor(own_floor_key(command)))
            cells = []
            for key in keys:
                timing = t.get(f"{command} [{key}]")
                if timing is None:
                    cells.append("")
                    continue
                cell = f"{ms(timing['wall_median_s'])} ({paired_ratio(timing, floor):.2f}{TIMES}"
                if own is not None:
                    cell += f"; own floor {paired_ratio(timing, own):.2f}{TIMES}"
                cells.append(cell + ")")
            lines.append(f"| `mreg {command}` | " + " | ".join(cells) + " |")
        if VERSION in t:
            version, own = t[VERSION], t[own_floor(VERSION)]
            lines += [
                "",
                f"`mreg --version`: {ms(version['wall_median_s'])} ms "
                f"({paired_ratio(version, floor):.2f}{TIMES} the dependency import floor; "
                f"{paired_ratio(version, own):.2f}{TIMES} its own floor `{own_floor(VERSION)}`).",
            ]
        floors = " · ".join(
            f"`{label}` {ms(t[label]['wall_median_s'])} ms"
            for label in t
            if not label.endswith("]") and label != VERSION
        )
        lines += ["", f"Floors in the same batch: {floors}."]
    if keys:
        labels: list[str] = []
        for key in keys:
            for label in batches[key]["timings"]:
                if label not in labels:
                    labels.append(label)
        lines += [
            "",
            "### Other commands by store size",
            "",
            "One batch per store, with the floors; median wall ms and the ratio to the dependency "
            "import floor of the same batch.",
            "",
            "| command | " + " | ".join(batches[k]["size"] for k in keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        for label in labels:
            cells = []
            for key in keys:
                t = batches[key]["timings"]
                if label not in t:
                    cells.append("")
                    continue
                value = t[label]["wall_median_s"]
                ratio = value / t[DEPS_FLOOR]["wall_median_s"]
                cells.append(f"{ms(value)} ({ratio:.2f}{TIMES})")
            shown = label if label.startswith("python") or label.startswith("two-") else f"mreg {label}"
            lines.append(f"| `{shown}` | " + " | ".join(cells) + " |")
        for what in batches[keys[0]].get("lock_hold_ms", {}):
            cells = [f"{batches[k]['lock_hold_ms'][what]:.1f}" for k in keys]
            lines.append(f"| store lock held by {what}, in-process ms | " + " | ".join(cells) + " |")
        cells = ["{:.1f} → {:.1f}".format(*batches[k]["loadavg_1min"]) for k in keys]
        lines.append("| load average (1 min) before → after | " + " | ".join(cells) + " |")
        runs = {t["runs"] for b in batches.values() for t in b["timings"].values()}
        if startup:
            runs |= {t["runs"] for t in startup["timings"].values()}
        lines += [
            "",
            "Each store's models are m00000, m00001, …; the commands name the first. Timed runs per "
            "command: " + ", ".join(str(n) for n in sorted(runs)) + " (fewer for commands over 1 s).",
        ]
    big = results.get("big")
    if big:
        lines += [
            "",
            f"### Registering a {big['mib']} MiB file",
            "",
            "| command | wall median ms | cpu median ms | runs |",
            "|---|---|---|---|",
        ]
        for label, t in big["timings"].items():
            lines.append(f"| `{label}` | {ms(t['wall_median_s'])} | {ms(t['cpu_median_s'])} | {t['runs']} |")
        holds = ", ".join(f"{what} {value:.1f} ms" for what, value in big["lock_hold_ms"].items())
        lines += ["", f"Store lock held (median of 3, in-process): {holds}."]
    builds = results.get("builds")
    if builds:
        lines += [
            "",
            "### Building the stores through the API",
            "",
            f"`Registry.create_model_version` with a 4 KiB file (run id, two tags, a description), in "
            f"{results['build_dir_kind']}, then copied to disk.",
            "",
            "| store | versions registered | build s | ms per version | copy to disk s | files |",
            "|---|---|---|---|---|---|",
        ]
        for b in builds:
            per = 1000 * b["build_s"] / b["versions_built"] if b["versions_built"] else 0
            lines.append(
                f"| {b['size']} | {b['versions_built']:,} | {b['build_s']:.1f} | {per:.2f} | "
                f"{b['copy_s']:.1f} | {b['files']:,} |"
            )
    lines += peer_section(results)
    return "\n".join(lines) + "\n"


def update_readme(path: Path, text: str) -> None:
    readme = path.read_text()
    if MARK_START not in readme or MARK_END not in readme:
        raise BenchError(f"{path} has no {MARK_START} … {MARK_END} section")
    head, _, rest = readme.partition(MARK_START)
    _, _, tail = rest.partition(MARK_END)
    path.write_text(f"{head}{MARK_START}\n{text}{MARK_END}{tail}")


# -------------------------------------------------------------------------------------- main


def tmpfs_folder() -> Path | None:
    """A writable tmpfs (``/dev/shm``) with room to spare, where building is not slowed by fsync,
    or None."""
    candidate = Path("/dev/shm")
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if (
                len(parts) > 2
                and parts[1] == str(candidate)
                and parts[2] == "tmpfs"
                and os.access(candidate, os.W_OK)
                and shutil.disk_usage(candidate).free > 4 << 30
            ):
                return candidate
    return None


def default_mreg() -> list[str]:
    script = Path(sys.executable).with_name("mreg")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mreg"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small stores, a 64 MiB file, fewer runs")
    parser.add_argument(
        "--sizes",
        type=lambda text: [parse_size(s) for s in text.split(",")],
        help="store sizes MODELSxVERSIONS, comma-separated "
        "[default: 1x10,10x100,100x100,1000x100,1x10000,10000x2]",
    )
    parser.add_argument("--runs", type=int, help="timed runs per command [default: 10; --quick 5]")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first [default: 2]")
    parser.add_argument("--big-mib", type=int, help="size of the large file [default: 1024; --quick 64]")
    parser.add_argument(
        "--concurrency",
        type=lambda text: tuple(int(x) for x in text.split("x")),
        help="PROCSxEACH concurrent registers of one model [default: 16x50; --quick 4x10; 0x0 skips]",
    )
    parser.add_argument("--mreg", nargs="+", help="the mreg command [default: mreg next to this python]")
    parser.add_argument("--work", type=Path, help="work folder on disk [default: a new temporary folder]")
    parser.add_argument("--build-dir", type=Path, help="where stores are built [default: /dev/shm if tmpfs]")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--peers", type=Path, metavar="PEERS_SH", help="run this peer-baseline script too")
    parser.add_argument(
        "--peers-results", type=Path, metavar="DIR", help="fold in the results folder of an earlier peer run"
    )
    parser.add_argument("--json", type=Path, help="write every figure here as JSON")
    parser.add_argument("--readme", type=Path, help="rewrite the results section of this README")
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="only print (and --readme) the report of an earlier --json",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = args.sizes or (
        [Size(1, 10), Size(10, 100), Size(100, 100), Size(1, 1000), Size(100, 1)]
        if quick
        else [
            Size(1, 10),
            Size(10, 100),
            Size(100, 100),
            Size(1000, 100),
            Size(1, 10_000),
            Size(10_000, 2),
            Size(10_000, 1),
        ]
    )
    args.runs = args.runs or (5 if quick else 10)
    args.big_mib = args.big_mib or (64 if quick else 1024)
    args.concurrency = args.concurrency or ((4, 10) if quick else (16, 50))
    args.mreg = args.mreg or default_mreg()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text())
        results["budgets"] = []
        evaluate_budgets(results)
        text = report(results)
        print(text)
        if args.readme:
            update_readme(args.readme, text)
        return 0 if all(b["met"] is not False for b in results["budgets"]) else 1
    started = time.perf_counter()
    own_work = args.work is None
    args.work = Path(args.work or tempfile.mkdtemp(prefix="mreg-bench-")).absolute()
    args.work.mkdir(parents=True, exist_ok=True)
    build_root = args.build_dir or tmpfs_folder()
    staging = Path(tempfile.mkdtemp(prefix="mreg-bench-build-", dir=build_root)) if build_root else args.work
    # Compiled bytecode, as an installed package has: otherwise each run would compile mreg anew.
    compileall.compile_dir(Path(mreg.__file__).parent, quiet=1)
    bench = Bench(args)
    results = bench.results
    results["machine"] = machine()
    given = sys.argv[1:] if argv is None else list(argv)
    results["command"] = " ".join(["python benchmarks/bench.py", *given])
    results["build_dir_kind"] = "a tmpfs folder (fsync is free there)" if build_root else "the work folder"
    try:
        artifact = args.work / "artifact.bin"
        artifact.write_bytes(os.urandom(4096))
        projects, builds = build_stores(args.sizes, staging, args.work / "stores", artifact)
        results["builds"] = [{**b.__dict__, "size": b.size.label} for b in builds]
        os.sync()
        small = args.work / "small.bin"
        small.write_bytes(os.urandom(4096))
        bench.run_startup_batch(projects)
        bench.run_store_batches(projects, small)
        if args.big_mib > 0:
            bench.run_big_register()
        if args.concurrency[0] > 0:
            bench.run_concurrency()
        if args.peers:
            results["peers"] = {**read_peers(run_peers(args.peers, args.work)), "same_run": True}
        elif args.peers_results:
            results["peers"] = {**read_peers(args.peers_results), "note": "an earlier run of the peer script"}
        results["elapsed_s"] = round(time.perf_counter() - started, 1)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        evaluate_budgets(results)
        text = report(results)
        print(text)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        if args.readme:
            update_readme(args.readme, text)
        log(f"done in {results['elapsed_s']:.0f} s")
        return 0 if all(b["met"] is not False for b in results["budgets"]) else 1
    finally:
        if staging != args.work:
            shutil.rmtree(staging, ignore_errors=True)
        if own_work and not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
