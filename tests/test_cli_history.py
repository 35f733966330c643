"""``mreg history`` through the command line: the timeline, --since, --limit, --alias, --json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import Cli

from mreg import Registry


def columns(line: str) -> list[str]:
    """The cells of a plain-text table row (cells are separated by two or more spaces)."""
    return re.split(r"\s{2,}", line.strip())


@pytest.fixture
def fraud(registry: Registry, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setenv("MREG_USER", "release-bot")
    for n in (1, 2, 3):
        source = isolated / f"m{n}.bin"
        source.write_bytes(f"weights {n}\n".encode())
        registry.create_model_version("fraud", source, message=f"train {n}")
    registry.set_registered_model_alias("fraud", "champion", 1, message="first champion")
    registry.set_registered_model_alias("fraud", "champion", 2, message="v2 wins")
    registry.set_registered_model_alias("fraud", "champion", 3, message="v3 wins")
    registry.transition_model_version_stage("fraud", 3, "production", message="ship")
    registry.delete_model_version("fraud", 3, message="leaked test data")
    return registry


def test_history_timeline(cli: Cli, fraud: Registry) -> None:
    result = cli("history", "fraud")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert columns(lines[0]) == ["time (UTC)", "who", "what", "message", "commit"]
    assert all(columns(line)[1] == "release-bot" for line in lines[1:])
    what = [columns(line)[2] for line in lines[1:]]
    assert what == [
        "model created",
        "version 1 registered",
        "version 2 registered",
        "version 3 registered",
        "@champion → 1",
        "@champion 1 → 2",
        "@champion 2 → 3",
        "version 3 stage None → Production",
        "@champion removed (was 3) [version 3 deleted]",
        "version 3 deleted",
    ]
    assert "v2 wins" in lines[6]
    assert "leaked test data" in lines[-1]


def test_history_json_has_every_field(cli: Cli, fraud: Registry) -> None:
    data = json.loads(cli("history", "fraud", "--json").stdout)
    assert data["name"] == "fraud"
    events = data["events"]
    assert len(events) == 10
    assert set(events[0]) == {
        "id",
        "time",
        "user",
        "action",
        "model",
        "version",
        "alias",
        "key",
        "old",
        "new",
        "reason",
        "message",
        "git_commit",
        "policy_digest",
    }
    moved = [e for e in events if e["action"] == "alias_moved"]
    assert [(e["old"], e["new"], e["message"]) for e in moved] == [(1, 2, "v2 wins"), (2, 3, "v3 wins")]
    removed = next(e for e in events if e["action"] == "alias_deleted")
    assert removed["reason"] == "version 3 deleted"
    assert all(e["user"] == "release-bot" and e["model"] == "fraud" for e in events)
    assert events[0]["time"].endswith("Z") and len(events[0]["time"]) == len("2026-11-26T10:30:00.123456Z")


def test_history_limit_keeps_the_newest(cli: Cli, fraud: Registry) -> None:
    events = json.loads(cli("history", "fraud", "--limit", "2", "--json").stdout)["events"]
    assert [e["action"] for e in events] == ["alias_deleted", "version_deleted"]
    assert len(cli("history", "fraud", "-n", "3").stdout.splitlines()) == 4  # header + 3
    assert cli("history", "fraud", "--limit", "-1").exit_code == 2


def test_history_since(cli: Cli, fraud: Registry) -> None:
    events = fraud.get_history("fraud")
    cut = events[5].time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    got = json.loads(cli("history", "fraud", "--since", cut, "--json").stdout)["events"]
    assert [e["id"] for e in got] == [e.id for e in events[5:]]
    assert json.loads(cli("history", "fraud", "--since", "2999-01-01", "--json").stdout)["events"] == []
    everything = json.loads(cli("history", "fraud", "--since", "2000-01-01T00:00+02:00", "--json").stdout)
    assert len(everything["events"]) == 10
    empty = cli("history", "fraud", "--since", "2999-01-01")
    assert empty.stdout == ""
    assert empty.stderr == "no events\n"


def test_history_alias_answers_which_versions_held_it(cli: Cli, fraud: Registry) -> None:
    result = cli("history", "fraud", "--alias", "champion")
    lines = result.stdout.splitlines()
    assert columns(lines[0]) == ["version", "from", "until", "set by", "message"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]
    assert lines[1].endswith("first champion")
    assert "now" not in lines[3]  # deleted with version 3: it holds no version now
    data = json.loads(cli("history", "fraud", "-a", "champion", "--json").stdout)
    assert data["alias"] == "champion"
    spans = data["spans"]
    assert [(s["version"], s["set_by"], s["message"]) for s in spans] == [
        (1, "release-bot", "first champion"),
        (2, "release-bot", "v2 wins"),
        (3, "release-bot", "v3 wins"),
    ]
    assert spans[0]["until"] == spans[1]["since"]
    assert spans[2]["until"] is not None


def test_history_alias_still_held_says_now(cli: Cli, registry: Registry, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file, aliases=["champion"])
    lines = cli("history", "fraud", "--alias", "champion").stdout.splitlines()
    assert lines[1].split()[0] == "1"
    assert " now " in lines[1]


def test_history_alias_never_set(cli: Cli, fraud: Registry) -> None:
    result = cli("history", "fraud", "--alias", "challenger")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "fraud@challenger has never been set\n"


def test_history_of_a_deleted_model_shows_its_deletion(cli: Cli, fraud: Registry) -> None:
    assert cli("models", "delete", "fraud", "--yes", "-m", "retired").exit_code == 0
    lines = cli("history", "fraud").stdout.splitlines()
    assert len(lines) == 2
    assert "model deleted (2 live version(s))" in lines[1]
    assert "retired" in lines[1]


def test_every_mutating_command_records_its_message(cli: Cli, registry: Registry, model_file: Path) -> None:
    commands = [
        ["models", "create", "fraud", "-m", "c1"],
        ["register", "model.bin", "--name", "fraud", "-m", "c2"],
        ["models", "update", "fraud", "-d", "x", "-m", "c3"],
        ["versions", "update", "fraud", "1", "-d", "x", "-m", "c4"],
        ["tag", "set", "fraud", "k=v", "-m", "c5"],
        ["tag", "delete", "fraud", "k", "-m", "c6"],
        ["tag", "set", "fraud", "-v", "1", "k=v", "-m", "c7"],
        ["tag", "delete", "fraud", "-v", "1", "k", "-m", "c8"],
        ["stage", "set", "fraud", "1", "staging", "-m", "c9"],
        ["alias", "set", "fraud", "champion", "1", "-m", "c10"],
        ["alias", "delete", "fraud", "champion", "-m", "c11"],
        ["models", "rename", "fraud", "fraud2", "-m", "c12"],
        ["versions", "delete", "fraud2", "1", "--yes", "-m", "c13"],
    ]
    for args in commands:
        assert cli(*args).exit_code == 0, args
    messages = [e.message for e in registry.get_history("fraud2")]
    assert messages == [f"c{n}" for n in range(1, 14)]


def test_history_alias_with_since_and_limit(cli: Cli, fraud: Registry) -> None:
    spans = fraud.get_alias_history("fraud", "champion")
    assert spans[1].until is not None
    cut = spans[1].until.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data = json.loads(cli("history", "fraud", "--alias", "champion", "--since", cut, "--json").stdout)
    assert [s["version"] for s in data["spans"]] == [2, 3]
    limited = cli("history", "fraud", "--alias", "champion", "--limit", "1").stdout.splitlines()
    assert [line.split()[0] for line in limited[1:]] == ["3"]
