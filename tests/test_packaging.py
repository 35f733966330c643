"""`pip install` puts the man page and the shell completions where man, bash-completion, zsh and
fish look for them: under the environment's share/ folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

SHARED = {
    "share/man/man1/mreg.1": "man/mreg.1",
    "share/bash-completion/completions/mreg": "completions/bash/mreg",
    "share/zsh/site-functions/_mreg": "completions/zsh/_mreg",
    "share/fish/vendor_completions.d/mreg.fish": "completions/fish/mreg.fish",
}


def pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_pip_install_puts_man_page_and_completions_under_share(tmp_path: Path) -> None:
    # Built from a copy so the checkout gets no build/ folder; offline: the build uses this
    # environment's setuptools (the test extra), the fresh environment gets the wheel.
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("src", "bin", "man", "completions"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp_path / "dist"), str(source))
    [wheel] = (tmp_path / "dist").glob("mreg-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    pip("--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index", str(wheel))

    for installed, committed in SHARED.items():
        assert (venv / installed).read_text() == (REPO / committed).read_text(), installed
    assert (venv / "bin" / "mreg").is_file()
    script = (venv / "bin" / "mreg").read_text()
    # bin/mreg as it is, with the shebang of the environment's Python: not a generated wrapper
    assert script.splitlines()[0].startswith("#!") and "python" in script.splitlines()[0]
    assert script.splitlines()[1:] == (REPO / "bin" / "mreg").read_text().splitlines()[1:]
