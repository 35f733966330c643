"""The two commands a release script runs most, and the page's server, without building the
command line.

``mreg resolve REF --field F`` and ``mreg alias set NAME ALIAS VERSION`` are called once per
deployment step, and most of their time would be Python importing Typer and Typer inspecting the
command; ``mreg ui serve`` should answer its first request as soon as it can. ``run`` recognises
exactly these forms (optionally with ``--store PATH`` first, ``-m MSG`` and ``-q`` for ``alias
set``, ``--host``, ``--port`` and ``--open`` for ``ui serve``) and calls the functions the Typer
commands call (``actions``, ``mreg.cli.ui``),
reporting errors through the same funnel; anything else, and any form it is not sure Click would
read the same way (an option it does not know, a value starting with ``-``, ``--debug``,
``MREG_DEBUG``, a completion request …), returns None before doing anything, and the full command
line runs instead. ``tests/test_fastpath.py`` runs a table of command lines, errors included,
both ways and compares output, errors and exit code.

Imports nothing at the top but what the interpreter has already loaded.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mreg.registry import Registry

FIELDS = ("path", "version", "digest", "source", "name", "uri", "stage", "run_id")  # actions.Field


def _plain(value: str) -> bool:
    """A value Click takes as it is: not empty, not an option."""
    return value != "" and not value.startswith("-")


def _store_from_env(env: Mapping[str, str]) -> str | None:
    return env.get("MREG_STORE") or None  # Click treats an empty variable as unset


def _readable_or_absent(path: str) -> bool:
    """Click's path check of ``--store`` (TyperPath): an existing path must be readable."""
    try:
        os.stat(path)
    except OSError:
        return True
    return os.access(path, os.R_OK)


def _plain_number(text: str) -> bool:
    """Digits with at most one point: a value Click's float range (min 0) reads as ``float``."""
    digits = text.replace(".", "", 1)
    return digits != "" and digits.isascii() and digits.isdigit()


def _options(args: list[str], spec: dict[str, str]) -> dict[str, str | bool] | None:
    """``args`` as options of ``spec`` (spelling → key; a key ending in ``?`` is a flag), each at
    most once; None for anything else."""
    found: dict[str, str | bool] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        spelling, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        key = spec.get(spelling)
        if key is None:
            return None
        name = key.rstrip("?")
        if name in found:
            return None
        if key.endswith("?"):
            if eq:
                return None
            found[name] = True
            i += 1
            continue
        if eq:
            value = inline
            i += 1
        elif i + 1 < len(args):
            value = args[i + 1]
            i += 2
        else:
            return None
        if not _plain(value):
            return None
        found[name] = value
    return found


RESOLVE_OPTIONS = {"--field": "field", "-f": "field"}
ALIAS_SET_OPTIONS = {"--message": "msg", "-m": "msg", "--quiet": "quiet?", "-q": "quiet?"}
UI_SERVE_OPTIONS = {"--host": "host", "--port": "port", "--open": "open?"}
PORT_MAX = 65535  # ui serve's --port range (0: any free port)


def _port(text: str) -> int | None:
    """A ``--port`` value Click reads as the same integer and accepts (digits, in range)."""
    if not (text.isascii() and text.isdigit()) or int(text) > PORT_MAX:
        return None
    return int(text)


def plan(argv: list[str], env: Mapping[str, str]) -> Callable[[], None] | None:
    """The work of ``argv`` when it is one of the fast forms, ready to run; else None."""
    if any(key.startswith("_") and key.endswith("_COMPLETE") for key in env):
        return None  # a shell asking for completions
    if env.get("MREG_DEBUG", "") not in ("", "0"):
        return None  # tracebacks: the full path shows them
    timeout = env.get("MREG_LOCK_TIMEOUT") or ""  # empty: unset, as Click reads it
    if timeout and not _plain_number(timeout):
        return None
    lock_timeout = float(timeout) if timeout else None
    store = _store_from_env(env)
    args = list(argv)
    if args[:1] == ["--store"] and len(args) > 1:
        store, args = args[1], args[2:]
    elif args[:1] and args[0].startswith("--store="):
        store, args = args[0].partition("=")[2], args[1:]
    if store is not None and not (_plain(store) and _readable_or_absent(store)):
        return None

    if len(args) >= 2 and args[0] == "resolve" and _plain(args[1]):
        options = _options(args[2:], RESOLVE_OPTIONS)
        if options is None or options.get("field") not in FIELDS:
            return None  # without --field: the full command (its output needs more than this)
        uri, field = args[1], str(options["field"])

        def resolve() -> None:
            from mreg.cli import actions

            actions.resolve(_registry(store, lock_timeout), uri, actions.Field(field), False)

        return resolve

    if len(args) >= 5 and args[:2] == ["alias", "set"] and all(_plain(a) for a in args[2:5]):
        options = _options(args[5:], ALIAS_SET_OPTIONS)
        if options is None:
            return None
        name, alias, version = args[2:5]
        msg = options.get("msg")

        def set_alias() -> None:
            from mreg.cli import actions

            actions.set_alias(
                _registry(store, lock_timeout),
                name,
                alias,
                version,
                expect=None,
                msg=None if msg is None else str(msg),
                quiet=bool(options.get("quiet", False)),
            )

        return set_alias

    if args[:2] == ["ui", "serve"]:
        served = _options(args[2:], UI_SERVE_OPTIONS)
        if served is None:
            return None
        host = str(served.get("host", "127.0.0.1"))
        port = _port(str(served.get("port", "8765")))
        if port is None:
            return None  # out of range or not a number: Click's usage error
        open_browser = bool(served.get("open", False))

        def serve() -> None:
            from mreg.cli import ui

            ui.serve(_registry(store, lock_timeout), host, port, open_browser)

        return serve
    return None


def _registry(store: str | None, lock_timeout: float | None) -> Registry:
    from pathlib import Path

    from mreg.registry import Registry

    return Registry(None if store is None else Path(store), lock_timeout=lock_timeout)


def run(argv: list[str]) -> int | None:
    """Run ``argv`` if it is one of the fast forms and return its exit code; None otherwise,
    having done nothing."""
    work = plan(argv, os.environ)
    if work is None:
        return None
    from mreg.cli.funnel import failure_code
    from mreg.cli.interrupt import interruptible

    try:
        with interruptible():
            work()
    except (Exception, KeyboardInterrupt) as err:
        return failure_code(err, debug=False)
    return 0


def main() -> None:
    """The ``mreg`` script: the fast path when it applies, else the full command line."""
    code = run(sys.argv[1:])
    if code is None:
        from mreg.cli.app import main as full

        full()
        return
    from mreg.cli import finish

    finish(code)
