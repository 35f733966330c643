"""policy.toml's rules, applied by alias set, alias delete, stage set and register, through the
command line and the API: each rule allowed and refused, exit 4, one line naming alias, version
and rule, nothing written; a malformed policy is an error naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import Cli, snapshot

from mreg import PolicyViolation, Registry
from mreg.errors import AlreadyExists, DamagedStore

POLICY = """\
[aliases.champion]
models = ["fraud", "churn-*"]
require = "tags.validation = 'passed'"
forward_only = true
message = true
owners = ["@risk-team"]

[aliases.canary]
expect = true

[stages]
order = ["None", "Staging", "Production"]
"""


@pytest.fixture
def guarded(registry: Registry, isolated: Path) -> Registry:
    """Model ``fraud``: versions 1 (passed), 2 (failed), 3 (passed), 4 (passed); the policy above."""
    for n, outcome in enumerate(["passed", "failed", "passed", "passed"], start=1):
        source = isolated / f"m{n}.bin"
        source.write_bytes(f"weights {n}\n".encode())
        registry.create_model_version("fraud", source, tags={"validation": outcome})
    (registry.root / "policy.toml").write_text(POLICY)
    return registry


def refused(registry: Registry, action: object) -> str:
    """Run ``action``; it must raise PolicyViolation and leave every file as it was."""
    before = snapshot(registry.root)
    with pytest.raises(PolicyViolation) as err:
        action()  # type: ignore[operator]
    assert snapshot(registry.root) == before
    assert isinstance(err.value, AlreadyExists) and err.value.exit_code == 4
    return str(err.value)


def test_require_is_evaluated_on_the_target_version(guarded: Registry) -> None:
    text = refused(guarded, lambda: guarded.set_registered_model_alias("fraud", "champion", 2, message="m"))
    assert text == (
        "champion → fraud/2 breaks policy: tags.validation = 'passed' "
        "(version 2 has tags.validation = 'failed')"
    )
    guarded.set_registered_model_alias("fraud", "champion", 1, message="validated")
    assert guarded.get_aliases("fraud") == {"champion": 1}


def test_forward_only_refuses_a_lower_version_and_removal(guarded: Registry) -> None:
    guarded.set_registered_model_alias("fraud", "champion", 3, message="v3")
    text = refused(
        guarded, lambda: guarded.set_registered_model_alias("fraud", "champion", 1, message="back")
    )
    assert text.startswith("champion → fraud/1 breaks policy: forward_only")
    text = refused(guarded, lambda: guarded.delete_registered_model_alias("fraud", "champion", message="x"))
    assert text.startswith("removing champion from fraud/3 breaks policy: forward_only")
    guarded.set_registered_model_alias("fraud", "champion", 4, message="v4")
    assert guarded.get_aliases("fraud")["champion"] == 4


def test_message_is_required(guarded: Registry) -> None:
    text = refused(guarded, lambda: guarded.set_registered_model_alias("fraud", "champion", 1))
    assert text == "champion → fraud/1 breaks policy: message = true (a -m message is required)"
    guarded.set_registered_model_alias("fraud", "champion", 1, message="ok")


def test_expect_is_satisfied_by_compare_and_swap(guarded: Registry) -> None:
    text = refused(guarded, lambda: guarded.set_registered_model_alias("fraud", "canary", 2))
    assert text.startswith("canary → fraud/2 breaks policy: expect = true (--expect is required")
    guarded.set_registered_model_alias("fraud", "canary", 2, expect=0)
    guarded.set_registered_model_alias("fraud", "canary", 3, expect=2)
    assert guarded.get_aliases("fraud") == {"canary": 3}


def test_models_globs_limit_a_rule(guarded: Registry, isolated: Path) -> None:
    source = isolated / "other.bin"
    source.write_bytes(b"other")
    guarded.create_model_version("ranker", source, tags={"validation": "failed"})
    guarded.set_registered_model_alias("ranker", "champion", 1)  # not covered: no rule
    guarded.create_model_version("churn-eu", source, tags={"validation": "failed"})
    text = refused(
        guarded, lambda: guarded.set_registered_model_alias("churn-eu", "champion", 1, message="m")
    )
    assert text.startswith("champion → churn-eu/1 breaks policy: tags.validation = 'passed'")


def test_stage_order(guarded: Registry) -> None:
    text = refused(guarded, lambda: guarded.transition_model_version_stage("fraud", 1, "Production"))
    assert text == (
        "fraud/1 → Production breaks policy: stages.order "
        "(version 1 is in None; Production is reached only from Staging)"
    )
    guarded.transition_model_version_stage("fraud", 1, "Staging")
    guarded.transition_model_version_stage("fraud", 1, "Production")
    guarded.transition_model_version_stage("fraud", 1, "Archived")  # not in the order: free
    assert guarded.get_model_version("fraud", 1).current_stage == "Archived"


def test_register_with_alias_obeys_the_rules(guarded: Registry, isolated: Path) -> None:
    source = isolated / "m5.bin"
    source.write_bytes(b"weights 5\n")
    before = guarded.store.version_numbers("fraud")
    with pytest.raises(PolicyViolation, match=r"champion → fraud/5 breaks policy: tags.validation"):
        guarded.create_model_version(
            "fraud", source, tags={"validation": "failed"}, aliases=["champion"], message="m"
        )
    assert guarded.store.version_numbers("fraud") == before  # the version was not written
    assert guarded.get_aliases("fraud") == {}
    mv = guarded.create_model_version(
        "fraud", source, tags={"validation": "passed"}, aliases=["champion"], message="m"
    )
    assert mv.version == 5 and mv.aliases == ["champion"]


def test_alias_events_record_the_policy_digest(guarded: Registry) -> None:
    import hashlib

    guarded.set_registered_model_alias("fraud", "champion", 1, message="m")
    guarded.set_registered_model_alias("fraud", "challenger", 2)
    (guarded.root / "policy.toml").unlink()
    guarded.set_registered_model_alias("fraud", "other", 2)
    digest = hashlib.sha256(POLICY.encode()).hexdigest()
    events = [e for e in guarded.get_history("fraud") if e.alias]
    assert [(e.alias, e.policy_digest) for e in events] == [
        ("champion", digest),
        ("challenger", digest),
        ("other", None),
    ]
    assert events[0].to_dict()["policy_digest"] == digest


# ----------------------------------------------------------------------------- command line


def test_cli_refusals_exit_4_with_one_line(guarded: Registry, cli: Cli) -> None:
    before = snapshot(guarded.root)
    cases = [
        (
            ("alias", "set", "fraud", "champion", "2", "-m", "m"),
            "champion → fraud/2 breaks policy: tags.validation",
        ),
        (("alias", "set", "fraud", "champion", "1"), "champion → fraud/1 breaks policy: message = true"),
        (("alias", "set", "fraud", "canary", "1"), "canary → fraud/1 breaks policy: expect = true"),
        (("stage", "set", "fraud", "1", "production"), "fraud/1 → Production breaks policy: stages.order"),
    ]
    for args, start in cases:
        result = cli(*args)
        assert result.exit_code == 4, (args, result.stderr)
        assert result.stderr.startswith(f"error: {start}") and result.stderr.count("\n") == 1
    assert snapshot(guarded.root) == before


def test_cli_allowed_changes(guarded: Registry, cli: Cli) -> None:
    assert cli("alias", "set", "fraud", "champion", "1", "-m", "validated").exit_code == 0
    assert cli("alias", "set", "fraud", "canary", "2", "--expect", "0").exit_code == 0
    assert cli("stage", "set", "fraud", "1", "staging").exit_code == 0
    assert cli("stage", "set", "fraud", "1", "production").exit_code == 0
    result = cli("alias", "delete", "fraud", "champion", "-m", "gone")
    assert result.exit_code == 4 and "forward_only" in result.stderr
    assert cli("alias", "delete", "fraud", "canary").exit_code == 0
    assert guarded.get_aliases("fraud") == {"champion": 1}


def test_cli_register_with_alias_is_refused(guarded: Registry, cli: Cli, isolated: Path) -> None:
    source = isolated / "m5.bin"
    source.write_bytes(b"weights 5\n")
    result = cli("register", str(source), "--name", "fraud", "--alias", "champion", "-t", "validation=failed")
    assert result.exit_code == 4
    assert result.stderr.startswith("error: champion → fraud/5 breaks policy:")
    assert guarded.store.version_numbers("fraud") == [1, 2, 3, 4]


def test_the_fast_path_enforces_the_policy(guarded: Registry, isolated: Path) -> None:
    from helpers import run_mreg

    proc = run_mreg("alias", "set", "fraud", "champion", "2", "-m", "m", cwd=isolated)
    assert proc.returncode == 4
    assert proc.stderr.startswith("error: champion → fraud/2 breaks policy: tags.validation = 'passed'")
    assert guarded.get_aliases("fraud") == {}


def test_history_json_shows_the_digest(guarded: Registry, cli: Cli) -> None:
    import json

    assert cli("alias", "set", "fraud", "champion", "1", "-m", "m").exit_code == 0
    events = json.loads(cli("history", "fraud", "--json").stdout)["events"]
    alias_event = next(e for e in events if e["alias"] == "champion")
    assert alias_event["policy_digest"] == guarded.store.read_policy().digest  # type: ignore[union-attr]


# ------------------------------------------------------------------------------ bad policies


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ('[aliases.champion]\nmessage = true\nrequre = "x = 1"\n', 3, "unknown key 'requre'"),
        ('owners = ["@a"]\ncolor = "red"\n', 2, "unknown key 'color'"),
        (
            '[aliases.champion]\n\nrequire = "tags.x = "\n',
            3,
            "'require' of [aliases.champion] is not a valid filter",
        ),
        (
            '[aliases.champion]\nforward_only = "yes"\n',
            2,
            "'forward_only' of [aliases.champion] must be true or false",
        ),
        ('[aliases.champion]\nmodels = ["a/b"]\n', 2, "is not a model name or a glob"),
        ('[aliases.champion]\nowners = ["risk-team"]\n', 2, "is not an owner"),
        ("[aliases.latest]\nmessage = true\n", 1, "reserved"),
        ('[stages]\norder = ["None", "Prod"]\n', 2, "'order' of [stages]"),
        ("[aliases.champion]\nmessage = true\nmessage = false\n", 3, "invalid TOML"),
    ],
)
def test_a_malformed_policy_is_an_error_naming_the_line(
    guarded: Registry, cli: Cli, text: str, line: int, says: str
) -> None:
    (guarded.root / "policy.toml").write_text(text)
    with pytest.raises(DamagedStore) as err:
        guarded.set_registered_model_alias("fraud", "champion", 1, message="m")
    assert f"policy.toml:{line}:" in str(err.value) and says in str(err.value), str(err.value)
    result = cli("policy", "show")
    assert result.exit_code == 5
    assert result.stderr.startswith("error: ") and f"policy.toml:{line}:" in result.stderr
    assert guarded.get_aliases("fraud") == {}
    # fsck, the CI check, reports it too (before anyone's alias change is refused by it).
    found = [f for f in guarded.fsck() if f.path == "policy.toml"]
    assert [(f.severity, f.kind) for f in found] == [("error", "invalid-file")]
    assert f"policy.toml:{line}:" in found[0].message and says in found[0].message
    result = cli("fsck")
    assert result.exit_code == 5 and f"policy.toml:{line}:" in result.stdout + result.stderr


def test_fsck_passes_a_good_policy_and_does_not_open_a_symlinked_one(
    guarded: Registry, isolated: Path
) -> None:
    assert [f for f in guarded.fsck() if f.severity == "error"] == []
    policy = guarded.root / "policy.toml"
    outside = isolated / "elsewhere.toml"
    outside.write_text("not = [valid")
    policy.unlink()
    policy.symlink_to(outside)
    found = [f for f in guarded.fsck() if f.path == "policy.toml"]
    assert [f.kind for f in found] == ["symlink"]


def test_without_a_policy_nothing_is_protected(fraud: Registry, cli: Cli) -> None:
    fraud.set_registered_model_alias("fraud", "champion", 3)
    fraud.set_registered_model_alias("fraud", "champion", 1)
    fraud.transition_model_version_stage("fraud", 1, "Production")
    result = cli("policy", "show")
    assert result.exit_code == 0 and "no .mreg/policy.toml" in result.stderr
    assert cli("policy", "codeowners").stdout == ""


def test_deleting_the_version_a_protected_alias_holds_obeys_the_rules(guarded: Registry) -> None:
    """Deleting a version removes its aliases first: a protected alias is not removed that way
    behind its rules, and a version no protected alias holds is deleted as before."""
    guarded.set_registered_model_alias("fraud", "champion", 3, message="v3")
    text = refused(guarded, lambda: guarded.delete_model_version("fraud", 3, message="gone"))
    assert text.startswith("removing champion from fraud/3 breaks policy: forward_only")
    guarded.delete_model_version("fraud", 2, message="failed validation")
    assert [mv.version for mv in guarded.list_model_versions("fraud")] == [1, 3, 4]
    guarded.set_registered_model_alias("fraud", "staging", 4)  # no rule protects it
    guarded.delete_model_version("fraud", 4, message="no longer needed")
    assert guarded.get_aliases("fraud") == {"champion": 3}
