"""The page in a real browser (the distribution's Chromium through Playwright): what ``mreg ui
serve`` and ``mreg ui export`` show is what ``mreg … --json`` says. The models page links to each
model; a model page shows its aliases and versions and its description rendered from Markdown;
the history page shows who held an alias, from when to when, who moved it and why; a reload shows
a change made with the command line in between; the export works from ``file://``, its links and
its filter box included. Each page's screenshot goes to the test's folder, and no page runs a
script of the store's or asks anything of another host.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import Server, Watched, mreg_env, needs_chromium, start_server

from mreg import Registry

pytestmark = needs_chromium

DESCRIPTION = """# Fraud detector

Scores card **transactions** as they happen.

- retrained every week
- owned by the risk team
"""


def mreg_json(store: Path, *args: str, user: str | None = None) -> Any:
    done = mreg(store, *args, "--json", user=user)
    return json.loads(done.stdout)


def mreg(store: Path, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    env = mreg_env(**({"MREG_USER": user} if user else {}))
    done = subprocess.run(
        [sys.executable, "-m", "mreg", "--store", str(store), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done


def build_store(top: Path) -> Path:
    """fraud: versions 1 (a file, Archived), 2 (a folder), 3; champion set to 1 by ana, then
    moved to 2 by ben; challenger on 3. Iris Classifier (tagged task=flowers) and churn: one
    version each. Returns the store folder. Made with the API (quicker than a process a step);
    what the page shows is compared with the command line's JSON."""
    top.mkdir(parents=True)
    registry = Registry.init(top)
    (top / "v1.bin").write_bytes(b"weights 1\n")
    (top / "v2" / "sub").mkdir(parents=True)
    (top / "v2" / "weights.json").write_text('{"w": [1, 2]}\n')
    (top / "v2" / "sub" / "vocab.txt").write_text("a\nb\n")
    (top / "v3.bin").write_bytes(b"weights 3\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MREG_USER", "ana")
        registry.create_model_version("fraud", top / "v1.bin", tags={"team": "risk"})
        registry.create_model_version("fraud", top / "v2", run_id="run-42")
        registry.update_registered_model("fraud", DESCRIPTION)
        registry.set_registered_model_tags("fraud", {"team": "risk"})
        registry.transition_model_version_stage("fraud", 1, "Archived", False)
        registry.set_registered_model_alias("fraud", "champion", 1, message="first release")
        env.setenv("MREG_USER", "ben")
        registry.create_model_version("fraud", top / "v3.bin")
        registry.set_registered_model_alias("fraud", "champion", 2, message="better recall on March data")
        registry.set_registered_model_alias("fraud", "challenger", 3)
        registry.create_model_version("Iris Classifier", top / "v1.bin")
        registry.set_registered_model_tags("Iris Classifier", {"task": "flowers"})
        registry.create_model_version("churn", top / "v3.bin")
    return registry.root


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once a module: the tests below only read it (the reload test makes its own)."""
    return build_store(tmp_path_factory.mktemp("ui") / "project")


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[Server]:
    """One server for the tests that only read the module's store."""
    running = start_server(store)
    try:
        yield running
    finally:
        stderr = running.stop()
        assert "Traceback" not in stderr, stderr


