"""Text from the store is untrusted: a teammate's commit can put escape sequences, C1 controls and
bidi overrides into descriptions, tags, sources, users, messages, manifest paths and folder names.
Printed as text (piped or on a terminal) they show escaped; ``--json`` keeps the exact values; Rich
markup in stored text is shown, never obeyed."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from helpers import Cli, git
from test_cli_terminal import plain, run_on_terminal

from mreg import Registry
from mreg.textsafe import escape_line, escape_text, json_safe, unsafe_characters

MARK = "PAYLOAD"
# Set the window title, clear the screen, reverse the text, a C1 CSI, DEL; and Rich markup.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\u202e\x9b31m\x7f\u2066[bold]B[/bold] [link=https://evil.example]L[/link]"
# How it reads in TOML (a basic string) and how mreg shows it as text.
HOSTILE_TOML = json.dumps(HOSTILE)[1:-1]
SHOWN = escape_line(HOSTILE)
# A file name holds no "/": the folder artifact's file is named with the escapes alone.
PATH_MARK = "PATHMARK"
HOSTILE_PATH = HOSTILE.split("[/bold]")[0]
UNSAFE = set(unsafe_characters()) - {"\n"}


@pytest.fixture
def hostile(registry: Registry, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """Model ``fraud``: version 1 a folder, version 2 a URI reference, alias champion; every text
    field holds ``HOSTILE``, planted in the TOML files as a hostile commit would."""
    monkeypatch.setenv("MREG_USER", f"u{MARK}")
    registry.create_registered_model(
        "fraud",
        tags={"team": f"risk{MARK}"},
        description=f"# Fraud {MARK}\n\n{MARK}\nsecond line",
        message=MARK,
    )
    folder = isolated / "art"
    folder.mkdir()
    (folder / f"f{PATH_MARK}.bin").write_text("x")
    registry.create_model_version(
        "fraud", folder, run_id=f"run{MARK}", tags={"k": f"v{MARK}"}, description=f"vd{MARK}", message=MARK
    )
    registry.create_model_version("fraud", f"s3://bucket/x{MARK}")
    registry.set_registered_model_alias("fraud", "champion", 1, message=f"why{MARK}")
    monkeypatch.delenv("MREG_USER")
    planted = 0
    for path in registry.root.rglob("*"):
        if path.is_file() and not path.is_symlink() and "objects" not in path.parts:
            text = path.read_text(encoding="utf-8")
            if MARK in text or PATH_MARK in text:
                text = text.replace(PATH_MARK, json.dumps(HOSTILE_PATH)[1:-1])
                path.write_text(text.replace(MARK, HOSTILE_TOML), encoding="utf-8")
                planted += 1
    assert planted >= 7  # model, two versions, events
    return registry


def raw_controls(text: str) -> list[str]:
    return sorted({c for c in text if c in UNSAFE})


READS = [
    ["models", "show", "fraud"],
    ["models", "list"],
    ["versions", "show", "fraud", "1"],
    ["versions", "show", "fraud", "2"],
    ["versions", "list"],
    ["versions", "list", "fraud"],
    ["versions", "list", "--field", "source"],
    ["versions", "list", "--field", "run_id"],
    ["versions", "show", "fraud", "2", "--field", "source"],
    ["resolve", "fraud/2"],
    ["resolve", "fraud/2", "--field", "source"],
    ["history", "fraud"],
    ["history", "fraud", "--alias", "champion"],
]


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_stored_text_is_printed_escaped(cli: Cli, hostile: Registry, args: list[str]) -> None:
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    output = result.stdout + result.stderr
    assert raw_controls(output) == [], output
    assert "\\x1b]0;pwned\\x07" in output or SHOWN[:20] in output, output


@pytest.mark.parametrize(
    "args",
    [["models", "show", "fraud"], ["versions", "show", "fraud", "1"], ["history", "fraud"]],
    ids=" ".join,
)
def test_every_text_field_is_escaped_whole(cli: Cli, hostile: Registry, args: list[str]) -> None:
    # the escaped payload appears complete, once per field, never cut by a line break
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    assert SHOWN in result.stdout
    assert "[bold]B[/bold]" in result.stdout  # markup shown as typed


def test_a_description_keeps_its_lines_and_escapes_the_rest(cli: Cli, hostile: Registry) -> None:
    result = cli("models", "show", "fraud")
    assert f"\n{SHOWN}\nsecond line\n" in result.stdout


def test_json_keeps_the_exact_values_with_nothing_raw(cli: Cli, hostile: Registry) -> None:
    result = cli("versions", "show", "fraud", "1", "--json")
    assert raw_controls(result.stdout) == []
    data = json.loads(result.stdout)
    assert data["description"] == f"vd{HOSTILE}"
    assert data["user_id"] == f"u{HOSTILE}"
    assert data["tags"] == {"k": f"v{HOSTILE}"}
    history = json.loads(cli("history", "fraud", "--json").stdout)
    assert {e.get("message") for e in history["events"]} >= {HOSTILE, f"why{HOSTILE}"}


@pytest.mark.parametrize(
    "args",
    [
        ["models", "show", "fraud"],
        ["versions", "show", "fraud", "1"],
        ["versions", "list"],
        ["history", "fraud"],
        ["models", "list"],
    ],
    ids=" ".join,
)
def test_on_a_terminal_nothing_but_style_codes_reaches_it(
    hostile: Registry, isolated: Path, args: list[str]
) -> None:
    code, screen = run_on_terminal(*args, cwd=isolated, env={"COLUMNS": "400"})
    assert code == 0, screen
    text = plain(screen)  # only SGR (bold) sequences removed: any other escape stays and fails
    assert raw_controls(text) == [], repr(text)
    assert "\\x1b]0;pwned" in text
    assert "[bold]B[/bold]" in text or "[link=" in text  # markup shown, not obeyed


def test_markdown_entities_and_links_do_not_become_escapes_or_hyperlinks(
    hostile: Registry, isolated: Path
) -> None:
    model = hostile.root / "models" / "fraud" / "model.toml"
    text = model.read_text(encoding="utf-8")
    description = 'description = "# T\\n\\n&#x1b;]0;pwned&#7; &#155;31m [here](https://evil.example)"'
    text = re.sub(r'^description = ".*"$', lambda _: description, text, flags=re.M)
    model.write_text(text, encoding="utf-8")
    code, screen = run_on_terminal("models", "show", "fraud", cwd=isolated, env={"COLUMNS": "200"})
    assert code == 0, screen
    text = plain(screen)
    assert raw_controls(text) == [], repr(text)
    assert "\x1b]8;" not in screen  # no OSC 8 hyperlink
    assert "https://evil.example" in text  # the target is shown


def test_a_model_folder_with_an_escape_in_its_name_is_named_escaped(cli: Cli, hostile: Registry) -> None:
    models = hostile.root / "models"
    bad = models / "ev\x1b[2Jil\u202e"
    bad.mkdir()
    (bad / "model.toml").write_bytes((models / "fraud" / "model.toml").read_bytes())
    (models / "fraud" / "versions" / "\x1b[2J.toml").write_text("")
    for args in (["models", "list"], ["models", "list", "-q"], ["versions", "list"], ["fsck"]):
        result = cli(*args)
        output = result.stdout + result.stderr
        assert raw_controls(output) == [], (args, output)
        assert "ev\\x1b[2Jil\\u202e" in output or args != ["fsck"], output
    assert "versions/\\x1b[2J.toml" in output  # fsck names the stray file, escaped


@pytest.mark.parametrize(
    "args",
    [
        ["--store", "no\x1b]0;x\x07store", "models", "list"],
        ["models", "show", "fr\x1b[2Jaud"],
        ["resolve", "models:/fraud\u202e/1"],
        ["models", "create", "m", "--description-file", "no\x9bfile"],
    ],
)
def test_an_error_line_never_carries_raw_control_characters(
    cli: Cli, registry: Registry, args: list[str]
) -> None:
    result = cli(*args)
    assert result.exit_code != 0
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.splitlines()) == 1
    assert raw_controls(result.stderr) == [], repr(result.stderr)
    assert "\\x1b" in result.stderr or "\\u202e" in result.stderr or "\\x9b" in result.stderr


def test_an_error_from_a_corrupt_store_file_is_escaped(cli: Cli, hostile: Registry) -> None:
    version = hostile.root / "models" / "fraud" / "versions" / "1.toml"
    version.write_text('status = "READY\x1b]0;x\x07\n', encoding="utf-8")
    result = cli("versions", "show", "fraud", "1")
    assert result.exit_code != 0
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert raw_controls(result.stderr) == [], repr(result.stderr)


@pytest.mark.parametrize("char", sorted(unsafe_characters()))
def test_the_escaping_functions(char: str) -> None:
    line = escape_line(f"a{char}b")
    assert line.isprintable() and line.startswith("a\\") and line.endswith("b")
    text = escape_text(f"a{char}b")
    assert text == ("a\nb" if char == "\n" else "a\tb" if char == "\t" else line)
    assert escape_line(line) == line  # escaping twice changes nothing
    document = json.dumps({"v": char}, ensure_ascii=False)
    assert json.loads(json_safe(document)) == {"v": char}
    assert not set(json_safe(document)) & set(unsafe_characters())


def test_ordinary_text_is_left_alone() -> None:
    for text in ("fraud", "Iris Classifier", "café → naïve ✓", "C:\\models\\x", "日本語"):
        assert escape_line(text) == text
        assert escape_text(text) == text
    assert escape_text("a\nb\tc") == "a\nb\tc"
    assert os.linesep not in escape_line("a\nb")


def test_diff_shows_a_hostile_commit_escaped(cli: Cli, hostile: Registry, isolated: Path) -> None:
    git("init", "-q", "-b", "main", cwd=isolated)
    git("add", "-A", ".mreg", cwd=isolated)
    git("commit", "-q", "-m", "hostile store", cwd=isolated)
    model = hostile.root / "models" / "fraud" / "model.toml"
    model.write_text(model.read_text(encoding="utf-8").replace("risk", "ops"), encoding="utf-8")
    result = cli("diff")
    assert result.exit_code == 0, result.stderr
    assert raw_controls(result.stdout + result.stderr) == [], result.stdout
    assert "tag team = ops\\x1b]0;pwned" in result.stdout
    code, screen = run_on_terminal("diff", cwd=isolated, env={"COLUMNS": "400"})
    assert code == 0, screen
    assert raw_controls(plain(screen)) == [], repr(screen)
