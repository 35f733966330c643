"""The hostile-store table: each kind of file someone else could plant in a store (a FIFO, a
folder, a symlink, a huge integer, a huge or deep file, escape sequences, a committed cache, a
crafted ``.git``) against every read command and fsck. The generic promises only: each command
ends within 5 s, exits 0, 1, 3 or 5, says what is wrong in one line naming the file, shows no
traceback, and writes nothing outside the store and DEST. (Exit 1 is the documented code of a
malformed store file that stops a command, docs/exit-codes.md; a listing or fsck that goes on
past it exits 5.)

Each plant runs in one real process: a small driver calls ``mreg``'s command line in-process
for every command in turn, each under a 5-second alarm, so a command that blocks (on a FIFO) is
caught and named, and the whole table stays fast."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import git

from mreg import Registry

COMMAND_SECONDS = 5
ALLOWED_EXITS = {0, 3, 5}

COMMANDS: list[list[str]] = [
    ["models", "list"],
    ["models", "show", "m"],
    ["versions", "list"],
    ["versions", "list", "m"],
    ["versions", "show", "m", "1"],
    ["resolve", "m/1"],
    ["resolve", "m@champion", "--field", "path"],
    ["alias", "list", "m"],
    ["history", "m"],
    ["get", "m/1", "-o", "DEST"],
    ["fsck"],
    ["fsck", "--full"],
    ["gc"],
]
GIT_COMMANDS = [["diff"]]

DRIVER = f"""
import contextlib, io, json, signal, sys

class Hang(BaseException):
    pass

def alarm(signum, frame):
    raise Hang()

signal.signal(signal.SIGALRM, alarm)
from mreg.cli.app import app

results = []
for index, args in enumerate(json.loads(sys.argv[1])):
    args = [a.replace("DEST", f"{{sys.argv[2]}}/out-{{index}}") for a in args]
    out, err = io.StringIO(), io.StringIO()
    code = None
    signal.alarm({COMMAND_SECONDS})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            app(args, prog_name="mreg")
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except Hang:
        code = "hang"
    finally:
        signal.alarm(0)
    results.append({{"args": args, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}})
