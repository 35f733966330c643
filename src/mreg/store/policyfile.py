"""``.mreg/policy.toml``: protected aliases and the stage order, parsed as untrusted input.

The file is optional and committed, so it comes from whoever wrote the last commit: every key is
checked here, and an unknown key, a wrong type or a bad value is a ``DamagedStore`` naming the
file and the line. The filters of ``require`` are checked against the search grammar one layer
up (``mreg.policy``), which compiles them; this module knows only the file's shape.

```toml
owners = ["@ml-platform"]                # who reviews policy.toml itself (default: every owner)

[aliases.champion]
models = ["fraud", "churn-*"]            # globs over model names ('*' and '?'); absent: every model
require = "tags.validation = 'passed'"   # a filter over the target version
forward_only = true                      # the new version number must be higher
message = true                           # a -m message is required
expect = true                            # --expect (compare-and-swap) is required
owners = ["@risk-team", "risk@example.com"]

[stages]
order = ["None", "Staging", "Production"]
models = ["fraud"]                       # absent: every model
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mreg import names
from mreg.errors import DamagedStore, InvalidInput
from mreg.store.files import TomlTable, display_path, line_of_key_in, parse_toml
from mreg.value import Value

ALIAS_KEYS = ("models", "require", "forward_only", "message", "expect", "owners")
STAGE_KEYS = ("order", "models")
TOP_KEYS = ("owners", "aliases", "stages")
MAX_RULES = 1000
MAX_ITEMS = 200  # globs or owners in one list
MAX_TEXT = 4096  # one glob, owner or filter
# A model-name glob: the characters of a model name, plus '*' and '?' (CODEOWNERS has no '[…]').
_GLOB = re.compile(r"[A-Za-z0-9*?][A-Za-z0-9._ *?-]*")
# GitHub and GitLab owners: @user, @org/team, or an email address.
_OWNER = re.compile(r"@[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*|[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True, eq=False, repr=False)
class AliasRule(Value):
    """One ``[aliases.NAME]`` table; ``models`` None: every model. ``line`` is the table's line,
    ``require_line`` that of ``require`` (for errors about the filter)."""

    alias: str
    models: tuple[str, ...] | None
    require: str | None
    forward_only: bool
    message: bool
    expect: bool
    owners: tuple[str, ...]
    line: int | None = None
    require_line: int | None = None


@dataclass(frozen=True, eq=False, repr=False)
class StageRule(Value):
    """The ``[stages]`` table: the order a version climbs, for ``models`` (None: every model)."""

    order: tuple[str, ...]
    models: tuple[str, ...] | None


@dataclass(frozen=True, eq=False, repr=False)
class PolicyRecord(Value):
    """The whole file; ``digest`` is the sha256 of its bytes, recorded in alias events."""

    where: str
    digest: str
    aliases: tuple[AliasRule, ...]
    stages: StageRule | None
    owners: tuple[str, ...] | None

    def all_owners(self) -> tuple[str, ...]:
        """Who reviews the file itself: its ``owners``, else every rule's owners."""
        if self.owners is not None:
            return self.owners
        return tuple(dict.fromkeys(o for rule in self.aliases for o in rule.owners))


def digest_of(data: bytes) -> str:
    import hashlib  # here: a store without a policy never loads it

    return hashlib.sha256(data).hexdigest()


