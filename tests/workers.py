"""Programs that the crash and concurrency tests run as real processes (``python workers.py JOB …``).

They use the Python API, which starts faster than the command line; each prints what it has
committed, one line at a time and flushed, so that the test knows what must have survived a kill.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path

from mreg import Registry
from mreg.store import files


def say(line: str) -> None:
    """One line to stdout in one write: lines of processes sharing the pipe never interleave."""
    os.write(1, (line + "\n").encode())


# ------------------------------------------------------------------------- crash-point operations
# Each runs against the store built by test_crash.py's template: model "m" with versions 1 (a file,
# alias "old"), 2 (a folder, alias "champion") and 3 (a URI), and model "other" with version 1.
# New artifacts come from a folder of sources the test writes once.

CRASH_OPERATIONS: dict[str, Callable[[Registry, Path], object]] = {
    "register": lambda r, src: r.create_model_version(
        "m", src / "new", tags={"k": "v"}, aliases=["champion", "beta"]
    ),
    "register_new_model": lambda r, src: r.create_model_version("Fresh", src / "fresh.bin", aliases=["beta"]),
    "alias_set": lambda r, src: r.set_registered_model_alias("m", "champion", 1),
    "alias_delete": lambda r, src: r.delete_registered_model_alias("m", "old"),
    "rename": lambda r, src: r.rename_registered_model("m", "renamed"),
    "delete_model": lambda r, src: r.delete_registered_model("m"),
    "delete_version": lambda r, src: r.delete_model_version("m", 1),
    "tag_set": lambda r, src: r.set_model_version_tags("m", 2, {"a": "1", "b": "2"}),
}


def crash_operation(store: str, operation: str, sources: str) -> None:
    """Run one operation (new artifacts are written to ``sources``); print how many write steps
    it took (run with MREG_CRASH_AT beyond them to count)."""
    registry = Registry(store)
    CRASH_OPERATIONS[operation](registry, Path(sources))
    say(str(files._steps_taken))


# -------------------------------------------------------------------------------- random kills


def churn(store: str, seed: str) -> None:
    """Change the store in every way, forever (until killed). Before each operation prints
    ``begin {json}``, after it ``done``: a ``done`` operation is committed; the last ``begin``
    without one was in flight when the process died."""
    registry = Registry(store)
    rng = random.Random(seed)
    work = Path(store).parent
    live = [mv.version for mv in registry.list_model_versions("m")]
    say("ready")
    step = 0
    while True:
        step += 1
        op_id = f"{seed}-{step}"
        choice = rng.random()
        if choice < 0.4 or not live:
            source = work / f"src-{seed}.bin"
            source.write_text(op_id)
            _begin({"op": "register", "id": op_id})
            mv = registry.create_model_version("m", source, tags={"op": op_id})
            live.append(mv.version)
            _done({"version": mv.version, "digest": mv.artifact.digest})
        elif choice < 0.6:
            target = rng.choice(live)
            _begin({"op": "alias", "alias": "champion", "version": target})
            registry.set_registered_model_alias("m", "champion", target)
            _done({})
        elif choice < 0.7 and len(live) > 2:
            target = rng.choice(live[:-1])
            _begin({"op": "delete_version", "version": target})
            registry.delete_model_version("m", target)
            live.remove(target)
            _done({})
        elif choice < 0.85:
            names = registry.model_names()
            old, new = ("scratch", "scratch2") if "scratch" in names else ("scratch2", "scratch")
            if old not in names:
                _begin({"op": "create", "name": old})
                registry.create_registered_model(old, tags={"t": op_id})
            else:
                _begin({"op": "rename", "old": old, "new": new})
                registry.rename_registered_model(old, new)
            _done({})
        else:
            names = registry.model_names()
            scratch = next((n for n in ("scratch", "scratch2") if n in names), None)
            if scratch is None:
                continue
            _begin({"op": "delete_model", "name": scratch})
            registry.delete_registered_model(scratch)
            _done({})


def _begin(op: dict[str, object]) -> None:
    say("begin " + json.dumps(op))


def _done(result: dict[str, object]) -> None:
    say("done " + json.dumps(result))


# --------------------------------------------------------------------------------- concurrency


def register_many(store: str, worker: str, count: str) -> None:
    """Register ``count`` versions of model "shared", each with its own content and tags; print
    each version number with its tag."""
    registry = Registry(store, lock_timeout=120)
    work = Path(store).parent / f"w{worker}"
    work.mkdir(exist_ok=True)
    for i in range(int(count)):
        source = work / "model.bin"
        source.write_text(f"worker {worker} model {i}\n")
        mv = registry.create_model_version("shared", source, tags={"worker": worker, "seq": str(i)})
        say(f"{mv.version} {worker} {i}")


def move_alias(store: str, worker: str, count: str, versions: str) -> None:
    """Point alias "hot" at random versions, ``count`` times; print each version set."""
    registry = Registry(store, lock_timeout=120)
    rng = random.Random(worker)
    for _ in range(int(count)):
        target = rng.randint(1, int(versions))
        registry.set_registered_model_alias("counted", "hot", target)
        say(str(target))


def count_with_alias(store: str, increments: str) -> None:
    """Add 1 to a counter kept as alias "counter" of model "counted" (its version is the count),
    ``increments`` times, by compare-and-swap: read, then set with ``expect``; on Conflict read
    again. Print the number of conflicts met."""
    from mreg import Conflict, NotFound

    registry = Registry(store, lock_timeout=120)
    conflicts = 0
    for _ in range(int(increments)):
        while True:
            try:
                current = registry.get_model_version_by_alias("counted", "counter").version
            except NotFound:
                current = 0
            try:
                registry.set_registered_model_alias("counted", "counter", current + 1, expect=current)
                break
            except Conflict:
                conflicts += 1
    say(str(conflicts))


def hold_lock(store: str) -> None:
    """Take the store lock, say so, and hold it until killed."""
    registry = Registry(store)
    with registry.store.locked():
        say("locked")
        sys.stdin.read()


def serve() -> None:
    """A fork server, so that a test can run hundreds of short-lived writer processes without
    paying Python's start-up for each: for every line ``[crash_at, job, args…]`` (JSON) on stdin,
    fork a child that runs the job (with ``MREG_CRASH_AT`` = crash_at when not 0) and print
    ``pid N`` when it starts and ``exit STATUS`` when it ends (-9 when killed by SIGKILL). The
    children write their own output to the same stdout, a line at a time."""
    for line in sys.stdin:
        crash_at, job, *args = json.loads(line)
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                files._crash_at, files._steps_taken = crash_at, 0
                JOBS[job](*args)
            except BaseException:
                import traceback

                traceback.print_exc()
                status = 1
            finally:
                sys.stderr.flush()
                os._exit(status)
        say(f"pid {pid}")
        _, wait_status = os.waitpid(pid, 0)
        say(f"exit {os.waitstatus_to_exitcode(wait_status)}")


def cli_serve() -> None:
    """Run ``mreg`` command lines, each in a process of its own forked from this one, which has the
    command line imported already (see ``helpers.CliProcesses``): for every line ``{"args": [...],
    "cwd": ..., "env": {...}}`` (JSON) on stdin, print one line ``{"code": N, "stdout": ...,
    "stderr": ...}`` when that process has ended. The process runs the command as ``python -m
    mreg`` would after start-up: argv, working directory, environment, standard streams, exit."""
    import runpy
    import tempfile
    import traceback

    # What every command imports before its own module (that one each process imports itself,
    # as mreg loads commands lazily); and filelock, which every writer loads for its first lock.
    import filelock  # noqa: F401

    import mreg.cli.app  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryDirectory() as folder:
            out, err = Path(folder, "stdout"), Path(folder, "stderr")
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    os.chdir(request["cwd"])
                    os.environ.clear()
                    os.environ.update(request["env"])
                    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                    os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT), 1)
                    os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT), 2)
                    sys.argv = ["-m", *request["args"]]  # as python sets it for -m, before runpy
                    runpy.run_module("mreg", run_name="__main__", alter_sys=True)
                    code = 0
                except SystemExit as done:  # as the interpreter maps sys.exit()
                    if done.code is None or isinstance(done.code, int):
                        code = done.code or 0
                    else:
                        print(done.code, file=sys.stderr)
                except BaseException:
                    traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            result = {
                "code": os.waitstatus_to_exitcode(status),
                "stdout": out.read_text(),
                "stderr": err.read_text(),
            }
            say(json.dumps(result))


JOBS: dict[str, Callable[..., None]] = {
    "crash": crash_operation,
    "churn": churn,
    "register-many": register_many,
    "move-alias": move_alias,
    "hold-lock": hold_lock,
    "count": count_with_alias,
    "serve": serve,
    "cli-serve": cli_serve,
}

if __name__ == "__main__":
    os.environ.pop("MREG_STORE", None)
    JOBS[sys.argv[1]](*sys.argv[2:])
