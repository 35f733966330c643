"""Time `mreg push` and `mreg pull` against an S3 server on loopback, next to boto3.

The budgets (docs/remotes.md):

- push and pull of a 1 GiB file: within 1.5x of boto3's ``upload_file`` / ``download_file`` of
  the same file, with boto3's default multipart threads;
- a 1,000-file folder artifact: pushing with the default ``--jobs`` at least 4x faster than with
  ``--jobs 1``, with each request held ``--latency-ms`` (20) by the server as a real object
  store's round trip would (with no delay, on loopback, both processes are CPU-bound and the
  ratio cannot exceed about the number of cores; that run is reported too);
- ``mreg push`` when the remote holds everything already, on 1,000 versions: under 2 s.

The S3 server is moto's, started in a process of its own on 127.0.0.1 (so that its work does not
share an interpreter with what is timed). Every timed command is a whole process, interpreter
start-up included, boto3's too (``python -c "import boto3; …"``). Before each timed push the
objects are deleted from the bucket, and before each timed pull from the local store, so every
run transfers everything. mreg checks every byte's sha256 and fsyncs what it pulls; boto3 does
neither, so the ratios include that.

    python benchmarks/remotes.py                     # the full run: about 5 minutes
    python benchmarks/remotes.py --big-mib 64 --files 200 --versions 200 --runs 1   # quick
    python benchmarks/remotes.py --json results.json

Needs the test extra (moto[server], boto3, s3fs). The exit status is 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BUCKET = "mreg-bench"
SERVER: list[subprocess.Popen[str]] = []  # the S3 server's process (its CPU time, its stdin)


def server_cpu() -> float:
    """CPU seconds the S3 server's process has used so far (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{SERVER[-1].pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hold_requests(ms: float) -> None:
    """Make the S3 server hold every request ``ms`` milliseconds before serving it."""
    server = SERVER[-1]
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write(f"{ms}\n")
    server.stdin.flush()
    if server.stdout.readline().strip() != "held":
        raise SystemExit("the S3 server did not take the request delay")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def s3_server() -> Iterator[dict[str, str]]:
    """A moto S3 server in a child process; yields the environment that points clients at it."""
    port = free_port()
    # ThreadedMotoServer as the tests start it, with one addition: each request can be held for a
    # set time before it is served (a line on the server's stdin sets it, in ms), which stands in
    # for the round trip to a real object store. Holding a request sleeps, so it costs no CPU.
    code = (
        "import sys, time\n"
        "import moto.moto_server.threaded_moto_server as served\n"
        "from moto.server import ThreadedMotoServer\n"
        "held = [0.0]\n"
        "class Held(served.DomainDispatcherApplication):\n"
        "    def __call__(self, environ, start_response):\n"
        "        if held[0]:\n"
        "            time.sleep(held[0])\n"
        "        return super().__call__(environ, start_response)\n"
        "served.DomainDispatcherApplication = Held\n"
        f"server = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False)\n"
        "server.start()\n"
        "print('ready', flush=True)\n"
        "for line in sys.stdin:\n"
        "    held[0] = float(line) / 1000\n"
        "    print('held', flush=True)\n"
        "server.stop()\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its request log, a line per request, would bury the results
        text=True,
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise SystemExit("the S3 server did not start")
        env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        SERVER.append(server)
        yield env
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def boto3_client(env: dict[str, str]):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def empty_bucket(client, prefix: str = "") -> None:  # type: ignore[no-untyped-def]
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})


def mreg_command() -> list[str]:
    script = Path(sys.executable).with_name("mreg")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mreg"]


