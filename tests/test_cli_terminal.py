"""What only a real terminal shows: Rich tables and cards, NO_COLOR, and the confirmation prompt.
Each test runs ``mreg`` as a process on a pseudo-terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mreg import Registry

SGR = re.compile(r"\x1b\[([0-9;]*)m")


def color_codes(screen: str) -> list[str]:
    """The SGR parameters that set a color (30-49, 90-107); bold and italic are not colors."""
    found = []
    for match in SGR.finditer(screen):
        for param in match.group(1).split(";"):
            if param and (30 <= int(param) <= 49 or 90 <= int(param) <= 107):
                found.append(match.group(0))
    return found


def plain(screen: str) -> str:
    return SGR.sub("", screen)


def run_on_terminal(
    *args: str, cwd: Path, answer: str = "", env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run ``mreg`` with stdin, stdout and stderr on a pseudo-terminal; return (exit code, screen)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mreg", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        close_fds=True,
    )
    os.close(slave)
    if answer:
        os.write(master, answer.encode())
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.fixture
def fraud(registry: Registry, model_dir: Path) -> Registry:
    registry.create_registered_model(
        "fraud", tags={"team": "risk"}, description="# Fraud\n\nScores **card** payments."
    )
    registry.create_model_version("fraud", model_dir, run_id="r1")
    registry.set_registered_model_alias("fraud", "champion", 1)
    return registry


def test_models_show_draws_a_card_with_markdown_and_no_color_codes(fraud: Registry, isolated: Path) -> None:
    code, screen = run_on_terminal("models", "show", "fraud", cwd=isolated)
    assert code == 0, screen
    assert color_codes(screen) == []  # NO_COLOR is set by the test fixture
    text = plain(screen)
    assert "╭─ fraud ─" in text
    assert "champion → 1" in text
    assert "Scores card payments." in text  # Markdown rendered: no ** left
    assert "team" in text and "risk" in text


def test_tables_on_a_terminal_have_borders(fraud: Registry, isolated: Path) -> None:
    code, screen = run_on_terminal("versions", "list", "fraud", cwd=isolated)
    assert code == 0, screen
    screen = plain(screen)
    assert "┏" in screen and "┃ version" in screen
    code, screen = run_on_terminal("history", "fraud", cwd=isolated)
    assert code == 0, screen
    screen = plain(screen)
    assert "history of fraud" in screen
    assert "@champion → 1" in screen
    code, screen = run_on_terminal("versions", "show", "fraud", "1", cwd=isolated)
    assert code == 0, screen
    screen = plain(screen)
    assert "fraud version 1" in screen
    assert "sub/vocab.txt" in screen


def test_delete_asks_on_a_terminal_and_no_keeps_the_model(fraud: Registry, isolated: Path) -> None:
    code, screen = run_on_terminal("models", "delete", "fraud", cwd=isolated, answer="n\n")
    assert code == 1
    assert "Delete model fraud with all its versions and aliases? [y/N]" in screen
    assert fraud.model_names() == ["fraud"]
    code, screen = run_on_terminal("versions", "delete", "fraud", "1", cwd=isolated, answer="y\n")
    assert code == 0, screen
    assert "Delete fraud version 1 (aliases champion go with it)?" in screen
    assert fraud.list_model_versions("fraud") == []
    code, screen = run_on_terminal("models", "delete", "fraud", cwd=isolated, answer="y\n")
    assert code == 0, screen
    assert fraud.model_names() == []
