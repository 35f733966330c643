"""Protected aliases and the stage order: the rules of ``.mreg/policy.toml`` applied to a change.

The same rules run in two places. Locally, ``Registry`` asks ``check_alias``, ``check_alias_delete``
and ``check_stage`` inside the store lock, after re-reading what it changes, so a refused change
writes nothing; that is a convenience for the person at the keyboard, who could edit the files by
hand. In CI, ``check_revision`` (``mreg check``) finds every alias and stage change between a base
revision and the working tree as ``mreg diff`` does, and checks each against the policy **as the
base revision has it**, so a change cannot relax a rule and use the relaxation at once.
``codeowners`` turns the owners of each rule into CODEOWNERS lines, so the forge asks the right
people to review.

Without a policy file the cost is one failed open; the search grammar is imported only when a
file exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mreg.errors import Conflict, DamagedStore, MregError, PolicyViolation
from mreg.store.layout import STORE_DIRNAME, rel_alias_file, rel_policy
from mreg.value import Value

if TYPE_CHECKING:
    from mreg.entities import Change
    from mreg.search import Filter
    from mreg.store.policyfile import AliasRule, PolicyRecord, StageRule
    from mreg.store.store import Store


@dataclass(frozen=True, eq=False, repr=False)
class Violation(Value):
    """One rule a change breaks; ``text`` is the line shown (``champion → fraud/9 breaks …``)."""

    model: str
    alias: str | None
    version: int | None
    rule: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "version": self.version,
            "rule": self.rule,
            "error": self.text,
        }


class Policy:
    """A parsed policy with its ``require`` filters compiled (``DamagedStore`` naming the line of
    a filter the search grammar refuses)."""

    def __init__(self, record: PolicyRecord) -> None:
        from mreg import search
        from mreg.errors import InvalidFilter

        self.record = record
        self.filters: dict[str, Filter] = {}
        for rule in record.aliases:
            if rule.require is None:
                continue
            try:
                self.filters[rule.alias] = search.parse_version_filter(rule.require)
            except InvalidFilter as err:
                line = "" if rule.require_line is None else f"{rule.require_line}:"
                raise DamagedStore(
                    f"{_shown_path(record.where)}:{line} 'require' of [aliases.{rule.alias}] is not a "
                    f"valid filter: {err}"
                ) from None

    @property
    def digest(self) -> str:
        return self.record.digest

    def alias_rule(self, model: str, alias: str) -> AliasRule | None:
        for rule in self.record.aliases:
            if rule.alias == alias and _covers(rule.models, model):
                return rule
        return None

    def stage_rule(self, model: str) -> StageRule | None:
        stages = self.record.stages
        return stages if stages is not None and _covers(stages.models, model) else None


def _shown_path(where: str) -> str:
    from mreg.store.files import display_path

    return where if ":" in where and not where.startswith("/") else display_path(where)


def _covers(globs: tuple[str, ...] | None, model: str) -> bool:
    import fnmatch

    return globs is None or any(fnmatch.fnmatchcase(model, g) for g in globs)


def load(store: Store) -> Policy | None:
    """The policy of the working store; None without a policy file."""
    record = store.read_policy()
    return None if record is None else Policy(record)


def load_text(where: str, data: bytes | None) -> Policy | None:
    """A policy from bytes read elsewhere (git), named ``where`` in errors."""
    from mreg.store.policyfile import parse_policy

    return None if data is None else Policy(parse_policy(where, data))


# ------------------------------------------------------------------------------------- rules


def _violation(
    model: str, alias: str | None, version: int | None, head: str, rule: str, why: str
) -> Violation:
    return Violation(model, alias, version, rule, f"{head} breaks policy: {why}")


def alias_violations(
    policy: Policy,
    store: Store,
    model: str,
    alias: str,
    old: int | None,
    new: int | None,
    *,
    message: str | None,
    expected: bool | None,
    recorded: bool = True,
) -> list[Violation]:
    """The rules that setting (``new``) or removing (``new`` None) ``alias`` of ``model`` breaks.
    ``expected`` None: unknown (a change found in git), so the ``expect`` rule is not asked;
    ``recorded`` False: no history event explains the change (a file edited by hand)."""
    rule = policy.alias_rule(model, alias)
    if rule is None:
        return []
    head = f"{alias} → {model}/{new}" if new is not None else f"removing {alias} from {model}/{old}"
    found: list[Violation] = []

    def add(name: str, why: str) -> None:
        found.append(_violation(model, alias, new if new is not None else old, head, name, why))

    if not recorded:
        add(
            "history",
            f"no history event records this change ({STORE_DIRNAME}/{rel_alias_file(model, alias)} "
            "edited by hand?)",
        )
    if rule.message and not message:
        add("message", "message = true (a -m message is required)")
    if rule.expect and expected is False:
        now = "no version" if old is None else f"version {old}"
        add("expect", f"expect = true (--expect is required; {alias} points at {now})")
    if rule.forward_only and old is not None:
        if new is None:
            add("forward_only", "forward_only = true (a forward-only alias cannot be removed)")
        elif new <= old:
            add(
                "forward_only",
                f"forward_only = true ({alias} points at version {old}; the new one must be higher)",
            )
    if rule.require is not None and new is not None:
        why = _require_failure(policy.filters[alias], rule.require, store, model, new)
        if why is not None:
            add("require", why)
    return found


def _require_failure(filt: Filter, text: str, store: Store, model: str, version: int) -> str | None:
    try:
        record = store.live_version(model, version)
    except MregError as err:
        return f"{text} ({err})"
    aliases = tuple(sorted(a for a, v in store.aliases(model).items() if v == version))
    entity = record.entity(model, version, aliases)
    failing = [c for c in filt.conditions if not c.matches(entity)]
    if not failing:
        return None
    has = ", ".join(_has(c.field, c.get(entity)) for c in failing)
    return f"{text} (version {version} has {has})"


def _has(field: str, value: Any) -> str:
    if value is None or value == ():
        return f"no {field}"
    if isinstance(value, tuple):
        return f"{field} = {', '.join(map(repr, value))}"
    return f"{field} = {value!r}"


def stage_violations(policy: Policy, model: str, version: int, old: str, new: str) -> list[Violation]:
    """The stage order broken by moving ``version`` of ``model`` from ``old`` to ``new``: a stage
    of the order is reached only from the one before it (or from a later one, going back)."""
    rule = policy.stage_rule(model)
    if rule is None or new not in rule.order:
        return []
    target = rule.order.index(new)
    current = rule.order.index(old) if old in rule.order else None
    if target == 0 or (current is not None and current >= target - 1):
        return []
    head = f"{model}/{version} → {new}"
    why = f"stages.order (version {version} is in {old}; {new} is reached only from {rule.order[target - 1]})"
    return [_violation(model, None, version, head, "stages.order", why)]


def _refuse(violations: list[Violation]) -> None:
    if violations:
        first = violations[0].text
        rest = "; ".join(v.text.split(" breaks policy: ", 1)[1] for v in violations[1:])
        raise PolicyViolation(first + (f"; {rest}" if rest else ""))


# ------------------------------------------------------------------- local enforcement hooks


def check_expected(model: str, alias: str, current: dict[str, int], expect: int | None) -> None:
    """Conflict unless ``alias`` points at ``expect`` (0: nowhere) among ``current``, a model's
    aliases re-read under the lock: ``alias set --expect``, a compare-and-swap."""
    if expect is not None and current.get(alias, 0) != expect:
        now_at = current.get(alias)
        raise Conflict(
            f"alias {alias!r} of model {model!r} points at "
            f"{'no version' if now_at is None else f'version {now_at}'}, not "
            f"{'no version' if expect == 0 else f'version {expect}'} as expected"
        )


def check_alias(
    store: Store, model: str, alias: str, old: int | None, new: int, *, message: str | None, expected: bool
) -> dict[str, str]:
    """Refuse (PolicyViolation) setting ``alias`` of ``model`` from ``old`` to ``new`` if a rule
    forbids it; the fields the event records (the policy's digest; none without a policy)."""
    policy = load(store)
    if policy is None:
        return {}
    _refuse(alias_violations(policy, store, model, alias, old, new, message=message, expected=expected))
    return {"policy_digest": policy.digest}


def check_alias_delete(
    store: Store, model: str, alias: str, old: int, *, message: str | None
) -> dict[str, str]:
    """As ``check_alias``, for removing the alias."""
    policy = load(store)
    if policy is None:
        return {}
    _refuse(alias_violations(policy, store, model, alias, old, None, message=message, expected=None))
    return {"policy_digest": policy.digest}


def check_stage(store: Store, model: str, version: int, old: str, new: str) -> None:
    """Refuse moving ``version`` from stage ``old`` to ``new`` against the stage order."""
    policy = load(store) if old != new else None
    if policy is not None:
        _refuse(stage_violations(policy, model, version, old, new))


# ----------------------------------------------------------------------------------- mreg check


@dataclass(frozen=True, eq=False, repr=False)
class CheckReport(Value):
    """``mreg check``: the alias and stage changes from ``rev`` to the working tree, checked
    against the policy ``rev`` holds (``policy_digest`` None: it holds none)."""

    rev: str
    commit: str | None
    policy_digest: str | None
    checked: int
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "rev": self.rev,
            "commit": self.commit,
            "policy_digest": self.policy_digest,
            "checked": self.checked,
            "ok": self.ok,
            "violations": [v.to_dict() for v in self.violations],
        }


