"""Benchmarks of ``mreg ui`` against the page's budgets (issue: a page to browse the registry):

- ``mreg ui serve`` answers its first request within 300 ms of the process start;
- a model page of a model with 1,000 versions in under 150 ms;
- the models page of a 1,000-model store in under 300 ms;
- ``mreg ui export`` of a 1,000 models x 10 versions store in under 10 s.

Stores are built through the Python API (a 4 KiB file per version, a run id, two tags and a
Markdown description; champion and challenger aliases), in a tmpfs folder when there is one.
Request times are measured by a client on loopback from the request to the last byte (medians);
the start-up time from ``Popen`` to the first complete answer of ``/`` (polling every 5 ms).

    .venv/bin/python benchmarks/ui.py [--runs 10] [--quick] [--work DIR] [--keep]

Prints a Markdown table and the load average (1, 5, 15 minutes) at the start of the
measurements and at the end; exit status 1 when a budget is missed. ``--quick`` builds 100 x 10 and
a 1 x 200 model (a smoke test: the budgets are still checked against the smaller stores).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mreg import Registry

MREG = [str(Path(sys.executable).with_name("mreg"))]


def log(text: str) -> None:
    sys.stderr.write(f"[ui bench] {text}\n")


def build(project: Path, models: int, per_model: int) -> Path:
    registry = Registry.init(project)
    artifact = project.parent / f"artifact-{models}x{per_model}.bin"
    for m in range(models):
        name = f"model-{m:04d}"
        for v in range(1, per_model + 1):
            artifact.write_bytes(os.urandom(4096))
            registry.create_model_version(
                name,
                artifact,
                run_id=f"run-{m}-{v}",
                tags={"dataset": f"d{v % 7}", "team": "risk"},
                description=f"# {name} v{v}\n\nTrained on **dataset {v % 7}**; see [notes](https://example.com).",
            )
        registry.update_registered_model(name, f"# {name}\n\nA model of the benchmark.")
        registry.set_registered_model_alias(name, "champion", max(1, per_model // 2))
        registry.set_registered_model_alias(name, "challenger", per_model)
    return project / ".mreg"


def start(store: Path) -> tuple[subprocess.Popen[str], int, float]:
    """A server on a free port; (process, port, seconds from start to the first full answer)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*MREG, "--store", str(store), "ui", "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    while True:
        try:
            status, _ = get(port, "/")
            if status == 200:
                return proc, port, time.perf_counter() - t0
        except OSError:
            time.sleep(0.005)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(10)


def get(port: int, path: str) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, time.perf_counter() - t0


def timed_get(port: int, path: str, runs: int) -> float:
    get(port, path)  # warm-up: templates compiled, files in the page cache
    times = []
    for _ in range(runs):
        status, seconds = get(port, path)
        assert status == 200, (path, status)
        times.append(seconds)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--work", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    shm = Path("/dev/shm")
    work = args.work or Path(tempfile.mkdtemp(prefix="mreg-ui-bench-", dir=shm if shm.is_dir() else None))
    wide, deep = ((100, 10), (1, 200)) if args.quick else ((1000, 10), (1, 1000))
    results: list[tuple[str, float, float]] = []
    try:
        log(f"building {wide[0]} x {wide[1]} and {deep[0]} x {deep[1]} in {work}")
        wide_store = build(work / "wide", *wide)
        deep_store = build(work / "deep", *deep)
        small_store = build(work / "small", 1, 10)

        load_before = os.getloadavg()
        starts = []
        for _ in range(max(3, args.runs // 2)):
            proc, _, seconds = start(small_store)
            stop(proc)
            starts.append(seconds)
        results.append(
            ("`mreg ui serve`: start to first answer of `/` (1 x 10 store)", statistics.median(starts), 0.300)
        )

        proc, port, _ = start(deep_store)
        try:
            seconds = timed_get(port, "/models/model-0000/", args.runs)
        finally:
            stop(proc)
        results.append((f"model page of a model with {deep[1]:,} versions", seconds, 0.150))

        proc, port, _ = start(wide_store)
        try:
            seconds = timed_get(port, "/", args.runs)
            version = timed_get(port, "/models/model-0000/versions/5/", args.runs)
            history = timed_get(port, "/models/model-0000/history/", args.runs)
        finally:
            stop(proc)
        results.append((f"models page of {wide[0]:,} models", seconds, 0.300))
        results.append(("a version page", version, 0.150))
        results.append(("a history page", history, 0.150))

        exports = []
        for i in range(2):
            out = work / f"site-{i}"
            t0 = time.perf_counter()
            subprocess.run([*MREG, "--store", str(wide_store), "ui", "export", str(out), "-q"], check=True)
            exports.append(time.perf_counter() - t0)
        results.append((f"`mreg ui export` of {wide[0]:,} x {wide[1]}", statistics.median(exports), 10.0))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    missed = 0
    print("| measurement | median | budget | |")
    print("|---|---|---|---|")
    for label, seconds, budget in results:
        ok = seconds <= budget
        missed += not ok
        shown = f"{seconds * 1000:.0f} ms" if seconds < 2 else f"{seconds:.2f} s"
        limit = f"{budget * 1000:.0f} ms" if budget < 2 else f"{budget:.0f} s"
        print(f"| {label} | {shown} | {limit} | {'ok' if ok else 'MISSED'} |")
    shown_load = " / ".join(" ".join(f"{x:.2f}" for x in load) for load in (load_before, load_after))
    print(f"\nLoad average (1, 5, 15 min) at the start / end of the measurements: {shown_load}")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
