"""Crash safety: a writer killed (SIGKILL) at any instant leaves a store that loads, that fsck finds
no error in (only leftovers, which gc removes), in which a new register succeeds, and in which all
previously committed data is intact.

Every step that changes the disk goes through ``files.checkpoint``; ``MREG_CRASH_AT=N`` kills the
process at the N-th. The step tests kill each operation at each of its steps in turn; the random
test kills a process doing many operations at random moments.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import WORKERS

from mreg import Registry
from mreg.fsck import ERROR, LEFTOVER
from mreg.store.records import Tombstone

State = dict[str, dict[Any, Any]]


class ForkServer:
    """Runs worker jobs in processes forked from one that has mreg imported already (see
    ``workers.serve``): a killed writer costs a fork, not a Python start-up."""

    def __init__(self, stderr: Path) -> None:
        self.stderr_path = stderr
        with stderr.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKERS), "serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,  # its own process group: close() ends any child left
            )
        self.output: list[str] = []

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the fork server died: {self.stderr_path.read_text()}"
        return line.rstrip("\n")

    def start(self, job: str, *args: str, crash_at: int = 0) -> int:
        """Start a job; return its pid. Its output so far is in ``self.output``."""
        assert self.proc.stdin is not None
        self.output = []
        self.proc.stdin.write(json.dumps([crash_at, job, *args]) + "\n")
        self.proc.stdin.flush()
        while not (line := self._line()).startswith("pid "):
            self.output.append(line)
        return int(line.split()[1])

    def read_until(self, wanted: str) -> None:
        """Wait for the job to print ``wanted`` (perhaps already printed before its pid)."""
        while wanted not in self.output:
            line = self._line()
            assert not line.startswith("exit "), f"the job ended: {self.stderr_path.read_text()}"
            self.output.append(line)

    def read_lines(self, prefix: str, count: int) -> None:
        """Wait for the job to have printed ``count`` lines starting with ``prefix``."""
        while sum(line.startswith(prefix) for line in self.output) < count:
            line = self._line()
            assert not line.startswith("exit "), f"the job ended: {self.stderr_path.read_text()}"
            self.output.append(line)

    def finish(self) -> tuple[int, list[str]]:
        """Wait for the job; return its exit status (-9: killed) and everything it printed."""
        while not (line := self._line()).startswith("exit "):
            self.output.append(line)
        return int(line.split()[1]), self.output

    def run(self, job: str, *args: str, crash_at: int = 0) -> tuple[int, list[str]]:
        self.start(job, *args, crash_at=crash_at)
        return self.finish()

    def close(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group this server leads
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def forks(tmp_path: Path) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path / "fork-server.stderr")
    yield server
    server.close()


def committed_state(registry: Registry) -> State:
    """The committed state, without timestamps: models, live versions, tombstones, aliases."""
    state: State = {"models": {}, "versions": {}, "tombstones": {}, "aliases": {}}
    for name in registry.model_names():
        model = registry.get_registered_model(name)
        state["models"][name] = (model.description, tuple(sorted(model.tags.items())))
        for alias, version in model.aliases.items():
            state["aliases"][name, alias] = version
        for number in registry.store.version_numbers(name):
            record = registry.store.version(name, number)
            assert record is not None
            if isinstance(record, Tombstone):
                state["tombstones"][name, number] = record.source
                continue
            mv = registry.get_model_version(name, number)
            state["versions"][name, number] = json.dumps(
                [mv.source, mv.artifact.to_dict(), mv.run_id, mv.description, mv.tags, mv.current_stage]
            )
    return state


def assert_between(state: State, before: State, after: State) -> None:
    """Each record (a file: written atomically) is as it was before the operation or as the
    operation leaves it; and no version live before and after is missing (under any name)."""
    for part in state:
        for key in {*state[part], *before[part], *after[part]}:
            assert state[part].get(key) in (before[part].get(key), after[part].get(key)), (part, key)
    surviving = set(before["versions"].values()) & set(after["versions"].values())
    assert surviving <= set(state["versions"].values())


def assert_store_sound(store: Path, *, full: bool = True) -> Registry:
    """The store loads, fsck has no errors and at most leftovers, gc removes exactly those, and
    afterwards fsck finds nothing at all."""
    registry = Registry(store)
    findings = registry.fsck(full=full)
    assert [f for f in findings if f.severity == ERROR] == []
    assert {f.severity for f in findings} <= {LEFTOVER}, findings
    report = registry.gc(delete=True)
    assert set(report.removed) == set(findings) and report.kept == ()
    if full or findings:
        assert registry.fsck(full=full) == []
    return registry


def register_after_crash(registry: Registry, sources: Path, state: State) -> None:
    numbers = [n for (name, n) in [*state["versions"], *state["tombstones"]] if name == "other"]
    mv = registry.create_model_version("other", sources / "after.bin")
    assert mv.version == max(numbers) + 1
    assert registry.fsck(full=True) == []


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    folder = tmp_path / "sources"
    (folder / "new" / "sub").mkdir(parents=True)
    (folder / "new" / "a.txt").write_text("new a\n")
    (folder / "new" / "sub" / "b.txt").write_text("new b\n")
    (folder / "fresh.bin").write_text("fresh weights\n")
    (folder / "after.bin").write_text("registered after the crash\n")
    return folder


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A store with history: m/1 (file, @old), m/2 (folder, @champion), m/3 (URI), other/1, and a
    deleted version so that numbers are not simply 1..n."""
    root = tmp_path / "template"
    registry = Registry.init(root)
    (root / "one.bin").write_text("one\n")
    folder = root / "two"
    folder.mkdir()
    (folder / "w.bin").write_text("two w\n")
    (folder / "c.json").write_text("{}\n")
    registry.create_model_version("m", root / "one.bin", tags={"t": "1"}, aliases=["old"])
    registry.create_model_version("m", folder, aliases=["champion"], description="second")
    registry.create_model_version("m", "s3://bucket/three")
    registry.update_registered_model("m", "the model")
    registry.create_model_version("other", root / "one.bin")
    registry.create_model_version("other", root / "one.bin")
    registry.delete_model_version("other", 2)
    registry.artifact_path(registry.get_model_version("m", 2))  # a tree cache, too
    return root / ".mreg"


