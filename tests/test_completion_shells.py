"""The generated completion scripts in real shells, against a real store, with the installed
``mreg`` on PATH (the virtual environment's bin folder), as a person's TAB would run them.

bash: the completion function called with COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT set, and once
through readline on a terminal. zsh and fish: the scripts load (sourced, and autoloaded from
$fpath for zsh), fish answers with `complete -C`, and zsh completes on a terminal. Where zsh or fish
is not installed (.ci/run installs both) their tests are skipped, with the reason in the summary.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shlex
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from helpers import REPO

from mreg import Registry

BIN = Path(sys.executable).parent
COMPLETIONS = REPO / "completions"
BREAKS = " \t\n\"'@><=;|&(:"

needs_zsh = pytest.mark.skipif(
    shutil.which("zsh") is None, reason="zsh is not installed (.ci/run installs it)"
)
needs_fish = pytest.mark.skipif(
    shutil.which("fish") is None, reason="fish is not installed (.ci/run installs it)"
)


def shell_env(store: Registry | None) -> dict[str, str]:
    assert (BIN / "mreg").exists(), f"the mreg command is not installed next to {sys.executable}"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "TERM": "dumb"}
    env["MREG_STORE"] = str(store.root) if store else "/nonexistent/store"
    return env


# --------------------------------------------------------------------------------------------- bash


def bash_words(line: str) -> list[str]:
    """COMP_WORDS as bash fills it: words split at blanks, runs of COMP_WORDBREAKS characters
    (such as ':' and '@') as words of their own, an empty word after a trailing blank."""
    words = re.findall(r"[^\s\"'@><=;|&(:]+|[\"'@><=;|&(:]+", line)
    return [*words, ""] if line.endswith(" ") else words


def readline_apply(line: str, candidate: str) -> str:
    """The line after readline inserts a single candidate: it replaces the text after the last
    word-break character, or from the last '@' (bash keeps that one in the word)."""
    word = re.split(r"[\s\"'><=;|&(:]|(?=@)", line)[-1]
    return line[: len(line) - len(word)] + candidate


def bash_complete(line: str, store: Registry | None) -> tuple[list[str], list[str]]:
    """COMPREPLY, and the compopt calls, for the cursor at the end of ``line``."""
    words = bash_words(line)
    program = "\n".join(
        [
            f"source {shlex.quote(str(COMPLETIONS / 'bash' / 'mreg'))}",
            'compopt() { echo "$1" "$2" >&2; }  # outside readline: record instead',
            f"COMP_LINE={shlex.quote(line)}",
            "COMP_POINT=${#COMP_LINE}",
            f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})",
            f"COMP_CWORD={len(words) - 1}",
            "_mreg_completion mreg",
            'printf "%s\\n" "${COMPREPLY[@]}"',
        ]
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        env=shell_env(store),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.split("\n") if w], [o for o in done.stderr.split("\n") if o]


SUBCOMMANDS = ["init", "register", "resolve", "get", "history", "models", "versions", "alias", "tag"]


def test_bash_subcommands(completion_store: Registry) -> None:
    reply, _ = bash_complete("mreg ", completion_store)
    assert set(SUBCOMMANDS) <= set(reply)
    assert bash_complete("mreg ver", completion_store) == (["versions"], [])
    assert bash_complete("mreg versions sh", completion_store) == (["show"], [])
    assert "--alias" in bash_complete("mreg register model.bin --", completion_store)[0]


@pytest.mark.parametrize(
    ("line", "reply", "options", "completed"),
    [
        ("mreg models show ", ["Iris\\ Classifier", "fraud"], [], None),
        ("mreg models show Ir", ["Iris\\ Classifier"], [], "mreg models show Iris\\ Classifier"),
        ("mreg alias set fraud ", ["champion"], [], "mreg alias set fraud champion"),
        ("mreg alias set fraud champion ", ["2", "1", "latest", "Production", "@champion"], [], None),
        ("mreg register model.bin --name fr", ["fraud"], [], "mreg register model.bin --name fraud"),
        ("mreg resolve models:/fr", ["/fraud"], ["-o nospace"], "mreg resolve models:/fraud"),
        ("mreg resolve models:/fraud@", ["@champion"], [], "mreg resolve models:/fraud@champion"),
        ("mreg resolve models:/fraud@ch", ["@champion"], [], "mreg resolve models:/fraud@champion"),
        ("mreg resolve models:/fraud/la", ["/fraud/latest"], [], "mreg resolve models:/fraud/latest"),
        ("mreg get fraud@", ["@champion"], [], "mreg get fraud@champion"),
        ("mreg register ", [], ["-o default"], None),  # a file name: bash completes it
    ],
)
def test_bash_completes_from_the_store(
    completion_store: Registry, line: str, reply: list[str], options: list[str], completed: str | None
) -> None:
    assert bash_complete(line, completion_store) == (reply, options)
    if completed is not None:
        assert readline_apply(line, reply[0]) == completed


def test_bash_without_a_store_offers_nothing() -> None:
    assert bash_complete("mreg models show ", None) == ([], [])
    assert bash_complete("mreg resolve models:/fraud@", None) == ([], [])


def test_bash_script_is_what_mreg_prints() -> None:
    done = subprocess.run(
        ["mreg"],
        env={**shell_env(None), "_MREG_COMPLETE": "source_bash"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.rstrip("\n") == (COMPLETIONS / "bash" / "mreg").read_text().rstrip("\n")


# ------------------------------------------------------------------------------ on a real terminal


class Terminal:
    """An interactive shell on a pseudo-terminal, to type into as a person would."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True
        )
        os.close(slave)
        self.output = ""

    def type(self, keys: str, *, until: str, timeout: float = 30) -> str:
        """Send keys, then read until ``until`` appears in what the shell printed since."""
        start = len(self.output)
        os.write(self.master, keys.encode())
        deadline = time.monotonic() + timeout
        while until not in self.output[start:] and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    break
        return self.output[start:]

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        os.close(self.master)


