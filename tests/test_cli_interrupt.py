"""Ctrl-C ends mreg with one line ``error: interrupted`` and exit code 130 from the entry point's
first line on: while Python imports the command line, while the command runs, at a prompt. Never a
traceback. Real processes, since only a process receives a signal."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mreg import Registry

# Runs the command as the `mreg` script does, but sends itself SIGINT the moment Python starts
# importing the module named by its first argument: an interrupt at a known point of start-up.
INTERRUPT_AT_IMPORT = """
import os, signal, sys
target = sys.argv.pop(1)
from mreg.cli.entry import main

class Interrupt:
    def find_spec(self, name, path=None, module=None):
        if name == target:
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, Interrupt())
main()
"""

# The same, after telling the test (one byte on the pipe whose fd is its first argument) that the
# entry point's first line has run.
READY_THEN_RUN = """
import os, sys
ready = int(sys.argv.pop(1))
from mreg.cli.entry import main
os.write(ready, b"r")
os.close(ready)
main()
"""

ARGS = ["alias", "set", "fraud", "champion", "2"]


@pytest.fixture
def two_versions(registry: Registry, model_file: Path) -> Registry:
    registry.create_model_version("fraud", model_file)
    registry.create_model_version("fraud", model_file)
    registry.set_registered_model_alias("fraud", "champion", 1)
    return registry


def assert_interrupted_or_done(proc: subprocess.CompletedProcess[str], registry: Registry) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    champion = registry.get_registered_model("fraud").aliases.get("champion")
    if proc.returncode == 130:
        assert proc.stderr == "error: interrupted\n"
        assert champion in (1, 2)  # before or after, nothing in between
    else:
        assert (proc.returncode, proc.stderr, champion) == (0, "", 2)


# `alias set NAME ALIAS VERSION` takes the script's fast path (mreg.cli.fastpath), which imports
# neither Typer nor the command's module; with a global option first it takes the full one.
FULL_PATH = ["--lock-timeout", "30"]


@pytest.mark.parametrize(
    ("module", "before"),
    [
        ("typer", FULL_PATH),  # the command line's first heavy import
        ("mreg.registry", FULL_PATH),
        ("mreg.cli.alias", FULL_PATH),  # building the command, inside the error funnel
        ("filelock", FULL_PATH),  # the command is running
        ("mreg.cli.actions", []),  # the fast path
        ("mreg.registry", []),
        ("filelock", []),
    ],
)
def test_an_interrupt_while_starting_is_one_line_and_130(
    two_versions: Registry, isolated: Path, module: str, before: list[str]
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", INTERRUPT_AT_IMPORT, module, *before, *ARGS, "-q"],
        cwd=isolated,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stderr) == (130, "error: interrupted\n")
    assert proc.stdout == ""
    assert two_versions.get_registered_model("fraud").aliases["champion"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0, 0.001, 0.003, 0.01, 0.03, 0.1])
def test_an_interrupt_at_any_moment_is_one_line_and_130_or_the_command_finishes(
    two_versions: Registry, isolated: Path, delay: float
) -> None:
    # The delays are counted from the entry point's first line; whatever instant the signal
    # lands on, the outcome is one of the two documented ones (which one depends on the machine).
    for _ in range(3):
        two_versions.set_registered_model_alias("fraud", "champion", 1)
        ready_r, ready_w = os.pipe()
        proc = subprocess.Popen(
            [sys.executable, "-c", READY_THEN_RUN, str(ready_w), *ARGS, "-q"],
            cwd=isolated,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=(ready_w,),
        )
        os.close(ready_w)
        assert os.read(ready_r, 1) == b"r"
        os.close(ready_r)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert_interrupted_or_done(
            subprocess.CompletedProcess(proc.args, proc.returncode, out, err), two_versions
        )


def test_the_command_and_python_m_start_at_the_entry_point() -> None:
    # the installed `mreg` script and `python -m mreg` both run mreg.cli.entry first, and importing
    # the package imports nothing else, so the entry point's first line runs before any heavy import
    import tomllib

    from helpers import REPO

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["tool"]["setuptools"]["script-files"] == ["bin/mreg"]
    assert "scripts" not in project["project"]  # no generated wrapper importing re first
    script = (REPO / "bin" / "mreg").read_text(encoding="utf-8")
    statements = [line for line in script.splitlines() if line and not line.startswith(("#", " "))]
    # built-in modules only, and the handler set, before anything of mreg (or typing, re) loads
    assert statements[:3] == ["import os", "import signal", "def interrupted(signum, frame):"]
    assert statements[3] == "signal.signal(signal.SIGINT, interrupted)"
    assert statements[4].startswith("from mreg.cli.entry import main")
    main_py = (REPO / "src" / "mreg" / "__main__.py").read_text(encoding="utf-8")
    assert "from mreg.cli.entry import main" in main_py
    code = (
        "import sys, mreg.cli.entry; "
        "print(sorted(m for m in sys.modules if m.startswith(('mreg', 'typer')) or m in ('typing', 're')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "['mreg', 'mreg.cli', 'mreg.cli.entry', 'mreg.cli.interrupt']"


def test_ctrl_c_at_the_delete_prompt_is_an_interrupt(two_versions: Registry, isolated: Path) -> None:
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mreg", "versions", "delete", "fraud", "1"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=isolated,
    )
    os.close(slave)
    screen = b""
    while b"[y/N]" not in screen:
        chunk = os.read(master, 1024)
        assert chunk, screen
        screen += chunk
    proc.send_signal(signal.SIGINT)
    while True:
        # A signal that lands after Python's last check and before input()'s read() is seen only
        # at the next one (CPython's input() rechecks signals only when read() is interrupted): as a
        # person would, press Ctrl-C again if nothing happened for a while.
        if not select.select([master], [], [], 5)[0]:
            proc.send_signal(signal.SIGINT)
            continue
        try:
            chunk = os.read(master, 1024)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 130
    text = screen.decode().replace("\r\n", "\n")
    assert text.endswith("error: interrupted\n"), text
    assert "Traceback" not in text and "aborted" not in text
    assert two_versions.get_model_version("fraud", 1).version == 1


def test_an_error_raised_because_of_ctrl_c_is_the_interrupt(capsys: pytest.CaptureFixture[str]) -> None:
    """A Ctrl-C landing in a descriptor's ``__set_name__`` while a module is imported comes out
    of Python 3.11 as a RuntimeError, and one landing while a command unwinds can surface as the
    error of its cleanup: both are the interrupt (130), not an unexpected error (1)."""
    from mreg.cli.funnel import failure_code

    class Named:
        def __set_name__(self, owner: type, name: str) -> None:
            raise KeyboardInterrupt

    caught: list[BaseException] = []
    try:

        class Owner:
            attribute = Named()

    except (RuntimeError, KeyboardInterrupt) as err:
        caught.append(err)
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise OSError(5, "cleanup failed") from None
    except OSError as err:
        caught.append(err)
    assert len(caught) == 2
    for err in caught:
        assert failure_code(err, debug=False) == 130
        assert capsys.readouterr().err == "error: interrupted\n"
    assert failure_code(RuntimeError("boom"), debug=False) == 1
    assert "unexpected RuntimeError: boom" in capsys.readouterr().err


def test_ctrl_c_inside_an_import_exits_at_once_and_elsewhere_unwinds(tmp_path: Path) -> None:
    """Within a running command, Ctrl-C raises KeyboardInterrupt so that the command unwinds,
    except inside an import (mreg imports lazily), where it exits at once with the one line."""
    (tmp_path / "interrupted_on_import.py").write_text("import signal\nsignal.raise_signal(signal.SIGINT)\n")
    code = (
        "import signal, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from mreg.cli import interrupt\n"
        "interrupt.install()\n"
        "with interrupt.interruptible():\n"
        "    try:\n"
        "        signal.raise_signal(signal.SIGINT)\n"
        "    except KeyboardInterrupt:\n"
        "        print('unwound', flush=True)\n"
        "    import interrupted_on_import\n"
        "    print('not reached')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (130, "unwound\n", "error: interrupted\n")