def run_crash_points(
    template: Path, sources: Path, tmp_path: Path, forks: ForkServer, operation: str
) -> None:
    before = committed_state(Registry(template))
    # Run once to the end: the state after, and how many write steps the operation takes.
    done = tmp_path / "done"
    shutil.copytree(template.parent, done, symlinks=True)
    status, output = forks.run("crash", str(done / ".mreg"), operation, str(sources), crash_at=10**9)
    assert status == 0, forks.stderr_path.read_text()
    steps = int(output[-1])
    assert steps >= 4
    after = committed_state(Registry(done / ".mreg"))
    assert after != before
    outcomes = set()
    for step in range(1, steps + 1):
        copy = tmp_path / f"crash{step}"
        shutil.copytree(template.parent, copy, symlinks=True)
        store = copy / ".mreg"
        status, _ = forks.run("crash", str(store), operation, str(sources), crash_at=step)
        assert status == -signal.SIGKILL, (step, forks.stderr_path.read_text())
        state = committed_state(Registry(store))
        assert_between(state, before, after)
        outcomes.add(state == after)
        registry = assert_store_sound(store)
        register_after_crash(registry, sources, state)
        if operation == "register_new_model" and "Fresh" not in state["models"]:
            # An interrupted create may leave models/Fresh/ without model.toml: it must not
            # block the same name in another case (on macOS and Windows it is the same folder).
            registry.create_model_version("FRESH", sources / "fresh.bin")
    assert False in outcomes  # the early kills left the store as it was before


@pytest.mark.slow
@pytest.mark.parametrize(
    "operation",
    [
        "register",
        "register_new_model",
        "alias_set",
        "alias_delete",
        "rename",
        "delete_model",
        "delete_version",
        "tag_set",
    ],
)
def test_kill_at_every_write_step(
    template: Path, sources: Path, tmp_path: Path, forks: ForkServer, operation: str
) -> None:
    run_crash_points(template, sources, tmp_path, forks, operation)