def complete_interactively(argv: list[str], setup: str, store: Registry, tmp_path: Path) -> str:
    """Type ``mreg resolve models:/fr<TAB>@cha<TAB><Enter>`` and return what the command printed."""
    term = Terminal(argv, shell_env(store), tmp_path)
    try:
        assert "READY" in term.type(setup + '; echo RE""ADY\n', until="READY")
        assert "fraud" in term.type("mreg resolve models:/fr\t", until="aud")
        assert "champion" in term.type("@cha\t", until="mpion")
        return term.type("\n", until="models:/fraud/2")
    finally:
        term.close()


@pytest.mark.slow
def test_bash_on_a_terminal(completion_store: Registry, tmp_path: Path) -> None:
    script = shlex.quote(str(COMPLETIONS / "bash" / "mreg"))
    printed = complete_interactively(
        ["bash", "--norc", "--noprofile", "-i"], f"source {script}", completion_store, tmp_path
    )
    assert "uri      models:/fraud/2" in printed


@needs_zsh
@pytest.mark.slow
def test_zsh_on_a_terminal(completion_store: Registry, tmp_path: Path) -> None:
    functions = tmp_path / "functions"
    functions.mkdir()
    shutil.copy(COMPLETIONS / "zsh" / "_mreg", functions / "_mreg")
    setup = f"fpath=({shlex.quote(str(functions))} $fpath); autoload -Uz compinit; compinit -u -D"
    printed = complete_interactively(["zsh", "-f", "-i"], setup, completion_store, tmp_path)
    assert "uri      models:/fraud/2" in printed


# ------------------------------------------------------------------------------------- zsh, fish


def run_shell(argv: list[str], store: Registry | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=shell_env(store), capture_output=True, text=True, timeout=60)


@needs_zsh
def test_zsh_script_loads_when_sourced() -> None:
    script = shlex.quote(str(COMPLETIONS / "zsh" / "_mreg"))
    done = run_shell(
        ["zsh", "-f", "-c", f"autoload -Uz compinit; compinit -u -D; source {script}; print $_comps[mreg]"]
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "_mreg_completion\n", "")


@needs_zsh
def test_zsh_script_loads_from_fpath(tmp_path: Path) -> None:
    shutil.copy(COMPLETIONS / "zsh" / "_mreg", tmp_path / "_mreg")
    folder = shlex.quote(str(tmp_path))
    program = f"fpath=({folder} $fpath); autoload -Uz compinit; compinit -u -D; print $_comps[mreg]"
    done = run_shell(["zsh", "-f", "-c", program])
    assert (done.returncode, done.stdout, done.stderr) == (0, "_mreg\n", "")


def fish_complete(line: str, store: Registry | None) -> list[str]:
    script = shlex.quote(str(COMPLETIONS / "fish" / "mreg.fish"))
    done = run_shell(
        ["fish", "--no-config", "-c", f"source {script}; complete -C {shlex.quote(line)}"], store
    )
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout.splitlines()


@needs_fish
def test_fish_completes_from_the_store(completion_store: Registry) -> None:
    assert [c.split("\t")[0] for c in fish_complete("mreg al", completion_store)] == ["alias"]
    assert fish_complete("mreg models show fr", completion_store) == ["fraud"]
    assert fish_complete("mreg resolve models:/fr", completion_store) == ["models:/fraud"]
    assert fish_complete("mreg resolve models:/fraud@", completion_store) == [
        "models:/fraud@champion\tversion 2"
    ]
    assert fish_complete("mreg alias set fraud champion @", completion_store) == ["@champion\tversion 2"]
    assert fish_complete("mreg models show ", None) == []
