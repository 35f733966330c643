"""Concurrent writers: many processes registering versions of one model at the same moment."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mreg import Registry

PROCESSES = 8
EACH = 8

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mreg import Registry

    worker, each, go = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    registry = Registry(Path.cwd())
    while not go.exists():  # start together, to make the writers collide
        time.sleep(0.001)
    for n in range(each):
        source = Path(f"w{worker}-{n}.bin")
        source.write_bytes(f"worker {worker} version {n}".encode())
        aliases = [f"w{worker}"] if n == each - 1 else []
        registry.create_model_version("fraud", source, run_id=f"w{worker}-{n}", aliases=aliases)
    """
)


@pytest.mark.slow
def test_concurrent_registers_end_with_versions_exactly_1_to_n(registry: Registry, isolated: Path) -> None:
    go = isolated / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(w), str(EACH), str(go)],
            cwd=isolated,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(PROCESSES)
    ]
    time.sleep(0.5)  # let them start and wait; not a timed assertion
    go.touch()
    for proc in writers:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err

    total = PROCESSES * EACH
    reader = Registry(isolated)
    versions = reader.list_model_versions("fraud")
    assert [v.version for v in versions] == list(range(1, total + 1))
    assert sorted(v.run_id for v in versions) == sorted(
        f"w{w}-{n}" for w in range(PROCESSES) for n in range(EACH)
    )
    for mv in versions:  # every record readable, every artifact whole
        again = reader.get_model_version("fraud", mv.version)
        reader.check_integrity(again)
        worker, n = again.run_id[1:].split("-")
        assert reader.artifact_path(again).read_bytes() == f"worker {worker} version {n}".encode()
    events = reader.get_history("fraud")
    assert [e.action for e in events].count("model_created") == 1
    assert sorted(e.version for e in events if e.action == "version_registered") == list(range(1, total + 1))
    assert len({e.id for e in events}) == len(events)
    aliases = reader.get_aliases("fraud")
    assert sorted(aliases) == [f"w{w}" for w in range(PROCESSES)]
    for alias, number in aliases.items():
        assert reader.get_model_version("fraud", number).run_id == f"{alias}-{EACH - 1}"
    assert list(reader.root.rglob("*.tmp")) == []  # no temp file left behind
