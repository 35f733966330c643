"""``mreg check`` in git: changes against the base revision's policy; ``mreg policy codeowners``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import REPO, Cli, Repo
from jsonschema_lite import validate

SCHEMA = json.loads((REPO / "docs" / "json-schema" / "mreg-output.schema.json").read_text(encoding="utf-8"))


def valid(data: object, definition: str) -> bool:
    return validate(data, {"$ref": f"#/$defs/{definition}"}, SCHEMA) == []


POLICY = """\
owners = ["@ml-platform"]

[aliases.champion]
models = ["fraud"]
require = "tags.validation = 'passed'"
message = true
owners = ["@risk-team", "risk@example.com"]

[stages]
order = ["None", "Staging", "Production"]
"""


@pytest.fixture
def repo(isolated: Path) -> Repo:
    """main: fraud 1 (passed, @champion), 2 (failed), 3 (passed); the policy committed."""
    repo = Repo(isolated / "proj")
    for outcome in ("passed", "failed", "passed"):
        repo.register(
            "fraud",
            f"weights {outcome} {repo.registry.store.version_numbers('fraud')}",
            tags={"validation": outcome},
        )
    (repo.registry.root / "policy.toml").write_text(POLICY)
    repo.registry.set_registered_model_alias("fraud", "champion", 1, message="first")
    repo.commit("fraud with a policy")
    return repo


def check(cli: Cli, repo: Repo, *args: str):  # type: ignore[no-untyped-def]
    return cli("--store", str(repo.top), "check", *args)


def test_changes_made_through_mreg_pass(repo: Repo, cli: Cli) -> None:
    repo.git("checkout", "-q", "-b", "promote")
    repo.registry.set_registered_model_alias("fraud", "champion", 3, message="v3 is better")
    repo.registry.transition_model_version_stage("fraud", 3, "Staging")
    repo.commit("promote 3")
    result = check(cli, repo, "main")
    assert result.exit_code == 0, result.stderr
    assert "2 alias and stage changes since main hold" in result.stderr
    data = json.loads(check(cli, repo, "main", "--json").stdout)
    assert data["ok"] is True and data["checked"] == 2 and data["violations"] == []
    assert valid(data, "CheckReport")
    assert data["policy_digest"] == repo.registry.store.read_policy().digest  # type: ignore[union-attr]


def test_a_hand_edited_alias_file_fails_check_naming_it(repo: Repo, cli: Cli) -> None:
    repo.git("checkout", "-q", "-b", "sneaky")
    alias_file = repo.registry.root / "models" / "fraud" / "aliases" / "champion"
    alias_file.write_text("version = 2\n")
    repo.commit("point champion at 2")
    result = check(cli, repo, "main")
    assert result.exit_code == 4
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "error: champion → fraud/2 breaks policy: no history event records this change "
        "(.mreg/models/fraud/aliases/champion edited by hand?)"
    )
    assert any("tags.validation = 'passed' (version 2 has tags.validation = 'failed')" in x for x in lines)
    assert any("message = true" in x for x in lines)
    assert all(x.startswith("error: champion → fraud/2 breaks policy: ") for x in lines)
    data = json.loads(check(cli, repo, "main", "--json").stdout)
    assert data["ok"] is False
    assert {v["rule"] for v in data["violations"]} == {"history", "message", "require"}
    assert valid(data, "CheckReport")
    assert check(cli, repo, "HEAD").exit_code == 0  # nothing changed since HEAD


def test_relaxing_require_and_moving_the_alias_in_one_commit_fails(repo: Repo, cli: Cli) -> None:
    repo.git("checkout", "-q", "-b", "relax")
    policy = repo.registry.root / "policy.toml"
    policy.write_text(POLICY.replace("require = \"tags.validation = 'passed'\"\n", ""))
    repo.registry.set_registered_model_alias(
        "fraud", "champion", 2, message="2 is fine now"
    )  # allowed locally
    repo.commit("relax the rule and promote 2")
    result = check(cli, repo, "main")
    assert result.exit_code == 4
    assert result.stderr == (
        "error: champion → fraud/2 breaks policy: tags.validation = 'passed' "
        "(version 2 has tags.validation = 'failed')\n"
    )
    # Once the relaxed policy is on main, the next change is judged by it.
    assert check(cli, repo, "HEAD").exit_code == 0


def test_uncommitted_stage_jump_fails_against_head(repo: Repo, cli: Cli) -> None:
    version = repo.registry.root / "models" / "fraud" / "versions" / "3.toml"
    version.write_text(version.read_text().replace('stage = "None"', 'stage = "Production"'))
    assert 'stage = "Production"' in version.read_text()
    result = check(cli, repo)
    assert result.exit_code == 4
    assert result.stderr == (
        "error: fraud/3 → Production breaks policy: stages.order "
        "(version 3 is in None; Production is reached only from Staging)\n"
    )


def test_a_malformed_policy_at_the_base_is_an_error_naming_it(repo: Repo, cli: Cli) -> None:
    (repo.registry.root / "policy.toml").write_text("[aliases.champion]\nmesage = true\n")
    repo.commit("typo")
    result = check(cli, repo, "HEAD")
    assert result.exit_code == 5
    assert result.stderr.startswith("error: HEAD:.mreg/policy.toml:2: unknown key 'mesage'")


def test_without_a_policy_at_the_base_every_change_passes(isolated: Path, cli: Cli) -> None:
    repo = Repo(isolated / "bare")
    repo.register("fraud", "w1", tags={"validation": "failed"})
    repo.commit("fraud 1")
    (repo.registry.root / "policy.toml").write_text(POLICY)  # added in the change: not yet in force
    (repo.registry.root / "models" / "fraud" / "aliases").mkdir()
    (repo.registry.root / "models" / "fraud" / "aliases" / "champion").write_text("version = 1\n")
    result = check(cli, repo)
    assert result.exit_code == 0, result.stderr
    assert "(no policy.toml)" in result.stderr


# ----------------------------------------------------------------------------- CODEOWNERS

# A CODEOWNERS line: a path pattern (spaces escaped), then one or more owners, each @user,
# @org/team or an email address.
_OWNER = r"(@[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?|[^@\s]+@[^@\s]+\.[^@\s]+)"
_LINE = re.compile(rf"(?P<pattern>/(\\ |\S)+)(?P<owners>( {_OWNER})+)")


def parse_codeowners(text: str) -> list[tuple[str, list[str]]]:
    rules = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        found = _LINE.fullmatch(line)
        assert found is not None, f"not a CODEOWNERS line: {line!r}"
        rules.append((found["pattern"], found["owners"].split()))
    return rules


def test_codeowners_lines_parse_and_name_the_alias_files(repo: Repo, cli: Cli) -> None:
    policy = repo.registry.root / "policy.toml"
    policy.write_text(
        POLICY + '\n[aliases.prod]\nmodels = ["churn-*", "Iris Classifier"]\nowners = ["@acme/ops"]\n'
    )
    result = cli("--store", str(repo.top), "policy", "codeowners")
    assert result.exit_code == 0, result.stderr
    rules = parse_codeowners(result.stdout)
    assert rules == [
        ("/.mreg/models/fraud/aliases/champion", ["@risk-team", "risk@example.com"]),
        ("/.mreg/models/churn-*/aliases/prod", ["@acme/ops"]),
        ("/.mreg/models/Iris\\ Classifier/aliases/prod", ["@acme/ops"]),
        ("/.mreg/policy.toml", ["@ml-platform"]),
    ]
    # The alias path is the one the store really writes.
    real = repo.registry.root / "models" / "fraud" / "aliases" / "champion"
    assert real.is_file() and "/" + real.relative_to(repo.top).as_posix() == rules[0][0]


def test_codeowners_of_a_store_below_the_top_of_the_work_tree(isolated: Path, cli: Cli) -> None:
    from helpers import git

    from mreg import Registry

    top = isolated / "mono"
    top.mkdir()
    git("init", "-q", "-b", "main", cwd=top)
    registry = Registry.init(top / "ml" / "registry")
    (registry.root / "policy.toml").write_text('[aliases.champion]\nowners = ["@risk"]\n')
    result = cli("--store", str(registry.root), "policy", "codeowners")
    assert parse_codeowners(result.stdout) == [
        ("/ml/registry/.mreg/models/*/aliases/champion", ["@risk"]),
        ("/ml/registry/.mreg/policy.toml", ["@risk"]),
    ]


def test_policy_show_lists_rules_per_model(repo: Repo, cli: Cli) -> None:
    result = cli("--store", str(repo.top), "policy", "show")
    assert result.exit_code == 0, result.stderr
    assert (
        "fraud@champion: require tags.validation = 'passed'; message; owners @risk-team risk@example.com"
        in (result.stdout)
    )
    assert "fraud stages: None → Staging → Production" in result.stdout
    data = json.loads(cli("--store", str(repo.top), "policy", "show", "--json").stdout)
    assert data["file"] == ".mreg/policy.toml"
    assert [m["model"] for m in data["models"]] == ["fraud"]
    assert data["models"][0]["aliases"][0]["alias"] == "champion"
    assert valid(data, "PolicyShow") and data["stages"]["order"] == ["None", "Staging", "Production"]
    assert not valid({**data, "digest": 1}, "PolicyShow")
