"""Write the files generated from mreg's command line, so they never drift from it:

  completions/bash/mreg, zsh/_mreg, fish/mreg.fish
                                               shell completion scripts (what `_MREG_COMPLETE=source_<shell>
                                               mreg` prints), named as the shells look them up, since
                                               the wheel installs them under share/ with these names
  man/mreg.1                                   the man page: every command, option, environment
                                               variable, exit code and file
  docs/cli.md                                  the command reference

    python scripts/generate.py            write them
    python scripts/generate.py --check    exit 1 listing the files that are out of date

Everything comes from walking the Click command that Typer builds (``typer.main.get_command``), so a
new command or option appears here after one run. The mreg imported is the one in this checkout's
src/, not an installed copy.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

import typer  # noqa: E402
import typer.main  # noqa: E402
from typer._click.core import Command, Context, Parameter  # noqa: E402
from typer._click.types import BoolParamType  # noqa: E402
from typer.core import TyperArgument as Argument  # noqa: E402
from typer.core import TyperGroup as Group  # noqa: E402
from typer.core import TyperOption as Option  # noqa: E402

import mreg  # noqa: E402
from mreg.cli import shells  # noqa: E402
from mreg.cli.helptext import metavar  # noqa: E402
from mreg.errors import EXIT_CODES  # noqa: E402
from mreg.store import layout  # noqa: E402

PROG = "mreg"
COMPLETE_VAR = "_MREG_COMPLETE"

# What the command tree cannot say about itself.
ENVIRONMENT_EXTRA = {
    "MREG_USER": "The name recorded as the author of every change (versions, aliases, history) "
    "[default: the login name].",
    "MREG_DEBUG": "Any value but empty or 0: show the traceback of an error, as --debug does.",
    "MREG_REMOTE_TIMEOUT": "Seconds to wait for an S3 remote to connect or to go on answering "
    "(default 60); a request is tried at most 4 times.",
    "NO_COLOR": "Any value: no colours in tables and messages (https://no-color.org).",
}
EXIT_MEANINGS = {
    0: "",
    1: "anything not covered below, e.g. an unreadable or malformed store file, or a store written "
    "by a newer mreg.",
    2: "an invalid option, argument, name, alias, tag, URI or other input.",
    3: "the store, model, version, alias or file asked for does not exist.",
    4: "a model with that name exists already, or a condition such as alias set --expect did not hold.",
    5: "stored bytes do not match the digest recorded for them.",
    75: "another process held the store lock for too long; trying again may work.",
}
COMPLETION_SNIPPETS = [
    ("~/.bashrc", f'eval "$({COMPLETE_VAR}=source_bash mreg)"'),
    ("~/.zshrc, after compinit", f'eval "$({COMPLETE_VAR}=source_zsh mreg)"'),
    ("~/.config/fish/config.fish", f"{COMPLETE_VAR}=source_fish mreg | source"),
]
COMPLETION_FILES = {
    "bash": "share/bash-completion/completions/mreg",
    "zsh": "share/zsh/site-functions/_mreg",
    "fish": "share/fish/vendor_completions.d/mreg.fish",
}


# ------------------------------------------------------------------------------ the command tree


@dataclass
class Entry:
    """One command of the tree with its context (for usage lines and metavars)."""

    path: str  # "mreg models list"
    command: Command
    ctx: Context

    @property
    def is_group(self) -> bool:
        return isinstance(self.command, Group)

    def params(self) -> list[Parameter]:
        return [p for p in self.command.params if not getattr(p, "hidden", False)]

    def arguments(self) -> list[Argument]:
        return [p for p in self.params() if isinstance(p, Argument)]

    def options(self) -> list[Option]:
        return [p for p in self.params() if isinstance(p, Option)]


def root_command() -> Command:
    from mreg.cli.app import app

    return typer.main.get_command(app)


def walk(root: Command) -> Iterator[Entry]:
    """Every visible command, depth first, in the order `mreg --help` lists them."""

    def visit(command: Command, ctx: Context) -> Iterator[Entry]:
        yield Entry(ctx.command_path, command, ctx)
        if isinstance(command, Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    yield from visit(sub, Context(sub, info_name=name, parent=ctx, **sub.context_settings))

    yield from visit(root, Context(root, info_name=PROG, **root.context_settings))


def option_names(option: Option) -> list[str]:
    """Short names first, as in `--help`: ``-n, --name``."""
    return sorted([*option.opts, *option.secondary_opts], key=lambda o: (o.startswith("--"), o))


def global_options(root: Entry) -> list[Option]:
    """The options before the command, with ``-h, --help`` (which every command takes)."""
    help_option = root.command.get_help_option(root.ctx)
    return root.options() + ([help_option] if help_option is not None else [])


def usage(entry: Entry) -> str:
    pieces = [entry.path]
    if entry.options() or entry.command.get_help_option(entry.ctx) is not None:
        pieces.append("[OPTIONS]")
    pieces += [metavar(a) for a in entry.arguments()]
    if entry.is_group:
        pieces.append("COMMAND [ARGS]...")
    return " ".join(pieces)


def notes(param: Parameter) -> list[str]:
    """What `--help` shows in brackets after the help text."""
    found = []
    if param.envvar:
        envvars = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)
        found.append("env: " + ", ".join(envvars))
    default = param.default
    is_flag = isinstance(param, Option) and (param.is_flag or isinstance(param.type, BoolParamType))
    show = getattr(param, "show_default", True)
    if default is not None and not is_flag and show is not False and not callable(default):
        if isinstance(default, list | tuple):
            default = " ".join(str(d) for d in default)
        if default != "":
            found.append(f"default: {getattr(default, 'value', default)}")
    if param.required and isinstance(param, Option):
        found.append("required")
    return found


def help_text(param: Parameter) -> str:
    text = " ".join((getattr(param, "help", None) or "").split())
    extra = notes(param)
    return text + (f" [{'; '.join(extra)}]" if extra else "")


def summary(entry: Entry) -> str:
    """The first sentence or line of a command's help, as `mreg --help` lists it."""
    return entry.command.get_short_help_str(limit=200)


