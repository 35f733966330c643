"""The pages of ``mreg ui``, read without a browser: tables against ``mreg --json``, the rendered
description, hostile store content shown as text, and the export working from ``file://``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from helpers import Cli
from html_helpers import Page

from mreg import Registry
from mreg.textsafe import unsafe_characters
from mreg.ui import pages


def site(registry: Registry) -> pages.Site:
    return pages.Site(Registry(registry.root))


def page(registry: Registry, *segments: str, query: dict[str, list[str]] | None = None) -> Page:
    answer = site(registry).route(list(segments), query or {})
    assert answer.status == 200
    return Page(answer.html)


def as_json(cli: Cli, *args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def described(populated: Registry) -> Registry:
    populated.update_registered_model(
        "m", "# Fraud detector\n\nCatches **fraud**; see [the notes](https://example.com/notes)."
    )
    populated.set_registered_model_tag("m", "team", "risk")
    populated.transition_model_version_stage("m", 2, "Staging")
    populated.set_registered_model_alias("m", "challenger", 2, message="try the folder")
    populated.set_registered_model_alias("m", "champion", 2, message="it won")
    return populated


def test_models_table_matches_models_list(described: Registry, cli: Cli) -> None:
    listed = as_json(cli, "models", "list")["registered_models"]
    rows = page(described).rows("models")
    assert [r.attrs["data-name"] for r in rows] == [m["name"] for m in listed] == ["m", "other"]
    first = rows[0]
    assert first.cells[1] == "Fraud detector" or first.cells[1] == "# Fraud detector"
    for alias, version in listed[0]["aliases"].items():
        assert f"@{alias}\xa0→\xa0{version}" in first.cells[2]
    assert first.cells[3] == "3"  # the newest version


def test_model_page_matches_versions_list_and_aliases(described: Registry, cli: Cli) -> None:
    versions = as_json(cli, "versions", "list", "m", "--order-by", "version_number DESC")["model_versions"]
    shown = as_json(cli, "models", "show", "m")
    html = page(described, "models", "m")
    rows = html.rows("versions")
    assert [int(r.attrs["data-version"]) for r in rows] == [v["version"] for v in versions] == [3, 2, 1]
    for row, version in zip(rows, versions, strict=True):
        number, stage, aliases, tags, _created, by, run, _git, digest, size = row.cells
        assert number == str(version["version"])
        assert stage == ("" if version["current_stage"] == "None" else version["current_stage"])
        assert aliases.split() == [f"@{a}" for a in version["aliases"]]
        assert tags.split() == [f"{k}={v}" for k, v in version["tags"].items()]
        assert by == version["user_id"] and run == (version["run_id"] or "")
        art = version["artifact"]
        assert digest == ("" if art["digest"] is None else art["digest"].removeprefix("sha256:")[:12])
        assert (size == "ref") == (art["kind"] == "uri")
    aliases = {r.attrs["data-alias"]: int(r.attrs["data-version"]) for r in html.rows("aliases")}
    assert aliases == shown["aliases"] == {"champion": 2, "challenger": 2}
    assert {r.cells[0]: r.cells[1] for r in html.rows("tags")} == shown["tags"]


def test_the_description_is_rendered_markdown(described: Registry) -> None:
    html = page(described, "models", "m")
    description = html.one("div", class_="description")
    heading = [e for e in html.find("h1") if e.text == "Fraud detector"]
    assert heading and description.text.strip().startswith("Fraud detector")
    assert html.find("strong") and html.find("strong")[0].text == "fraud"
    link = html.one("a", href="https://example.com/notes")
    assert link.attrs["rel"] == "nofollow noopener"


def test_version_page_has_what_versions_show_has(described: Registry, cli: Cli) -> None:
    shown = as_json(cli, "versions", "show", "m", "2")
    html = page(described, "models", "m", "versions", "2")
    fields = {r.attrs["data-field"]: r.cells[1] for r in html.rows("fields")}
    assert fields["source"] == shown["source"]
    assert fields["stage"] == shown["current_stage"] == "Staging"
    assert fields["digest"] == shown["artifact"]["digest"]
    assert fields["aliases"] == ", ".join(shown["aliases"])
    files = {r.attrs["data-path"]: r.cells[1] for r in html.rows("files")}
    assert sorted(files) == sorted(f["path"] for f in shown["artifact"]["files"])
    commands = [e.text for e in html.find("code") if e.text.startswith("mreg ")]
    assert "mreg get models:/m/2 -o model" in commands
    assert "mreg resolve models:/m/2 --field path" in commands
    assert "mreg resolve models:/m@champion --field path" in commands
    assert "signature" not in html.tables  # no MLmodel metadata on this version


def test_commands_quote_a_name_with_spaces(registry: Registry, model_file: Path) -> None:
    registry.create_model_version("Iris Classifier", model_file)
    html = page(registry, "models", "Iris Classifier", "versions", "1")
    assert "mreg resolve 'models:/Iris Classifier/1' --field path" in [e.text for e in html.find("code")]
    assert "models/Iris%20Classifier/" in " ".join(page(registry).links)


class WithMlmodel:
    """A version as it looks once the MLmodel metadata is recorded (the attribute is all the page
    asks for)."""

    def __init__(self, version: Any, mlmodel: Any) -> None:
        self._version = version
        self.mlmodel = mlmodel

    def __getattr__(self, name: str) -> Any:
        return getattr(self._version, name)


def test_the_signature_table_shows_when_the_version_has_mlmodel_metadata(populated: Registry) -> None:
    mv = populated.get_model_version("m", 1)
    signature = {
        "inputs": [
            {"name": "amount", "type": "double"},
            {"name": "<b>x</b>", "type": "long", "shape": [-1, 3]},
        ],
        "outputs": json.dumps([{"type": "tensor", "shape": [-1]}]),
    }
    html = Page(
        pages.version_html(WithMlmodel(mv, {"signature": signature}), pages.Links(4, ""), export=False)
    )  # type: ignore[arg-type]
    rows = [r.cells for r in html.rows("signature")]
    assert rows == [
        ["inputs", "amount", "double", ""],
        ["inputs", "<b>x</b>", "long", "[-1, 3]"],
        ["outputs", "", "tensor", "[-1]"],
    ]
    assert "<b>x" not in html.html


def test_history_page_shows_the_timeline_and_who_held_each_alias(described: Registry, cli: Cli) -> None:
    events = as_json(cli, "history", "m")["events"]
    spans = as_json(cli, "history", "m", "--alias", "champion")["spans"]
    html = page(described, "models", "m", "history")
    timeline = [e for e in html.find("li") if "data-event" in e.attrs]
    assert [e.attrs["data-event"] for e in timeline] == [e["id"] for e in reversed(events)]
    shown = [r for r in html.rows("alias-spans") if r.attrs["data-alias"] == "champion"]
    assert [int(r.attrs["data-version"]) for r in shown] == [s["version"] for s in spans] == [1, 2]
    assert shown[0].cells[3] != "now" and shown[1].cells[3] == "now"
    assert shown[1].cells[5] == "it won" and shown[1].cells[4] == spans[1]["set_by"]
    assert any("@champion 1 → 2" in e.text for e in timeline)


def test_the_filter_uses_the_search_grammar(described: Registry) -> None:
    html = page(described, query={"filter": ["tags.team = 'risk'"]})
    assert [r.attrs["data-name"] for r in html.rows("models")] == ["m"]
    assert html.one("input", id="filter").attrs["value"] == "tags.team = 'risk'"
    bad = site(described).route([], {"filter": ["nonsense ="]})
    assert bad.status == 400
    assert "invalid filter" in Page(bad.html).one("p", id="filter-error").text


@pytest.mark.parametrize(
    "segments",
    [
        ["models", "nope"],
        ["models", "m", "versions", "9"],
        ["models", "m", "versions", "01"],
        ["models", "..", "versions", "1"],
        ["models", "m", "versions", "latest"],
        ["models", "m", "x"],
        ["etc"],
    ],
)
def test_unknown_pages_are_not_found(populated: Registry, segments: list[str]) -> None:
    from mreg.errors import NotFound

    with pytest.raises(NotFound):
        site(populated).route(segments, {})


# ---------------------------------------------------------------------------------- hostile


MARK = "PAYLOAD"
HOSTILE = (
    '<script>alert(1)</script><img src=x onerror="alert(2)"> [click](javascript:alert(3)) '
    "[d](data:text/html,x) \x1b]0;pwned\x07\x1b[2J\u202e\x9b31m\x7f"
)
UNSAFE = set(unsafe_characters()) - {"\n", "\t"}


@pytest.fixture
def hostile(registry: Registry, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """Every text field of model ``fraud`` holds ``HOSTILE``, planted in the TOML files as a
    hostile commit would: description, tags, user, source, run, messages, a file's name."""
    monkeypatch.setenv("MREG_USER", f"u{MARK}")
    registry.create_registered_model(
        "fraud", tags={"team": MARK}, description=f"# T{MARK}\n\n{MARK}", message=MARK
    )
    folder = isolated / "art"
    folder.mkdir()
    (folder / f"f{MARK}.bin").write_text("x")
    registry.create_model_version(
        "fraud", folder, run_id=f"run{MARK}", tags={"k": MARK}, description=MARK, message=MARK
    )
    registry.create_model_version("fraud", f"s3://bucket/x{MARK}")
    registry.set_registered_model_alias("fraud", "champion", 1, message=MARK)
    monkeypatch.delenv("MREG_USER")
    planted = 0
    for path in registry.root.rglob("*.toml"):
        text = path.read_text(encoding="utf-8")
        if MARK in text:
            path.write_text(text.replace(MARK, json.dumps(HOSTILE)[1:-1]), encoding="utf-8")
            planted += 1
    assert planted >= 7
    return registry


