"""Search: MLflow's filter language, order-by clauses and page tokens.

A filter is parsed once into conditions joined by AND; each condition tests one field of a
``RegisteredModel`` or ``ModelVersion``. The grammar (docs/search.md has the user's view)::

    filter     := [comparison (AND comparison)*]
    comparison := field operator value | field [NOT] IN '(' value (',' value)* ')'
    field      := name | version_number | run_id | source_path | alias | stage | flavor | …
                | tags.KEY | tag.KEY        KEY bare, `backticked` or "quoted"
    operator   := = | != | < | <= | > | >= | LIKE | ILIKE
    value      := 'string' | "string" | number

Keywords are case-insensitive; field names are not (as in MLflow). Every mistake raises
``InvalidFilter`` naming the token, its position and what was expected there.

This module does no I/O. ``Registry.search_*`` reads the store and uses the parsed search to
skip what cannot match before reading it: a condition on ``name`` is tested on the model's
folder name, ``version_number`` on the file name and ``alias`` on the alias files, so that only
the version files that can still match are read.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mreg.errors import InvalidFilter, InvalidInput, MregError, StoreError
from mreg.names import STAGES

if TYPE_CHECKING:
    from mreg.entities import ModelVersion, RegisteredModel
    from mreg.store.records import ModelRecord, VersionRecord
    from mreg.store.store import Store

# MLflow's defaults and limits (mlflow.store.model_registry).
SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD = 1000
SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 10_000
SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD = 200_000

T = TypeVar("T")


class PagedList(list[T]):
    """One page of search results, as MLflow's ``PagedList``: a list, plus ``token`` for the
    next page (None when this page is the last), plus ``problems``: a ``StoreError`` for each
    entry of the store that could not be read (a model folder with an invalid name, a file that
    does not parse). Those entries are left out of the list; the others are all there."""

    def __init__(
        self,
        items: Iterable[T] = (),
        token: str | None = None,
        problems: Iterable[StoreError] = (),
    ) -> None:
        super().__init__(items)
        self.token = token
        self.problems = list(problems)

    def to_list(self) -> list[T]:
        """The page's entries as a plain list (MLflow's ``PagedList.to_list``)."""
        return list(self)


# ------------------------------------------------------------------------------------ tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # field, keyword, op, string, number, "(", ")", ",", bad, end
    text: str  # as written, for messages
    pos: int  # offset in the text (0-based; messages say pos + 1)
    value: Any = None


_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_.:/-]+")
_NUMBER_RE = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?![A-Za-z0-9_.])")
_KEYWORDS = frozenset({"AND", "LIKE", "ILIKE", "IN", "NOT"})
_TAG_PREFIXES = frozenset({"tags", "tag"})
_ATTRIBUTE_PREFIX = "attribute"
_OPERATORS = ("!=", "<=", ">=", "=", "<", ">")


class _Lexer:
    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what

    def fail(self, pos: int, expected: str, found: str) -> InvalidFilter:
        return _error(self.what, self.text, pos, expected, found)

    def quoted(self, pos: int) -> tuple[str, int]:
        """A string in single or double quotes from ``pos``: ``\\'``, ``\\"`` and ``\\\\`` stand
        for the character and a doubled quote for one quote; any other backslash is kept, so
        that ``\\%`` and ``\\_`` reach LIKE as escapes (MySQL's rules)."""
        text, quote = self.text, self.text[pos]
        out: list[str] = []
        i = pos + 1
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text) and text[i + 1] in "'\"\\":
                out.append(text[i + 1])
                i += 2
            elif char == quote and text.startswith(quote, i + 1):
                out.append(quote)
                i += 2
            elif char == quote:
                return "".join(out), i + 1
            else:
                out.append(char)
                i += 1
        raise self.fail(len(text), f"a closing {quote} for the string at position {pos + 1}", "the end")

    def backticked(self, pos: int) -> tuple[str, int]:
        text = self.text
        out: list[str] = []
        i = pos + 1
        while i < len(text):
            if text[i] == "`" and text.startswith("`", i + 1):
                out.append("`")
                i += 2
            elif text[i] == "`":
                return "".join(out), i + 1
            else:
                out.append(text[i])
                i += 1
        raise self.fail(len(text), f"a closing ` for the key at position {pos + 1}", "the end")

    def field(self, pos: int) -> _Token:
        """``name``, ``attribute.name``, ``tags.KEY``, ``tag.`my key```, ``tags."a.b"``."""
        word = _WORD_RE.match(self.text, pos)
        assert word is not None
        end = word.end()
        prefix = word.group()
        if prefix.upper() in _KEYWORDS and not self.text.startswith(".", end):
            return _Token("keyword", prefix, pos, prefix.upper())
        if not self.text.startswith(".", end):
            return _Token("field", prefix, pos, (None, prefix))
        start = end + 1
        if prefix in _TAG_PREFIXES or prefix == _ATTRIBUTE_PREFIX:
            kind = "tags" if prefix in _TAG_PREFIXES else "attribute"
            if self.text.startswith("`", start):
                key, end = self.backticked(start)
            elif self.text.startswith(("'", '"'), start):
                key, end = self.quoted(start)
            else:
                bare = _BARE_KEY_RE.match(self.text, start)
                if bare is None:
                    found = repr(self.text[start]) if start < len(self.text) else "the end"
                    raise self.fail(start, f"a key after '{prefix}.'", found)
                key, end = bare.group(), bare.end()
            return _Token("field", self.text[pos:end], pos, (kind, key))
        bare = _BARE_KEY_RE.match(self.text, start)
        end = bare.end() if bare else start
        return _Token("field", self.text[pos:end], pos, (None, self.text[pos:end]))

    def tokens(self) -> list[_Token]:
        text, out, pos = self.text, [], 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                out.append(_Token("end", "", pos))
                return out
            char = text[pos]
            if char in "'\"":
                value, end = self.quoted(pos)
                out.append(_Token("string", text[pos:end], pos, value))
            elif char.isascii() and (char.isalpha() or char == "_"):
                token = self.field(pos)
                out.append(token)
                end = pos + len(token.text)
            elif char == "`":
                key, end = self.backticked(pos)
                out.append(_Token("field", text[pos:end], pos, (None, key)))
            elif number := _NUMBER_RE.match(text, pos):
                literal = number.group()
                out.append(_Token("number", literal, pos, float(literal) if "." in literal else int(literal)))
                end = number.end()
            elif char.isdigit():
                run = _BARE_KEY_RE.match(text, pos)
                end = run.end() if run else pos + 1
                out.append(_Token("bad", text[pos:end], pos))
            elif char in "(),":
                out.append(_Token(char, char, pos))
                end = pos + 1
            else:
                op = next((o for o in _OPERATORS if text.startswith(o, pos)), None)
                if op is None:
                    out.append(_Token("bad", text[pos], pos))
                    end = pos + 1
                else:
                    out.append(_Token("op", op, pos, op))
                    end = pos + len(op)
            pos = end