_CHECKED = ("alias_set", "alias_moved", "alias_deleted", "version_stage_changed")


def check_revision(store: Store, rev: str | None = None) -> CheckReport:
    """Every alias and stage change between ``rev`` (default HEAD) and the working tree, against
    the policy as of ``rev``."""
    from mreg import diff, gitinfo
    from mreg.store.files import MAX_METADATA_BYTES

    repo = gitinfo.GitRepo.of_store(store.root)
    name = rev or "HEAD"
    commit = repo.commit_of(name) if rev is None else repo.require_commit(name)
    data = repo.read_at(commit, [rel_policy()], MAX_METADATA_BYTES).get(rel_policy()) if commit else None
    policy = load_text(f"{name}:{repo.repo_path(rel_policy())}", data)
    changes = [c for c in diff.diff_revisions(store.root, rev).changes if c.action in _CHECKED]
    violations: list[Violation] = []
    if policy is not None:
        for change in changes:
            violations += change_violations(policy, store, change)
    return CheckReport(
        name, commit, None if policy is None else policy.digest, len(changes), tuple(violations)
    )


def change_violations(policy: Policy, store: Store, change: Change) -> list[Violation]:
    """The rules one change found by ``mreg diff`` breaks (its target read in the working tree)."""
    if change.action == "version_stage_changed":
        assert change.version is not None
        return stage_violations(policy, change.model, change.version, str(change.old), str(change.new))
    assert change.alias is not None
    old = change.old if isinstance(change.old, int) else None
    new = change.new if isinstance(change.new, int) else None
    return alias_violations(
        policy,
        store,
        change.model,
        change.alias,
        old,
        new,
        message=change.message,
        expected=None,
        recorded=change.user is not None,
    )