class _Reader:
    def __init__(self, path: Path | str, text: str) -> None:
        self.path = path
        self.text = text

    def fail(self, what: str, key: str | None = None, table: str | None = None) -> DamagedStore:
        line = self.line(key, table) if key is not None else self.table_line(table)
        return DamagedStore(f"{display_path(self.path)}:{'' if line is None else f'{line}:'} {what}")

    def line(self, key: str, table: str | None) -> int | None:
        return line_of_key_in(self.text, key, table) or self.table_line(table)

    def table_line(self, table: str | None) -> int | None:
        if table is None:
            return None
        for number, line in enumerate(self.text.splitlines(), start=1):
            header = line.strip()
            if header.startswith("[") and header.strip("[] ").replace('"', "") == table:
                return number
        return None

    def keys(self, raw: TomlTable, allowed: tuple[str, ...], table: str | None, what: str) -> None:
        for key in raw:
            if key not in allowed:
                raise self.fail(f"unknown key '{key}' in {what} (known: {', '.join(allowed)})", key, table)

    def flag(self, raw: TomlTable, key: str, table: str) -> bool:
        value = raw.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"'{key}' of [{table}] must be true or false", key, table)
        return value

    def strings(
        self, raw: TomlTable, key: str, table: str | None, pattern: re.Pattern[str], what: str
    ) -> tuple[str, ...] | None:
        if key not in raw:
            return None
        value = raw[key]
        where = f" of [{table}]" if table else ""
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"'{key}'{where} must be an array of strings", key, table)
        if len(value) > MAX_ITEMS:
            raise self.fail(f"'{key}'{where} has more than {MAX_ITEMS} entries", key, table)
        for item in value:
            if len(item) > MAX_TEXT or not pattern.fullmatch(item):
                raise self.fail(f"'{key}'{where}: {item!r} is not {what}", key, table)
        return tuple(dict.fromkeys(value))


def parse_policy(path: Path | str, data: bytes) -> PolicyRecord:
    """The policy in ``data`` (the bytes of ``path``, a file or ``REV:.mreg/policy.toml``)."""
    raw = parse_toml(Path(path), data)
    r = _Reader(path, data.decode("utf-8"))
    r.keys(raw, TOP_KEYS, None, "policy.toml")
    owners = r.strings(raw, "owners", None, _OWNER, "an owner (@user, @org/team or an email)")
    aliases = raw.get("aliases", {})
    if not isinstance(aliases, dict):
        raise r.fail("'aliases' must be a table of [aliases.NAME] tables", "aliases", None)
    if len(aliases) > MAX_RULES:
        raise r.fail(f"more than {MAX_RULES} alias rules", "aliases", None)
    rules = [_alias_rule(r, alias, table) for alias, table in aliases.items()]
    stages = raw.get("stages")
    stage_rule = None if stages is None else _stage_rule(r, stages)
    return PolicyRecord(str(path), digest_of(data), tuple(rules), stage_rule, owners)


def _alias_rule(r: _Reader, alias: str, raw: object) -> AliasRule:
    table = f"aliases.{alias}"
    if not isinstance(raw, dict):
        raise r.fail(f"'{table}' must be a table", alias, "aliases")
    try:
        names.validate_alias(alias)
    except InvalidInput as err:
        raise r.fail(f"[{table}]: {err}", None, table) from None
    r.keys(raw, ALIAS_KEYS, table, f"[{table}]")
    require = raw.get("require")
    if require is not None and (
        not isinstance(require, str) or not require.strip() or len(require) > MAX_TEXT
    ):
        raise r.fail(f"'require' of [{table}] must be a non-empty filter string", "require", table)
    return AliasRule(
        alias=alias,
        models=r.strings(raw, "models", table, _GLOB, "a model name or a glob of '*' and '?'"),
        require=require,
        forward_only=r.flag(raw, "forward_only", table),
        message=r.flag(raw, "message", table),
        expect=r.flag(raw, "expect", table),
        owners=r.strings(raw, "owners", table, _OWNER, "an owner (@user, @org/team or an email)") or (),
        line=r.table_line(table),
        require_line=r.line("require", table) if require is not None else None,
    )


def _stage_rule(r: _Reader, raw: object) -> StageRule:
    if not isinstance(raw, dict):
        raise r.fail("'stages' must be a table", "stages", None)
    r.keys(raw, STAGE_KEYS, "stages", "[stages]")
    order = raw.get("order")
    if not isinstance(order, list) or not order or not all(isinstance(s, str) for s in order):
        raise r.fail("'order' of [stages] must be a non-empty array of stage names", "order", "stages")
    try:
        canonical = [names.canonical_stage(s) for s in order]
    except InvalidInput as err:
        raise r.fail(f"'order' of [stages]: {err}", "order", "stages") from None
    if len(set(canonical)) != len(canonical):
        raise r.fail("'order' of [stages] names a stage twice", "order", "stages")
    models = r.strings(raw, "models", "stages", _GLOB, "a model name or a glob of '*' and '?'")
    return StageRule(tuple(canonical), models)