@dataclass
class Block:
    kind: str  # "text", "code" (example command lines) or "heading" ("Examples:")
    lines: list[str]


def blocks(text: str) -> list[Block]:
    """A docstring help as paragraphs of text and blocks of example commands. ``Example:  cmd``
    and ``Examples:  a  ·  b`` on one line become a heading and a code block."""
    found: list[Block] = []
    for paragraph in re.split(r"\n\s*\n", (text or "").strip("\n")):
        lines = paragraph.split("\n")
        if all(line.startswith("  ") for line in lines if line.strip()):
            code = [line[2:].rstrip() for line in lines if line.strip()]  # continuation lines stay indented
            if found and found[-1].kind == "code":
                found[-1].lines += code
            else:
                found.append(Block("code", code))
            continue
        inline = re.match(r"(Examples?):\s+(\S.*)$", " ".join(line.strip() for line in lines))
        if inline:
            found.append(Block("heading", [inline.group(1) + ":"]))
            found.append(Block("code", [c.strip() for c in inline.group(2).split("  ·  ")]))
            continue
        joined = " ".join(line.strip() for line in lines)
        found.append(Block("heading" if re.fullmatch(r"Examples?:", joined) else "text", [joined]))
    return found


def environment(root: Command) -> dict[str, str]:
    """Variables the options read (with their help), then the others."""
    found = {}
    for entry in walk(root):
        for param in entry.options():
            envvars = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or [])
            for var in envvars:
                names = ", ".join(option_names(param))
                found[var] = f"{' '.join((param.help or '').split())} The same as {names}."
    return {**found, **ENVIRONMENT_EXTRA}


def exit_codes() -> list[tuple[int, str]]:
    """(code, "Meaning: when it happens") for every code in mreg.errors.EXIT_CODES."""
    codes = []
    for meaning, code in sorted(EXIT_CODES.items(), key=lambda kv: kv[1]):
        if code not in EXIT_MEANINGS:
            raise SystemExit(f"scripts/generate.py: describe exit code {code} ({meaning}) in EXIT_MEANINGS")
        text = EXIT_MEANINGS[code]
        codes.append((code, f"{meaning.capitalize()}: {text}" if text else f"{meaning.capitalize()}."))
    return codes


def store_layout() -> list[str]:
    """The .mreg/ tree documented in mreg/store/layout.py (the module that builds every path)."""
    match = re.search(r"```\n(.*?)```", layout.__doc__ or "", re.S)
    if not match:
        raise SystemExit("scripts/generate.py: no layout block in mreg/store/layout.py's docstring")
    return match.group(1).rstrip("\n").split("\n")


def examples(root: Command) -> list[str]:
    epilog = re.sub(r"^\s*Examples?:", "", root.epilog or "")
    return [" ".join(c.split()) for c in re.split(r"\s·\s|\n", epilog) if c.strip()]


