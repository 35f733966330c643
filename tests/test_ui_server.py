"""``mreg ui serve``: GET/HEAD only, the Host check, 404 for anything but the pages, the store read
afresh per request, Ctrl-C and a port in use as a process shows them."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Cli
from html_helpers import Page

from mreg import Registry
from mreg.ui import pages, server


class Served:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self, method: str, path: str, host: str | None = None, body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            if host != "":
                conn.putheader("Host", host or f"127.0.0.1:{self.port}")
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def get(self, path: str) -> Page:
        status, _, body = self.request("GET", path)
        assert status == 200, (path, status)
        return Page(body.decode("utf-8"))


@pytest.fixture
def served(populated: Registry) -> Iterator[Served]:
    httpd = server.make_server(populated.root, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/models/m/",
        "/models/m/versions/2/",
        "/models/m/history/",
        "/models/m/index.html",
        "/?filter=name+%3D+%27m%27",
    ],
)
def test_pages_are_served_with_a_strict_policy(served: Served, path: str) -> None:
    status, headers, body = served.request("GET", path)
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-security-policy"] == pages.CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert body.startswith(b"<!doctype html>")


def test_head_answers_without_a_body(served: Served) -> None:
    status, headers, body = served.request("HEAD", "/models/m/")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"])
def test_other_methods_are_not_allowed(served: Served, method: str, populated: Registry) -> None:
    status, headers, _ = served.request(method, "/models/m/", body=b"x=1")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert populated.get_aliases("m") == {"champion": 1}


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "evil.example", "127.0.0.1:1", "", "localhost.evil:{port}"]
)
def test_a_foreign_host_header_is_forbidden(served: Served, host: str) -> None:
    status, _, body = served.request("GET", "/", host=host.format(port=served.port))
    assert status == 403 and b"m" not in body.split(b":")[0]


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "LOCALHOST:{port}"])
def test_loopback_names_are_answered(served: Served, host: str) -> None:
    assert served.request("GET", "/", host=host.format(port=served.port))[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/models/nope/",
        "/models/m/versions/9/",
        "/models/m/versions/latest/",
        "/models/%2e%2e/",
        "/models/..%2F..%2F/",
        "/models/m%2F..%2F..%2Fconfig.toml/",
        "/../../etc/passwd/",
        "/static/../pyproject.toml",
        "/static/other.css",
        "/models/%ff/",
        "/.mreg/config.toml/",
    ],
)
def test_nothing_but_the_pages_is_served(served: Served, path: str) -> None:
    status, headers, body = served.request("GET", path)
    assert status in (404, 308), path
    if status == 404:
        assert headers["content-security-policy"] == pages.CSP
        assert b"format" not in body  # nothing of config.toml


def test_a_page_without_its_slash_is_redirected(served: Served) -> None:
    status, headers, _ = served.request("GET", "/models/m?x=1")
    assert status == 308 and headers["location"] == "/models/m/?x=1"


def test_static_files(served: Served) -> None:
    status, headers, body = served.request("GET", "/static/style.css")
    assert status == 200 and headers["content-type"].startswith("text/css") and b"body" in body
    assert served.request("GET", "/static/filter.js")[0] == 200


def test_a_change_from_the_command_line_shows_on_reload(served: Served, cli: Cli) -> None:
    before = served.get("/models/m/")
    assert {r.attrs["data-alias"]: r.attrs["data-version"] for r in before.rows("aliases")} == {
        "champion": "1"
    }
    assert cli("alias", "set", "m", "champion", "3", "-m", "move").exit_code == 0
    after = served.get("/models/m/")
    assert {r.attrs["data-alias"]: r.attrs["data-version"] for r in after.rows("aliases")} == {
        "champion": "3"
    }
    assert cli("register", "s3://bucket/v4", "--name", "m", "-q").exit_code == 0
    assert served.get("/models/m/").rows("versions")[0].attrs["data-version"] == "4"


def test_allowed_hosts() -> None:
    assert server.allowed_hosts("127.0.0.1", 8765) == {"127.0.0.1:8765", "localhost:8765"}
    assert "[::1]:80" in server.allowed_hosts("::1", 80)
    assert "10.0.0.5:81" in server.allowed_hosts("10.0.0.5", 81)


# ---------------------------------------------------------------------------------- processes


def _start(store: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mreg", "--store", str(store), "ui", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_ctrl_c_stops_the_server_cleanly(populated: Registry) -> None:
    proc = _start(populated.root, "--port", "0")
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("Serving ") and "http://127.0.0.1:" in line
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        assert Served(port).request("GET", "/")[0] == 200
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    assert "Traceback" not in rest and rest.strip().splitlines()[-1] == "Stopped."


def test_a_port_in_use_is_one_error_line(populated: Registry) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _start(populated.root, "--port", str(port))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and out == ""
    assert err.splitlines() == [f"error: cannot listen on 127.0.0.1:{port}: Address already in use"]
