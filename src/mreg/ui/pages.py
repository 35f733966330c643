"""The four pages (models, a model, a version, a model's history) built from a ``Registry`` and
rendered with Jinja2, for the server and the export alike.

Everything shown comes from the store, which is untrusted: templates autoescape, every value
printed goes through ``escape_line`` first (control characters and bidi overrides shown as
escapes, as on a terminal), and descriptions are rendered by ``mreg.ui.markdown``. Every link is
relative, so the same pages work from a server, from ``file://`` and from any static host.
"""

from __future__ import annotations

import datetime as dt
import functools
import shlex
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mreg import __version__, names
from mreg.entities import AliasSpan, Event, ModelVersion, RegisteredModel, iso
from mreg.errors import InvalidFilter, InvalidInput, MregError, NotFound
from mreg.history import describe
from mreg.textsafe import escape_line, human_size
from mreg.ui import markdown, reading

if TYPE_CHECKING:
    from jinja2 import Environment

    from mreg.registry import Registry

# The content security policy of every page: nothing but this site's stylesheet and script, no
# inline script or style, no frames, forms only to this site (docs/ui.md).
CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'"

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"style.css": "text/css; charset=utf-8", "filter.js": "text/javascript; charset=utf-8"}

# The URL segments of the pages (the same in the server and the export, docs/ui.md). These are
# page addresses, not store paths: the store's layout lives in mreg.store.layout alone.
MODELS_SEGMENT = "models"
VERSIONS_SEGMENT = "versions"
HISTORY_SEGMENT = "history"
STATIC_SEGMENT = "static"
INDEX = "index.html"


@functools.lru_cache(maxsize=4096)
def _segment(text: str) -> str:
    """A URL segment: ``text`` percent-encoded (a page's links name its model many times)."""
    return quote(text, safe="")


class Links:
    """Relative links from a page ``depth`` folders below the root. ``index`` is ``index.html``
    in the export (``file://`` shows no folder's index by itself) and empty when served."""

    def __init__(self, depth: int, index: str) -> None:
        self.root = "../" * depth
        self.index = index

    def _to(self, *segments: str) -> str:
        path = "/".join(map(_segment, segments))
        return f"{self.root}{path}/{self.index}"

    def home(self) -> str:
        return f"{self.root}{self.index}" or "./"

    def model(self, name: str) -> str:
        return self._to(MODELS_SEGMENT, name)

    def version(self, name: str, number: int) -> str:
        return self._to(MODELS_SEGMENT, name, VERSIONS_SEGMENT, str(number))

    def history(self, name: str) -> str:
        return self._to(MODELS_SEGMENT, name, HISTORY_SEGMENT)

    def static(self, file: str) -> str:
        return f"{self.root}{STATIC_SEGMENT}/{file}"


@dataclass(frozen=True)
class Page:
    status: int
    html: str