def one_line_name(root: Command) -> str:
    first = (root.help or PROG).split(":")[0].split(". ")[0].strip().rstrip(".")
    return first[:1].lower() + first[1:]


# ------------------------------------------------------------------------------------- man page


def roff(text: str) -> str:
    """Text for a roff line: backslashes, minus signs and non-ASCII characters escaped."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\e")
        elif ch == "-":
            out.append("\\-")
        elif ord(ch) > 127:
            out.append(f"\\[u{ord(ch):04X}]")
        else:
            out.append(ch)
    line = "".join(out)
    return "\\&" + line if line[:1] in (".", "'") else line


def roff_usage(entry: Entry) -> str:
    """The usage line: the command in bold, what to fill in in italics."""
    command = entry.path.split(" ")
    pieces = []
    for i, word in enumerate(usage(entry).split(" ")):
        pieces.append(f"\\fB{roff(word)}\\fR" if i < len(command) else f"\\fI{roff(word)}\\fR")
    return " ".join(pieces)


def roff_blocks(text: str) -> list[str]:
    lines = []
    for block in blocks(text):
        if block.kind == "code":
            lines += [".PP", ".RS 4", ".nf", *(roff(line) for line in block.lines), ".fi", ".RE"]
        else:
            lines += [".PP", roff(block.lines[0])]
    return lines


def roff_param(param: Parameter) -> list[str]:
    if isinstance(param, Option):
        names = ", ".join(f"\\fB{roff(n)}\\fR" for n in option_names(param))
        value = metavar(param)
        head = names + (f" \\fI{roff(value)}\\fR" if value else "")
    else:
        head = f"\\fI{roff(metavar(param))}\\fR"
    return [".TP", head, roff(help_text(param))]


def man_page(root: Command) -> str:
    entries = list(walk(root))
    top = entries[0]
    lines = [
        '.\\" Generated by scripts/generate.py from the mreg command line; do not edit.',
        f'.TH MREG 1 "" "mreg {mreg.__version__}" "mreg manual"',
        ".SH NAME",
        f"mreg \\- {roff(one_line_name(root))}",
        ".SH SYNOPSIS",
        "\\fBmreg\\fR [\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGUMENTS\\fR]",
        ".SH DESCRIPTION",
        *roff_blocks(root.help or ""),
        ".PP",
        roff(f"Every command takes -h, --help; {PROG} COMMAND --help prints the help of one command."),
        ".SH GLOBAL OPTIONS",
    ]
    for option in global_options(top):
        lines += roff_param(option)
    lines.append(".SH COMMANDS")
    for entry in entries[1:]:
        lines += [f'.SS "{roff(entry.path)}"', roff_usage(entry)]
        lines += roff_blocks(entry.command.help or "")
        if entry.is_group:
            assert isinstance(entry.command, Group)
            names = entry.command.list_commands(entry.ctx)
            lines += [".PP", roff("Commands: " + ", ".join(names) + " (below).")]
        for param in entry.params():
            lines += roff_param(param)
    lines.append(".SH ENVIRONMENT")
    for var, text in environment(root).items():
        lines += [".TP", f"\\fB{roff(var)}\\fR", roff(text)]
    lines.append(".SH EXIT STATUS")
    for code, text in exit_codes():
        lines += [".TP", f"\\fB{code}\\fR", roff(text)]
    lines += [
        ".SH FILES",
        ".PP",
        roff(
            "mreg works on the nearest .mreg folder found walking up from the working directory "
            "(or the one --store or MREG_STORE names). Its files are TOML, meant to be committed:"
        ),
        ".PP",
        ".RS 4",
        ".nf",
        *(roff(line) for line in store_layout()),
        ".fi",
        ".RE",
        ".SH SHELL COMPLETION",
        ".PP",
        roff(
            "Completion of commands, options, model names, versions, aliases, tag keys and model URIs "
            "for bash, zsh and fish is installed with mreg into the environment's share/ folder, "
            "where the shells find it when that is a system-wide prefix such as /usr or /usr/local:"
        ),
        ".PP",
        ".RS 4",
        ".nf",
        *(roff(path) for path in COMPLETION_FILES.values()),
        ".fi",
        ".RE",
        ".PP",
        roff("Otherwise load it from the shell's start-up file:"),
        ".PP",
        ".RS 4",
        ".nf",
        *(roff(f"{line}    # {where}") for where, line in COMPLETION_SNIPPETS),
        ".fi",
        ".RE",
        ".SH EXAMPLES",
        ".PP",
        ".RS 4",
        ".nf",
        *(roff(line) for line in examples(root)),
        ".fi",
        ".RE",
        ".SH SEE ALSO",
        ".PP",
        "\\fBgit\\fR(1)",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------- docs/cli.md


def md_blocks(text: str) -> list[str]:
    lines = []
    for block in blocks(text):
        if block.kind == "code":
            lines += ["```sh", *block.lines, "```", ""]
        else:
            lines += [block.lines[0], ""]
    return lines


def md_param(param: Parameter) -> str:
    if isinstance(param, Option):
        value = metavar(param)
        head = ", ".join(option_names(param)) + (f" {value}" if value else "")
    else:
        head = metavar(param)
    return f"- `{head}`: {help_text(param)}"


def anchor(path: str) -> str:
    return path.replace(" ", "-")


def cli_reference(root: Command) -> str:
    entries = list(walk(root))
    lines = [
        "# Command reference",
        "",
        "<!-- Generated by scripts/generate.py from the mreg command line; do not edit. -->",
        "",
        "Every command's help, as `mreg COMMAND --help` prints it. Every command also takes "
        "`-h, --help`. The same text is in the man page (`man mreg`).",
        "",
    ]
    for entry in entries[1:]:
        depth = entry.path.count(" ") - 1
        lines.append(f"{'  ' * depth}- [`{entry.path}`](#{anchor(entry.path)}): {summary(entry)}")
    lines += ["", f"## {PROG}", "", "```", usage(entries[0]), "```", "", *md_blocks(root.help or "")]
    lines += ["Global options (before the command):", ""]
    lines += [md_param(p) for p in global_options(entries[0])] + [""]
    lines += ["Examples:", "", "```sh", *examples(root), "```", ""]
    for entry in entries[1:]:
        lines += [f"## {entry.path}", ""]
        lines += ["```", usage(entry), "```", "", *md_blocks(entry.command.help or "")]
        if entry.is_group:
            assert isinstance(entry.command, Group)
            subs = entry.command.list_commands(entry.ctx)
            lines += ["Commands: " + ", ".join(f"[`{s}`](#{anchor(entry.path)}-{s})" for s in subs), ""]
        if entry.arguments():
            lines += ["Arguments:", "", *(md_param(p) for p in entry.arguments()), ""]
        if entry.options():
            lines += ["Options:", "", *(md_param(p) for p in entry.options()), ""]
    lines += ["## Environment", ""]
    lines += [f"- `{var}`: {text}" for var, text in environment(root).items()] + [""]
    lines += ["## Exit codes", ""]
    lines += [f"- `{code}`: {text}" for code, text in exit_codes()] + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------------- completions


def completion_script(root: Command, shell: str) -> str:
    classes: dict[str, Any] = {
        "bash": shells.BashComplete,
        "zsh": shells.ZshComplete,
        "fish": shells.PlainFishComplete,
    }
    script: str = classes[shell](root, {}, PROG, COMPLETE_VAR).source()
    return script.strip("\n") + "\n"


# ------------------------------------------------------------------------------------ the files


def render(root: Command) -> dict[str, str]:
    """Every generated file: path relative to the repository → its text."""
    return {
        **{
            f"completions/{shell}/{Path(path).name}": completion_script(root, shell)
            for shell, path in COMPLETION_FILES.items()
        },
        "man/mreg.1": man_page(root),
        "docs/cli.md": cli_reference(root),
    }


def stale(files: dict[str, str], base: Path) -> list[str]:
    """The files under ``base`` that are missing or differ from ``files``."""
    return [
        rel
        for rel, text in files.items()
        if not (base / rel).is_file() or (base / rel).read_text(encoding="utf-8") != text
    ]


def write(files: dict[str, str], base: Path) -> list[str]:
    changed = stale(files, base)
    for rel in changed:
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[rel], encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only list out-of-date files; exit 1 if any")
    parser.add_argument(
        "--root", type=Path, default=REPO, help="write under this folder [default: the repository]"
    )
    args = parser.parse_args(argv)
    files = render(root_command())
    if args.check:
        out_of_date = stale(files, args.root)
        for rel in out_of_date:
            print(f"stale: {rel} (run python scripts/generate.py)", file=sys.stderr)
        return 1 if out_of_date else 0
    for rel in write(files, args.root):
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
