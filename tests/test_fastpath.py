"""The `mreg` script's fast path (``mreg.cli.fastpath``) for ``resolve REF --field F`` and
``alias set NAME ALIAS VERSION``: it takes exactly those forms, imports no Typer, and answers every
command line, errors included, as the full command line does (same stdout, stderr, exit code)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Cli, CliProcesses

from mreg import Registry
from mreg.cli.fastpath import plan


@pytest.fixture
def twins(isolated: Path) -> tuple[Path, Path]:
    """Two identical projects: one for the fast path, one for the full command line."""
    fast = isolated / "fast"
    registry = Registry.init(fast)
    for n in (1, 2, 3):
        source = isolated / f"m{n}.bin"
        source.write_bytes(f"weights {n}\n".encode())
        registry.create_model_version("fraud", source, run_id=f"run-{n}")
    registry.set_registered_model_alias("fraud", "champion", 2)
    registry.set_registered_model_alias("fraud", "challenger", 3)
    registry.transition_model_version_stage("fraud", 3, "Staging")
    full = isolated / "full"
    shutil.copytree(fast, full, symlinks=True)
    return fast, full


@pytest.fixture
def processes() -> Iterator[CliProcesses]:
    server = CliProcesses()
    yield server
    server.close()


# (command line, environment, whether the fast path takes it). In order: alias moves change
# what later rows resolve, on both sides alike.
CASES: list[tuple[list[str], dict[str, str], bool]] = [
    (["resolve", "fraud@champion", "--field", "path"], {}, True),
    (["resolve", "fraud@champion", "-f", "version"], {}, True),
    (["resolve", "models:/fraud@challenger", "--field=stage"], {}, True),
    (["resolve", "fraud/1", "--field", "digest"], {}, True),
    (["resolve", "fraud/latest", "--field", "uri"], {}, True),
    (["resolve", "fraud@champion", "--field", "run_id"], {}, True),
    (["resolve", "fraud@champion", "--field", "source"], {}, True),
    (["resolve", "fraud@nope", "--field", "path"], {}, True),
    (["resolve", "nope@champion", "--field", "path"], {}, True),
    (["resolve", "fraud/9", "--field", "version"], {}, True),
    (["resolve", "bad name!@x", "--field", "path"], {}, True),
    (["resolve", "models:fraud/1", "--field", "path"], {}, True),
    (["--store", "STORE", "resolve", "fraud@champion", "--field", "version"], {}, True),
    (["--store=STORE", "resolve", "fraud@champion", "--field", "version"], {}, True),
    (["--store", "STORE/missing", "resolve", "fraud@champion", "--field", "version"], {}, True),
    (["resolve", "fraud@champion", "--field", "version"], {"MREG_STORE": "STORE"}, True),
    (["resolve", "fraud@champion", "--field", "version"], {"MREG_STORE": ""}, True),
    (["resolve", "fraud@champion", "--field", "version"], {"MREG_LOCK_TIMEOUT": "2.5"}, True),
    (["alias", "set", "fraud", "champion", "3"], {}, True),
    (["alias", "set", "fraud", "champion", "@challenger", "-m", "beats v2"], {}, True),
    (["alias", "set", "fraud", "newest", "latest", "--quiet"], {}, True),
    (
        ["alias", "set", "fraud", "champion", "1", "--message=rollback", "-q"],
        {"MREG_LOCK_TIMEOUT": "5"},
        True,
    ),
    (["alias", "set", "fraud", "champion", "9"], {}, True),
    (["alias", "set", "fraud", "latest", "1"], {}, True),
    (["alias", "set", "fraud", "bad alias", "1"], {}, True),
    (["alias", "set", "nope", "champion", "1"], {}, True),
    (["alias", "set", "fraud", "champion", "@nope"], {}, True),
    (["alias", "set", "fraud", "champion", "Staging"], {}, True),
    (["resolve", "fraud@champion", "--field", "version"], {}, True),
    # Forms the fast path leaves to the full command line
    (["resolve", "fraud@champion"], {}, False),
    (["resolve", "fraud@champion", "--json"], {}, False),
    (["resolve", "fraud@champion", "--field", "bogus"], {}, False),
    (["resolve", "fraud@champion", "--field"], {}, False),
    (["resolve", "fraud@champion", "--field", "path", "--field", "version"], {}, False),
    (["resolve", "--field", "path", "fraud@champion"], {}, False),
    (["resolve", "fraud@champion", "--field", "path"], {"MREG_LOCK_TIMEOUT": "soon"}, False),
    (["--debug", "resolve", "fraud@champion", "--field", "path"], {}, False),
    (["--store", "", "resolve", "fraud@champion", "--field", "path"], {}, False),
    (["alias", "set", "fraud", "champion"], {}, False),
    (["alias", "set", "fraud", "champion", "2", "--expect", "1"], {}, False),
    (["alias", "set", "fraud", "champion", "2", "extra"], {}, False),
    (["alias", "set", "fraud", "champion", "-1"], {}, False),
    (["alias", "set", "fraud", "champion", "2", "-m", "-q"], {}, False),
    (["alias", "set", "fraud", "champion", "2", "-q", "-q"], {}, False),
    (["alias", "list", "fraud"], {}, False),
    (["--version"], {}, False),
]


def _fill(values: list[str], store: Path) -> list[str]:
    return [v.replace("STORE", str(store)) for v in values]


@pytest.mark.parametrize(("args", "env", "fast"), CASES, ids=[" ".join(c[0]) or "-" for c in CASES])
def test_the_fast_path_takes_exactly_its_forms(args: list[str], env: dict[str, str], fast: bool) -> None:
    assert (plan(args, env) is not None) is fast


def test_every_command_line_answers_as_the_full_command_line(
    twins: tuple[Path, Path], processes: CliProcesses, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_root, full_root = twins
    cli = Cli()
    for args, env, _ in CASES:
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value.replace("STORE", str(fast_root)))
            patch.chdir(fast_root)
            got = processes.run(*_fill(args, fast_root), cwd=fast_root)
        with monkeypatch.context() as patch:
            patch.chdir(full_root)
            full_env = {k: v.replace("STORE", str(full_root)) for k, v in env.items()}
            want = cli(*_fill(args, full_root), env=full_env)
        shown = (
            got.returncode,
            got.stdout.replace(str(fast_root), "ROOT"),
            # the process runs as `python -m mreg`, which Click names so in usage errors
            got.stderr.replace(str(fast_root), "ROOT").replace("'python -m mreg ", "'mreg "),
        )
        expected = (
            want.exit_code,
            want.stdout.replace(str(full_root), "ROOT"),
            want.stderr.replace(str(full_root), "ROOT"),
        )
        assert shown == expected, args
    assert Registry(fast_root).get_aliases("fraud") == Registry(full_root).get_aliases("fraud")


def test_a_damaged_version_file_is_reported_alike(twins: tuple[Path, Path], processes: CliProcesses) -> None:
    results = []
    cli = Cli()
    for root in twins:
        (root / ".mreg" / "models" / "fraud" / "versions" / "2.toml").write_text("status = \n")
    got = processes.run("resolve", "fraud@champion", "--field", "path", cwd=twins[0])
    results.append((got.returncode, got.stdout, got.stderr.replace(str(twins[0]), "ROOT")))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(twins[1])
        want = cli("resolve", "fraud@champion", "--field", "path")
    results.append((want.exit_code, want.stdout, want.stderr.replace(str(twins[1]), "ROOT")))
    assert results[0] == results[1]
    assert results[0][0] == 5 and results[0][2].startswith("error: ")


# Runs the `mreg` script's entry point, then writes the names of every module the process imported.
MODULES_AT_EXIT = """
import atexit, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w", encoding="utf-8").write("\\n".join(sorted(sys.modules))))
from mreg.cli.entry import main
main()
"""


@pytest.mark.parametrize(
    ("args", "unwanted"),
    [
        (["resolve", "fraud@champion", "--field", "path"], ("typer", "rich", "filelock", "mreg.cli.app")),
        (["alias", "set", "fraud", "champion", "3", "-q"], ("typer", "rich", "mreg.cli.app")),
    ],
)
def test_the_fast_path_imports_no_command_line(
    twins: tuple[Path, Path], tmp_path: Path, args: list[str], unwanted: tuple[str, ...]
) -> None:
    out = tmp_path / "modules.txt"
    proc = subprocess.run(
        [sys.executable, "-c", MODULES_AT_EXIT, str(out), *args],
        cwd=twins[0],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    modules = out.read_text(encoding="utf-8").splitlines()
    assert "mreg.cli.fastpath" in modules and "mreg.cli.actions" in modules
    assert [m for m in modules if m.startswith(unwanted)] == []


def test_the_fast_path_knows_every_field() -> None:
    # fastpath names the --field values without importing the enum (it would import the CLI)
    from mreg.cli.actions import Field
    from mreg.cli.fastpath import FIELDS

    assert tuple(field.value for field in Field) == FIELDS
