"""The history: one event file per change, exact order, alias spans, and merges in git."""

from __future__ import annotations

import datetime as dt
import json
import os
import tomllib
from pathlib import Path

import pytest
from helpers import git, run_mreg

from mreg import InvalidInput, NotFound, Registry
from mreg.history import alias_spans


def test_every_kind_of_change_is_an_event(fraud: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MREG_USER", "release-bot")
    fraud.update_registered_model("fraud", "described", message="m1")
    fraud.set_registered_model_tag("fraud", "team", "risk", message="m2")
    fraud.delete_registered_model_tag("fraud", "team", message="m3")
    fraud.update_model_version("fraud", 1, "v1 text", message="m4")
    fraud.set_model_version_tag("fraud", 1, "k", "v", message="m5")
    fraud.delete_model_version_tag("fraud", 1, "k", message="m6")
    fraud.transition_model_version_stage("fraud", 1, "staging", message="m7")
    fraud.set_registered_model_alias("fraud", "champion", 1, message="m8")
    fraud.set_registered_model_alias("fraud", "champion", 2, message="m9")
    fraud.delete_registered_model_alias("fraud", "champion", message="m10")
    fraud.delete_model_version("fraud", 3, message="m11")
    fraud.rename_registered_model("fraud", "fraud2", message="m12")
    events = fraud.get_history("fraud2")
    assert [e.action for e in events] == [
        "model_created",
        "version_registered",
        "version_registered",
        "version_registered",
        "model_described",
        "model_tag_set",
        "model_tag_deleted",
        "version_described",
        "version_tag_set",
        "version_tag_deleted",
        "version_stage_changed",
        "alias_set",
        "alias_moved",
        "alias_deleted",
        "version_deleted",
        "model_renamed",
    ]
    assert [e.message for e in events[4:]] == [f"m{n}" for n in range(1, 13)]
    assert all(e.user == "release-bot" for e in events[4:])
    stage = events[10]
    assert (stage.version, stage.old, stage.new) == (1, "None", "Staging")
    renamed = events[-1]
    assert (renamed.old, renamed.new) == ("fraud", "fraud2")
    fraud.delete_registered_model("fraud2", message="m13")
    assert [(e.action, e.message) for e in fraud.get_history("fraud2")] == [("model_deleted", "m13")]


def test_an_event_file_holds_time_user_action_old_new_message(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 1)
    fraud.set_registered_model_alias("fraud", "champion", 2, message="beats v1")
    event = fraud.get_history("fraud")[-1]
    path = fraud.root / "models" / "fraud" / "history" / f"{event.id}.toml"
    record = tomllib.loads(path.read_text())
    assert record["action"] == "alias_moved"
    assert (record["alias"], record["old"], record["new"], record["message"]) == (
        "champion",
        1,
        2,
        "beats v1",
    )
    assert record["time"].tzinfo is not None
    assert record["time"].microsecond == event.time.microsecond
    assert "model" not in record  # the folder names the model
    assert event.id.startswith(event.time.strftime("%Y%m%dT%H%M%S.%fZ-"))


def test_changes_that_change_nothing_leave_no_event(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 1)
    count = len(fraud.get_history("fraud"))
    fraud.set_registered_model_alias("fraud", "champion", 1)
    fraud.delete_registered_model_alias("fraud", "nobody")
    fraud.set_registered_model_tags("fraud", {})
    fraud.transition_model_version_stage("fraud", 1, "None")
    assert len(fraud.get_history("fraud")) == count


def test_an_alias_moved_three_times_shows_three_events_from_to(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 1, message="first")
    for old, new in [(1, 2), (2, 3), (3, 1)]:
        fraud.set_registered_model_alias("fraud", "champion", new, message=f"{old} to {new}")
    moves = [e for e in fraud.get_history("fraud", alias="champion") if e.action == "alias_moved"]
    assert [(e.old, e.new, e.message) for e in moves] == [
        (1, 2, "1 to 2"),
        (2, 3, "2 to 3"),
        (3, 1, "3 to 1"),
    ]


def test_alias_history_answers_which_versions_held_it_from_when_to_when(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 1, message="first")
    fraud.set_registered_model_alias("fraud", "other", 3)
    fraud.set_registered_model_alias("fraud", "champion", 2, message="better")
    fraud.delete_model_version("fraud", 2)
    fraud.set_registered_model_alias("fraud", "champion", 3)
    spans = fraud.get_alias_history("fraud", "champion")
    assert [(s.version, s.message) for s in spans] == [(1, "first"), (2, "better"), (3, None)]
    assert spans[0].until == spans[1].since
    assert spans[1].until is not None and spans[1].until < spans[2].since  # a gap: deleted with v2
    assert spans[2].until is None
    both = fraud.get_alias_history("fraud")
    assert sorted({s.alias for s in both}) == ["champion", "other"]


def test_alias_spans_of_an_alias_never_set_are_empty(fraud: Registry) -> None:
    assert fraud.get_alias_history("fraud", "champion") == []
    assert alias_spans([]) == []


def test_order_is_exact_within_the_same_second(fraud: Registry) -> None:
    for n in range(20):
        fraud.set_registered_model_tag("fraud", "n", str(n))
    events = fraud.get_history("fraud")
    assert [e.time for e in events] == sorted(e.time for e in events)
    assert len({e.time for e in events}) == len(events)
    assert [e.new for e in events if e.action == "model_tag_set"] == [str(n) for n in range(20)]
    assert [e.id for e in events] == sorted(
        os.path.splitext(p)[0] for p in os.listdir(fraud.root / "models" / "fraud" / "history")
    )


def test_since_and_limit(fraud: Registry) -> None:
    events = fraud.get_history("fraud")
    assert len(events) == 4
    assert fraud.get_history("fraud", since=events[2].time) == events[2:]
    naive = events[2].time.replace(tzinfo=None)  # naive means UTC
    assert fraud.get_history("fraud", since=naive) == events[2:]
    assert fraud.get_history("fraud", limit=2) == events[2:]
    assert fraud.get_history("fraud", limit=0) == []
    assert fraud.get_history("fraud", limit=10) == events
    assert fraud.get_history("fraud", since=dt.datetime(2999, 1, 1, tzinfo=dt.UTC)) == []
    with pytest.raises(InvalidInput):
        fraud.get_history("fraud", limit=-1)


def test_history_of_an_unknown_model_is_not_found(registry: Registry) -> None:
    with pytest.raises(NotFound, match="model 'nope' not found"):
        registry.get_history("nope")


def test_events_carry_the_git_commit_of_the_working_tree(isolated: Path) -> None:
    git("init", "-q", "-b", "main", cwd=isolated)
    registry = Registry.init(isolated)
    registry.create_registered_model("before-any-commit")
    assert registry.get_history("before-any-commit")[0].git_commit is None
    git("add", ".mreg", cwd=isolated)
    git("commit", "-q", "-m", "store", cwd=isolated)
    registry.create_registered_model("fraud")
    assert registry.get_history("fraud")[0].git_commit == git("rev-parse", "HEAD", cwd=isolated).strip()


def test_two_git_branches_merge_without_conflict_and_history_interleaves_by_time(isolated: Path) -> None:
    repo = isolated
    git("init", "-q", "-b", "main", cwd=repo)
    (repo / "m.bin").write_bytes(b"base")
    registry = Registry.init(repo, commit_objects=True)
    registry.create_model_version("fraud", repo / "m.bin")
    registry.create_model_version("fraud", repo / "m.bin")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "base", cwd=repo)
    git("branch", "a", cwd=repo)
    git("branch", "b", cwd=repo)

    def on(branch: str, step: str) -> None:
        git("checkout", "-q", branch, cwd=repo)
        source = repo / f"{branch}-{step}.bin"
        source.write_bytes(f"{branch} {step}".encode())
        reg = Registry(repo)
        if branch == "a":
            reg.set_registered_model_alias("fraud", "champion", 1 if step == "1" else 2, message=f"a{step}")
            reg.create_model_version("churn", source, message=f"a{step}")
        else:
            reg.set_registered_model_alias("fraud", "challenger", 2 if step == "1" else 1, message=f"b{step}")
            reg.create_model_version("spam", source, message=f"b{step}")
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", f"{branch} {step}", cwd=repo)

    on("a", "1")
    on("b", "1")
    on("a", "2")
    on("b", "2")
    git("checkout", "-q", "a", cwd=repo)
    git("merge", "-q", "--no-edit", "b", cwd=repo)  # check=True: a conflict would fail here
    assert git("status", "--porcelain", cwd=repo) == ""

    result = run_mreg("history", "fraud", "--json", cwd=repo)
    assert result.returncode == 0, result.stderr
    events = json.loads(result.stdout)["events"]
    alias_events = [(e["alias"], e["message"]) for e in events if e["alias"]]
    assert alias_events == [
        ("champion", "a1"),
        ("challenger", "b1"),
        ("champion", "a2"),
        ("challenger", "b2"),
    ]
    times = [e["time"] for e in events]
    assert times == sorted(times)
    merged = Registry(repo)
    assert merged.get_aliases("fraud") == {"challenger": 1, "champion": 2}
    assert [v.version for v in merged.list_model_versions("churn")] == [1, 2]
    assert [v.version for v in merged.list_model_versions("spam")] == [1, 2]
    assert [e.message for e in merged.get_history("spam") if e.action == "version_registered"] == ["b1", "b2"]
    assert run_mreg("history", "churn", cwd=repo).stdout.count("registered") == 2


def test_alias_history_since_and_limit(fraud: Registry) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 1)
    fraud.set_registered_model_alias("fraud", "champion", 2)
    fraud.set_registered_model_alias("fraud", "champion", 3)
    spans = fraud.get_alias_history("fraud", "champion")
    assert [s.version for s in spans] == [1, 2, 3]
    assert spans[1].until is not None
    # since: the spans that had not ended by then (version 2 held it until that moment)
    assert fraud.get_alias_history("fraud", "champion", since=spans[1].until) == spans[1:]
    assert fraud.get_alias_history("fraud", "champion", since=dt.datetime(2999, 1, 1)) == spans[2:]
    assert fraud.get_alias_history("fraud", "champion", limit=1) == spans[2:]
    assert fraud.get_alias_history("fraud", "champion", limit=0) == []
    with pytest.raises(InvalidInput):
        fraud.get_alias_history("fraud", "champion", limit=-1)
