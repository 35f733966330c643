"""`mreg diff`: each kind of registry change between two git revisions, in JSON and for people,
and `--exit-code` returning 1 exactly when the registry changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Repo, run_mreg, sha256_of

from mreg import Registry
from mreg.diff import diff_revisions

Mutation = Callable[[Repo], None]


@pytest.fixture
def repo(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """fraud: versions 1 (tag team=a) and 2, champion → 1, a description and a tag; iris: v1."""
    monkeypatch.setenv("MREG_USER", "alice")
    repo = Repo(isolated)
    r = repo.registry
    repo.register("fraud", "w1", tags={"team": "a"})
    repo.register("fraud", "w2")
    r.set_registered_model_alias("fraud", "champion", 1)
    r.update_registered_model("fraud", "Fraud model")
    r.set_registered_model_tag("fraud", "owner", "risk")
    repo.register("iris", "i1")
    repo.commit("base")
    return repo


def _digest(text: str) -> str:
    return f"sha256:{sha256_of(text)}"


def _edit_digest(repo: Repo) -> None:
    path = repo.top / ".mreg" / "models" / "fraud" / "versions" / "2.toml"
    path.write_text(path.read_text().replace(sha256_of("w2"), sha256_of("forged")))


# (id, mutation, expected lines of the plain output, expected JSON changes (subsets))
CASES: list[tuple[str, Mutation, list[str], list[dict[str, Any]]]] = [
    (
        "version registered",
        lambda p: p.registry.create_model_version("fraud", p.write("m3.bin", "w3"), message="nightly"),
        [f"fraud: version 3 registered ({_digest('w3')[:19]})  (alice: nightly)"],
        [
            {
                "action": "version_registered",
                "model": "fraud",
                "version": 3,
                "new": _digest("w3"),
                "user": "alice",
                "message": "nightly",
            }
        ],
    ),
    (
        "version deleted",
        lambda p: p.registry.delete_model_version("fraud", 2),
        ["fraud: version 2 deleted  (alice)"],
        [{"action": "version_deleted", "model": "fraud", "version": 2, "old": _digest("w2")}],
    ),
    (
        "version with an alias deleted",
        lambda p: p.registry.delete_model_version("fraud", 1, message="leak"),
        ["fraud: version 1 deleted  (alice: leak)", "fraud: champion removed (was 1)  (alice: leak)"],
        [
            {"action": "version_deleted", "version": 1},
            {"action": "alias_deleted", "alias": "champion", "old": 1},
        ],
    ),
    (
        "alias set",
        lambda p: p.registry.set_registered_model_alias("fraud", "challenger", 2),
        ["fraud: challenger → 2 (new alias)  (alice)"],
        [{"action": "alias_set", "model": "fraud", "alias": "challenger", "old": None, "new": 2}],
    ),
    (
        "alias moved",
        lambda p: p.registry.set_registered_model_alias("fraud", "champion", 2, message="v2 wins"),
        ["fraud: champion 1 → 2  (alice: v2 wins)"],
        [
            {
                "action": "alias_moved",
                "model": "fraud",
                "alias": "champion",
                "old": 1,
                "new": 2,
                "message": "v2 wins",
            }
        ],
    ),
    (
        "alias removed",
        lambda p: p.registry.delete_registered_model_alias("fraud", "champion"),
        ["fraud: champion removed (was 1)  (alice)"],
        [{"action": "alias_deleted", "alias": "champion", "old": 1}],
    ),
    (
        "model tag changed",
        lambda p: p.registry.set_registered_model_tag("fraud", "owner", "ml"),
        ["fraud: tag owner = ml (was risk)  (alice)"],
        [{"action": "model_tag_set", "key": "owner", "old": "risk", "new": "ml"}],
    ),
    (
        "model tag added and removed",
        lambda p: (
            p.registry.set_registered_model_tag("fraud", "domain", "payments"),
            p.registry.delete_registered_model_tag("fraud", "owner"),
        ),
        ["fraud: tag domain = payments  (alice)", "fraud: tag owner removed (was risk)  (alice)"],
        [
            {"action": "model_tag_set", "key": "domain", "old": None, "new": "payments"},
            {"action": "model_tag_deleted", "key": "owner", "old": "risk"},
        ],
    ),
    (
        "version tags",
        lambda p: (
            p.registry.set_model_version_tag("fraud", 2, "approved", "yes"),
            p.registry.delete_model_version_tag("fraud", 1, "team"),
        ),
        [
            "fraud: version 1 tag team removed (was a)  (alice)",
            "fraud: version 2 tag approved = yes  (alice)",
        ],
        [
            {"action": "version_tag_deleted", "version": 1, "key": "team", "old": "a"},
            {"action": "version_tag_set", "version": 2, "key": "approved", "new": "yes"},
        ],
    ),
    (
        "descriptions",
        lambda p: (
            p.registry.update_registered_model("fraud", "Fraud model, v2"),
            p.registry.update_model_version("fraud", 1, "the first"),
        ),
        ["fraud: description changed  (alice)", "fraud: version 1 description changed  (alice)"],
        [
            {"action": "model_described", "old": "Fraud model", "new": "Fraud model, v2"},
            {"action": "version_described", "version": 1, "old": "", "new": "the first"},
        ],
    ),
    (
        "stage changed",
        lambda p: p.registry.transition_model_version_stage("fraud", 2, "production"),
        ["fraud: version 2 stage None → Production  (alice)"],
        [{"action": "version_stage_changed", "version": 2, "old": "None", "new": "Production"}],
    ),
    (
        "model created",
        lambda p: p.registry.create_model_version("churn", p.write("c.bin", "c1"), aliases=["champion"]),
        [
            "churn: model created  (alice)",
            f"churn: version 1 registered ({_digest('c1')[:19]})  (alice)",
            "churn: champion → 1 (new alias)  (alice)",
        ],
        [
            {"action": "model_created", "model": "churn"},
            {"action": "version_registered", "model": "churn", "version": 1},
            {"action": "alias_set", "model": "churn", "alias": "champion", "new": 1},
        ],
    ),
    (
        "model deleted",
        lambda p: p.registry.delete_registered_model("iris", message="retired"),
        ["iris: model deleted  (alice: retired)"],
        [{"action": "model_deleted", "model": "iris", "message": "retired"}],
    ),
    (
        "model renamed",
        lambda p: p.registry.rename_registered_model("iris", "Iris Classifier"),
        ["Iris Classifier: renamed iris → Iris Classifier  (alice)"],
        [{"action": "model_renamed", "model": "Iris Classifier", "old": "iris", "new": "Iris Classifier"}],
    ),
    (
        "model renamed, then a version registered",
        lambda p: (
            p.registry.rename_registered_model("iris", "flower"),
            p.registry.create_model_version("flower", p.write("f.bin", "f2")),
        ),
        [
            "flower: renamed iris → flower  (alice)",
            f"flower: version 2 registered ({_digest('f2')[:19]})  (alice)",
        ],
        [
            {"action": "model_renamed", "model": "flower", "old": "iris", "new": "flower"},
            {"action": "version_registered", "model": "flower", "version": 2},
        ],
    ),
    (
        "model renamed, and a new model took its name",
        lambda p: (
            p.registry.rename_registered_model("iris", "flower"),
            p.registry.create_registered_model("iris", description="new"),
        ),
        [
            "flower: renamed iris → flower  (alice)",
            "iris: model created  (alice)",
            "iris: description changed  (alice)",
        ],
        [
            {"action": "model_renamed", "model": "flower"},
            {"action": "model_created", "model": "iris"},
            {"action": "model_described", "model": "iris", "old": "", "new": "new"},
        ],
    ),
    (
        "artifact digest edited by hand",
        _edit_digest,
        [f"fraud: version 2 artifact changed {_digest('w2')[:19]} → {_digest('forged')[:19]}"],
        [
            {
                "action": "version_artifact_changed",
                "version": 2,
                "old": _digest("w2"),
                "new": _digest("forged"),
            }
        ],
    ),
    (
        "alias moved and moved back: history only",
        lambda p: (
            p.registry.set_registered_model_alias("fraud", "champion", 2),
            p.registry.set_registered_model_alias("fraud", "champion", 1),
        ),
        [],
        [],
    ),
    ("nothing", lambda p: None, [], []),
]


def _subset(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(actual) == len(expected), actual
    for got, want in zip(actual, expected, strict=True):
        assert {k: got[k] for k in want} == want, got


@pytest.mark.parametrize(("mutate", "lines", "changes"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_diff_reports_each_kind_of_change(
    repo: Repo,
    cli,
    mutate: Mutation,
    lines: list[str],
    changes: list[dict[str, Any]],  # type: ignore[no-untyped-def]
) -> None:
    mutate(repo)

    # The working tree against HEAD (uncommitted and untracked files included) …
    plain = cli("diff")
    assert plain.exit_code == 0, plain.stderr
    assert plain.stdout.splitlines() == lines
    if not lines:
        assert "no registry changes" in plain.stderr
    data = json.loads(cli("diff", "--json").stdout)
    assert data["from"]["rev"] == "HEAD" and data["to"] == {"rev": None, "commit": None}
    assert data["changed"] is bool(changes)
    _subset(data["changes"], changes)
    assert cli("diff", "--exit-code").exit_code == (1 if changes else 0)
    assert cli("diff", "--json", "--exit-code").exit_code == (1 if changes else 0)

    # … and the same between two commits, read from git objects only.
    head = repo.commit("change")
    committed = json.loads(cli("diff", "HEAD~1", "HEAD", "--json").stdout)
    assert committed["to"] == {"rev": "HEAD", "commit": head}
    assert committed["changes"] == data["changes"]
    assert cli("diff", "HEAD~1", "HEAD").stdout.splitlines() == lines
    assert cli("diff", "--exit-code", "HEAD~1", "HEAD").exit_code == (1 if changes else 0)
    assert cli("diff", "--exit-code").exit_code == 0  # the working tree is HEAD now
    reverse = json.loads(cli("diff", "HEAD", "HEAD~1", "--json").stdout)
    assert reverse["changed"] is bool(changes)


def test_one_revision_is_compared_with_the_working_tree(repo: Repo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.register("fraud", "w3")
    repo.commit("v3")
    repo.registry.set_registered_model_alias("fraud", "champion", 3)
    out = cli("diff", "HEAD~1").stdout.splitlines()
    assert out == [
        f"fraud: version 3 registered ({_digest('w3')[:19]})  (alice)",
        "fraud: champion 1 → 3  (alice)",
    ]
    assert cli("diff").stdout.splitlines() == ["fraud: champion 1 → 3  (alice)"]


def test_diff_reads_revisions_without_checking_out(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.register("fraud", "w3")
    repo.commit("v3")
    repo.git("checkout", "-q", "main")
    before = repo.git("status", "--porcelain")
    result = diff_revisions(repo.registry.root, "main", "feature")
    assert [c.action for c in result.changes] == ["version_registered"]
    assert repo.git("status", "--porcelain") == before
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_rich_output_on_a_terminal(repo: Repo, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import mreg.cli.diff

    monkeypatch.setattr(mreg.cli.diff, "stdout_is_terminal", lambda: True)
    repo.registry.set_registered_model_alias("fraud", "champion", 2, message="v2 wins")
    repo.registry.delete_registered_model("iris")
    out = cli("diff").stdout
    assert "registry changes: HEAD" in out and "working tree" in out
    assert "champion 1 → 2" in out and "alice: v2 wins" in out
    assert "model deleted" in out
    assert "┃" in out or "│" in out  # drawn as a table


def test_before_the_first_commit_head_is_empty(isolated: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from helpers import git

    git("init", "-q", "-b", "main", cwd=isolated)
    registry = Registry.init(isolated)
    source = isolated / "m.bin"
    source.write_text("w")
    registry.create_model_version("fraud", source)
    data = json.loads(cli("diff", "--json").stdout)
    assert data["from"] == {"rev": "HEAD", "commit": None}
    assert [c["action"] for c in data["changes"]] == ["model_created", "version_registered"]


def test_store_in_a_subfolder(isolated: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from helpers import git

    git("init", "-q", "-b", "main", cwd=isolated)
    registry = Registry.init(isolated / "ml")
    git("add", "-A", cwd=isolated)
    git("commit", "-q", "-m", "init", cwd=isolated)
    source = isolated / "m.bin"
    source.write_text("w")
    registry.create_model_version("fraud", source)
    result = cli("--store", "ml", "diff", "--json")
    assert [c["action"] for c in json.loads(result.stdout)["changes"]] == [
        "model_created",
        "version_registered",
    ]


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["diff", "no-such-rev"], 3, "error: revision 'no-such-rev' not found"),
        (["diff", "HEAD", "no-such-rev"], 3, "error: revision 'no-such-rev' not found"),
        (["diff", "--exit-code", "--", "--output=x"], 3, "error: revision '--output=x' not found"),
    ],
)
def test_bad_revisions(repo: Repo, args: list[str], code: int, text: str) -> None:
    result = run_mreg(*args, cwd=repo.top)
    assert result.returncode == code
    assert result.stderr.startswith(text) and result.stderr.count("\n") == 1
    assert not (repo.top / "x").exists()


def test_real_process_exit_codes(repo: Repo) -> None:
    assert run_mreg("diff", "--exit-code", cwd=repo.top).returncode == 0
    repo.registry.set_registered_model_alias("fraud", "champion", 2)
    changed = run_mreg("diff", "--exit-code", cwd=repo.top)
    assert changed.returncode == 1
    assert changed.stdout == "fraud: champion 1 → 2  (alice)\n"
    assert changed.stderr == ""


def test_outside_git(registry: Registry) -> None:
    result = run_mreg("diff", cwd=registry.root.parent)
    assert result.returncode == 3
    assert "is not inside a git repository" in result.stderr and "Traceback" not in result.stderr


def test_conflicted_working_tree_is_named(repo: Repo) -> None:
    path = repo.top / ".mreg" / "models" / "fraud" / "aliases" / "champion"
    path.write_text("<<<<<<< HEAD\nversion = 1\n=======\nversion = 2\n>>>>>>> feature\n")
    result = run_mreg("diff", cwd=repo.top)
    assert result.returncode == 5
    assert "champion:1: unresolved git merge conflict" in result.stderr
