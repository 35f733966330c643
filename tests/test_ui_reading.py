"""How the page reads the store and starts: each file read once (counted opens), the same
entities as the registry's own readers, and ``mreg ui serve`` through the fast path (no Typer,
the socket listening before Jinja2 is imported), answering errors as the full command line."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Cli

from mreg import Registry
from mreg.cli.fastpath import plan
from mreg.store import files
from mreg.ui import pages, reading


@pytest.fixture
def deep(registry: Registry, isolated: Path) -> Registry:
    """Model ``deep``: versions 1..12 (5 deleted; 3 Production, 4 Staging, 9 Archived), aliases
    champion → 3 and challenger → 12; model ``wide-a`` and ``wide-b`` with 3 versions each,
    the newest of ``wide-b`` deleted."""
    source = isolated / "m.bin"
    for n in range(1, 13):
        source.write_bytes(f"weights {n}\n".encode())
        registry.create_model_version("deep", source, tags={"n": str(n)}, description=f"# v{n}")
    registry.delete_model_version("deep", 5)
    registry.transition_model_version_stage("deep", 3, "Production")
    registry.transition_model_version_stage("deep", 4, "Staging")
    registry.transition_model_version_stage("deep", 9, "Archived")
    registry.set_registered_model_alias("deep", "champion", 3)
    registry.set_registered_model_alias("deep", "challenger", 12)
    for name in ("wide-a", "wide-b"):
        for _ in range(3):
            registry.create_model_version(name, source)
    registry.set_registered_model_alias("wide-a", "champion", 2)
    registry.delete_model_version("wide-b", 3)
    return registry


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """Every file of the store opened for reading, by path, with how many times."""
    seen: collections.Counter[str] = collections.Counter()
    real = files._open_regular

    def counting(path: Path | str, *, dir_fd: int | None = None, shown: Path | str | None = None) -> Any:
        seen[os.path.abspath(str(shown or path))] += 1
        return real(path, dir_fd=dir_fd, shown=shown)

    monkeypatch.setattr(files, "_open_regular", counting)
    return seen


def version_files(seen: collections.Counter[str], name: str) -> dict[str, int]:
    marker = f"{os.sep}{name}{os.sep}versions{os.sep}"
    return {path.rsplit(os.sep, 1)[1]: n for path, n in seen.items() if marker in path}


# --------------------------------------------------------------------------------- reading once


def test_the_model_page_reads_each_version_file_once(
    deep: Registry, opened: collections.Counter[str]
) -> None:
    page = pages.Site(Registry(deep.root)).model("deep")
    assert page.status == 200 and 'data-version="12"' in page.html
    assert version_files(opened, "deep") == {f"{n}.toml": 1 for n in range(1, 13)}
    assert max(opened.values()) == 1


def test_the_models_page_reads_one_version_file_a_model(
    deep: Registry, opened: collections.Counter[str]
) -> None:
    page = pages.Site(Registry(deep.root)).models("")
    assert page.status == 200
    assert version_files(opened, "deep") == {"12.toml": 1}
    assert version_files(opened, "wide-a") == {"3.toml": 1}
    assert version_files(opened, "wide-b") == {"3.toml": 1, "2.toml": 1}  # 3 is a tombstone
    assert max(opened.values()) == 1


def test_the_history_page_reads_each_event_once(deep: Registry, opened: collections.Counter[str]) -> None:
    page = pages.Site(Registry(deep.root)).history("deep")
    assert page.status == 200
    events = {p: n for p, n in opened.items() if f"{os.sep}deep{os.sep}history{os.sep}" in p}
    assert len(events) == len(deep.get_history("deep")) > 12
    assert set(events.values()) == {1}


# ----------------------------------------------------------------- the registry's answers, alike


def test_the_pages_read_what_the_registry_reads(deep: Registry) -> None:
    for name in ("deep", "wide-a", "wide-b"):
        model, versions = reading.model_and_versions(deep, name)
        assert model == deep.get_registered_model(name)
        assert versions == deep.list_model_versions(name)
        events, spans = reading.history_of(deep, name)
        assert events == deep.get_history(name)
        assert spans == deep.get_alias_history(name)
    for filter_string in (None, "name LIKE 'wide%'", "tags.nope = 'x'"):
        listed = list(deep.list_registered_models_page(filter_string, 1000))
        assert reading.all_models(deep, filter_string) == (listed, [])


def test_a_deleted_model_s_events_show_in_its_history(deep: Registry, isolated: Path) -> None:
    source = isolated / "again.bin"
    source.write_bytes(b"again\n")
    deep.delete_registered_model("wide-a")
    deep.create_model_version("wide-a", source)
    events, _ = reading.history_of(deep, "wide-a")
    assert events == deep.get_history("wide-a")
    assert "model_deleted" in [e.action for e in events]


def test_an_unreadable_file_is_reported_alike(deep: Registry) -> None:
    (deep.root / "models" / "wide-a" / "model.toml").write_text("name = \n")
    (deep.root / "models" / "deep" / "versions" / "12.toml").write_text("version = [\n")
    page = deep.list_registered_models_page(None, 1000)
    models, problems = reading.all_models(deep, None)
    assert models == list(page) and [m.name for m in models] == ["wide-b"]
    assert problems == [str(p) for p in page.problems] and len(problems) == 2
    with pytest.raises(Exception) as got:
        deep.list_model_versions("deep")
    with pytest.raises(type(got.value), match=r"12\.toml"):
        reading.model_and_versions(deep, "deep")


@pytest.mark.parametrize("length", [0, 1, 79, 80, 81, 84, 85, 86, 90, 200])
def test_truncated_is_jinja_s_truncate(length: int) -> None:
    from jinja2 import Environment

    text = "é<" * length
    want = Environment().from_string("{{ t | truncate(80, true) }}").render(t=text[:length])
    assert pages.truncated(text[:length]) == want


# ------------------------------------------------------------------------------------ start-up

SERVE_FORMS: list[tuple[list[str], bool]] = [
    (["ui", "serve"], True),
    (["ui", "serve", "--port", "0"], True),
    (["ui", "serve", "--port=8000", "--host", "localhost", "--open"], True),
    (["--store", "S", "ui", "serve", "--host=::1"], True),
    (["ui", "serve", "--port", "65536"], False),
    (["ui", "serve", "--port", "-1"], False),
    (["ui", "serve", "--port", "80a"], False),
    (["ui", "serve", "--port", "0", "--port", "1"], False),
    (["ui", "serve", "--open=yes"], False),
    (["ui", "serve", "--help"], False),
    (["ui", "serve", "extra"], False),
    (["ui", "export", "site"], False),
    (["ui"], False),
]


@pytest.mark.parametrize(("args", "fast"), SERVE_FORMS, ids=[" ".join(a) for a, _ in SERVE_FORMS])
def test_the_fast_path_takes_exactly_the_serve_forms(args: list[str], fast: bool) -> None:
    assert (plan(args, {}) is not None) is fast


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def _mreg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mreg", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_serve_errors_answer_as_the_full_command_line(
    deep: Registry, isolated: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = isolated.parent / "elsewhere"
    elsewhere.mkdir()
    cases = [
        (["ui", "serve", "--port", str(taken_port)], isolated),
        (["--store", str(isolated / "missing"), "ui", "serve", "--port", str(taken_port)], isolated),
        (["ui", "serve", "--port", "0"], elsewhere),  # no store found above this folder
    ]
    cli = Cli()
    for args, cwd in cases:
        assert plan(args, {}) is not None
        got = _mreg(*args, cwd=cwd)
        with monkeypatch.context() as patch:
            patch.chdir(cwd)
            want = cli(*args)
        assert (got.returncode, got.stdout, got.stderr) == (want.exit_code, want.stdout, want.stderr)
        assert got.returncode != 0 and got.stderr.startswith("error: ")


# Runs the `mreg` script's entry point, then writes the names of every module the process imported.
MODULES_AT_EXIT = """
import atexit, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w", encoding="utf-8").write("\\n".join(sorted(sys.modules))))
from mreg.cli.entry import main
main()
"""


def test_serve_runs_without_the_command_line(deep: Registry, tmp_path: Path) -> None:
    out = tmp_path / "modules.txt"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            MODULES_AT_EXIT,
            str(out),
            "--store",
            str(deep.root),
            "ui",
            "serve",
            "--port",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("Serving ") and "http://127.0.0.1:" in line
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            answer = b"".join(iter(lambda: conn.recv(65536), b""))
        assert answer.startswith(b"HTTP/1.1 200 ") and b'data-name="deep"' in answer
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0 and rest.strip().splitlines()[-1] == "Stopped."
    modules = out.read_text(encoding="utf-8").splitlines()
    assert "mreg.cli.fastpath" in modules and "mreg.cli.ui" in modules and "jinja2" in modules
    assert [
        m for m in modules if m.startswith(("typer", "click", "rich", "mreg.cli.app", "mreg.cli.ui_app"))
    ] == []


LISTEN_THEN_LIST = """
import sys
from pathlib import Path
from mreg.ui import server
httpd = server.make_server(Path(sys.argv[1]), "127.0.0.1", 0)
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("jinja2", "markupsafe", "markdown_it"))))
httpd.server_close()
"""


def test_the_server_listens_before_it_imports_the_templates(deep: Registry) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LISTEN_THEN_LIST, str(deep.root)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