# ---------------------------------------------------------------------------- template helpers


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` of a template: text from the store with its control characters shown
    as escapes (the template's autoescape then makes it HTML text)."""
    if type(value) is str:  # the common case, without an import and an isinstance per value
        return escape_line(value)
    if isinstance(value, str):
        from markupsafe import Markup

        return value if isinstance(value, Markup) else escape_line(value)
    return "" if value is None else value


def when(value: dt.datetime | None) -> str:
    """``2026-11-26 10:35:40`` (UTC)."""
    return (iso(value) or "")[:19].replace("T", " ")


size = human_size  # the command line's sizes, as the page shows them


def first_line(text: str | None) -> str:
    stripped = (text or "").strip()
    return stripped.splitlines()[0] if stripped else ""


def _described(text: str | None) -> Any:
    from markupsafe import Markup

    return Markup(markdown.render(text or ""))  # safe: markdown.render escapes what it does not build


@functools.cache
def environment() -> Environment:
    """The one Jinja2 environment (templates compiled once per process)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, size=size, first_line=first_line, markdown=_described)
    env.globals.update(version=__version__, csp=CSP)
    return env


def render(template: str, links: Links, **context: Any) -> str:
    return environment().get_template(template).render(links=links, **context)


# ------------------------------------------------------------------------------ page contents


def _attr(obj: Any, key: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def signature_rows(mlmodel: Any) -> list[tuple[str, str, str, str]]:
    """The MLmodel signature of a version as rows (inputs, outputs, params): name, type, shape.
    Empty when the version carries no MLmodel metadata or it holds no signature."""
    if mlmodel is None:
        return []
    signature = _attr(mlmodel, "signature")
    if signature is None:
        return []
    rows = []
    for part in ("inputs", "outputs", "params"):
        specs = _attr(signature, part) or []
        if isinstance(specs, str):
            import json

            try:
                specs = json.loads(specs)
            except ValueError:
                specs = []
        for spec in specs if isinstance(specs, list | tuple) else []:
            name, kind, shape = (_attr(spec, key) for key in ("name", "type", "shape"))
            rows.append(
                (
                    part,
                    "" if name is None else str(name),
                    "" if kind is None else str(kind),
                    "" if shape is None else str(list(shape) if isinstance(shape, tuple) else shape),
                )
            )
    return rows


def version_commands(mv: ModelVersion) -> list[str]:
    """The commands to copy from a version's page."""
    uri = shlex.quote(f"models:/{mv.name}/{mv.version}")
    commands = [f"mreg get {uri} -o {shlex.quote(_download_name(mv))}", f"mreg resolve {uri} --field path"]
    for alias in mv.aliases:
        commands.append(f"mreg resolve {shlex.quote(f'models:/{mv.name}@{alias}')} --field path")
    return commands


def _download_name(mv: ModelVersion) -> str:
    if mv.artifact.kind == "uri":
        return "model"
    tail = mv.source.replace("\\", "/").rstrip("/").rpartition("/")[2]
    return tail if tail and tail not in (".", "..") and tail.isprintable() else "model"


def version_pairs(mv: ModelVersion) -> list[tuple[str, str]]:
    """What ``mreg versions show`` prints, as (field, value)."""
    art = mv.artifact
    lin = mv.lineage
    pairs = [
        ("model", mv.name),
        ("version", str(mv.version)),
        ("aliases", ", ".join(mv.aliases) or "none"),
        ("stage", mv.current_stage),
        ("status", mv.status),
        ("created", f"{when(mv.created_at)} UTC by {mv.user_id}"),
        ("updated", f"{when(mv.updated_at)} UTC"),
        ("source", mv.source),
    ]
    if art.kind == "uri":
        pairs.append(("artifact", f"reference to {art.uri}"))
    else:
        pairs.append(("artifact", f"{art.kind}, {size(art.size)}"))
        pairs.append(("digest", f"sha256:{art.digest}"))
    if mv.run_id:
        pairs.append(("run", mv.run_id))
    if mv.run_link:
        pairs.append(("run link", mv.run_link))
    if (git := lin.git_summary()) is not None:
        pairs.append(("git", git))
    if lin.source_path:
        pairs.append(("repo path", lin.source_path))
    return pairs


def search_text(model: RegisteredModel) -> str:
    """What the export's filter box matches: name, aliases, tags (lowercase)."""
    parts = [model.name, *model.aliases, *(f"{k}={v}" for k, v in model.tags.items())]
    return " ".join(parts).lower()


# ---------------------------------------------------------------------------------- table rows
# The tables' rows (a row per model, per version, per field, per event …) are built here, each
# row in one string, instead of by a template loop: the same HTML, escaped the same way (``_text``: control
# characters shown as escapes, then HTML-escaped, as the templates' ``finalize`` and autoescape
# do), without a template call per value. The templates keep the frame of each page.


def _text(value: str) -> str:
    """A value from the store as HTML text: what ``{{ value }}`` makes of a string (markupsafe
    escapes exactly these five characters; most values hold none of them)."""
    line = escape_line(value)
    if "&" in line or "<" in line or ">" in line or '"' in line or "'" in line:
        from markupsafe import escape

        return str(escape(line))
    return line


def truncated(text: str, length: int = 80) -> str:
    """Jinja2's ``truncate(length, true)``: cut at ``length`` (ending in ``...``) when the text
    is over ``length`` + 5."""
    return text if len(text) <= length + 5 else text[: length - 3] + "..."


def models_rows(models: Iterable[RegisteredModel], links: Links) -> Any:
    """The rows of ``<table id="models">`` (Markup: escaped here)."""
    from markupsafe import Markup

    rows = []
    for model in models:
        name = _text(model.name)
        aliases = " ".join(
            f'<a class="alias" href="{_text(links.version(model.name, number))}">'
            f"@{_text(alias)}&nbsp;→&nbsp;{number}</a>"
            for alias, number in model.aliases.items()
        )
        latest = max((v.version for v in model.latest_versions), default=None)
        newest = (
            "" if latest is None else f'<a href="{_text(links.version(model.name, latest))}">{latest}</a>'
        )
        updated = _text(when(model.updated_at))
        rows.append(
            f'<tr data-name="{name}" data-search="{_text(search_text(model))}">\n'
            f'<td class="name"><a href="{_text(links.model(model.name))}">{name}</a></td>\n'
            f'<td class="description">{_text(first_line(model.description))}</td>\n'
            f'<td class="aliases">{aliases}</td>\n'
            f'<td class="latest">{newest}</td>\n'
            f'<td class="time"><time datetime="{updated}">{updated}</time></td>\n'
            "</tr>\n"
        )
    return Markup("".join(rows))  # safe: every value above went through _text


def versions_rows(name: str, versions: Iterable[ModelVersion], links: Links) -> Any:
    """The rows of ``<table id="versions">``, in the order given (Markup: escaped here)."""
    from markupsafe import Markup

    rows = []
    for mv in versions:
        number = mv.version
        stage = "" if mv.current_stage == "None" else _text(mv.current_stage)
        aliases = " ".join(f'<span class="alias">@{_text(a)}</span>' for a in mv.aliases)
        tags = " ".join(
            f'<span class="tag">{_text(k)}={_text(truncated(v))}</span>' for k, v in mv.tags.items()
        )
        lin, art = mv.lineage, mv.artifact
        git = "".join(
            (
                f"<code>{_text(lin.git_commit[:10])}</code>" if lin.git_commit else "",
                f" {_text(lin.git_branch)}" if lin.git_branch else "",
                ' <span class="dirty">dirty</span>' if lin.git_dirty else "",
            )
        )
        digest = (
            f'<code title="sha256:{_text(art.digest)}">{_text(art.digest[:12])}</code>' if art.digest else ""
        )
        shown_size = "ref" if art.kind == "uri" else _text(size(art.size))
        rows.append(
            f'<tr data-version="{number}">\n'
            f'<td class="number"><a href="{_text(links.version(name, number))}">{number}</a></td>\n'
            f'<td class="stage">{stage}</td>\n'
            f'<td class="aliases">{aliases}</td>\n'
            f'<td class="tags">{tags}</td>\n'
            f'<td class="time"><time>{_text(when(mv.created_at))}</time></td>\n'
            f'<td class="user">{_text(mv.user_id)}</td>\n'
            f'<td class="run">{_text(mv.run_id or "")}</td>\n'
            f'<td class="git">{git}</td>\n'
            f'<td class="digest">{digest}</td>\n'
            f'<td class="size">{shown_size}</td>\n'
            "</tr>\n"
        )
    return Markup("".join(rows))  # safe: every value above went through _text


def models_html(
    models: Iterable[RegisteredModel],
    links: Links,
    *,
    export: bool,
    filter_string: str = "",
    error: str = "",
    problems: Iterable[str] = (),
) -> str:
    models = list(models)
    return render(
        "models.html.j2",
        links,
        export=export,
        rows=models_rows(models, links),
        shown=len(models),
        filter_string=filter_string,
        error=error,
        problems=list(problems),
    )


def model_html(model: RegisteredModel, versions: list[ModelVersion], links: Links, *, export: bool) -> str:
    newest_first = sorted(versions, key=lambda v: v.version, reverse=True)
    return render(
        "model.html.j2",
        links,
        export=export,
        model=model,
        rows=versions_rows(model.name, newest_first, links),
        shown=len(newest_first),
    )


def _cells(rows: Iterable[tuple[str, str, Sequence[str]]]) -> Any:
    """Table rows ``<tr data-KEY="value"><td>cell</td>…</tr>``, each line of (key, value, cells)
    escaped here (Markup). A cell given as Markup is put as it is."""
    from markupsafe import Markup

    lines = []
    for key, value, cells in rows:
        shown = "".join(c if isinstance(c, Markup) else f"<td>{_text(c)}</td>" for c in cells)
        lines.append(f'<tr data-{key}="{_text(value)}">{shown}</tr>\n')
    return Markup("".join(lines))  # safe: every value above went through _text


def version_html(mv: ModelVersion, links: Links, *, export: bool) -> str:
    from markupsafe import Markup

    files = mv.artifact.files if mv.artifact.kind == "directory" else ()
    signature = signature_rows(getattr(mv, "mlmodel", None))
    return render(
        "version.html.j2",
        links,
        export=export,
        mv=mv,
        fields=Markup(
            "".join(
                f'<tr data-field="{_text(k)}"><th scope="row">{_text(k)}</th><td>{_text(v)}</td></tr>\n'
                for k, v in version_pairs(mv)
            )
        ),
        commands=Markup("".join(f"<pre><code>{_text(c)}</code></pre>\n" for c in version_commands(mv))),
        tags=_cells(("key", k, (k, v)) for k, v in mv.tags.items()),
        files=_cells(
            (
                "path",
                f.path,
                (
                    f.path,
                    Markup(f'<td class="size">{_text(size(f.size))}</td>'),
                    Markup(f'<td><code title="{_text(f.sha256)}">{_text(f.sha256[:12])}</code></td>'),
                ),
            )
            for f in files
        ),
        signature=signature,
        signature_rows=_cells(("part", row[0], row) for row in signature),
    )


def history_html(
    name: str, events: list[Event], spans: list[AliasSpan], links: Links, *, export: bool
) -> str:
    from markupsafe import Markup

    spans = sorted(spans, key=lambda s: (s.alias, s.since))
    span_rows = "".join(
        f'<tr data-alias="{_text(s.alias)}" data-version="{s.version}">\n'
        f"<td>@{_text(s.alias)}</td>\n"
        f'<td><a href="{_text(links.version(name, s.version))}">{s.version}</a></td>\n'
        f"<td><time>{_text(when(s.since))}</time></td>\n"
        f"<td>{f'<time>{_text(when(s.until))}</time>' if s.until else 'now'}</td>\n"
        f'<td class="user">{_text(s.set_by)}</td>\n'
        f'<td class="message">{_text(s.message or "")}</td>\n'
        "</tr>\n"
        for s in spans
    )
    timeline = "".join(
        f'<li data-event="{_text(e.id)}" data-action="{_text(e.action)}">\n'
        f"<time>{_text(when(e.time))}</time>\n"
        f'<span class="user">{_text(e.user)}</span>\n'
        f'<span class="what">{_text(describe(e))}</span>\n'
        + (f'<q class="message">{_text(e.message)}</q>' if e.message else "")
        + (f'<code class="commit">{_text(e.git_commit[:10])}</code>' if e.git_commit else "")
        + "</li>\n"
        for e in reversed(events)
    )
    return render(
        "history.html.j2",
        links,
        export=export,
        name=name,
        events=events,
        spans=spans,
        span_rows=Markup(span_rows),  # safe: every value above went through _text
        timeline=Markup(timeline),
    )


def message_html(status: int, title: str, text: str, links: Links) -> str:
    return render("message.html.j2", links, export=False, status=status, title=title, text=text)


# ---------------------------------------------------------------------------- reading the store


def all_models(registry: Registry, filter_string: str | None) -> tuple[list[RegisteredModel], list[str]]:
    """Every model matching the filter (each with its newest version), page after page, and the
    entries of the store that could not be read."""
    return reading.all_models(registry, filter_string)


def model_name(segment: str) -> str:
    """A model name from a URL segment (already percent-decoded): NotFound unless it is a valid
    name, so nothing but a model folder is ever looked up."""
    try:
        return names.validate_model_name(segment)
    except InvalidInput:
        raise NotFound(f"no model {segment!r}") from None


def version_number(segment: str) -> int:
    if not (segment.isascii() and segment.isdigit()) or str(int(segment)) != segment:
        raise NotFound(f"no version {segment!r}")
    return names.validate_version(int(segment))


class Site:
    """The pages of one registry as the server answers them (``depth`` and ``index`` make the
    links; the export builds the same pages through the functions above)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def models(self, filter_string: str | None) -> Page:
        links = Links(0, "")
        try:
            models, problems = all_models(self.registry, filter_string)
        except (InvalidFilter, InvalidInput) as err:
            html = models_html([], links, export=False, filter_string=filter_string or "", error=str(err))
            return Page(400, html)
        html = models_html(models, links, export=False, filter_string=filter_string or "", problems=problems)
        return Page(200, html)

    def model(self, name: str) -> Page:
        model, versions = reading.model_and_versions(self.registry, name)
        return Page(200, model_html(model, versions, Links(2, ""), export=False))

    def version(self, name: str, number: int) -> Page:
        mv = self.registry.get_model_version(name, number)
        return Page(200, version_html(mv, Links(4, ""), export=False))

    def history(self, name: str) -> Page:
        self.registry.store.model(name)  # NotFound for a model that is not there
        events, spans = reading.history_of(self.registry, name)
        return Page(200, history_html(name, events, spans, Links(3, ""), export=False))

    def route(self, segments: list[str], query: dict[str, list[str]]) -> Page:
        """The page at a path (its segments, percent-decoded, without the trailing ``index.html``)."""
        match segments:
            case []:
                return self.models((query.get("filter") or [""])[0])
            case [first, name] if first == MODELS_SEGMENT:
                return self.model(model_name(name))
            case [first, name, last] if first == MODELS_SEGMENT and last == HISTORY_SEGMENT:
                return self.history(model_name(name))
            case [first, name, middle, number] if first == MODELS_SEGMENT and middle == VERSIONS_SEGMENT:
                return self.version(model_name(name), version_number(number))
        raise NotFound("no such page")


def error_page(err: MregError, depth: int) -> Page:
    status = 404 if isinstance(err, NotFound) else 500
    title = "Not found" if status == 404 else "The store could not be read"
    return Page(status, message_html(status, title, str(err), Links(depth, "")))


def static_files() -> Iterator[tuple[str, bytes]]:
    for file in STATIC_FILES:
        yield file, (STATIC / file).read_bytes()
