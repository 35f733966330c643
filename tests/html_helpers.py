"""Reading the pages of ``mreg ui`` without a browser: the standard library's HTML parser, which
gives the tables, links, scripts and event-handler attributes a page really has."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "link", "br", "img", "input", "hr", "col", "area", "base", "embed", "source", "wbr"}


@dataclass
class Row:
    attrs: dict[str, str]
    cells: list[str] = field(default_factory=list)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


class Page(HTMLParser):
    """A parsed page: ``tables[id]`` (rows of the body with their attributes and cell texts),
    ``elements`` (every start tag with its attributes and the text inside it), ``links`` (hrefs)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.tables: dict[str, list[Row]] = {}
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self._table: str | None = None
        self._row: Row | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        element = Element(tag, values)
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)
        if tag == "table" and "id" in values:
            self._table = values["id"]
            self.tables[self._table] = []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._table is not None and not self._in_head:
            self._row = Row(values)
            self.tables[self._table].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                break
        if tag == "table":
            self._table = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "tr":
            self._row = None
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data
        if self._cell is not None:
            self._cell.append(data)

    # ----------------------------------------------------------------------------- queries

    def rows(self, table: str) -> list[Row]:
        return self.tables[table]

    def find(self, tag: str, **attrs: str) -> list[Element]:
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [
            e
            for e in self.elements
            if e.tag == tag
            and all(v in e.attrs.get(k, "").split() or e.attrs.get(k) == v for k, v in wanted.items())
        ]

    def one(self, tag: str, **attrs: str) -> Element:
        found = self.find(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]

    @property
    def links(self) -> list[str]:
        return [e.attrs["href"] for e in self.elements if e.tag == "a" and "href" in e.attrs]

    @property
    def handlers(self) -> list[tuple[str, str]]:
        """Event-handler attributes (``onerror=`` …) anywhere on the page: there must be none."""
        return [(e.tag, k) for e in self.elements for k in e.attrs if k.lower().startswith("on")]

    @property
    def scripts(self) -> list[Element]:
        return [e for e in self.elements if e.tag == "script"]

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.elements if e.tag == "html")