def test_crash_hook_is_inert_without_the_variable(registry: Registry, model_file: Path) -> None:
    from mreg.store import files

    assert files._crash_at == 0
    registry.create_model_version("m", model_file)
    assert files._steps_taken == 0


# ------------------------------------------------------------------------------------ random kills


class Expected:
    """What the store must hold for model "m", from the operations known to be committed."""

    def __init__(self) -> None:
        self.versions: dict[int, str] = {}  # live version → the op id in its tags
        self.champion: int | None = None

    def apply(self, op: dict[str, Any], result: dict[str, Any]) -> None:
        if op["op"] == "register":
            self.versions[result["version"]] = op["id"]
        elif op["op"] == "delete_version":
            del self.versions[op["version"]]
            if self.champion == op["version"]:
                self.champion = None
        elif op["op"] == "alias":
            self.champion = op["version"]

    def check(self, registry: Registry, pending: dict[str, Any] | None) -> None:
        """The store holds exactly the committed state, or that state with the operation in
        flight applied; then the in-flight operation's outcome is adopted."""
        live = {mv.version: mv for mv in registry.list_model_versions("m")}
        champion = registry.get_aliases("m").get("champion")
        ids = {n: mv.tags["op"] for n, mv in live.items()}
        op = pending or {"op": None}
        new_versions = sorted(set(ids) - set(self.versions))
        if op["op"] == "register" and new_versions:
            assert new_versions == [max(ids)] and ids[max(ids)] == op["id"]
            self.apply(op, {"version": max(ids)})
        elif (op["op"] == "delete_version" and op["version"] not in ids) or (
            op["op"] == "alias" and champion == op["version"] != self.champion
        ):
            self.apply(op, {})
        elif op["op"] == "delete_version" and champion is None and self.champion == op["version"]:
            self.champion = None  # the version's aliases are removed first: killed just after
        assert ids == self.versions
        assert champion == self.champion


@pytest.mark.slow
def test_random_kills(tmp_path: Path, sources: Path, forks: ForkServer) -> None:
    """A process changing the store in every way is killed at a random moment, 100 times over;
    after each kill the store is sound and holds every committed change."""
    rng = random.Random(20261126)
    committed = in_flight = 0
    for iteration in range(100):
        if iteration % 10 == 0:  # a new store now and then keeps each check quick
            registry = Registry.init(tmp_path / f"random{iteration}")
            store = registry.root
            expected = Expected()
            first = registry.create_model_version("m", sources / "after.bin", tags={"op": "first"})
            expected.apply({"op": "register", "id": "first"}, {"version": first.version})
        pid = forks.start("churn", str(store), str(iteration))
        forks.read_until("ready")
        # A random number of operations begin, then the kill comes at a random moment of the
        # last one or just after it: what completes first does not depend on the machine's load.
        forks.read_lines("begin ", rng.randint(2, 4))
        time.sleep(rng.uniform(0, 0.01))
        os.kill(pid, signal.SIGKILL)
        status, output = forks.finish()
        assert status == -signal.SIGKILL, forks.stderr_path.read_text()
        pending: dict[str, Any] | None = None
        for line in output:
            kind, _, payload = line.partition(" ")
            if kind == "begin":
                pending = json.loads(payload)
            elif kind == "done":
                assert pending is not None
                expected.apply(pending, json.loads(payload))
                committed += 1
                pending = None
        in_flight += pending is not None
        registry = assert_store_sound(store, full=iteration % 10 == 0)
        expected.check(registry, pending)
        mv = registry.create_model_version("m", sources / "after.bin", tags={"op": f"after-{iteration}"})
        expected.apply({"op": "register", "id": f"after-{iteration}"}, {"version": mv.version})
    assert committed >= 100
    assert in_flight >= 50  # most kills landed inside an operation, not between two
