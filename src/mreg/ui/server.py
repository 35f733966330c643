"""``mreg ui serve``: the pages from a local, read-only HTTP server (the standard library's).

- GET and HEAD only; any other method is 405.
- A ``Host`` header that names neither the bound address nor localhost/127.0.0.1 (with the port)
  is 403: a page elsewhere cannot reach the server through a DNS name it rebinds to loopback.
- The store is read afresh for every request, so a change from the command line shows on reload.
- Paths are model names and version numbers checked as everywhere else: nothing but the pages
  and the two static files is ever served.
- Every answer carries a strict Content-Security-Policy and ``nosniff``.
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from mreg.errors import MregError
from mreg.textsafe import escape_line
from mreg.ui import pages

ALLOWED_METHODS = "GET, HEAD"


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The ``Host`` header values the server answers: the bound address, localhost and
    127.0.0.1, each with the port (and IPv6 literals in brackets)."""
    names = {host, "localhost", "127.0.0.1"}
    if ":" in host:
        names.add(f"[{host}]")
    if host in ("::1", "::"):
        names.add("[::1]")
    found = {f"{n}:{port}" for n in names if not n.count(":") or n.startswith("[")}
    return frozenset(h.lower() for h in found)


class PageHandler(BaseHTTPRequestHandler):
    server_version = "mreg"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    store_root: ClassVar[Path]
    hosts: ClassVar[frozenset[str]]
    static: ClassVar[dict[str, bytes]]

    # ------------------------------------------------------------------------------- methods

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def __getattr__(self, name: str) -> Any:
        # Every other method (POST, PUT, DELETE, OPTIONS, TRACE, a made-up one) is 405, not 501.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self.close_connection = True  # the request's body, if any, is never read
        self._send_page(pages.Page(405, "Method not allowed\n"), "text/plain; charset=utf-8", True)

    # ------------------------------------------------------------------------------- answers

    def _answer(self, *, send_body: bool) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.hosts:
            self.close_connection = True
            page = pages.Page(403, "Forbidden: this server answers only to its own address.\n")
            self._send_page(page, "text/plain; charset=utf-8", send_body)
            return
        split = urlsplit(self.path)
        raw = [s for s in split.path.split("/") if s]
        try:
            segments = [unquote(s, errors="strict") for s in raw]
        except UnicodeDecodeError:
            segments = ["\ufffd"]  # no page has such a name: 404 below
        if len(segments) == 2 and segments[0] == pages.STATIC_SEGMENT and segments[1] in self.static:
            content_type = pages.STATIC_FILES[segments[1]]
            self._send_page(pages.Page(200, ""), content_type, send_body, self.static[segments[1]])
            return
        if segments and segments[-1] == pages.INDEX:
            segments.pop()
        elif segments and not split.path.endswith("/"):
            # a page is a folder (/models/fraud/): its relative links need the slash
            self._send_page(pages.Page(308, ""), "text/plain; charset=utf-8", send_body)
            return
        page = self._page(segments, parse_qs(split.query), depth=len(segments))
        self._send_page(page, "text/html; charset=utf-8", send_body)

    def _page(self, segments: list[str], query: dict[str, list[str]], depth: int) -> pages.Page:
        from mreg.registry import Registry

        try:
            return pages.Site(Registry(self.store_root)).route(segments, query)
        except MregError as err:
            return pages.error_page(err, depth)
        except Exception as err:  # a bug: one line in the server's log, a plain page to the browser
            self.log_message("error: %s", f"{type(err).__name__}: {err}")
            return pages.error_page(MregError("internal error (see the server's log)"), depth)

    def _send_page(
        self, page: pages.Page, content_type: str, send_body: bool, body: bytes | None = None
    ) -> None:
        data = page.html.encode("utf-8") if body is None else body
        self.send_response(page.status)
        if page.status == 308:
            split = urlsplit(self.path)
            self.send_header("Location", split.path + "/" + (f"?{split.query}" if split.query else ""))
        if page.status == 405:
            self.send_header("Allow", ALLOWED_METHODS)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Security-Policy", pages.CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if send_body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(escape_line(f"{self.address_string()} {format % args}") + "\n")


class PageServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(store_root: Path, host: str, port: int) -> PageServer:
    """A server bound to ``host:port`` (OSError when it cannot bind); ``serve_forever`` runs it."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("BoundPageServer", (PageServer,), {"address_family": family})
    server: PageServer = server_class((host, port), PageHandler, bind_and_activate=False)
    try:
        server.server_bind()
        server.server_activate()
    except BaseException:
        server.server_close()
        raise
    bound_port = server.server_address[1]
    handler = type(
        "BoundPageHandler",
        (PageHandler,),
        {
            "store_root": store_root,
            "hosts": allowed_hosts(host, bound_port),
            "static": dict(pages.static_files()),
        },
    )
    server.RequestHandlerClass = handler
    return server


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"
