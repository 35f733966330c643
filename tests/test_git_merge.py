"""Registry changes merge in git: branches that changed different things merge cleanly, and two
branches that registered the same version number are detected and resolved by
`mreg merge --renumber`, both versions surviving with their aliases and history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Repo, assert_consistent, run_mreg, sha256_of

from mreg import Registry
from mreg.gitmerge import find_merge_conflicts


@pytest.fixture
def repo(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """main: fraud versions 1 and 2 (champion → 1), iris version 1."""
    monkeypatch.setenv("MREG_USER", "alice")
    repo = Repo(isolated)
    repo.register("fraud", "fraud-1")
    repo.register("fraud", "fraud-2")
    repo.registry.set_registered_model_alias("fraud", "champion", 1)
    repo.register("iris", "iris-1")
    repo.commit("base")
    return repo


def _digest_of(registry: Registry, uri: str) -> str | None:
    return registry.resolve(uri).artifact.digest


def test_branches_changing_different_things_merge_cleanly(repo: Repo, cli) -> None:  # type: ignore[no-untyped-def]
    r = repo.registry
    repo.git("checkout", "-q", "-b", "feature")
    repo.register("churn", "churn-1")  # a new model
    repo.register("iris", "iris-2")  # a version of another model
    r.set_registered_model_alias("iris", "champion", 2)
    r.set_model_version_tag("fraud", 1, "reviewed", "yes")
    repo.commit("feature work")
    repo.git("checkout", "-q", "main")
    repo.register("fraud", "fraud-3")
    r.set_registered_model_alias("fraud", "challenger", 3)
    r.set_model_version_tag("fraud", 2, "reviewed", "no")
    r.set_registered_model_alias("fraud", "champion", 2, message="promote 2")
    repo.commit("main work")

    merged = repo.try_git("merge", "--no-edit", "feature")

    assert merged.returncode == 0, merged.stdout + merged.stderr
    registry = Registry(repo.top)
    assert [v.version for v in registry.list_model_versions("fraud")] == [1, 2, 3]
    assert [v.version for v in registry.list_model_versions("iris")] == [1, 2]
    assert [v.version for v in registry.list_model_versions("churn")] == [1]
    assert registry.get_aliases("fraud") == {"champion": 2, "challenger": 3}
    assert registry.get_aliases("iris") == {"champion": 2}
    assert registry.get_model_version("fraud", 1).tags == {"reviewed": "yes"}
    assert registry.get_model_version("fraud", 2).tags == {"reviewed": "no"}
    assert_consistent(registry)
    assert find_merge_conflicts(registry.root) == []
    merge_report = cli("merge")
    assert merge_report.exit_code == 0 and "no git merge" in merge_report.stderr
    fsck = cli("--store", str(registry.root), "fsck", "--full")
    assert fsck.exit_code == 0, fsck.stdout + fsck.stderr


def _collide(repo: Repo) -> tuple[str, str]:
    """feature and main each register fraud version 3; feature also points challenger at it,
    tags it and registers a version 4; main points champion at its own 3. Returns the
    contents of main's 3 and feature's 3."""
    r = repo.registry

    def on_feature() -> None:
        r.set_registered_model_alias("fraud", "challenger", 3, message="candidate")
        r.set_model_version_tag("fraud", 3, "dataset", "june")
        repo.register("fraud", "feature-4")

    repo.both_branches_register(
        "fraud",
        3,
        feature=on_feature,
        main=lambda: r.set_registered_model_alias("fraud", "champion", 3, message="main 3 ships"),
        messages=("feature: fraud 3 and 4", "main: fraud 3"),
    )
    return "main-3", "feature-3"


def test_collision_is_detected_in_registry_terms(repo: Repo, cli) -> None:  # type: ignore[no-untyped-def]
    _collide(repo)
    merged = repo.try_git("merge", "--no-edit", "feature")
    assert merged.returncode != 0
    assert repo.unmerged() == [".mreg/models/fraud/versions/3.toml"]

    findings = find_merge_conflicts(repo.registry.root)

    assert [(f.kind, f.model, f.version) for f in findings] == [("version_collision", "fraud", 3)]
    assert "registered on both sides: main (sha256:" + sha256_of("main-3")[:12] in findings[0].message
    assert "feature (sha256:" + sha256_of("feature-3")[:12] in findings[0].message
    report = cli("merge")
    assert report.exit_code == 4
    assert "conflict: fraud version 3 was registered on both sides" in report.stdout
    assert "would resolve: fraud: version 3 from feature" in report.stdout
    assert "→ version 4" in report.stdout and "version 4 from feature" in report.stdout
    data = json.loads(cli("merge", "--json").stdout)
    assert data["merge"]["operation"] == "merge"
    assert (data["merge"]["ours"]["label"], data["merge"]["theirs"]["label"]) == ("main", "feature")
    assert [(n["old"], n["new"], n["side"]) for n in data["renumbered"]] == [
        (3, 4, "theirs"),
        (4, 5, "theirs"),
    ]
    assert repo.unmerged() == [".mreg/models/fraud/versions/3.toml"]  # reporting changed nothing


def test_renumber_keeps_both_versions_and_moves_aliases_and_history(repo: Repo, cli) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = _collide(repo)
    repo.try_git("merge", "--no-edit", "feature")

    result = cli("merge", "--renumber")

    assert result.exit_code == 0, result.stderr
    assert "resolved: fraud: version 3 from feature" in result.stdout
    assert repo.unmerged() == []
    repo.git("commit", "-q", "--no-edit")
    registry = Registry(repo.top)
    versions = {v.version: v for v in registry.list_model_versions("fraud")}
    assert sorted(versions) == [1, 2, 3, 4, 5]
    assert versions[3].artifact.digest == sha256_of(ours)
    assert versions[4].artifact.digest == sha256_of(theirs)
    assert versions[5].artifact.digest == sha256_of("feature-4")
    assert versions[4].tags == {"dataset": "june"}
    assert _digest_of(registry, "fraud@champion") == sha256_of(ours)
    assert _digest_of(registry, "fraud@challenger") == sha256_of(theirs)
    events = registry.get_history("fraud")
    registered = {e.version: e.message for e in events if e.action == "version_registered"}
    assert sorted(registered) == [1, 2, 3, 4, 5]
    challenger = [e for e in events if e.alias == "challenger"]
    assert [(e.action, e.new, e.message) for e in challenger] == [("alias_set", 4, "candidate")]
    renumbered = [(e.old, e.new) for e in events if e.action == "version_renumbered"]
    assert renumbered == [(3, 4), (4, 5)]
    tag_events = [e.version for e in events if e.action == "version_tag_set"]
    assert tag_events == [4]
    assert_consistent(registry)
    diff = json.loads(cli("diff", "HEAD~1", "HEAD", "--json").stdout)  # main before → after the merge
    assert {(c["action"], c.get("version"), c.get("alias")) for c in diff["changes"]} == {
        ("version_registered", 4, None),
        ("version_registered", 5, None),
        ("alias_set", None, "challenger"),
    }


@pytest.mark.parametrize("feature_moved_last", [False, True])
def test_both_sides_point_one_alias_at_their_own_version(repo: Repo, feature_moved_last: bool) -> None:
    r = repo.registry
    repo.both_branches_register("fraud", 3, messages=("feature: register", "main: register"))
    for branch in ("main", "feature") if feature_moved_last else ("feature", "main"):
        repo.git("checkout", "-q", branch)
        r.set_registered_model_alias("fraud", "champion", 3, message=f"{branch} ships")
        repo.commit(f"{branch}: champion")
    repo.git("checkout", "-q", "main")
    repo.try_git("merge", "--no-edit", "feature")
    # Both alias files say "version = 3": git merges them silently, though they mean
    # different models. The resolution must notice.
    assert repo.unmerged() == [".mreg/models/fraud/versions/3.toml"]

    plan = Registry(repo.top).resolve_merge_conflicts()

    assert any("fraud@champion: moved on both sides (main → 3, feature → 4)" in d for d in plan.decisions)
    assert any(f.kind == "alias_conflict" and f.alias == "champion" for f in plan.findings)
    registry = Registry(repo.top)
    assert _digest_of(registry, "fraud@champion") == sha256_of("main-3")
    assert _digest_of(registry, "fraud/4") == sha256_of("feature-3")
    last = [e for e in registry.get_history("fraud") if e.alias == "champion"][-1]
    if feature_moved_last:  # the history said feature's 4 last: the merge records the decision
        assert (last.action, last.old, last.new) == ("alias_moved", 4, 3)
        assert last.reason and "kept main's" in last.reason
    else:
        assert (last.new, last.message) == (3, "main ships")
    assert_consistent(registry)


def test_keep_theirs_when_merging_main_into_a_branch(repo: Repo, cli) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = _collide(repo)  # on main
    repo.git("checkout", "-q", "feature")
    repo.try_git("merge", "--no-edit", "main")  # main is theirs now, and already published

    report = cli("merge")
    assert "use --keep theirs" in report.stderr
    result = cli("merge", "--renumber", "--keep", "theirs")

    assert result.exit_code == 0, result.stderr
    registry = Registry(repo.top)
    assert _digest_of(registry, "fraud/3") == sha256_of(ours)  # main's number unchanged
    assert _digest_of(registry, "fraud/4") == sha256_of(theirs)
    assert _digest_of(registry, "fraud/5") == sha256_of("feature-4")
    assert _digest_of(registry, "fraud@challenger") == sha256_of(theirs)
    assert _digest_of(registry, "fraud@champion") == sha256_of(ours)
    assert_consistent(registry)


def test_rebase_renumbers_the_replayed_commit(repo: Repo) -> None:
    _collide(repo)
    repo.git("checkout", "-q", "feature")
    rebase = repo.try_git("rebase", "main")
    assert rebase.returncode != 0
    assert repo.unmerged() == [".mreg/models/fraud/versions/3.toml"]

    result = run_mreg("merge", "--renumber", cwd=repo.top)

    assert result.returncode == 0, result.stderr
    cont = repo.try_git("-c", "core.editor=true", "rebase", "--continue")
    assert cont.returncode == 0, cont.stderr
    registry = Registry(repo.top)
    assert _digest_of(registry, "fraud/3") == sha256_of("main-3")
    assert _digest_of(registry, "fraud/4") == sha256_of("feature-3")
    assert _digest_of(registry, "fraud@challenger") == sha256_of("feature-3")
    assert_consistent(registry)


def test_same_new_model_created_on_both_branches(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.register("churn", "churn-feature", tags={"side": "feature"})
    repo.registry.set_registered_model_tag("churn", "team", "growth")
    repo.commit("feature: churn")
    repo.git("checkout", "-q", "main")
    repo.register("churn", "churn-main")
    repo.registry.set_registered_model_tag("churn", "owner", "risk")
    repo.commit("main: churn")
    repo.try_git("merge", "--no-edit", "feature")
    kinds = sorted((f.kind, f.path) for f in find_merge_conflicts(repo.registry.root))
    assert kinds == [
        ("record_conflict", "models/churn/model.toml"),
        ("version_collision", "models/churn/versions/1.toml"),
    ]

    Registry(repo.top).resolve_merge_conflicts()

    registry = Registry(repo.top)
    assert registry.get_registered_model("churn").tags == {"owner": "risk", "team": "growth"}
    assert _digest_of(registry, "churn/1") == sha256_of("churn-main")
    assert _digest_of(registry, "churn/2") == sha256_of("churn-feature")
    assert repo.unmerged() == []
    assert_consistent(registry)


def test_record_changed_on_both_sides_is_merged_field_by_field(repo: Repo) -> None:
    r = repo.registry
    repo.git("checkout", "-q", "-b", "feature")
    r.set_model_version_tags("fraud", 2, {"approved": "yes", "owner": "feature"})
    repo.commit("feature")
    repo.git("checkout", "-q", "main")
    r.transition_model_version_stage("fraud", 2, "Staging")
    r.set_model_version_tags("fraud", 2, {"owner": "main"})
    repo.commit("main")
    repo.try_git("merge", "--no-edit", "feature")
    assert repo.unmerged() == [".mreg/models/fraud/versions/2.toml"]
    assert [f.kind for f in find_merge_conflicts(repo.registry.root)] == ["record_conflict"]

    plan = Registry(repo.top).resolve_merge_conflicts()

    assert any("both sides changed tags.owner; kept main's" in d for d in plan.decisions)
    mv = Registry(repo.top).get_model_version("fraud", 2)
    assert mv.current_stage == "Staging"
    assert mv.tags == {"approved": "yes", "owner": "main"}
    assert repo.unmerged() == []


def test_deletion_against_change_needs_a_person(repo: Repo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.git("checkout", "-q", "-b", "feature")
    repo.registry.set_model_version_tag("iris", 1, "k", "v")
    repo.commit("feature: tag iris 1")
    repo.git("checkout", "-q", "main")
    repo.registry.delete_registered_model("iris")
    repo.commit("main: delete iris")
    repo.try_git("merge", "--no-edit", "feature")
    before = repo.git("status", "--porcelain")

    result = cli("merge", "--renumber")

    assert result.exit_code == 4
    assert "error: cannot resolve automatically: models/iris/versions/1.toml was changed on feature" in (
        result.stderr
    )
    assert repo.git("status", "--porcelain") == before
    assert [f.resolvable for f in find_merge_conflicts(repo.registry.root)] == [False]


def test_dry_run_changes_nothing(repo: Repo, cli) -> None:  # type: ignore[no-untyped-def]
    _collide(repo)
    repo.try_git("merge", "--no-edit", "feature")
    store = repo.top / ".mreg"
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file() and p.name != "lock"}

    result = cli("merge", "--renumber", "--dry-run", "--json")

    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["resolved"] is False and data["resolvable"] is True
    assert "models/fraud/versions/4.toml" in data["written"]
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file() and p.name != "lock"} == before
    assert repo.unmerged() == [".mreg/models/fraud/versions/3.toml"]


def test_no_merge_in_progress(repo: Repo) -> None:
    report = run_mreg("merge", cwd=repo.top)
    assert report.returncode == 0 and "no git merge, rebase or cherry-pick in progress" in report.stderr
    resolve = run_mreg("merge", "--renumber", cwd=repo.top)
    assert resolve.returncode == 3
    assert resolve.stderr == "error: no git merge, rebase or cherry-pick is in progress\n"


def test_resolving_twice_is_a_no_op(repo: Repo) -> None:
    _collide(repo)
    repo.try_git("merge", "--no-edit", "feature")
    Registry(repo.top).resolve_merge_conflicts()
    store = repo.top / ".mreg"
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file() and p.name != "lock"}
    plan = Registry(repo.top).resolve_merge_conflicts()
    assert plan.findings == () and plan.writes == {}
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file() and p.name != "lock"} == before


def test_rebase_replaying_a_change_to_a_renumbered_version_is_not_guessed(repo: Repo) -> None:
    def register_then_approve() -> None:
        repo.commit("feature: register 3")
        repo.registry.set_model_version_tag("fraud", 3, "approved", "yes")

    repo.both_branches_register(
        "fraud", 3, feature=register_then_approve, messages=("feature: approve 3", "main: register 3")
    )
    repo.git("checkout", "-q", "feature")
    assert repo.try_git("rebase", "main").returncode != 0
    first = run_mreg("merge", "--renumber", cwd=repo.top)
    assert first.returncode == 0, first.stderr
    assert "later commits that refer to a renumbered version" in first.stderr
    assert "git rebase --continue" in first.stderr
    assert repo.try_git("-c", "core.editor=true", "rebase", "--continue").returncode != 0  # next commit

    findings = find_merge_conflicts(repo.registry.root)

    assert [(f.kind, f.version, f.resolvable) for f in findings] == [("record_conflict", 3, False)]
    assert "means different registrations" in findings[0].message
    second = run_mreg("merge", "--renumber", cwd=repo.top)
    assert second.returncode == 4
    assert second.stderr.startswith("error: cannot resolve automatically: fraud version 3 means different")


@pytest.mark.parametrize(("keep", "expected"), [("ours", {"champion": 2}), ("theirs", {})])
def test_alias_moved_on_one_side_and_removed_on_the_other(
    repo: Repo, keep: str, expected: dict[str, int]
) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.registry.delete_registered_model_alias("fraud", "champion", message="retire")
    repo.commit("feature: no champion")
    repo.git("checkout", "-q", "main")
    repo.registry.set_registered_model_alias("fraud", "champion", 2, message="promote 2")
    repo.commit("main: champion 2")
    repo.try_git("merge", "--no-edit", "feature")
    assert repo.unmerged() == [".mreg/models/fraud/aliases/champion"]
    findings = find_merge_conflicts(repo.registry.root)
    assert [(f.kind, f.alias, f.resolvable) for f in findings] == [("alias_conflict", "champion", True)]
    assert "main → 2, feature → removed" in findings[0].message

    Registry(repo.top).resolve_merge_conflicts(keep=keep)

    registry = Registry(repo.top)
    assert registry.get_aliases("fraud") == expected
    assert repo.unmerged() == []
    assert_consistent(registry)


def test_cherry_pick_of_a_registration(repo: Repo) -> None:
    _collide(repo)
    feature_commit = repo.git("rev-parse", "feature").strip()
    assert repo.try_git("cherry-pick", feature_commit).returncode != 0
    plan = Registry(repo.top).resolve_merge_conflicts()
    assert plan.context is not None and plan.context.operation == "cherry-pick"
    assert repo.try_git("-c", "core.editor=true", "cherry-pick", "--continue").returncode == 0
    registry = Registry(repo.top)
    assert _digest_of(registry, "fraud/3") == sha256_of("main-3")
    assert _digest_of(registry, "fraud@challenger") == sha256_of("feature-3")
    assert_consistent(registry)


def test_no_findings_outside_git_or_without_a_merge(repo: Repo, tmp_path: Path) -> None:
    outside = Registry.init(tmp_path / "outside")
    assert find_merge_conflicts(outside.root) == []  # a store outside any repository
    assert find_merge_conflicts(repo.registry.root) == []  # a repository with no merge
