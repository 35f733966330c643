"""The ``mreg`` command: global options, the nouns, and the one place errors become exit codes."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer import _click as click  # the Click that Typer bundles (since 0.26)
from typer.core import TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo

from mreg import __version__
from mreg.cli import finish
from mreg.cli.options import options

# Every command, in the order `mreg --help` lists them: name → "module:attribute", a command
# function or a noun's Typer app. A command's module is imported only when that command runs
# (or when --help lists it), so `mreg resolve` does not pay for building every other command.
# Adding a command is one line here.
COMMANDS: dict[str, str] = {
    "init": "mreg.cli.init:init",
    "register": "mreg.cli.register:register",
    "resolve": "mreg.cli.resolve:resolve",
    "get": "mreg.cli.resolve:get",
    "history": "mreg.cli.history:history",
    "diff": "mreg.cli.diff:diff",
    "check": "mreg.cli.check:check",
    "merge": "mreg.cli.merge:merge",
    "fsck": "mreg.cli.fsck:fsck",
    "gc": "mreg.cli.gc:gc",
    "push": "mreg.cli.transfer:push",
    "pull": "mreg.cli.transfer:pull",
    "remote": "mreg.cli.remote:app",
    "hooks": "mreg.cli.hooks:app",
    "import": "mreg.cli.imports:app",
    "models": "mreg.cli.models:app",
    "versions": "mreg.cli.versions:app",
    "alias": "mreg.cli.alias:app",
    "tag": "mreg.cli.tag:app",
    "stage": "mreg.cli.stage:app",
    "ui": "mreg.cli.ui_app:app",
    "policy": "mreg.cli.policy:app",
}


def build_command(name: str, target: str) -> click.Command:
    """The Click command for ``target`` ("module:attribute"), built as ``app.command(name)`` or
    ``app.add_typer(…, name=name)`` would build it."""
    from mreg.cli.helptext import conform

    module, _, attribute = target.partition(":")
    obj = getattr(importlib.import_module(module), attribute)
    if isinstance(obj, typer.Typer):
        return conform(
            get_group_from_info(
                TyperInfo(obj, name=name),
                pretty_exceptions_short=app.pretty_exceptions_short,
                suggest_commands=app.suggest_commands,
                rich_markup_mode=app.rich_markup_mode,
            )
        )
    return conform(
        get_command_from_info(
            CommandInfo(name=name, callback=obj),
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=app.rich_markup_mode,
        )
    )


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's commands where those named in ``COMMANDS`` are built on first access. Anything
    that walks the commands (help, completion, generators) sees them all, in order."""

    def __init__(self, built: MutableMapping[str, click.Command], targets: dict[str, str]) -> None:
        self._built = dict(built)
        self._targets = {name: t for name, t in targets.items() if name not in self._built}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._built:
            self._built[name] = build_command(name, self._targets[name])
        return self._built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        found = self._built.pop(name, None) is not None
        if self._targets.pop(name, None) is None and not found:
            raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        yield from self._targets
        yield from (name for name in self._built if name not in self._targets)

    def __len__(self) -> int:
        return len(self._targets.keys() | self._built.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._targets or name in self._built


class MregGroup(TyperGroup):
    """The root command. Builds subcommands on demand (``COMMANDS``), turns every expected error
    into one line ``error: …`` and its documented exit code; anything else is a bug: a short
    line, and the traceback with ``--debug``."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        from mreg.cli.helptext import conform

        conform(self)  # its own options; the commands when they are built
        self.commands = LazyCommands(self.commands, COMMANDS)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # the names only: listing must not build every command

    def invoke(self, ctx: Any) -> Any:
        from mreg.cli.funnel import failure_code
        from mreg.cli.interrupt import interruptible

        try:
            with interruptible():
                return super().invoke(ctx)
        except typer.Abort as err:
            if not isinstance(err.__context__, KeyboardInterrupt):
                raise
            _error("interrupted")  # Ctrl-C at a prompt, which Click turns into Abort
            raise typer.Exit(130) from None
        except typer.Exit:
            raise
        except (Exception, KeyboardInterrupt) as err:
            if getattr(err, "exit_code", None) is not None and type(err).__module__.startswith(
                ("click", "typer")
            ):
                raise  # usage errors: typer prints them and exits 2
            raise typer.Exit(failure_code(err, debug=_debug(ctx))) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Usage errors, like every other error, are one line ``error: …`` on stderr (Typer would
        draw a box), with Click's exit code 2 and a pointer to the command's help."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        finish(self._exit_code(args, prog_name, complete_var, windows_expand_args, **extra))

    def _exit_code(
        self,
        args: Sequence[str] | None,
        prog_name: str | None,
        complete_var: str | None,
        windows_expand_args: bool,
        **extra: Any,
    ) -> int:
        try:
            result = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except click.exceptions.UsageError as err:
            text = " ".join(err.format_message().split())
            if text:  # empty: a group called without a command, whose help is already printed
                where = f" (see '{err.ctx.command_path} --help')" if err.ctx is not None else ""
                _error(text + where)
            return err.exit_code
        except click.exceptions.ClickException as err:
            _error(" ".join(err.format_message().split()))
            return err.exit_code
        except typer.Abort:
            _error("aborted")
            return 1
        return result if isinstance(result, int) else 0

    def _main_shell_completion(self, ctx_args: Any, prog_name: str, complete_var: str | None = None) -> None:
        """A shell asking for completions (``_MREG_COMPLETE`` set) gets mreg's answers, see shells.py."""
        if os.environ.get(complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper()):
            from mreg.cli import shells

            shells.register()
        super()._main_shell_completion(ctx_args, prog_name, complete_var)


def _error(text: str) -> None:
    from mreg.cli.funnel import error

    error(text)


def _debug(ctx: Any) -> bool:
    return options(ctx).debug or os.environ.get("MREG_DEBUG", "") not in ("", "0")


app = typer.Typer(
    cls=MregGroup,
    name="mreg",
    help="A model registry that lives in a folder: models, versions, aliases and their history as "
    "TOML files in .mreg/, next to your code.",
    # one example a paragraph: Typer joins the lines of a paragraph of the epilog
    epilog="Examples:\n\nmreg init\n\nmreg register model.onnx --name fraud\n\n"
    "mreg alias set fraud champion 2\n\nmreg resolve models:/fraud@champion --field path",
    no_args_is_help=True,
    # completion scripts ship in completions/ and the wheel's share/ (see README); Typer's own
    # --install-completion would write a weaker script into the user's shell startup files
    add_completion=False,
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
            help="Seconds to wait for the store lock before exiting with 75 (default 30).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    opts = options(ctx)
    opts.store, opts.lock_timeout, opts.debug = store, lock_timeout, debug


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        # Scripts ask this often and the answer needs no command tree: building Typer's would
        # double the time of a command that only prints a constant.
        sys.stdout.write(f"mreg {__version__}\n")
        return
    app()
