"""What the browser tests stand on, checked without a browser: Playwright pinned exactly in the test
extra (and installed at that release), the system's Chromium installed by .ci/run with apt-get
when missing, and nothing in the project that runs ``playwright install`` (a browser download from
a host CI cannot reach)."""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib.metadata import version

from helpers import REPO


def test_playwright_is_pinned_exactly_in_the_test_extra() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (pin,) = [d for d in project["optional-dependencies"]["test"] if re.match(r"playwright\b", d)]
    assert re.fullmatch(r"playwright==[0-9.]+", pin), pin
    assert pin == f"playwright=={version('playwright')}"
    assert not [d for d in project["dependencies"] if d.startswith("playwright")]


def test_ci_installs_chromium_from_the_distribution_when_it_is_missing() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line for line in ci.splitlines() if not line.lstrip().startswith("#")]
    script = "\n".join(lines)
    assert "/usr/bin/chromium" in script and "command -v chromium" in script
    (install,) = [line for line in lines if "apt-get install" in line and "chromium" in line]
    assert "-y" in install
    # A failure says so in one line; the tests then skip, stating why.
    assert "could not install chromium" in script
    result = subprocess.run(["bash", "-n", str(REPO / ".ci" / "run")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_nothing_runs_playwright_install() -> None:
    """CI and the scripts never download Playwright's browsers (comments may say so)."""
    files = [REPO / ".ci" / "run", *sorted((REPO / "scripts").glob("*.py"))]
    for path in files:
        code = [
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith("#")
        ]
        found = [line for line in code if re.search(r"playwright\W+install", line)]
        assert found == [], path