def _error(what: str, text: str, pos: int, expected: str, found: str, hint: str = "") -> InvalidFilter:
    found_text = f"the end of the {what}" if found == "the end" else found
    message = f'invalid {what}: expected {expected}, found {found_text} at position {pos + 1} in "{text}"'
    if hint:
        message += f" ({hint})"
    return InvalidFilter(message, text=text, position=pos + 1, expected=expected, found=found_text)


def _shown(token: _Token) -> str:
    return "the end" if token.kind == "end" else repr(token.text)


# ------------------------------------------------------------------------------------ fields


@dataclass(frozen=True)
class _Field:
    label: str
    kind: str  # string, number, datetime, stage, aliases, prompt tag
    ops: tuple[str, ...]
    get: Callable[[Any], Any]
    stage: str = "entity"  # what a condition on it needs: name, version_number, alias or entity


_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_TAG_OPS = ("=", "!=", "LIKE", "ILIKE")
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN")
_TIME_OPS = ("=", "!=", "<", "<=", ">", ">=")


def _optional(value: str) -> str | None:
    return value or None


def _created(entity: Any) -> dt.datetime:
    return entity.created_at  # type: ignore[no-any-return]


def _updated(entity: Any) -> dt.datetime:
    return entity.updated_at  # type: ignore[no-any-return]