HOSTILE_PAGES = [
    [],
    ["models", "fraud"],
    ["models", "fraud", "versions", "1"],
    ["models", "fraud", "versions", "2"],
    ["models", "fraud", "history"],
]


@pytest.mark.parametrize("segments", HOSTILE_PAGES)
def test_hostile_content_is_shown_as_text(hostile: Registry, segments: list[str]) -> None:
    html = page(hostile, *segments)
    assert html.scripts == []
    assert html.handlers == []
    assert not [e for e in html.elements if e.tag in ("img", "iframe", "object", "embed")]
    assert not [
        href for href in html.links if href.split(":")[0].lower() in ("javascript", "data", "vbscript")
    ]
    assert not {c for c in html.html if c in UNSAFE}
    assert "<script>alert" not in html.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html.html
    assert "\\x1b]0;pwned\\x07" in html.text  # escape sequences shown, as on a terminal


def test_the_hostile_file_name_is_shown_escaped(hostile: Registry) -> None:
    html = page(hostile, "models", "fraud", "versions", "1")
    (row,) = html.rows("files")
    assert row.cells[0].startswith("f<script>alert(1)</script>")


# ----------------------------------------------------------------------------------- export


def exported(cli: Cli, dest: Path) -> Path:
    result = cli("ui", "export", str(dest))
    assert result.exit_code == 0, result.stderr
    return dest