print(json.dumps(results))
"""


# ----------------------------------------------------------------------------- the plants
# Each plants one file into a store holding model m (versions 1 and 2, alias champion → 2) and
# returns the text a failing command must name (the file, as the store shows it).


def _fifo(rel: str) -> Callable[[Path], str]:
    def plant(store: Path) -> str:
        path = store / rel if rel != "EVENT" else _first_event(store)
        path.unlink()
        os.mkfifo(path)
        return path.relative_to(store).as_posix()

    return plant


def _first_event(store: Path) -> Path:
    folder = store / "models/m/history"
    return folder / sorted(os.listdir(folder))[0]


def folder_as_version(store: Path) -> str:
    path = store / "models/m/versions/1.toml"
    path.unlink()
    path.mkdir()
    return "models/m/versions/1.toml"


def symlinked_alias(store: Path) -> str:
    secret = store.parent.parent / "secret"
    secret.write_text("version = 1\n")
    path = store / "models/m/aliases/champion"
    path.unlink()
    path.symlink_to(secret)
    return "models/m/aliases/champion"


def huge_integer_alias(store: Path) -> str:
    (store / "models/m/aliases/champion").write_text("version = " + "9" * 5000 + "\n")
    return "models/m/aliases/champion"


def huge_event(store: Path) -> str:
    path = _first_event(store)
    path.write_bytes(path.read_bytes() + b"#" * (2 * 1024 * 1024) + b"\n")
    return path.relative_to(store).as_posix()


def deep_manifest(store: Path) -> str:
    path = store / "models/m/versions/1.toml"
    text = path.read_text()
    assert 'path = "m1.bin"' in text
    path.write_text(text.replace('path = "m1.bin"', 'path = "' + "d/" * 2000 + 'm1.bin"'))
    return "models/m/versions/1.toml"


def escape_sequences(store: Path) -> str:
    bad = store / "models" / "bad\x1b]0;owned\x07"
    bad.mkdir()
    model = (store / "models/m/model.toml").read_text()
    (bad / "model.toml").write_text(model)
    (store / "models/m/model.toml").write_text(model + 'description = "\\u001b[2J\\u001b]0;owned\\u0007"\n')
    return "bad\\x1b]0;owned\\x07"


def committed_cache(store: Path) -> str:
    cached = store / "cache/trees" / ("ab" * 32) / "config.json"
    cached.parent.mkdir(parents=True)
    cached.write_text("{}\n")
    git("add", "-f", str(cached), cwd=store.parent)
    git("commit", "-q", "-m", "cache", cwd=store.parent)
    return "cache/trees"


def crafted_git(store: Path) -> str:
    top = store.parent
    (top.parent / "secret").write_text("0123456789abcdef\n")
    fake = top / "fake-git"
    (fake / "refs").mkdir(parents=True)
    (fake / "HEAD").write_text("ref: ../../../secret\n")
    (top / ".git").write_text(f"gitdir: {fake}\n")
    return "fake-git"  # what .git points at: git's own errors name it


PLANTS: dict[str, tuple[Callable[[Path], str], bool]] = {
    # kind: (plant, inside a git repository made by the test)
    "fifo model.toml": (_fifo("models/m/model.toml"), False),
    "fifo version file": (_fifo("models/m/versions/1.toml"), False),
    "fifo alias file": (_fifo("models/m/aliases/champion"), False),
    "fifo event file": (_fifo("EVENT"), False),
    "fifo config": (_fifo("config.toml"), False),
    "folder as version file": (folder_as_version, False),
    "symlinked alias file": (symlinked_alias, False),
    "huge integer in alias file": (huge_integer_alias, False),
    "huge event file": (huge_event, False),
    "deep manifest path": (deep_manifest, False),
    "escape sequences": (escape_sequences, False),
    "committed cache": (committed_cache, True),
    "crafted .git": (crafted_git, False),  # the plant is the repository
}


def _make_store(top: Path, in_git: bool) -> Path:
    top.mkdir()
    if in_git:
        git("init", "-q", "-b", "main", cwd=top)
    registry = Registry.init(top)
    for n in (1, 2):
        source = top / f"m{n}.bin"
        source.write_bytes(f"weights {n}\n".encode())
        registry.create_model_version("m", source, aliases=["champion"] if n == 2 else [])
    if in_git:
        git("add", "-A", cwd=top)
        git("commit", "-q", "-m", "registry", cwd=top)
    return registry.root


def _snapshot_outside(base: Path, store: Path, dest: Path) -> dict[str, str]:
    """Every file under ``base`` but the store and DEST: path → sha256 (or the link target).
    A FIFO is listed by kind, never opened."""
    found: dict[str, str] = {}
    for folder, dirnames, filenames in os.walk(base):
        here = Path(folder)
        dirnames[:] = [d for d in dirnames if here / d not in (store, dest)]
        for name in filenames:
            path = here / name
            rel = path.relative_to(base).as_posix()
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif not path.is_file():
                found[rel] = "special"
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.mark.parametrize("kind", list(PLANTS))
def test_a_hostile_store_never_hangs_crashes_or_writes_outside(tmp_path: Path, kind: str) -> None:
    plant, in_git = PLANTS[kind]
    top = tmp_path / "work" / "project"
    store = _make_store(top, in_git)
    named = plant(store)
    dest = tmp_path / "dest"
    dest.mkdir()
    before = _snapshot_outside(tmp_path, store, dest)
    commands = COMMANDS + (GIT_COMMANDS if in_git or kind == "crafted .git" else [])
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(commands), str(dest)],
        cwd=top,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS * len(commands) + 30,  # the hang guard of the whole process
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    problems = []
    for result in results:
        args, code, out, err = result["args"], result["code"], result["stdout"], result["stderr"]
        shown = " ".join(args[:4])
        if code == "hang":
            problems.append(f"{shown}: did not end within {COMMAND_SECONDS} s")
            continue
        if code not in ALLOWED_EXITS:
            problems.append(f"{shown}: exit {code}: {err!r}")
        if "Traceback" in err or "unexpected" in err:
            problems.append(f"{shown}: a crash: {err!r}")
        if code in (1, 5):
            error_lines = [line for line in err.splitlines() if line.startswith("error: ")]
            if not error_lines:
                problems.append(f"{shown}: exit {code} without an error line: {err!r}")
            if named not in err and named not in out:
                problems.append(f"{shown}: exit {code} without naming {named!r}: {err!r}")
            if len(error_lines) > 1 + err.count(".mreg/models:"):  # one per bad entry at most
                problems.append(f"{shown}: several error lines for one problem: {err!r}")
    assert not problems, "\n".join(problems)
    assert _snapshot_outside(tmp_path, store, dest) == before