# ------------------------------------------------------------------------- show, codeowners


def rules_in_force(policy: Policy, models: Iterable[str]) -> list[dict[str, Any]]:
    """Per model, the alias rules and stage order that apply to it."""
    found = []
    for model in models:
        aliases = [_rule_dict(r) for r in policy.record.aliases if _covers(r.models, model)]
        stages = policy.stage_rule(model)
        if aliases or stages is not None:
            found.append(
                {
                    "model": model,
                    "aliases": aliases,
                    "stage_order": None if stages is None else list(stages.order),
                }
            )
    return found


def _rule_dict(rule: AliasRule) -> dict[str, Any]:
    return {
        "alias": rule.alias,
        "models": None if rule.models is None else list(rule.models),
        "require": rule.require,
        "forward_only": rule.forward_only,
        "message": rule.message,
        "expect": rule.expect,
        "owners": list(rule.owners),
    }


def show(store: Store) -> dict[str, Any]:
    """``mreg policy show --json``."""
    policy = load(store)
    if policy is None:
        return {"file": None, "digest": None, "aliases": [], "stages": None, "owners": [], "models": []}
    record = policy.record
    stages = record.stages
    return {
        "file": f"{STORE_DIRNAME}/{rel_policy()}",
        "digest": policy.digest,
        "aliases": [_rule_dict(r) for r in record.aliases],
        "stages": None
        if stages is None
        else {"order": list(stages.order), "models": None if stages.models is None else list(stages.models)},
        "owners": list(record.all_owners()),
        "models": rules_in_force(policy, store.model_names()),
    }


def codeowners(store: Store) -> list[str]:
    """CODEOWNERS lines: each protected alias file (a glob where the rule has one) and
    ``policy.toml`` itself, anchored at the root of the git work tree, with their owners."""
    from mreg import gitinfo

    policy = load(store)
    if policy is None:
        return []
    found = gitinfo.find_git_dir(store.root)
    top = store.root.parent if found is None else found[0]
    try:
        prefix = store.root.absolute().relative_to(top.absolute()).as_posix()
    except ValueError:
        prefix = STORE_DIRNAME
    lines = []
    for rule in policy.record.aliases:
        if not rule.owners:
            continue
        for glob in rule.models or ("*",):
            lines.append(
                f"/{_escaped(f'{prefix}/{rel_alias_file(glob, rule.alias)}')} {' '.join(rule.owners)}"
            )
    owners = policy.record.all_owners()
    if owners:
        lines.append(f"/{_escaped(f'{prefix}/{rel_policy()}')} {' '.join(owners)}")
    return lines


def _escaped(path: str) -> str:
    """A path as a CODEOWNERS pattern: spaces escaped (model names may hold inner spaces)."""
    return path.replace(" ", "\\ ")
