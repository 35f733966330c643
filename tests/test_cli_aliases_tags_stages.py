"""``mreg alias …``, ``mreg tag …`` and ``mreg stage set`` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Cli

from mreg import Registry


def test_alias_set_move_list_delete(cli: Cli, fraud: Registry) -> None:
    result = cli("alias", "set", "fraud", "champion", "1", "-m", "first")
    assert result.exit_code == 0
    assert result.stderr == "fraud@champion → version 1\n"
    assert cli("alias", "set", "fraud", "champion", "latest").stderr == "fraud@champion → version 3\n"
    assert cli("alias", "set", "fraud", "challenger", "@champion", "-q").stderr == ""
    assert cli("alias", "list", "fraud").stdout == "alias       version\nchallenger  3\nchampion    3\n"
    assert json.loads(cli("alias", "list", "fraud", "--json").stdout) == {
        "name": "fraud",
        "aliases": {"challenger": 3, "champion": 3},
    }
    assert cli("alias", "delete", "fraud", "challenger").stderr == "fraud@challenger removed\n"
    assert cli("alias", "delete", "fraud", "challenger").exit_code == 0  # missing: not an error
    assert fraud.get_aliases("fraud") == {"champion": 3}


def test_alias_list_of_a_model_without_aliases(cli: Cli, fraud: Registry) -> None:
    result = cli("alias", "list", "fraud")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "model fraud has no aliases\n"


def test_alias_set_with_expect_is_a_compare_and_swap(cli: Cli, fraud: Registry) -> None:
    assert cli("alias", "set", "fraud", "champion", "1", "--expect", "0").exit_code == 0
    stale = cli("alias", "set", "fraud", "champion", "2", "--expect", "3")
    assert stale.exit_code == 4
    assert stale.stderr == (
        "error: alias 'champion' of model 'fraud' points at version 1, not version 3 as expected\n"
    )
    assert cli("alias", "set", "fraud", "champion", "2", "--expect", "1").exit_code == 0
    assert fraud.get_aliases("fraud") == {"champion": 2}


def test_the_release_script_of_the_readme(cli: Cli, fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 1)
    version = cli("register", "m3.bin", "--name", "fraud", "-m", "nightly", "-q").stdout.strip()
    path = cli("resolve", f"fraud/{version}", "--field", "path").stdout.strip()
    assert Path(path).read_bytes() == b"weights 3\n"
    assert cli("alias", "set", "fraud", "challenger", version, "-m", "nightly candidate").exit_code == 0
    current = cli("resolve", "fraud@champion", "--field", "version").stdout.strip()
    promoted = cli("alias", "set", "fraud", "champion", "@challenger", "--expect", current, "-m", "promote")
    assert promoted.exit_code == 0, promoted.stderr
    assert fraud.get_aliases("fraud") == {"challenger": 4, "champion": 4}


def test_tags_on_a_model(cli: Cli, fraud: Registry) -> None:
    result = cli("tag", "set", "fraud", "team=risk", "owner=risk-team", "-m", "ownership")
    assert result.exit_code == 0
    assert result.stderr == "Tagged model fraud: team, owner\n"
    assert fraud.get_registered_model("fraud").tags == {"owner": "risk-team", "team": "risk"}
    assert json.loads(cli("models", "show", "fraud", "--json").stdout)["tags"] == {
        "owner": "risk-team",
        "team": "risk",
    }
    assert "tag          team=risk" in cli("models", "show", "fraud").stdout.splitlines()
    assert cli("tag", "delete", "fraud", "owner", "never-set").stderr == "Removed tag(s) owner, never-set\n"
    assert fraud.get_registered_model("fraud").tags == {"team": "risk"}


def test_tags_on_a_version(cli: Cli, fraud: Registry) -> None:
    result = cli("tag", "set", "fraud", "--version", "2", "validated=true", "query=a=b")
    assert result.exit_code == 0
    assert result.stderr == "Tagged fraud version 2: validated, query\n"
    assert fraud.get_model_version("fraud", 2).tags == {"query": "a=b", "validated": "true"}
    assert cli("tag", "set", "fraud", "-v", "latest", "k=v").stderr == "Tagged fraud version 3: k\n"
    data = json.loads(cli("versions", "show", "fraud", "2", "--json").stdout)
    assert data["tags"] == {"query": "a=b", "validated": "true"}
    assert cli("tag", "delete", "fraud", "--version", "2", "validated").exit_code == 0
    assert fraud.get_model_version("fraud", 2).tags == {"query": "a=b"}
    assert fraud.get_registered_model("fraud").tags == {}


def test_a_multiline_tag_value_round_trips(cli: Cli, fraud: Registry) -> None:
    assert cli("tag", "set", "fraud", "notes=line one\nline 'two' \"three\"").exit_code == 0
    assert fraud.get_registered_model("fraud").tags == {"notes": "line one\nline 'two' \"three\""}


@pytest.mark.parametrize("given", ["production", "PRODUCTION", "Production", "pRoDuCtIoN"])
def test_stage_input_is_case_insensitive_and_output_canonical(cli: Cli, fraud: Registry, given: str) -> None:
    result = cli("stage", "set", "fraud", "1", given)
    assert result.exit_code == 0
    assert result.stderr == "fraud version 1 is now in stage Production\n"
    assert fraud.get_model_version("fraud", 1).current_stage == "Production"


def test_stage_archive_existing(cli: Cli, fraud: Registry) -> None:
    cli("stage", "set", "fraud", "1", "production")
    cli("stage", "set", "fraud", "2", "staging")
    data = json.loads(cli("stage", "set", "fraud", "2", "production", "--archive-existing", "--json").stdout)
    assert data["current_stage"] == "Production"
    assert {v.version: v.current_stage for v in fraud.list_model_versions("fraud")} == {
        1: "Archived",
        2: "Production",
        3: "None",
    }
    assert cli("resolve", "models:/fraud/production", "--field", "version").stdout == "2\n"
    assert "stage        Archived" in cli("versions", "show", "fraud", "1").stdout.splitlines()
    rows = {row.split()[0]: row for row in cli("versions", "list", "fraud").stdout.splitlines()[1:]}
    assert "Archived" in rows["1"]
