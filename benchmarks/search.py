"""Time `mreg versions list --filter …` over a store of 10,000 versions, as whole CLI processes.

DESIGN §4 budgets a search over 10,000 versions at under 1 s. This script builds such a store
through the Python API (100 models x 100 versions with tags, run ids, aliases and stages; about
a minute, fsyncs included), then runs each search several times as a fresh process, the way a
shell script would, and prints the median, fastest and slowest wall time.

    python benchmarks/search.py                      # build in a temporary folder, time, delete
    python benchmarks/search.py --store /tmp/bench   # build there once; later runs reuse it
    python benchmarks/search.py --runs 11 --json     # machine-readable results
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mreg import Registry

SEARCHES = [
    ("tags.team = 'risk'", "a tag: every version file read, a third match"),
    ("run_id LIKE 'run-7%' AND stage = 'Production'", "run id and stage: every file read, few match"),
    ("created_at >= '2000-01-01' AND tags.dataset != 'none'", "every version matches: 10,000 in the JSON"),
    ("alias = 'champion'", "an alias: only the files of champions read"),
    ("name = 'model-042' AND version_number > 50", "one model, half its versions: 50 files read"),
]
TEAMS = ("risk", "growth", "ads")


def build(store: Path, models: int, per_model: int) -> Registry:
    registry = Registry.init(store)
    started = time.perf_counter()
    for m in range(models):
        name = f"model-{m:03d}"
        registry.create_registered_model(name, tags={"team": TEAMS[m % 3]})
        for v in range(1, per_model + 1):
            registry.create_model_version(
                name,
                f"s3://bucket/{name}/{v}/model.onnx",
                run_id=f"run-{m}-{v}",
                tags={"team": TEAMS[(m + v) % 3], "dataset": f"2026-{v % 12 + 1:02d}"},
            )
        registry.set_registered_model_alias(name, "champion", per_model - 1)
        registry.transition_model_version_stage(name, per_model - 2, "Production")
        if m % 10 == 9:
            done = (m + 1) * per_model
            print(f"  {done} versions registered ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return registry


def mreg_command() -> list[str]:
    script = Path(sys.executable).with_name("mreg")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mreg"]


def time_process(args: list[str], runs: int) -> tuple[list[float], list[float], str]:
    """Wall times and CPU times (user + system, which other load on the machine barely changes)
    of ``runs`` processes, and the last one's stdout."""
    walls, cpus, output = [], [], ""
    # As installed mreg runs: with its bytecode cached (one warm-up run writes it), whatever
    # PYTHONDONTWRITEBYTECODE this shell has.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(args, capture_output=True, env=env, check=False)
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        output = done.stdout
    return walls, cpus, output


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, help="Folder for the store (kept, and reused if it exists).")
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--versions-per-model", type=int, default=100)
    parser.add_argument("--runs", type=int, default=7, help="Processes per search (the median is reported).")
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    options = parser.parse_args()

    temporary = options.store is None
    folder = Path(tempfile.mkdtemp(prefix="mreg-search-bench-")) if temporary else options.store
    try:
        total = options.models * options.versions_per_model
        if not (folder / ".mreg" / "config.toml").exists():
            print(f"building a store of {total} versions in {folder} …", file=sys.stderr)
            build(folder, options.models, options.versions_per_model)
        registry = Registry(folder)
        found = len(registry.search_model_versions(max_results=200_000))
        print(f"store: {folder} ({found} versions)", file=sys.stderr)

        base = [*mreg_command(), "--store", str(folder)]
        rows = []
        walls, cpus, _ = time_process([*base, "--version"], options.runs)
        rows.append(
            {
                "command": "mreg --version",
                "what": "start-up floor",
                "matches": None,
                "wall": walls,
                "cpu": cpus,
            }
        )
        for filter_string, what in SEARCHES:
            args = [*base, "versions", "list", "--filter", filter_string, "--json"]
            walls, cpus, output = time_process(args, options.runs)
            matches = len(json.loads(output)["model_versions"])
            command = f'mreg versions list --filter "{filter_string}" --json'
            rows.append({"command": command, "what": what, "matches": matches, "wall": walls, "cpu": cpus})
        load = os.getloadavg()[0]
        if options.json:
            for row in rows:
                row["wall_median_s"] = statistics.median(row["wall"])
                row["cpu_median_s"] = statistics.median(row["cpu"])
            print(
                json.dumps({"versions": found, "runs": options.runs, "load": load, "results": rows}, indent=2)
            )
            return
        print(
            f"\n{found} versions, {options.runs} processes each; "
            f"load average {load:.1f} on {os.cpu_count()} CPUs"
        )
        print("wall: median (fastest to slowest); cpu: median user + system time\n")
        for row in rows:
            wall, cpu = row["wall"], row["cpu"]
            count = "" if row["matches"] is None else f"{row['matches']:>6} results  "
            print(
                f"wall {statistics.median(wall):6.3f} s ({min(wall):.3f} to {max(wall):.3f})  "
                f"cpu {statistics.median(cpu):.3f} s  {count}{row['command']}"
            )
            print(f"{'':52}{row['what']}")
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
