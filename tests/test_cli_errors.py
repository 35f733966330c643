"""Every error a user can cause, through the command line: the documented exit code, one line
``error: …`` on stderr naming the thing, no traceback, nothing on stdout, and nothing changed in
the store (a snapshot of every file under .mreg before and after)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import Cli, run_mreg, snapshot

from mreg import Registry

Setup = Callable[[Path, Path], None]


def nothing(root: Path, work: Path) -> None:
    pass


def write(relative: str, text: str) -> Setup:
    def setup(root: Path, work: Path) -> None:
        (root / relative).write_text(text)

    return setup


def symlinked_alias(root: Path, work: Path) -> None:
    outside = work / "outside.toml"
    outside.write_text("version = 2\n")
    alias = root / "models" / "fraud" / "aliases" / "champion"
    alias.unlink()
    alias.symlink_to(outside)


def dest_exists(root: Path, work: Path) -> None:
    (work / "out.bin").write_text("mine")


LONG = "a" * 129

# (args, exit code, text the message must contain, what to do to the store first). In the text,
# "…" stands for anything (a line or column number after a file name, say).
CASES: list[tuple[list[str], int, str, Setup]] = [
    # missing source, bad names, a case-only duplicate
    (["register", "missing.bin", "--name", "fraud"], 3, "source missing.bin does not exist", nothing),
    (["register", "m.bin", "--name", "../x"], 2, "invalid model name '../x'", nothing),
    (["register", "m.bin", "--name", "a/b"], 2, "invalid model name 'a/b'", nothing),
    (["register", "m.bin", "--name", ""], 2, "model name must not be empty", nothing),
    (["register", "m.bin", "--name", "CON"], 2, "'CON': it is a reserved device name", nothing),
    (["register", "m.bin", "--name", "con.txt"], 2, "'con.txt': it is a reserved device name", nothing),
    (["register", "m.bin", "--name", LONG], 2, "129 characters long; the limit is 128", nothing),
    (["register", "m.bin", "--name", "fraud."], 2, "'fraud.': it may not end with a space or '.'", nothing),
    (["register", "m.bin", "--name", "fraud "], 2, "'fraud ': it may not end with a space or '.'", nothing),
    (
        ["register", "other.bin", "--name", "Fraud"],
        4,
        "model 'fraud' already exists; names that differ",
        nothing,
    ),
    (["models", "create", "../x"], 2, "invalid model name '../x'", nothing),
    (["models", "create", "CON"], 2, "reserved device name", nothing),
    (
        ["models", "create", "FRAUD"],
        4,
        "model 'fraud' already exists; names that differ only in case",
        nothing,
    ),
    (["models", "create", "fraud"], 4, "model 'fraud' already exists", nothing),
    (["models", "rename", "fraud", "a/b"], 2, "invalid model name 'a/b'", nothing),
    (["models", "rename", "fraud", "spam"], 4, "model 'spam' already exists", nothing),
    # unknown model
    (["models", "show", "nope"], 3, "model 'nope' not found", nothing),
    (["models", "show", "Spam"], 3, "model 'Spam' not found (there is 'spam'", nothing),
    (["models", "update", "nope", "-d", "x"], 3, "model 'nope' not found", nothing),
    (["models", "rename", "nope", "other"], 3, "model 'nope' not found", nothing),
    (["models", "delete", "nope", "--yes"], 3, "model 'nope' not found", nothing),
    (["versions", "list", "nope"], 3, "model 'nope' not found", nothing),
    (["versions", "show", "nope", "1"], 3, "model 'nope' not found", nothing),
    (["versions", "delete", "nope", "1", "--yes"], 3, "model 'nope' not found", nothing),
    (["alias", "set", "nope", "champion", "1"], 3, "model 'nope' not found", nothing),
    (["alias", "list", "nope"], 3, "model 'nope' not found", nothing),
    (["alias", "delete", "nope", "champion"], 3, "model 'nope' not found", nothing),
    (["tag", "set", "nope", "k=v"], 3, "model 'nope' not found", nothing),
    (["tag", "delete", "nope", "k"], 3, "model 'nope' not found", nothing),
    (["stage", "set", "nope", "1", "staging"], 3, "model 'nope' not found", nothing),
    (["history", "nope"], 3, "model 'nope' not found", nothing),
    (["resolve", "models:/nope/1"], 3, "model 'nope' not found", nothing),
    (["resolve", "nope@champion", "--field", "path"], 3, "model 'nope' not found", nothing),
    (["get", "nope/1", "-o", "out.bin"], 3, "model 'nope' not found", nothing),
    # unknown version or alias
    (["versions", "show", "fraud", "9"], 3, "version 9 of model 'fraud' not found", nothing),
    (["versions", "update", "fraud", "9", "-d", "x"], 3, "version 9 of model 'fraud' not found", nothing),
    (["versions", "delete", "fraud", "9", "--yes"], 3, "version 9 of model 'fraud' not found", nothing),
    (["versions", "show", "fraud", "@ghost"], 3, "alias 'ghost' of model 'fraud' not found", nothing),
    (["alias", "set", "fraud", "champion", "9"], 3, "version 9 of model 'fraud' not found", nothing),
    (["alias", "set", "fraud", "champion", "@ghost"], 3, "alias 'ghost' of model 'fraud' not found", nothing),
    (["tag", "set", "fraud", "--version", "9", "k=v"], 3, "version 9 of model 'fraud' not found", nothing),
    (["stage", "set", "fraud", "9", "production"], 3, "version 9 of model 'fraud' not found", nothing),
    (["resolve", "models:/fraud/9", "--field", "path"], 3, "version 9 of model 'fraud' not found", nothing),
    (
        ["resolve", "models:/fraud@ghost", "--field", "path"],
        3,
        "alias 'ghost' of model 'fraud' not found",
        nothing,
    ),
    (["resolve", "fraud/production"], 3, "model 'fraud' has no version in stage Production", nothing),
    (["resolve", "empty/latest"], 3, "model 'empty' has no versions", nothing),
    (["get", "fraud/9", "-o", "out.bin"], 3, "version 9 of model 'fraud' not found", nothing),
    # invalid values
    (["alias", "set", "fraud", "latest", "1"], 2, "alias 'latest' is reserved", nothing),
    (["alias", "set", "fraud", "LATEST", "1"], 2, "alias 'LATEST' is reserved", nothing),
    (["alias", "set", "fraud", "v1", "1"], 2, "alias 'v1' is reserved", nothing),
    (["alias", "set", "fraud", "V12", "2"], 2, "alias 'V12' is reserved", nothing),
    (["alias", "set", "fraud", "a.b", "1"], 2, "invalid alias 'a.b'", nothing),
    (["alias", "set", "fraud", "Champion", "2"], 4, "alias 'champion' of model 'fraud' exists", nothing),
    (
        ["alias", "set", "fraud", "champion", "2", "--expect", "2"],
        4,
        "points at version 1, not version 2",
        nothing,
    ),
    (["register", "m.bin", "--name", "fraud", "--alias", "v1"], 2, "alias 'v1' is reserved", nothing),
    (["register", "other.bin", "--name", "fraud", "--run-id", "a b"], 2, "invalid run id 'a b'", nothing),
    (
        ["register", "other.bin", "--name", "fraud", "-t", "novalue"],
        2,
        "expected KEY=VALUE, got 'novalue'",
        nothing,
    ),
    (["stage", "set", "fraud", "1", "prod"], 2, "invalid stage 'prod'", nothing),
    (
        ["stage", "set", "fraud", "1", "archived", "--archive-existing"],
        2,
        "only to the Staging and Production",
        nothing,
    ),
    (["tag", "set", "fraud", "novalue"], 2, "expected KEY=VALUE, got 'novalue'", nothing),
    (["tag", "set", "fraud", "k@=v"], 2, "invalid tag key 'k@'", nothing),
    (["resolve", "fraud"], 2, "invalid model URI 'fraud'", nothing),
    (["resolve", "models:/fraud/prod"], 2, "'prod' is not a version number", nothing),
    (["versions", "show", "fraud", "0"], 2, "invalid version", nothing),
    (["history", "fraud", "--since", "yesterday"], 2, "invalid date 'yesterday'", nothing),
    (["history", "fraud", "--alias", "latest"], 2, "alias 'latest' is reserved", nothing),
    (["models", "update", "fraud"], 2, "nothing to update", nothing),
    (["models", "update", "fraud", "-d", "x", "-D", "d.md"], 2, "not both", nothing),
    (
        ["models", "update", "fraud", "-D", "missing.md"],
        3,
        "description file missing.md does not exist",
        nothing,
    ),
    (
        ["models", "create", "new", "-D", "missing.md"],
        3,
        "description file missing.md does not exist",
        nothing,
    ),
    (["models", "update", "fraud", "-d", "bad\x01char"], 2, "forbidden character U+0001", nothing),
    # confirmation, overwriting, references
    (["models", "delete", "fraud"], 2, "refusing to delete without confirmation: pass --yes", nothing),
    (["versions", "delete", "fraud", "1"], 2, "refusing to delete without confirmation: pass --yes", nothing),
    (["get", "fraud/1", "-o", "out.bin"], 4, "out.bin already exists (use --force", dest_exists),
    (["resolve", "ref/1", "--field", "path"], 1, "is a reference to s3://bucket/m.onnx", nothing),
    # the store itself
    (["--store", "elsewhere", "models", "list"], 3, "no mreg store at elsewhere", nothing),
    (
        ["models", "list"],
        1,
        "the store has format 2, and this mreg reads format 1 at most: upgrade mreg",
        write("config.toml", "format = 2\n"),
    ),
    (["register", "other.bin", "--name", "fraud"], 1, "upgrade mreg", write("config.toml", "format = 2\n")),
    (["models", "list"], 5, ".mreg/config.toml…: invalid TOML", write("config.toml", "format = \n")),
    (
        ["models", "show", "fraud"],
        5,
        ".mreg/models/fraud/model.toml…: invalid TOML",
        write("models/fraud/model.toml", "created_at = [\n"),
    ),
    (
        ["register", "other.bin", "--name", "fraud"],
        5,
        ".mreg/models/fraud/model.toml…: invalid TOML",
        write("models/fraud/model.toml", "created_at = [\n"),
    ),
    (
        ["versions", "show", "fraud", "1"],
        5,
        ".mreg/models/fraud/versions/1.toml…: invalid TOML",
        write("models/fraud/versions/1.toml", "status = 'READY\n"),
    ),
    (
        ["alias", "set", "fraud", "challenger", "1"],
        5,
        ".mreg/models/fraud/versions/1.toml…: invalid TOML",
        write("models/fraud/versions/1.toml", "status = 'READY\n"),
    ),
    (
        ["resolve", "fraud@champion"],
        5,
        ".mreg/models/fraud/aliases/champion…: invalid TOML",
        write("models/fraud/aliases/champion", "version = \n"),
    ),
    (
        ["resolve", "fraud@champion"],
        5,
        ".mreg/models/fraud/aliases/champion…: 'version' must be an integer",
        write("models/fraud/aliases/champion", "version = '1'\n"),
    ),
    (
        ["models", "show", "fraud"],
        5,
        ".mreg/models/fraud/model.toml:1…: unresolved git merge conflict",
        write("models/fraud/model.toml", "<<<<<<< HEAD\n=======\n>>>>>>> b\n"),
    ),
    (
        ["versions", "show", "fraud", "1"],
        5,
        "versions/1.toml…: missing 'kind'",
        write(
            "models/fraud/versions/1.toml",
            "status = 'READY'\ncreated_at = 2026-01-01T00:00:00Z\n"
            "created_by = 'a'\nupdated_at = 2026-01-01T00:00:00Z\n",
        ),
    ),
    (
        ["history", "fraud"],
        5,
        ".mreg/models/fraud/history/20990101T000000.000000Z-abcdef.toml…: invalid TOML",
        write("models/fraud/history/20990101T000000.000000Z-abcdef.toml", "time = \n"),
    ),
    (
        ["history", "fraud"],
        5,
        "20990101T000000.000000Z-abcdef.toml…: 'time' must be a UTC date-time",
        write("models/fraud/history/20990101T000000.000000Z-abcdef.toml", "user = 'x'\naction = 'y'\n"),
    ),
    (
        ["resolve", "fraud@champion"],
        5,
        "aliases/champion…: version 0 is out of range",
        write("models/fraud/aliases/champion", "version = 0\n"),
    ),
    (
        ["resolve", "fraud@champion"],
        5,
        "refusing to follow symlink .mreg/models/fraud/aliases/champion inside the store",
        symlinked_alias,
    ),
]


@pytest.fixture
def four_models(isolated: Path) -> Registry:
    """Model ``fraud`` (versions 1 and 2, champion → 1), ``spam`` (one version), ``empty`` (no
    versions) and ``ref`` (a URI reference); ``m.bin`` and ``other.bin`` to register."""
    registry = Registry.init(isolated)
    (isolated / "m.bin").write_bytes(b"weights 1\n")
    (isolated / "other.bin").write_bytes(b"other weights\n")
    (isolated / "d.md").write_text("# doc\n")
    registry.create_model_version("fraud", isolated / "m.bin")
    registry.create_model_version("fraud", isolated / "m.bin")
    registry.set_registered_model_alias("fraud", "champion", 1)
    registry.create_model_version("spam", isolated / "m.bin")
    registry.create_registered_model("empty")
    registry.create_model_version("ref", "s3://bucket/m.onnx")
    return registry


def case_id(case: tuple[list[str], int, str, Setup]) -> str:
    args, code, _, setup = case
    text = " ".join(a if len(a) < 20 else a[:8] + "…" for a in args)
    return f"{code}:{text}" + ("" if setup is nothing else f"+{setup.__qualname__.split('.')[0]}")


@pytest.mark.parametrize(("args", "code", "text", "setup"), CASES, ids=[case_id(c) for c in CASES])
def test_error_is_one_line_with_its_exit_code_and_changes_nothing(
    cli: Cli, four_models: Registry, isolated: Path, args: list[str], code: int, text: str, setup: Setup
) -> None:
    setup(four_models.root, isolated)
    before = snapshot(four_models.root)
    result = cli(*args)
    assert result.exit_code == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert re.search(".*".join(re.escape(part) for part in text.split("…")), lines[0]), lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert snapshot(four_models.root) == before


def test_an_invalid_mreg_user_is_refused_before_anything_is_stored(
    cli: Cli, four_models: Registry, isolated: Path
) -> None:
    before = snapshot(four_models.root)
    result = cli("register", "other.bin", "--name", "fraud", env={"MREG_USER": "a\x01b"})
    assert result.exit_code == 2
    assert result.stderr == "error: MREG_USER contains a forbidden character U+0001 at position 1\n"
    assert snapshot(four_models.root) == before


def test_outside_any_store_commands_say_so_and_create_nothing(cli: Cli, isolated: Path) -> None:
    for args in (["models", "list"], ["register", "x", "--name", "fraud"], ["history", "fraud"]):
        result = cli(*args)
        assert result.exit_code == 3
        assert result.stderr.startswith("error: no mreg store in ")
        assert "run `mreg init`" in result.stderr
    assert list(isolated.iterdir()) == []


def test_mreg_store_pointing_nowhere_is_not_found(cli: Cli, four_models: Registry) -> None:
    result = cli("models", "list", env={"MREG_STORE": "/nonexistent/place"})
    assert result.exit_code == 3
    assert "no mreg store at /nonexistent/place" in result.stderr


def test_a_real_process_shows_no_traceback_and_debug_shows_one(four_models: Registry, isolated: Path) -> None:
    (four_models.root / "models" / "fraud" / "model.toml").write_text("x = [\n")
    plain = run_mreg("models", "show", "fraud", cwd=isolated)
    assert plain.returncode == 5
    assert re.match(r"error: \.mreg/models/fraud/model\.toml\S*: invalid TOML", plain.stderr)
    assert len(plain.stderr.splitlines()) == 1
    debug = run_mreg("--debug", "models", "show", "fraud", cwd=isolated)
    assert debug.returncode == 5
    assert "Traceback" in debug.stderr
    assert debug.stderr.splitlines()[-1].startswith("error: ")
    env_debug = run_mreg("models", "show", "fraud", cwd=isolated, env={"MREG_DEBUG": "1"})
    assert "Traceback" in env_debug.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["resolve", "models:/fraud@ghost", "--field", "path"], 3),
        (["register", "m.bin", "--name", "a/b"], 2),
        (["models", "create", "fraud"], 4),
        (["--store", "nowhere", "models", "list"], 3),
    ],
)
def test_exit_codes_of_a_real_process(
    four_models: Registry, isolated: Path, args: list[str], code: int
) -> None:
    result = run_mreg(*args, cwd=isolated)
    assert result.returncode == code
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.splitlines()) == 1


def test_a_reader_that_goes_away_ends_the_command_quietly(four_models: Registry, isolated: Path) -> None:
    # `mreg versions list | head -1`: the pipe closes before mreg writes. It stops as a process
    # killed by SIGPIPE would (141), without an error message.
    proc = subprocess.Popen(
        [sys.executable, "-m", "mreg", "versions", "list"],
        cwd=isolated,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141
    assert err == ""


@pytest.mark.parametrize("buffering", ["block-buffered", "unbuffered"])
@pytest.mark.parametrize(
    "args", [["versions", "list"], ["models", "list", "-q"], ["resolve", "fraud/1", "--field", "path"]]
)
def test_a_reader_gone_before_the_last_flush_is_still_141(
    four_models: Registry, isolated: Path, buffering: str, args: list[str]
) -> None:
    # Piped, Python's stdout is block-buffered (unless PYTHONUNBUFFERED is set): a short output
    # stays in the buffer until the command ends, and meets the closed pipe only at the last flush,
    # which Python would report itself with exit code 120.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if buffering == "unbuffered":
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mreg", *args],
        cwd=isolated,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (141, "")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["alias", "set", "fraud"], "error: Missing argument 'alias'. (see 'mreg alias set --help')"),
        (["models", "list", "--bogus"], "error: No such option: --bogus (see 'mreg models list --help')"),
        (["nosuch"], "error: No such command 'nosuch'. (see 'mreg --help')"),
        (["--lock-timeout", "abc", "models", "list"], "error: Invalid value for '--lock-timeout'"),
        (["history", "fraud", "--limit", "-1"], "error: Invalid value for '--limit'"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(
    cli: Cli, four_models: Registry, args: list[str], text: str
) -> None:
    before = snapshot(four_models.root)
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(text), result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "╭" not in result.stderr and result.stdout == ""
    assert snapshot(four_models.root) == before


def test_a_group_without_a_command_prints_its_help_and_no_error_line(cli: Cli) -> None:
    result = cli("alias")
    assert result.exit_code == 2
    assert "set" in result.stdout and "delete" in result.stdout
    assert "error:" not in result.stderr