_NAME = _Field("name", "string", _STRING_OPS, lambda e: e.name, stage="name")
_MODEL_FIELDS: dict[str, _Field] = {
    "name": _NAME,
    "created_at": _Field("created_at", "datetime", _TIME_OPS, _created),
    "updated_at": _Field("updated_at", "datetime", _TIME_OPS, _updated),
}
_STAGE = _Field("stage", "stage", _STRING_OPS, lambda e: e.current_stage)
_VERSION_FIELDS: dict[str, _Field] = {
    "name": _NAME,
    "version_number": _Field(
        "version_number", "number", _NUMBER_OPS, lambda e: e.version, stage="version_number"
    ),
    "run_id": _Field("run_id", "string", _STRING_OPS, lambda e: _optional(e.run_id)),
    # MLflow's source_path is the version's source: for a local artifact mreg records it relative
    # to the git work tree (lineage.source_path) when there is one, else as an absolute path.
    "source_path": _Field("source_path", "string", _STRING_OPS, lambda e: _optional(e.source)),
    "alias": _Field("alias", "aliases", _STRING_OPS, lambda e: e.aliases, stage="alias"),
    "stage": _STAGE,
    "current_stage": _STAGE,
    "created_at": _Field("created_at", "datetime", _TIME_OPS, _created),
    "updated_at": _Field("updated_at", "datetime", _TIME_OPS, _updated),
    # mreg's extension: the flavors of the version's MLmodel file; many, tested as aliases are.
    "flavor": _Field("flavor", "aliases", _STRING_OPS, lambda e: e.mlmodel.flavor_names if e.mlmodel else ()),
}
_MODEL_FIELD_LIST = "name, tags.KEY, created_at, updated_at"
_VERSION_FIELD_LIST = (
    "name, version_number, run_id, source_path, alias, stage, created_at, updated_at, flavor, tags.KEY"
)


# MlflowClient adds ``tags.`mlflow.prompt.is_prompt` != 'true'`` to every search to leave prompts
# out. Models and versions lack that tag, and a missing tag matches nothing; so, as MLflow's stores
# do, a model or version without this one tag matches ``!= 'true'`` and ``= 'false'``.
PROMPT_TAG = "mlflow.prompt.is_prompt"


def _tag_field(key: str) -> _Field:
    kind = "prompt tag" if key == PROMPT_TAG else "string"
    return _Field(f"tags.{key}", kind, _TAG_OPS, lambda e: e.tags.get(key))


def _prompt_tag_test(op: str, operand: Any) -> Callable[[Any], bool]:
    present = _string_test(op, operand)
    missing = (op, operand) in (("!=", "true"), ("=", "false"))
    return lambda v: missing if v is None else present(v)


# -------------------------------------------------------------------------------- conditions


