"""The ``mreg`` command: global options, the nouns, and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mreg import __version__
from mreg.cli import alias, history, init, models, register, resolve, stage, tag, versions
from mreg.cli.common import options
from mreg.errors import MregError


class MregGroup(TyperGroup):
    """Turns every expected error into one line ``error: …`` and its documented exit code;
    anything else is a bug: a short line, and the traceback with ``--debug``."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MregError as err:
            _show_traceback(ctx)
            _error(str(err))
            raise typer.Exit(err.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            _error("interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # The reader went away (`mreg versions list | head -1`): stop quietly, as git and the
            # coreutils do, with the code of a process killed by SIGPIPE; pointing stdout at
            # /dev/null keeps the flush at exit from raising the same error again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except Exception as err:
            if getattr(err, "exit_code", None) is not None and type(err).__module__.startswith(
                ("click", "typer")
            ):
                raise  # usage errors: typer prints them and exits 2
            _show_traceback(ctx)
            if isinstance(err, OSError):
                detail = f"{err.strerror}: {err.filename}" if err.filename else str(err)
            else:
                detail = f"unexpected {type(err).__name__}: {err}"
            _error(detail + ("" if _debug(ctx) else " (run with --debug for the traceback)"))
            raise typer.Exit(1) from None


def _debug(ctx: Any) -> bool:
    return options(ctx).debug or os.environ.get("MREG_DEBUG", "") not in ("", "0")


def _show_traceback(ctx: Any) -> None:
    if _debug(ctx):
        traceback.print_exc(file=sys.stderr)


def _error(text: str) -> None:
    sys.stderr.write(f"error: {text}\n")


app = typer.Typer(
    cls=MregGroup,
    name="mreg",
    help="A model registry that lives in a folder: models, versions, aliases and their history as "
    "TOML files in .mreg/, next to your code.",
    epilog="Examples:  mreg init  ·  mreg register model.onnx --name fraud  ·  "
    "mreg alias set fraud champion 2  ·  mreg resolve models:/fraud@champion --field path",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        sys.stdout.write(f"mreg {__version__}\n")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            envvar="MREG_STORE",
            help="The .mreg folder, or the folder holding it "
            "(default: the nearest .mreg above the working directory).",
            show_default=False,
        ),
    ] = None,
    lock_timeout: Annotated[
        float | None,
        typer.Option(
            "--lock-timeout",
            envvar="MREG_LOCK_TIMEOUT",
            min=0,
            help="Seconds to wait for the store lock before exiting with 75 [default: 30].",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    opts = options(ctx)
    opts.store, opts.lock_timeout, opts.debug = store, lock_timeout, debug


app.command("init")(init.init)
app.command("register")(register.register)
app.command("resolve")(resolve.resolve)
app.command("get")(resolve.get)
app.command("history")(history.history)
app.add_typer(models.app, name="models")
app.add_typer(versions.app, name="versions")
app.add_typer(alias.app, name="alias")
app.add_typer(tag.app, name="tag")
app.add_typer(stage.app, name="stage")


def main() -> None:
    app()
