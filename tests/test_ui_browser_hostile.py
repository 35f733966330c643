"""The page in a real browser, on a store whose every free-text field holds something hostile:
``<script>``, ``onerror=`` attributes, ``javascript:`` and ``data:`` links, images on other hosts
and terminal escape sequences, in model and version descriptions and tags, sources, run ids and
links, alias-move messages, the recorded user and git branch, and model names with the odd
characters the name rules allow. Served and exported, every page must run no script (no dialog, no
uncaught error, no console error or Content-Security-Policy report: a planted ``<script>`` that
the policy blocks still means the escaping failed), load nothing from outside its origin, and link
nowhere with ``javascript:`` or ``data:``. The planted text must still be shown, as text.

A first test proves the watch sees what it must: a page that does run a script and ask another
host for an image is caught.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import tomli_w
from browser_helpers import Server, Watched, mreg_env, needs_chromium, start_server
from helpers import git

from mreg import Registry

pytestmark = needs_chromium

# Each payload carries the name of its field, so that a failure says where the escaping broke.
SCRIPT = "<script>alert('{0}')</script>"
ONERROR = "<img src=x onerror=\"alert('{0}')\">"
SVG = "<svg/onload=alert('{0}')>"
MARKDOWN = (
    "# Heading {0}\n\n" + SCRIPT + "\n\n" + ONERROR + "\n\n[js link {0}](javascript:alert('{0}'))\n\n"
    "[data link {0}](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)\n\n"
    "<a href=\"javascript:alert('{0}')\">raw js link {0}</a>\n\n"
    "![tracker {0}](http://192.0.2.1/{0}.png)\n\n"
    "<iframe src=\"javascript:alert('{0}')\"></iframe>\n\n"
    "`<b>code {0}</b>`\n"
)


def plain(field: str) -> str:
    """A one-line hostile text for fields shown as plain text."""
    return SCRIPT.format(field) + ONERROR.format(field) + " javascript:alert(1) " + SVG.format(field)


ESCAPES = "\x1b[31mred\x1b[0m \x1b]8;;http://192.0.2.1/\x1b\\osc8 link\x1b]8;;\x1b\\ \x07bell \x9b2J"

MODEL = "Iris Classifier"  # inner space: a %20 in every URL
ODD_NAMES = ["Iris Classifier", "a.b_c-d", "0day", "x-1.2"]
EVIL_BRANCH = "feature/<svg/onload=alert('branch')>"
EVIL_USER = "<img src=x onerror=alert('user')>"


def build_hostile_store(top: Path) -> Registry:
    """A git repository holding a store where every field the rules let through is hostile."""
    top.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main", cwd=top)
    git("checkout", "-q", "-b", EVIL_BRANCH, cwd=top)
    registry = Registry.init(top)
    artifact = top / "model.bin"
    folder = top / "export"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "<img src=x onerror=alert('file')>.txt").write_text("x\n")
    (folder / "weights.json").write_text("{}\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MREG_USER", EVIL_USER)
        for n, name in enumerate(ODD_NAMES):
            artifact.write_bytes(f"weights {n}\n".encode())
            registry.create_model_version(name, artifact)
        registry.update_registered_model(MODEL, MARKDOWN.format("model-description"))
        registry.set_registered_model_tags(
            MODEL, {"javascript:alert": plain("model-tag-value"), "link": "javascript:alert('tag')"}
        )
        artifact.write_bytes(b"weights 2\n")
        registry.create_model_version(
            MODEL,
            artifact,
            run_id="<script>alert('run-id')</script>",
            run_link="javascript:alert('run-link')",
            description=MARKDOWN.format("version-description"),
            tags={
                "note": plain("version-tag-value"),
                "data:text/html": "data:text/html,<script>alert(1)</script>",
            },
            aliases=["champion"],
            message=plain("register-message"),
        )
        registry.create_model_version(MODEL, "javascript://x/%0aalert('source')", run_link="data:text/html,x")
        registry.create_model_version(MODEL, folder, description=plain("folder-version"))
        registry.set_registered_model_alias(MODEL, "champion", 3, message=plain("alias-move-1"))
        registry.set_registered_model_alias(MODEL, "challenger", 2, message=plain("alias-move-2"))
    plant_escapes(registry)
    return registry


def plant_escapes(registry: Registry) -> None:
    """Terminal escape sequences cannot be given through the API (it refuses control characters),
    but a store is a folder anyone may have edited: write them into the TOML files directly."""
    for path in sorted(registry.root.rglob("*.toml")):
        rel = path.relative_to(registry.root).as_posix()
        if not rel.startswith("models/"):
            continue
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        changed = False
        for key in ("description", "message", "old", "new"):
            if isinstance(data.get(key), str):
                data[key] = data[key] + " " + ESCAPES
                changed = True
        if changed:
            path.write_text(tomli_w.dumps(data), encoding="utf-8")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return build_hostile_store(tmp_path_factory.mktemp("hostile") / "project")


@pytest.fixture(scope="module")
def served(hostile: Registry) -> Iterator[Server]:
    server = start_server(hostile.root)
    try:
        yield server
    finally:
        stderr = server.stop()
        assert "Traceback" not in stderr, stderr


@pytest.fixture(scope="module")
def exported(hostile: Registry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site") / "out"
    done = subprocess.run(
        [sys.executable, "-m", "mreg", "--store", str(hostile.root), "ui", "export", str(site)],
        capture_output=True,
        text=True,
        env=mreg_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return site


def model_path(name: str) -> str:
    return f"models/{quote(name, safe='')}/"


# Page → the planted texts that must be shown on it, as text.
PAGES: dict[str, list[str]] = {
    "": ["Heading model-description"],
    **{model_path(name): [] for name in ODD_NAMES},
    model_path(MODEL): [
        SCRIPT.format("model-description"),
        SCRIPT.format("model-tag-value"),
        ONERROR.format("model-tag-value"),
    ],
    model_path(MODEL) + "versions/2/": [
        SCRIPT.format("version-description"),
        "<script>alert('run-id')</script>",
        SCRIPT.format("version-tag-value"),
        EVIL_BRANCH,
        EVIL_USER,
    ],
    model_path(MODEL) + "versions/3/": ["javascript://x/%0aalert('source')"],
    model_path(MODEL) + "versions/4/": [
        SCRIPT.format("folder-version"),
        "<img src=x onerror=alert('file')>.txt",
    ],
    model_path(MODEL) + "history/": [
        SCRIPT.format("alias-move-1"),
        SCRIPT.format("alias-move-2"),
        SCRIPT.format("register-message"),
        EVIL_USER,
    ],
    **{model_path(name) + "history/": [] for name in ODD_NAMES[1:]},
}

# Attributes that would run a script or load something: on* handlers anywhere, and URLs with a
# javascript:, vbscript: or data: scheme where a browser follows or loads them.
DANGEROUS = """() => {
    const urlAttrs = [
        "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
    ];
    const found = [];
    for (const element of document.querySelectorAll("*")) {
        for (const attr of element.attributes) {
            const name = attr.name.toLowerCase();
            const value = attr.value.replace(/[\\s\\u0000-\\u001f]/g, "").toLowerCase();
            if (name.startsWith("on") || name === "srcdoc"
                || (urlAttrs.includes(name) && /^(javascript|vbscript|data):/.test(value))) {
                found.push(`${element.tagName} ${attr.name}=${attr.value}`);
            }
        }
    }
    const embedders = "iframe, object, embed, frame, base, meta[http-equiv=refresh]";
    for (const element of document.querySelectorAll(embedders)) {
        found.push(`element ${element.outerHTML.slice(0, 120)}`);
    }
    for (const script of document.querySelectorAll("script")) {
        if (!script.src || script.textContent.trim()) found.push(`script ${script.outerHTML.slice(0, 120)}`);
    }
    return found;
}"""


def check_page(w: Watched, url: str, origin: str, expected: list[str], shot: Path) -> None:
    response = w.page.goto(url)
    assert response is None or response.status == 200, (url, response and response.status)
    w.page.wait_for_load_state("load")
    w.page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG"), shot
    assert w.script_signs() == [], url
    assert w.outside(origin) == [], url
    assert w.page.evaluate(DANGEROUS) == [], url
    # Every script the page has is one of its own files (the export's filter).
    for src in w.page.eval_on_selector_all("script[src]", "scripts => scripts.map(s => s.src)"):
        assert src.startswith(origin), src
    shown = w.page.inner_text("body")
    for text in expected:
        assert text in shown, (url, text)


@pytest.mark.parametrize("page", list(PAGES), ids=lambda p: p or "models")
def test_served_pages_run_no_planted_script_and_load_nothing_outside(
    page: str, served: Server, watched: Watched, tmp_path: Path
) -> None:
    check_page(watched, f"{served.url}/{page}", served.url, PAGES[page], tmp_path / "page.png")


@pytest.mark.parametrize("page", list(PAGES), ids=lambda p: p or "models")
def test_exported_pages_run_no_planted_script_and_load_nothing_outside(
    page: str, exported: Path, watched: Watched, tmp_path: Path
) -> None:
    # The export's folder names are the model names as they are, not percent-encoded: the file
    # URL encodes them once.
    origin = exported.as_uri()
    check_page(watched, f"{origin}/{page}index.html", origin, PAGES[page], tmp_path / "page.png")


def test_a_javascript_source_or_run_link_is_shown_as_text_not_as_a_link(
    served: Server, watched: Watched
) -> None:
    for version, shown in ((2, "javascript:alert('run-link')"), (3, "javascript://x/%0aalert('source')")):
        watched.page.goto(f"{served.url}/{model_path(MODEL)}versions/{version}/")
        hrefs = watched.page.eval_on_selector_all("a[href]", "all => all.map(a => a.getAttribute('href'))")
        assert hrefs, "the page has no links at all"
        assert [
            h for h in hrefs if "alert" in h or h.lower().lstrip().startswith(("javascript", "data"))
        ] == []
        assert shown in watched.page.inner_text("body")
    assert watched.script_signs() == []


def test_the_watch_sees_a_script_that_runs_and_a_request_to_another_host(
    watched: Watched, tmp_path: Path
) -> None:
    """The checks above would pass on a page that the watch cannot see into; this page does run a
    script, is refused one by its policy, and asks another host for an image."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><html><body><script>alert('ran')</script>"
        "<img src='http://192.0.2.1/tracker.png'></body></html>"
    )
    watched.page.goto(page.as_uri())
    assert watched.dialogs == ["alert: ran"]
    assert watched.outside(tmp_path.as_uri()) == ["http://192.0.2.1/tracker.png"]
    strict = tmp_path / "strict.html"
    strict.write_text(
        "<!doctype html><html><head><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'\"></head><body><script>alert('blocked')</script></body></html>"
    )
    watched.page.goto(strict.as_uri())
    assert watched.dialogs == ["alert: ran"]
    assert any("Content Security Policy" in text for _, text in watched.console), watched.console
    bad_link = tmp_path / "link.html"
    bad_link.write_text("<a href='javascript:alert(1)'>x</a><img src=x onerror=1>")
    watched.page.goto(bad_link.as_uri())
    assert len(watched.page.evaluate(DANGEROUS)) == 2
