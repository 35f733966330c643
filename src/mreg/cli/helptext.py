"""What ``--help`` calls each value, made to agree with the docs and the man page.

Typer writes a required argument as ``{source}`` in the usage line and gives it the type ``<str>``,
and an option's value as ``<str>``; the reference (docs/cli.md, man/mreg.1, written by
scripts/generate.py with ``metavar`` below) says ``SOURCE``, ``[PATH]``, ``PAIRS...`` and
``--name NAME``. ``conform`` gives every parameter of a built command that one name, and makes an
invalid value blame the option or the environment variable it really came from.
"""

from __future__ import annotations

import copy

from typer._click.core import Command, Context, Parameter, ParameterSource
from typer._click.types import BoolParamType, FloatParamType, IntParamType, ParamType, StringParamType
from typer._types import TyperChoice
from typer.core import TyperArgument, TyperOption
from typer.models import TyperPath


def metavar(param: Parameter) -> str:
    """``NAME``, ``[PATH]``, ``PAIRS...`` for arguments; the value an option takes, or "" for a flag."""
    if isinstance(param, TyperArgument):
        text = (param.metavar or (param.name or "").upper()).replace("-", "_")
        if param.nargs == -1:
            text += "..."
        return text if param.required else f"[{text}]"
    assert isinstance(param, TyperOption)
    if param.is_flag or param.count or isinstance(param.type, BoolParamType):
        return ""
    if param.metavar:
        return str(param.metavar)
    if isinstance(param.type, TyperChoice):
        return "[" + "|".join(str(c) for c in param.type.choices) + "]"
    if isinstance(param.type, TyperPath):
        return "PATH"
    if isinstance(param.type, IntParamType):
        return "INTEGER"
    if isinstance(param.type, FloatParamType):
        return "NUMBER"
    longest: str = max(param.opts, key=len).lstrip("-")
    return longest.upper().replace("-", "_")


class Argument(TyperArgument):
    """An argument shown as ``SOURCE`` (``[PATH]`` when optional), in the usage line as in the docs."""

    def make_metavar(self, ctx: Context, *, usage: bool = False) -> str:
        return metavar(self)

    @property
    def human_readable_name(self) -> str:
        return self.name or ""  # errors say "Missing argument 'alias'", as they always have


class Option(TyperOption):
    def get_error_hint(self, ctx: Context) -> str:
        """``'--lock-timeout'``, or ``'--lock-timeout' (env var: 'MREG_LOCK_TIMEOUT')`` only when
        the bad value came from that variable."""
        hint = " / ".join(f"'{name}'" for name in self.opts)
        source = ctx.get_parameter_source(self.name) if self.name else None
        if source is ParameterSource.ENVIRONMENT and self.envvar:
            hint += f" (env var: '{self.envvar}')"
        return hint


class _Text(StringParamType):
    def get_metavar(self, param: Parameter, ctx: Context) -> str:
        return ""  # the argument's name says what it is; "<str>" says nothing


class _Path(TyperPath):
    def get_metavar(self, param: Parameter, ctx: Context) -> str:
        return ""


def _argument_type(kind: ParamType) -> ParamType:
    if type(kind) is StringParamType:
        return _Text()
    if type(kind) is TyperPath:
        quiet = copy.copy(kind)
        quiet.__class__ = _Path
        return quiet
    return kind


def reflow(text: str) -> str:
    """Help text whose prose paragraphs are one line each, for the terminal to wrap (the help
    keeps a docstring's line breaks, which at another width leave a word alone on a line);
    indented blocks (examples) keep theirs."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        lines = paragraph.split("\n")
        if any(line.startswith(" ") for line in lines):
            paragraphs.append(paragraph)
        else:
            paragraphs.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs)


def conform(command: Command) -> Command:
    """``command``'s help and parameters, and those of its built subcommands, shown as the docs
    show them."""
    if command.help:
        command.help = reflow(command.help)
    for param in command.params:
        if type(param) is TyperArgument:
            param.__class__ = Argument
            param.metavar = (param.name or "").upper()
            param.type = _argument_type(param.type)
        elif type(param) is TyperOption:
            param.__class__ = Option
            name = metavar(param)
            if name:
                param.metavar = name
    for sub in getattr(command, "commands", {}).values():
        conform(sub)
    return command