def like_regex(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """SQL LIKE as a regular expression for the whole value: ``%`` any run of characters,
    ``_`` one character, ``\\%``, ``\\_`` and ``\\\\`` the character itself."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_\\":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _string_test(op: str, operand: Any) -> Callable[[Any], bool]:
    if op == "=":
        return lambda v: v is not None and v == operand
    if op == "!=":
        return lambda v: v is not None and v != operand
    if op in ("LIKE", "ILIKE"):
        match = like_regex(operand, ignore_case=op == "ILIKE").fullmatch
        return lambda v: v is not None and match(v) is not None
    if op == "IN":
        return lambda v: v is not None and v in operand
    return lambda v: v is not None and v not in operand  # NOT IN


def _aliases_test(op: str, operand: Any) -> Callable[[Any], bool]:
    """A version has many aliases: ``=``, LIKE, ILIKE and IN hold if one of them matches;
    ``!=`` and NOT IN if none does (so a version without aliases is ``alias != 'champion'``)."""
    if op in ("!=", "NOT IN"):
        one = _string_test("=" if op == "!=" else "IN", operand)
        return lambda aliases: not any(one(a) for a in aliases)
    one = _string_test(op, operand)
    return lambda aliases: any(one(a) for a in aliases)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _number_test(op: str, operand: Any) -> Callable[[Any], bool]:
    if op == "IN":
        return lambda v: v in operand
    if op == "NOT IN":
        return lambda v: v not in operand
    compare = _COMPARE[op]
    return lambda v: bool(compare(v, operand))


def _time_test(op: str, operand: tuple[dt.datetime, dt.datetime]) -> Callable[[Any], bool]:
    """``operand`` is the span [start, end) the value names: a whole UTC day for a date, one
    microsecond for a time. So ``created_at = '2026-11-01'`` is any time that day, and
    ``created_at <= '2026-11-01'`` includes that day."""
    start, end = operand
    tests: dict[str, Callable[[dt.datetime], bool]] = {
        "=": lambda v: start <= v < end,
        "!=": lambda v: not start <= v < end,
        "<": lambda v: v < start,
        "<=": lambda v: v < end,
        ">": lambda v: v >= end,
        ">=": lambda v: v >= start,
    }
    return tests[op]


@dataclass(frozen=True)
class Condition:
    """One comparison of a filter: ``field op value``, with its position in the filter."""

    field: str
    op: str
    value: Any
    position: int
    stage: str
    get: Callable[[Any], Any]
    test: Callable[[Any], bool]

    def matches(self, entity: Any) -> bool:
        return self.test(self.get(entity))


class Filter:
    """The conditions of a parsed filter (all must hold)."""

    def __init__(self, text: str, conditions: Sequence[Condition]) -> None:
        self.text = text
        self.conditions = tuple(conditions)
        self._by_stage: dict[str, tuple[Condition, ...]] = {}
        for condition in self.conditions:
            self._by_stage[condition.stage] = (*self._by_stage.get(condition.stage, ()), condition)

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def uses(self, stage: str) -> bool:
        return stage in self._by_stage

    def accepts(self, stage: str, value: Any) -> bool:
        """Whether ``value`` passes every condition of ``stage`` (``name``: a model name,
        ``version_number``: a number, ``alias``: a version's aliases)."""
        return all(c.test(value) for c in self._by_stage.get(stage, ()))

    def matches(self, entity: Any, *, checked: Iterable[str] = ()) -> bool:
        """Whether ``entity`` passes every condition, except those of the ``checked`` stages."""
        skip = frozenset(checked)
        return all(c.matches(entity) for c in self.conditions if c.stage not in skip)


# ------------------------------------------------------------------------------------ parser


class _Parser:
    def __init__(self, text: str, fields: dict[str, _Field], field_list: str, entities: str) -> None:
        self.text = text
        self.fields = fields
        self.field_list = field_list
        self.entities = entities
        self.tokens = _Lexer(text, "filter").tokens()
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def fail(self, expected: str, token: _Token, hint: str = "") -> InvalidFilter:
        return _error("filter", self.text, token.pos, expected, _shown(token), hint)

    def parse(self) -> Filter:
        conditions: list[Condition] = []
        if self.peek().kind != "end":
            conditions.append(self.comparison())
            while (token := self.take()).kind != "end":
                if token.kind != "keyword" or token.value != "AND":
                    hint = "filters join comparisons with AND only" if token.text.upper() == "OR" else ""
                    raise self.fail("AND or the end of the filter", token, hint)
                conditions.append(self.comparison())
        return Filter(self.text, conditions)

    def field(self) -> _Field:
        token = self.take()
        expected = f"a field of {self.entities} ({self.field_list})"
        if token.kind != "field":
            hint = "parentheses only enclose IN lists" if token.kind == "(" else ""
            raise self.fail(expected, token, hint)
        kind, key = token.value
        if kind == "tags":
            return _tag_field(key)
        field = self.fields.get(key)
        if field is None:
            raise self.fail(expected, token)
        return field

    def operator(self, field: _Field) -> tuple[str, _Token]:
        token = self.take()
        if token.kind == "op" or (token.kind == "keyword" and token.value in ("LIKE", "ILIKE", "IN")):
            op = token.value
        elif token.kind == "keyword" and token.value == "NOT":
            after = self.take()
            if after.kind != "keyword" or after.value != "IN":
                raise self.fail("IN after NOT", after)
            op = "NOT IN"
        else:
            raise self.fail(f"an operator for {field.label} ({', '.join(field.ops)})", token)
        if op not in field.ops:
            raise self.fail(f"an operator for {field.label} ({', '.join(field.ops)})", token)
        return op, token

    def value(self, field: _Field, op: str) -> Any:
        token = self.take()
        if field.kind == "number":
            if token.kind == "number":
                return token.value
            if token.kind == "string":
                literal = token.value.strip()
                if re.fullmatch(r"[+-]?[0-9]+", literal):
                    return int(literal)
            raise self.fail(f"a number for {field.label}", token)
        if token.kind != "string":
            raise self.fail(f"a quoted string for {field.label}", token)
        text: str = token.value
        if field.kind == "datetime":
            span = _time_span(text)
            if span is None:
                raise self.fail(
                    f"an ISO-8601 date or time for {field.label}, such as '2026-11-01' or "
                    "'2026-11-01T09:30:00Z'",
                    token,
                )
            return span
        if field.kind == "stage" and op not in ("LIKE", "ILIKE"):
            for stage in STAGES:
                if text.lower() == stage.lower():
                    return stage
            raise self.fail(f"a stage ({', '.join(STAGES)})", token)
        return text

    def values(self, field: _Field, op: str) -> frozenset[Any]:
        opening = self.take()
        if opening.kind != "(":
            raise self.fail(f"'(' to open the list of values after {op}", opening)
        items = [self.value(field, op)]
        while (token := self.take()).kind != ")":
            if token.kind != ",":
                raise self.fail("',' or ')' in the list of values", token)
            items.append(self.value(field, op))
        return frozenset(items)

    def comparison(self) -> Condition:
        start = self.peek()
        field = self.field()
        op, _ = self.operator(field)
        operand: Any = self.values(field, op) if op in ("IN", "NOT IN") else self.value(field, op)
        if field.kind == "aliases":
            test = _aliases_test(op, operand)
        elif field.kind == "number":
            test = _number_test(op, operand)
        elif field.kind == "datetime":
            test = _time_test(op, operand)
        elif field.kind == "prompt tag":
            test = _prompt_tag_test(op, operand)
        else:
            test = _string_test(op, operand)
        return Condition(field.label, op, operand, start.pos + 1, field.stage, field.get, test)


def _time_span(text: str) -> tuple[dt.datetime, dt.datetime] | None:
    literal = text.strip()
    try:
        day = dt.date.fromisoformat(literal)
    except ValueError:
        pass
    else:
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        return start, start + dt.timedelta(days=1)
    try:
        when = dt.datetime.fromisoformat(literal)
    except ValueError:
        return None
    when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    return when, when + dt.timedelta(microseconds=1)


def parse_model_filter(text: str | None) -> Filter:
    """Parse a filter over registered models (fields: ``name``, ``tags.KEY``, ``created_at``,
    ``updated_at``)."""
    return _Parser(text or "", _MODEL_FIELDS, _MODEL_FIELD_LIST, "registered models").parse()


def parse_version_filter(text: str | None) -> Filter:
    """Parse a filter over model versions (fields: ``name``, ``version_number``, ``run_id``,
    ``source_path``, ``tags.KEY``, and mreg's ``alias``, ``stage``, ``created_at``, ``updated_at``,
    ``flavor``)."""
    return _Parser(text or "", _VERSION_FIELDS, _VERSION_FIELD_LIST, "model versions").parse()


# ---------------------------------------------------------------------------------- order by


@dataclass(frozen=True)
class OrderKey:
    """Sort by the entity attribute ``attribute``, ascending or not."""

    attribute: str
    ascending: bool = True


_MODEL_ORDER_KEYS = {
    "name": "name",
    "creation_timestamp": "created_at",
    "last_updated_timestamp": "updated_at",
    "timestamp": "updated_at",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
_VERSION_ORDER_KEYS = {
    "name": "name",
    "version_number": "version",
    "creation_timestamp": "created_at",
    "last_updated_timestamp": "updated_at",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "timestamp": "updated_at",
    "version": "version",
}


def _parse_order_clause(clause: str, keys: dict[str, str]) -> OrderKey:
    lexer = _Lexer(clause, "order-by")
    tokens = lexer.tokens()
    expected = f"a key to order by ({', '.join(k for k in keys if k not in ('timestamp', 'version'))})"
    first = tokens[0]
    if first.kind != "field":
        raise _error("order-by", clause, first.pos, expected, _shown(first))
    kind, key = first.value
    if kind == "tags" or key not in keys:
        raise _error("order-by", clause, first.pos, expected, _shown(first))
    ascending = True
    rest = tokens[1:]
    if rest[0].kind != "end":
        direction = rest[0]
        if direction.kind != "field" or direction.text.upper() not in ("ASC", "DESC"):
            hint = "give each key its own order-by clause" if direction.kind == "," else ""
            raise _error("order-by", clause, direction.pos, "ASC, DESC or the end", _shown(direction), hint)
        ascending = direction.text.upper() == "ASC"
        if rest[1].kind != "end":
            raise _error("order-by", clause, rest[1].pos, "the end of the order-by", _shown(rest[1]))
    return OrderKey(keys[key], ascending)


def parse_order_by(
    clauses: Sequence[str] | None, keys: dict[str, str], default: Sequence[OrderKey]
) -> list[OrderKey]:
    if isinstance(clauses, str):
        raise InvalidInput("order_by must be a list of clauses such as ['name ASC'], not a string")
    parsed = [_parse_order_clause(c, keys) for c in clauses or ()] or list(default)
    if len({key.attribute for key in parsed}) < len(parsed):
        # As MLflow: "name ASC" then "name DESC" (or two names of one key) is a mistake to report.
        raise InvalidFilter(f"order_by names a key twice: {list(clauses or ())}")
    return parsed


def sort_entities(items: Iterable[T], keys: Sequence[OrderKey]) -> list[T]:
    """Sort by ``keys`` in turn (stable sorts from the last key to the first)."""
    result = list(items)
    for key in reversed(keys):
        result.sort(key=operator.attrgetter(key.attribute), reverse=not key.ascending)
    return result


# ------------------------------------------------------------------------------------ paging


def make_page_token(offset: int) -> str:
    """MLflow's page token: base64 of ``{"offset": N}``."""
    import base64  # here, as json: only a search that pages needs them
    import json

    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def parse_page_token(token: str | None) -> int:
    if not token:
        return 0
    import base64
    import binascii
    import json

    problem = "it does not come from a previous search"
    try:
        decoded = json.loads(base64.b64decode(token.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeError, ValueError):
        decoded = None
    offset = decoded.get("offset") if isinstance(decoded, dict) else None
    if isinstance(offset, int) and not isinstance(offset, bool) and offset > 0:
        return offset
    shown = token if len(token) <= 40 else token[:40] + "…"
    raise InvalidFilter(f"invalid page token {shown!r}: {problem} (pass the token a search printed)")


def check_max_results(max_results: int, threshold: int) -> int:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= threshold:
        raise InvalidInput(f"max_results must be an integer from 1 to {threshold}, got {max_results!r}")
    return max_results


class _Search:
    """A search request checked up front: filter, order, page size and page."""

    def __init__(
        self,
        filter_: Filter,
        order: list[OrderKey],
        max_results: int,
        threshold: int,
        page_token: str | None,
    ) -> None:
        self.filter = filter_
        self.order = order
        self.max_results = check_max_results(max_results, threshold)
        self.offset = parse_page_token(page_token)

    def sort(self, items: Iterable[T]) -> list[T]:
        return sort_entities(items, self.order)

    def page(self, ordered: Sequence[T]) -> PagedList[T]:
        end = self.offset + self.max_results
        return PagedList(ordered[self.offset : end], make_page_token(end) if end < len(ordered) else None)


class ModelSearch(_Search):
    """``search_registered_models``: default order ``name ASC``; ties broken by name."""

    def __init__(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: Sequence[str] | None,
        page_token: str | None,
    ) -> None:
        order = parse_order_by(order_by, _MODEL_ORDER_KEYS, [OrderKey("name")])
        if all(k.attribute != "name" for k in order):
            order.append(OrderKey("name"))
        super().__init__(
            parse_model_filter(filter_string),
            order,
            max_results,
            SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
            page_token,
        )

    def sort_names(self, names: Iterable[str]) -> list[str]:
        """The order of models when only their names matter (``needs_model_files`` is false)."""
        return sorted(names, reverse=not self.order[0].ascending)

    @property
    def needs_model_files(self) -> bool:
        """Whether anything but the name (the folder's) decides which models come, in what order."""
        return self.filter.uses("entity") or any(k.attribute != "name" for k in self.order)


class VersionSearch(_Search):
    """``search_model_versions``: default order ``last_updated_timestamp DESC`` (MLflow's);
    ties broken by name ascending, then version descending."""

    def __init__(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: Sequence[str] | None,
        page_token: str | None,
    ) -> None:
        order = parse_order_by(order_by, _VERSION_ORDER_KEYS, [OrderKey("updated_at", ascending=False)])
        if all(k.attribute != "name" for k in order):
            order.append(OrderKey("name"))
        if all(k.attribute != "version" for k in order):
            order.append(OrderKey("version", ascending=False))
        super().__init__(
            parse_version_filter(filter_string),
            order,
            max_results,
            SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
            page_token,
        )


__all__ = [
    "SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT",
    "SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD",
    "SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT",
    "SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD",
    "Condition",
    "Filter",
    "ModelSearch",
    "OrderKey",
    "PagedList",
    "VersionHit",
    "VersionSearch",
    "like_regex",
    "make_page_token",
    "parse_model_filter",
    "parse_page_token",
    "parse_version_filter",
]


# ------------------------------------------------------------------------------- over a store


def find_models(
    store: Store, query: ModelSearch, build: Callable[[str, ModelRecord], RegisteredModel]
) -> PagedList[RegisteredModel]:
    """One page of the models matching ``query``. Only the models of the page are built in
    full by ``build`` (aliases, latest versions); model files are read only when the filter or
    the order needs them."""
    all_names, problems = store.scan_models()
    names = [n for n in all_names if query.filter.accepts("name", n)]
    records: dict[str, ModelRecord] = {}
    if query.needs_model_files:
        candidates = []
        for name in names:
            try:
                record = store.read_model(name)
            except StoreError as err:
                problems.append(err)
                continue
            if record is None:  # deleted while we read: not a result
                continue
            records[name] = record
            summary = record.entity(name)
            if query.filter.matches(summary, checked=["name"]):
                candidates.append(summary)
        ordered = [m.name for m in query.sort(candidates)]
    else:
        ordered = query.sort_names(names)
    page = query.page(ordered)
    models = []
    for name in page:
        try:
            found = records.get(name) or store.read_model(name)
            if found is not None:  # None: deleted while we read
                models.append(build(name, found))
        except StoreError as err:  # the model's file, or one of its versions or aliases
            problems.append(err)
    return PagedList(models, page.token, problems)


class VersionHit:
    """A live version a search found, before it is made a ``ModelVersion``: what an order and a
    listing's row need (name, number, aliases, times) beside the version's record. A listing
    prints its rows from hits; ``entity`` makes the full ``ModelVersion`` (JSON, ``--field``)."""

    __slots__ = ("aliases", "created_at", "name", "record", "updated_at", "version")

    def __init__(self, name: str, version: int, aliases: tuple[str, ...], record: VersionRecord) -> None:
        self.name = name
        self.version = version
        self.aliases = aliases
        self.record = record
        self.created_at = record.created_at
        self.updated_at = record.updated_at

    def entity(self) -> ModelVersion:
        return self.record.entity(self.name, self.version, self.aliases)


def find_versions(store: Store, query: VersionSearch, model: str | None) -> PagedList[ModelVersion]:
    """One page of the live versions matching ``query``, of ``model`` or of every model."""
    hits = find_version_hits(store, query, model)
    return PagedList([hit.entity() for hit in hits], hits.token, hits.problems)


def find_version_hits(store: Store, query: VersionSearch, model: str | None) -> PagedList[VersionHit]:
    """``find_versions`` before the versions of the page are made entities (listings)."""
    found: list[VersionHit] = []
    names, problems = ([model], []) if model is not None else store.scan_models()
    late = any(c.stage not in _EARLY_STAGES for c in query.filter.conditions)
    for name in names:
        if query.filter.accepts("name", name):
            found += _matching_versions(store, name, query.filter, late, problems)
    page = query.page(query.sort(found))
    page.problems = problems
    return page


_EARLY_STAGES = ("name", "version_number", "alias")


def _any_number(number: int) -> bool:
    return True


def _matching_versions(
    store: Store, name: str, filter_: Filter, late: bool, problems: list[StoreError]
) -> list[VersionHit]:
    """The live versions of ``name`` that pass ``filter_``. Conditions on the version number
    and the aliases are tested before a version file is read; each file is read once. A file
    that cannot be read is added to ``problems`` and left out. An entity is made only when a
    condition needs one (``late``: a condition on what only the version's file holds)."""
    held: dict[int, tuple[str, ...]] = {}
    aliases, alias_problems = store.scan_aliases(name)
    if alias_problems:
        problems += alias_problems
    for alias, number in sorted(aliases.items()):
        held[number] = (*held.get(number, ()), alias)

    def accept(n: int) -> bool:
        return filter_.accepts("version_number", n) and filter_.accepts("alias", held.get(n, ()))

    result = []
    for number, record in store.scan_versions_where(name, accept if filter_ else _any_number):
        if isinstance(record, MregError):
            if not isinstance(record, StoreError):
                raise record
            problems.append(record)
        elif not record.deleted:
            hit = VersionHit(name, number, held.get(number, ()), cast("VersionRecord", record))
            if not late or filter_.matches(hit.entity(), checked=_EARLY_STAGES):
                result.append(hit)
    return result
