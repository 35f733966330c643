"""Descriptions as HTML: Markdown from the store, which is untrusted, rendered so that nothing in
it can run or load: raw HTML is shown as text, images are shown as links (an image would load
from anywhere), a link keeps only an http, https or mailto target or a relative one, and every
link carries ``rel="nofollow noopener"``."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mreg.textsafe import escape_text

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

# A scheme is letters, digits, + - . before the first colon; anything else with a colon before
# the first / ? # is refused too (browsers strip tabs and newlines inside schemes: "java\tscript:").
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.\-]*):")
_ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})


def safe_link(url: str) -> bool:
    """Whether a Markdown link target may become an ``href``."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return False
    match = _SCHEME.match(url)
    if match:
        return match.group(1).lower() in _ALLOWED_SCHEMES
    head = re.split(r"[/?#]", url, maxsplit=1)[0]
    return ":" not in head


def _link_open(
    self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any
) -> str:  # markdown-it's renderer rule signature
    tokens[idx].attrSet("rel", "nofollow noopener")
    result: str = self.renderToken(tokens, idx, options, env)
    return result


@functools.cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")  # `![alt](url)` stays a link to the picture: nothing loads by itself
    md.validateLink = safe_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    return md


def render(text: str) -> str:
    """HTML for a Markdown description; control characters shown as escapes, as on a terminal.
    Escaped once more after rendering: Markdown turns entities such as ``&#27;`` into the
    characters they name (the escapes are plain text, so the HTML stays as it was)."""
    html: str = _parser().render(escape_text(text))
    return escape_text(html)