def run(args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def timed(runs: int, before, args: list[str], env: dict[str, str], cwd: Path) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        before()
        times.append(run(args, env, cwd))
    return times


def alternate(runs: int, *commands: tuple[Any, list[str], Path], env: dict[str, str]) -> list[list[float]]:
    """``timed`` for several commands, each (before, args, cwd), run by run in turn."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for spent, (before, args, cwd) in zip(times, commands, strict=True):
            before()
            spent.append(run(args, env, cwd))
    return times


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_with_cpu(  # type: ignore[no-untyped-def]
    runs: int, before, args: list[str], env: dict[str, str], cwd: Path
) -> tuple[list[float], float, float]:
    """As ``timed``, with the mean CPU seconds of the timed command and of the S3 server."""
    times: list[float] = []
    client = server = 0.0
    for _ in range(runs):
        before()
        client_before, server_before = children_cpu(), server_cpu()
        times.append(run(args, env, cwd))
        client += children_cpu() - client_before
        server += server_cpu() - server_before
    return times, client / runs, server / runs


def drop_objects(project: Path) -> None:
    objects = project / ".mreg" / "objects"
    for child in objects.iterdir():
        shutil.rmtree(child)
    shutil.rmtree(project / ".mreg" / "cache", ignore_errors=True)


def random_file(path: Path, size: int) -> None:
    chunk = 8 * 1024 * 1024
    with open(path, "wb") as out:
        left = size
        while left:
            n = min(chunk, left)
            out.write(os.urandom(n))
            left -= n


def project(base: Path, name: str, env: dict[str, str]) -> Path:
    folder = base / name
    folder.mkdir()
    mreg = mreg_command()
    run([*mreg, "init"], env, folder)
    run([*mreg, "remote", "add", "bench", f"s3://{BUCKET}/{name}", "--default"], env, folder)
    return folder


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--big-mib", type=int, default=1024, help="Size of the large file (MiB).")
    parser.add_argument("--files", type=int, default=1000, help="Files in the folder artifact.")
    parser.add_argument("--file-kib", type=int, default=16, help="Size of each file of the folder (KiB).")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=20.0,
        help="How long the server holds each request in the folder budget's run (0: no such run).",
    )
    parser.add_argument("--versions", type=int, default=1000, help="Versions for the no-op push.")
    parser.add_argument(
        "--runs", type=int, default=3, help="Timed runs per command (the median is reported)."
    )
    parser.add_argument("--work", type=Path, help="Work folder (default: a temporary one, deleted).")
    parser.add_argument("--json", type=Path, help="Write every figure to this file.")
    options = parser.parse_args()

    work = options.work or Path(tempfile.mkdtemp(prefix="mreg-remote-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    mreg = mreg_command()
    rows: list[dict[str, object]] = []
    budgets: list[tuple[str, str, str, bool]] = []
    notes: list[str] = []
    load_at_start = os.getloadavg()[0]
    try:
        with s3_server() as env:
            client = boto3_client(env)
            client.create_bucket(Bucket=BUCKET)

            # 1. A large file: push and pull against boto3's upload_file and download_file.
            big = work / "big.bin"
            random_file(big, options.big_mib * 1024 * 1024)
            one = project(work, "big", env)
            run([*mreg, "register", str(big), "--name", "big"], env, one)
            upload = (
                "import boto3, sys; boto3.client('s3').upload_file(sys.argv[1], sys.argv[2], sys.argv[3])"
            )
            download = (
                "import boto3, sys; boto3.client('s3').download_file(sys.argv[2], sys.argv[3], sys.argv[1])"
            )
            copy = work / "big.copy"
            # Each pair run by run in turn (mreg, then boto3), so that the server's state and the
            # machine's load change for both alike: run as two blocks, whichever went second was
            # favoured by up to a third.
            push_big, boto_up = alternate(
                options.runs,
                (lambda: empty_bucket(client, "big/"), [*mreg, "push"], one),
                (
                    lambda: empty_bucket(client, "boto/"),
                    [sys.executable, "-c", upload, str(big), BUCKET, "boto/big.bin"],
                    work,
                ),
                env=env,
            )
            pull_big, boto_down = alternate(
                options.runs,
                (lambda: drop_objects(one), [*mreg, "pull"], one),
                (
                    lambda: copy.unlink(missing_ok=True),
                    [sys.executable, "-c", download, str(copy), BUCKET, "boto/big.bin"],
                    work,
                ),
                env=env,
            )
            size = f"{options.big_mib:,} MiB"
            rows += [
                {"what": f"mreg push, one {size} file", "seconds": push_big},
                {"what": "boto3 upload_file, same file", "seconds": boto_up},
                {"what": f"mreg pull, one {size} file", "seconds": pull_big},
                {"what": "boto3 download_file, same file", "seconds": boto_down},
            ]
            ratio = median(push_big) / median(boto_up)
            budgets.append(
                ("push of the large file ÷ boto3 upload_file", f"{ratio:.2f}×", "≤ 1.5×", ratio <= 1.5)
            )
            ratio = median(pull_big) / median(boto_down)
            budgets.append(
                ("pull of the large file ÷ boto3 download_file", f"{ratio:.2f}×", "≤ 1.5×", ratio <= 1.5)
            )
            big.unlink()
            copy.unlink(missing_ok=True)
            empty_bucket(client)

            # 2. A folder of many small files: default jobs against --jobs 1.
            folder = work / "folder"
            folder.mkdir()
            for i in range(options.files):
                (folder / f"part-{i:05d}.bin").write_bytes(os.urandom(options.file_kib * 1024))
            many = project(work, "many", env)
            run([*mreg, "register", str(folder), "--name", "many"], env, many)
            # Twice: as the loopback server answers, and with each request held --latency-ms
            # (the budget's run). Against a server on the same machine with no delay, a push is
            # all CPU (mreg's and the server's, each a Python process under its GIL): then no
            # number of jobs can beat (mreg CPU + server CPU) ÷ cores, and the note says so.
            delays = [0.0, options.latency_ms] if options.latency_ms else [0.0]
            for delay in delays:
                hold_requests(delay)
                # Run by run in turn, so that changes in the machine's load hit both alike.
                parallel, serial = [], []
                client_cpu = server_share = 0.0
                for _ in range(options.runs):
                    times, _, _ = timed_with_cpu(
                        1, lambda: empty_bucket(client, "many/"), [*mreg, "push"], env, many
                    )
                    parallel += times
                    times, client_one, server_one = timed_with_cpu(
                        1, lambda: empty_bucket(client, "many/"), [*mreg, "push", "--jobs", "1"], env, many
                    )
                    serial += times
                    client_cpu += client_one / options.runs
                    server_share += server_one / options.runs
                held = f", each request held {delay:g} ms" if delay else ", no delay"
                rows += [
                    {
                        "what": f"mreg push, a folder of {options.files:,} files (default --jobs){held}",
                        "seconds": parallel,
                    },
                    {"what": f"mreg push --jobs 1, the same folder{held}", "seconds": serial},
                ]
                ratio = median(serial) / median(parallel)
                if delay == delays[-1]:
                    budgets.append(
                        (f"folder push: --jobs 1 ÷ default jobs{held}", f"{ratio:.2f}×", "≥ 4×", ratio >= 4)
                    )
                else:
                    cores = os.cpu_count() or 1
                    floor = max(client_cpu, server_share, (client_cpu + server_share) / cores)
                    notes.append(
                        f"With no delay, --jobs 1 ÷ default jobs is {ratio:.2f}×. A --jobs 1 push took "
                        f"{median(serial):.2f} s and used {client_cpu:.2f} s of mreg's CPU and "
                        f"{server_share:.2f} s of the server's (means): with {cores} cores no number "
                        f"of jobs can push it in under about {floor:.2f} s, a ratio of at most about "
                        f"{median(serial) / floor:.1f}×."
                    )
            hold_requests(0)
            shutil.rmtree(folder)

            # 3. Nothing to do: a push of many versions the remote holds already.
            store = project(work, "noop", env)
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
            from mreg import Registry

            registry = Registry(store)
            source = work / "small.bin"
            for i in range(options.versions):
                source.write_bytes(os.urandom(256))
                registry.create_model_version(f"m{i % 10}", str(source))
            run([*mreg, "push"], env, store)
            noop = timed(options.runs, lambda: None, [*mreg, "push"], env, store)
            rows.append({"what": f"mreg push with all {options.versions:,} versions there", "seconds": noop})
            budgets.append(
                (
                    f"push of {options.versions:,} versions already there",
                    f"{median(noop) * 1000:,.0f} ms",
                    "< 2,000 ms",
                    median(noop) < 2,
                )
            )
    finally:
        if options.work is None:
            shutil.rmtree(work, ignore_errors=True)

    print(
        f"Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; load average {load_at_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; "
        f"{options.runs} runs each, medians.\n"
    )
    print("| command | median | runs |\n|---|---|---|")
    for row in rows:
        seconds = row["seconds"]
        assert isinstance(seconds, list)
        print(f"| {row['what']} | {median(seconds):.2f} s | {', '.join(f'{s:.2f}' for s in seconds)} |")
    print("\n| budget | measured | limit | met |\n|---|---|---|---|")
    for what, measured, limit, met in budgets:
        print(f"| {what} | {measured} | {limit} | {'yes' if met else '**no**'} |")
    for note in notes:
        print(f"\n{note}")
    if options.json:
        options.json.write_text(
            json.dumps({"rows": rows, "budgets": [list(b) for b in budgets], "notes": notes}, indent=2) + "\n"
        )
    return 0 if all(b[3] for b in budgets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