@pytest.fixture(scope="module")
def site(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "public"
    mreg(store, "ui", "export", str(out))
    return out


def rows(w: Watched, table: str, key: str) -> list[str]:
    return w.page.eval_on_selector_all(
        f"#{table} tr[data-{key}]", f"rows => rows.map(r => r.getAttribute('data-{key}'))"
    )


def visible_rows(w: Watched, table: str, key: str) -> list[str]:
    return w.page.eval_on_selector_all(
        f"#{table} tr[data-{key}]",
        f"rows => rows.filter(r => r.offsetParent !== null).map(r => r.getAttribute('data-{key}'))",
    )


def row_text(w: Watched, table: str, key: str, value: str) -> str:
    return w.page.inner_text(f'#{table} tr[data-{key}="{value}"]')


def shot(w: Watched, path: Path) -> None:
    w.page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG")


def assert_clean(w: Watched, origin: str) -> None:
    assert w.script_signs() == []
    assert w.outside(origin) == []


# ------------------------------------------------------------------------------------ served pages


def test_the_models_page_lists_every_model_and_links_to_each(
    store: Path, server: Server, watched: Watched, tmp_path: Path
) -> None:
    listed = mreg_json(store, "models", "list")["registered_models"]
    watched.page.goto(server.url + "/")
    shot(watched, tmp_path / "models.png")
    assert sorted(rows(watched, "models", "name")) == sorted(m["name"] for m in listed)
    for model in listed:
        text = row_text(watched, "models", "name", model["name"])
        assert model["name"] in text
        for alias in model["aliases"]:
            assert alias in text, (model["name"], alias)
    assert "Fraud detector" in row_text(watched, "models", "name", "fraud")
    # The stylesheet is the page's own.
    assert f"{server.url}/static/style.css" in watched.requests
    watched.page.click('#models tr[data-name="Iris Classifier"] a')
    watched.page.wait_for_url(f"{server.url}/models/Iris%20Classifier/")
    assert rows(watched, "versions", "version") == ["1"]
    assert_clean(watched, server.url)


def test_a_model_page_shows_the_aliases_and_versions_mreg_json_gives(
    store: Path, server: Server, watched: Watched, tmp_path: Path
) -> None:
    watched.page.goto(server.url + "/")
    watched.page.click('#models tr[data-name="fraud"] a')
    watched.page.wait_for_url(f"{server.url}/models/fraud/")
    shot(watched, tmp_path / "model.png")
    aliases = mreg_json(store, "alias", "list", "fraud")["aliases"]
    assert aliases == {"champion": 2, "challenger": 3}
    assert sorted(rows(watched, "aliases", "alias")) == sorted(aliases)
    for alias, version in aliases.items():
        link = watched.page.get_attribute(f'#aliases tr[data-alias="{alias}"] a[href*="versions/"]', "href")
        assert link is not None and link.rstrip("/").endswith(f"versions/{version}"), (alias, link)
    versions = mreg_json(store, "versions", "list", "fraud")["model_versions"]
    assert sorted(rows(watched, "versions", "version"), key=int) == sorted(
        str(v["version"]) for v in versions
    )
    for v in versions:
        text = row_text(watched, "versions", "version", str(v["version"]))
        for alias in v["aliases"]:
            assert alias in text, (v["version"], alias)
        assert v["user_id"] in text
        if v["current_stage"] != "None":
            assert v["current_stage"] in text
    assert "run-42" in row_text(watched, "versions", "version", "2")
    assert "team" in watched.page.inner_text("body") and "risk" in watched.page.inner_text("body")
    # Following a version: everything ``versions show`` has, the folder's files with their sizes.
    watched.page.click('#versions tr[data-version="2"] a[href*="versions/2"]')
    watched.page.wait_for_url(f"{server.url}/models/fraud/versions/2/")
    shot(watched, tmp_path / "version.png")
    shown = mreg_json(store, "versions", "show", "fraud", "2")
    body = watched.page.inner_text("body")
    assert shown["artifact"]["digest"].removeprefix("sha256:")[:12] in body
    for f in shown["artifact"]["files"]:
        assert f["path"] in body
    assert "champion" in body
    assert "models:/fraud/2" in body or "fraud/2" in body
    assert_clean(watched, server.url)


def test_the_description_is_rendered_from_markdown(store: Path, server: Server, watched: Watched) -> None:
    watched.page.goto(f"{server.url}/models/fraud/")
    assert watched.page.inner_text(".description h1") == "Fraud detector"
    assert watched.page.inner_text(".description strong") == "transactions"
    assert watched.page.eval_on_selector_all(".description li", "items => items.length") == 2
    assert "# Fraud" not in watched.page.inner_text(".description")
    assert_clean(watched, server.url)


def test_the_history_page_shows_both_spans_of_an_alias_who_moved_it_and_why(
    store: Path, server: Server, watched: Watched, tmp_path: Path
) -> None:
    spans = mreg_json(store, "history", "fraud", "--alias", "champion")["spans"]
    assert [(s["version"], s["set_by"]) for s in spans] == [(1, "ana"), (2, "ben")]
    watched.page.goto(f"{server.url}/models/fraud/history/")
    shot(watched, tmp_path / "history.png")
    champion = watched.page.eval_on_selector_all(
        '#alias-spans tr[data-alias="champion"]', "rows => rows.map(r => r.innerText)"
    )
    assert len(champion) == len(spans) == 2
    # Oldest first or newest first, each span once, with its version, who set it and why.
    for span in spans:
        (text,) = [t for t in champion if span["message"] in t]
        assert span["set_by"] in text
        assert str(span["version"]) in text
    assert len(rows(watched, "alias-spans", "alias")) == 3  # champion twice, challenger once
    events = mreg_json(store, "history", "fraud")
    events = events["events"] if isinstance(events, dict) else events
    assert watched.page.eval_on_selector_all("#timeline > li", "items => items.length") == len(events)
    assert "better recall on March data" in watched.page.inner_text("#timeline")
    assert_clean(watched, server.url)


def test_a_reload_shows_a_change_made_with_the_command_line(
    tmp_path: Path, serve: Callable[[Path], Server], watched: Watched
) -> None:
    store = build_store(tmp_path / "project")
    server = serve(store)
    watched.page.goto(f"{server.url}/models/fraud/")
    assert "versions/2" in (watched.page.get_attribute('#aliases tr[data-alias="champion"] a', "href") or "")
    mreg(store, "alias", "set", "fraud", "champion", "3", "-m", "ship the retrained one", user="cleo")
    watched.page.reload()
    assert "versions/3" in (watched.page.get_attribute('#aliases tr[data-alias="champion"] a', "href") or "")
    watched.page.goto(f"{server.url}/models/fraud/history/")
    assert len(rows(watched, "alias-spans", "alias")) == 4
    assert "ship the retrained one" in watched.page.inner_text("#alias-spans")
    assert "cleo" in watched.page.inner_text("#alias-spans")
    watched.page.goto(f"{server.url}/")
    mreg(store, "register", str(tmp_path / "project" / "v1.bin"), "--name", "new-model")
    watched.page.reload()
    assert "new-model" in rows(watched, "models", "name")
    assert_clean(watched, server.url)


def test_the_filter_box_asks_the_server_with_the_filter_grammar(
    store: Path, server: Server, watched: Watched
) -> None:
    watched.page.goto(f"{server.url}/")
    watched.page.fill("#filter", "name LIKE 'fr%'")
    watched.page.press("#filter", "Enter")
    watched.page.wait_for_url("**/?filter=*")
    assert rows(watched, "models", "name") == ["fraud"]
    assert watched.page.input_value("#filter") == "name LIKE 'fr%'"
    assert_clean(watched, server.url)


# --------------------------------------------------------------------------------------- the export


def test_the_export_works_from_file_urls(site: Path, store: Path, watched: Watched, tmp_path: Path) -> None:
    origin = site.as_uri()
    watched.page.goto(f"{origin}/index.html")
    shot(watched, tmp_path / "export-models.png")
    names = sorted(m["name"] for m in mreg_json(store, "models", "list")["registered_models"])
    assert sorted(rows(watched, "models", "name")) == names
    assert f"{origin}/static/style.css" in watched.requests
    # The stylesheet applies: the table is not laid out with the browser's defaults alone.
    assert watched.page.evaluate("document.styleSheets.length") >= 1
    watched.page.click('#models tr[data-name="Iris Classifier"] a')
    watched.page.wait_for_url(f"{origin}/models/Iris%20Classifier/index.html")
    assert rows(watched, "versions", "version") == ["1"]
    watched.page.click('#versions tr[data-version="1"] a[href*="versions/1"]')
    watched.page.wait_for_url(f"{origin}/models/Iris%20Classifier/versions/1/index.html")
    # Back up the tree with the pages' own links: every link resolves to a file of the export.
    for href in watched.page.eval_on_selector_all("a[href]", "all => all.map(a => a.href)"):
        if href.startswith("file:"):
            target = Path(href.removeprefix("file://").split("#")[0].replace("%20", " "))
            assert target.is_file(), href
    watched.page.goto(f"{origin}/models/fraud/history/index.html")
    assert len(rows(watched, "alias-spans", "alias")) == 3
    assert_clean(watched, origin)


def test_the_exports_filter_box_filters_by_name_alias_and_tag(site: Path, watched: Watched) -> None:
    origin = site.as_uri()
    watched.page.goto(f"{origin}/index.html")
    everything = sorted(rows(watched, "models", "name"))
    assert sorted(visible_rows(watched, "models", "name")) == everything
    watched.page.fill("#filter", "iris")
    assert visible_rows(watched, "models", "name") == ["Iris Classifier"]
    watched.page.fill("#filter", "champion")
    assert visible_rows(watched, "models", "name") == ["fraud"]
    watched.page.fill("#filter", "flowers")
    assert visible_rows(watched, "models", "name") == ["Iris Classifier"]
    watched.page.fill("#filter", "no such thing")
    assert visible_rows(watched, "models", "name") == []
    watched.page.fill("#filter", "")
    assert sorted(visible_rows(watched, "models", "name")) == everything
    # The filter is the export's own file, allowed by its policy; nothing inline.
    assert f"{origin}/static/filter.js" in watched.requests
    assert_clean(watched, origin)
