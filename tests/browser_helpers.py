"""What the browser tests of the page share: the distribution's Chromium driven by Playwright (one
browser per test module, a fresh profile folder), a page that records everything it asks for and
every sign of a script running, and ``mreg ui serve`` as a real process on a free loopback port.

Playwright's own browsers are never downloaded (``playwright install`` needs a host that is not
reachable): the browser is the system's ``chromium`` (``.ci/run`` installs Debian's package).
Where it is missing, the browser tests are skipped with that reason, the only skip they have.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import BrowserContext, Dialog, Page


def find_chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


CHROMIUM = find_chromium()

# No GPU, no QUIC, and none of the requests a browser makes of its own accord (component updates,
# sync, field trials): the only requests are the page's.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (no /usr/bin/chromium, no chromium on PATH): "
    ".ci/run installs Debian's chromium with apt-get when it runs as root",
)

# How long the server may take to answer its first request before the test fails (it answers in
# well under a second; this bounds the wait on a loaded machine, it is not a timing test).
READY_WITHIN = 30.0


# ------------------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """One Chromium for the module, with a profile folder of its own made for it."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1200, "height": 800},
            # The page must not depend on anything a browser would fetch: no service workers.
            service_workers="block",
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class Watched:
    """A page with everything it did: the URLs it requested, its console messages, the dialogs a
    script opened (each dismissed at once) and uncaught script errors."""

    page: Page
    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def script_signs(self) -> list[str]:
        """Everything that shows a script ran or tried to: dialogs, uncaught errors, console errors
        (a script blocked by the Content-Security-Policy is reported there too)."""
        return (
            [f"dialog: {d}" for d in self.dialogs]
            + [f"page error: {e}" for e in self.errors]
            + [f"console {kind}: {text}" for kind, text in self.console if kind in ("error", "warning")]
        )

    def outside(self, origin: str) -> list[str]:
        """The requested URLs that are not under ``origin`` (``http://host:port`` for the server,
        ``file:///…/export`` for an export; ``about:blank`` is nothing loaded)."""
        return [url for url in self.requests if not inside(url, origin) and url != "about:blank"]


def inside(url: str, origin: str) -> bool:
    if origin.startswith("file://"):
        return url == origin or url.startswith(origin.rstrip("/") + "/")
    got, want = urlsplit(url), urlsplit(origin)
    return (got.scheme, got.netloc) == (want.scheme, want.netloc)


def local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "file" or (parts.scheme == "http" and parts.hostname == "127.0.0.1")


@pytest.fixture
def watched(browser_context: BrowserContext) -> Iterator[Watched]:
    """A new tab of the module's browser, recording what it does; closed after the test."""
    page = browser_context.new_page()
    w = Watched(page)
    page.on("request", lambda request: w.requests.append(request.url))
    page.on("console", lambda message: w.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: w.errors.append(str(error)))

    def on_dialog(dialog: Dialog) -> None:
        w.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    # Whatever a page asks of another host is recorded above and then refused here, so that a
    # broken page fails its test at once instead of waiting on an address that never answers.
    page.route(
        "**/*",
        lambda route: route.continue_() if local(route.request.url) else route.abort("blockedbyclient"),
    )
    try:
        yield w
    finally:
        page.close()


# ---------------------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mreg_env(**extra: str) -> dict[str, str]:
    """The environment for an ``mreg`` process: this one without MREG_* variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MREG_")}
    return {**env, "NO_COLOR": "1", **extra}


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str  # http://127.0.0.1:PORT (no trailing slash)

    def stop(self) -> str:
        """Ctrl-C, as a person stops it; returns what it wrote to stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
                raise AssertionError("mreg ui serve did not stop on Ctrl-C") from None
        assert self.process.stderr is not None
        return self.process.stderr.read()


def start_server(store: Path) -> Server:
    """``mreg ui serve --port FREE`` on ``store`` as a process; returns once it answers ``/``."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mreg", "--store", str(store), "ui", "serve", "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=mreg_env(),
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + READY_WITHIN
    while True:
        if process.poll() is not None:
            assert process.stderr is not None
            raise AssertionError(f"mreg ui serve exited with {process.returncode}: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(server.url + "/", timeout=5) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"mreg ui serve did not answer within {READY_WITHIN:.0f} s")
        time.sleep(0.05)


@pytest.fixture
def serve() -> Iterator[Callable[[Path], Server]]:
    """``serve(store)`` starts ``mreg ui serve`` on a store; every server started is stopped after
    the test, and must stop on Ctrl-C without a traceback."""
    started: list[Server] = []

    def start(store: Path) -> Server:
        server = start_server(store)
        started.append(server)
        return server

    yield start
    for server in started:
        stderr = server.stop()
        assert "Traceback" not in stderr, stderr