def test_export_links_resolve_from_file_urls(described: Registry, cli: Cli, tmp_path: Path) -> None:
    root = exported(cli, tmp_path / "site")
    html_files = sorted(root.rglob("index.html"))
    assert (
        len(html_files) == 1 + 2 * 2 + 4
    )  # models page, 2 models, each a model page and a history, 4 versions
    for file in html_files:
        html = Page(file.read_text(encoding="utf-8"))
        meta = html.one("meta", http_equiv="Content-Security-Policy")
        assert meta.attrs["content"] == pages.CSP
        targets = [
            *html.links,
            *(e.attrs["href"] for e in html.find("link")),
            *(e.attrs["src"] for e in html.scripts),
        ]
        for target in targets:
            split = urlsplit(target)
            if split.scheme:
                continue  # a link in a description, to elsewhere
            resolved = (file.parent / unquote(split.path)).resolve()
            assert resolved.is_file(), (file, target)
            assert root.resolve() in resolved.parents
    index = Page((root / "index.html").read_text(encoding="utf-8"))
    assert [e.attrs["src"] for e in index.scripts] == ["static/filter.js"]
    assert index.rows("models")[0].attrs["data-search"] == "m challenger champion team=risk"


@pytest.mark.parametrize("segments", HOSTILE_PAGES)
def test_export_of_hostile_content_is_text(
    hostile: Registry, cli: Cli, tmp_path: Path, segments: list[str]
) -> None:
    root = exported(cli, tmp_path / "site")
    html = Page((root.joinpath(*segments) / "index.html").read_text(encoding="utf-8"))
    assert html.handlers == [] and not {c for c in html.html if c in UNSAFE}
    assert [e.attrs.get("src") for e in html.scripts] in ([], ["static/filter.js"])


def test_export_refuses_the_store_and_an_existing_folder(
    populated: Registry, cli: Cli, tmp_path: Path
) -> None:
    inside = cli("ui", "export", str(populated.root / "site"))
    assert inside.exit_code == 2 and "inside the store" in inside.stderr
    around = cli("ui", "export", str(populated.root.parent), "--force")
    assert around.exit_code == 2
    dest = exported(cli, tmp_path / "site")
    (dest / "old.txt").write_text("old")
    again = cli("ui", "export", str(dest))
    assert again.exit_code == 4 and again.stderr.startswith("error: ") and (dest / "old.txt").exists()
    forced = cli("ui", "export", str(dest), "--force")
    assert forced.exit_code == 0 and not (dest / "old.txt").exists() and (dest / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".site")) == []


def test_a_failed_export_leaves_nothing(
    populated: Registry, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = exported(cli, tmp_path / "site")
    before = sorted(str(p.relative_to(dest)) for p in dest.rglob("*"))

    def broken(*args: Any, **kwargs: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pages, "version_html", broken)
    failed = cli("ui", "export", str(dest), "--force")
    assert failed.exit_code == 1
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == before
    fresh = cli("ui", "export", str(tmp_path / "new"))
    assert fresh.exit_code == 1 and not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["site", "home", "work"])
