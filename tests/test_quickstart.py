"""The README's first command (the quickstart), run as a user would: each step a real process, in a
folder holding a copy of examples/train.py. The steps are read from the README, so the two agree."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import REPO

INSTALL_STEPS = ("python3 -m venv", ". .venv/bin/activate", "pip install")


def sh_blocks_under(heading: str, text: str) -> list[str]:
    """The ```sh blocks of a README section, in order."""
    section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    return [block.split("```", 1)[0].strip() for block in section.split("```sh\n")[1:]]


def quickstart_steps() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first = sh_blocks_under("## Try it", readme)[0]
    assert "\n" not in first, "the quickstart is one copy-paste line"
    return [step.strip() for step in first.split("&&")]


def test_the_readme_quickstart_runs_and_shows_the_model(tmp_path: Path) -> None:
    steps = quickstart_steps()
    assert steps[-1] == "mreg models show fraud"
    (tmp_path / "examples").mkdir()
    shutil.copy(REPO / "examples" / "train.py", tmp_path / "examples" / "train.py")
    cwd = tmp_path
    result = None
    for step in steps:
        if step.startswith(INSTALL_STEPS):
            continue
        words = shlex.split(step)
        if words[0] == "cd":
            cwd = cwd / words[1]
            continue
        if words[0] == "python":
            command = [sys.executable, *words[1:]]
        elif words[0] == "mreg":
            command = [sys.executable, "-m", "mreg", *words[1:]]
        else:
            raise AssertionError(f"the quickstart has a step this test does not know: {step}")
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{step}\n{result.stderr}"
        assert "Traceback" not in result.stderr

    assert result is not None
    lines = result.stdout.splitlines()
    assert lines[0] == "name         fraud"
    assert "aliases      champion → 2" in lines
    header = next(i for i, line in enumerate(lines) if line.startswith("version"))
    rows = [line.split() for line in lines[header + 1 :]]
    assert [row[0] for row in rows] == ["2", "1"]
    assert rows[0][1] == "champion"
    assert (tmp_path / "examples" / ".mreg" / "config.toml").is_file()
    assert sorted(p.name for p in (tmp_path / "examples" / "model").iterdir()) == [
        "MODEL.md",
        "metrics.json",
        "weights.json",
    ]
