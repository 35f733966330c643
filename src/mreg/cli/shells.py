"""The shell side of completion: the scripts bash, zsh and fish load, and the answers ``mreg``
gives them.

A shell that completes ``mreg`` runs ``mreg`` again with ``_MREG_COMPLETE=complete_<shell>`` and
the command line in the environment; Typer's Click parses the line and asks the parameter under the
cursor for candidates (``mreg.cli.complete`` reads them from the store). ``_MREG_COMPLETE=
source_<shell> mreg`` prints the script; ``scripts/generate.py`` writes them to ``completions/``.

Typer's own scripts are replaced for bash and zsh, where they fall short:
- bash splits words at ``:``, ``=`` and ``@`` (``COMP_WORDBREAKS``), so ``models:/fraud@ch`` reaches
  the program as four words; here the script sends the whole line (``COMP_LINE``/``COMP_POINT``),
  mreg parses it as the shell would, and answers with the part of each candidate that replaces the
  word readline is completing;
- completions ask for no space after a candidate that begins a longer word (``models:/fraud``),
  and for file names where a parameter takes a path;
- the zsh script works both sourced and autoloaded from ``site-functions/_mreg``;
- help texts are not passed through Rich (a TAB must stay fast).
"""

from __future__ import annotations

import os
import re
from typing import Any

from typer._click.core import Parameter
from typer._click.shell_completion import (
    CompletionItem,
    ShellComplete,
    _resolve_context,
    _resolve_incomplete,
    add_completion_class,
    split_arg_string,
)
from typer._click.types import StringParamType
from typer._completion_classes import FishComplete, completion_init
from typer._completion_shared import COMPLETION_SCRIPT_FISH
from typer.models import TyperPath

from mreg.cli import complete

BASH_SCRIPT = r"""# bash completion for %(prog_name)s. Load it from ~/.bashrc with `source`, or install it as
# completions/%(prog_name)s of bash-completion. It runs %(prog_name)s, which reads the candidates
# (commands, options, model names, versions, aliases, URIs) from the store.
%(complete_func)s() {
    local IFS=$'\n' reply line
    COMPREPLY=()
    reply=$(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD="$COMP_CWORD" COMP_LINE="$COMP_LINE" \
        COMP_POINT="$COMP_POINT" COMP_WORDBREAKS="$COMP_WORDBREAKS" \
        %(autocomplete_var)s=complete_bash "$1" 2>/dev/null) || return 0
    while IFS= read -r line; do
        case $line in
            plain,*) COMPREPLY+=("${line#plain,}") ;;
            nospace,) compopt -o nospace ;;
            files,) compopt -o default ;;
        esac
    done <<< "$reply"
    return 0
}

complete -o nosort -F %(complete_func)s %(prog_name)s 2>/dev/null ||
    complete -F %(complete_func)s %(prog_name)s
"""

ZSH_SCRIPT = r"""#compdef %(prog_name)s
# zsh completion for %(prog_name)s. Install it as _%(prog_name)s in a folder of $fpath (before
# compinit runs), or `source` it after compinit. It runs %(prog_name)s, which reads the candidates
# (commands, options, model names, versions, aliases, URIs) from the store.

%(complete_func)s() {
    local -a reply plain described
    local kind value help nospace=0 files=0
    reply=("${(@f)$(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" \
        %(autocomplete_var)s=complete_zsh "${words[1]}" 2>/dev/null)}")
    for kind value help in "${reply[@]}"; do
        case $kind in
            plain) if [[ -n $help ]]; then described+=("${value//:/\\:}:$help"); else plain+=("$value"); fi ;;
            nospace) nospace=1 ;;
            files) files=1 ;;
        esac
    done
    if (( files )); then
        _files
        return
    fi
    local -a suffix
    (( nospace )) && suffix=(-S '')
    (( ${#described} )) && _describe -V -t values value described "${suffix[@]}"
    (( ${#plain} )) && compadd -V unsorted "${suffix[@]}" -a plain
    return 0
}

if (( ${+compstate} )); then
    # run by the completion system (autoloaded from $fpath as _%(prog_name)s): complete now
    %(complete_func)s "$@"
else
    # sourced: register the function for later
    compdef %(complete_func)s %(prog_name)s
fi
"""

_PATH_TYPES = (TyperPath, StringParamType)


def register() -> None:
    """Make ``_MREG_COMPLETE`` use the classes below (Typer registers its own only with its
    ``--install-completion`` option, which mreg does not add)."""
    completion_init()
    add_completion_class(BashComplete, "bash")
    add_completion_class(ZshComplete, "zsh")
    add_completion_class(PlainFishComplete, "fish")


class _Answer:
    """The candidates for the word under the cursor, and what the shell should do with them."""

    def __init__(self, items: list[CompletionItem], *, files: bool) -> None:
        self.items = [item for item in items if item.type == "plain"]
        self.files = files or any(item.type in ("file", "dir") for item in items)
        self.nospace = any(item.value in complete.partial for item in self.items)


def _answer(shell: ShellComplete, args: list[str], incomplete: str) -> _Answer:
    """Like ``ShellComplete.get_completions``, and also whether the word takes a file name: a path
    parameter, or a text parameter with no completion of its own (``register SOURCE``)."""
    ctx = _resolve_context(shell.cli, shell.ctx_args, shell.prog_name, args)
    target, incomplete = _resolve_incomplete(ctx, args, incomplete)
    items = target.shell_complete(ctx, incomplete)
    wants_files = (
        isinstance(target, Parameter)
        and target._custom_shell_complete is None
        and isinstance(target.type, _PATH_TYPES)
        and not items
    )
    return _Answer(items, files=wants_files)


# --------------------------------------------------------------------------------------------- bash

_BASH_SAFE = re.compile(r"[^\w@%+=:,./-]", re.ASCII)
_DEFAULT_WORDBREAKS = " \t\n\"'@><=;|&(:"
_SPECIAL_PREFIXES = "$@"  # bash's readline breaks words before these but keeps them in the word


def split_line(text: str) -> tuple[list[str], str]:
    """The words before the cursor and the word being typed (``""`` after a space), unquoted as
    the shell would."""
    words = split_arg_string(text)
    with_marker = split_arg_string(text + "\x00")
    if with_marker and with_marker[-1] == "\x00":
        return words[1:], ""
    return words[1:-1], words[-1] if len(words) > 1 else ""


def _unquoted(text: str) -> tuple[list[tuple[int, str]], str]:
    """The characters of ``text`` that stand outside quotes and escapes, with their index (an
    opening quote included), and the quote still open at the end ("" when none)."""
    found: list[tuple[int, str]] = []
    quote, escaped = "", False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            if ch == quote:
                quote = ""
        else:
            found.append((i, ch))
            if ch in "'\"":
                quote = ch
    return found, quote


def raw_last_word(text: str) -> str:
    """The last word of a command line as typed (quotes and backslashes kept)."""
    start = 0
    for i, ch in _unquoted(text)[0]:
        if ch in " \t\n":
            start = i + 1
    return text[start:]


def readline_head(raw_word: str, wordbreaks: str) -> tuple[str, str]:
    """Split what readline keeps from what it replaces: bash completes only the text after the
    last word-break character (``models:/fr`` → ``/fr``), from the last ``@`` (``models:/fraud@ch``
    → ``@ch``), or after an opening quote. Returns (the kept head, the open quote or "")."""
    start = 0
    found, quote = _unquoted(raw_word)
    for i, ch in found:
        if ch in "'\"":
            start = i + 1
        elif ch in wordbreaks:
            start = i if ch in _SPECIAL_PREFIXES else i + 1
    return raw_word[:start], quote


class BashComplete(ShellComplete):
    name = "bash"
    source_template = BASH_SCRIPT

    def source_vars(self) -> dict[str, Any]:
        return {
            "complete_func": self.func_name,
            "autocomplete_var": self.complete_var,
            "prog_name": self.prog_name,
        }

    def _line(self) -> str:
        line = os.environ.get("COMP_LINE")
        if line is None:  # an older script: only the words, already split at COMP_WORDBREAKS
            words = os.environ.get("COMP_WORDS", "").split("\n")
            return " ".join(words[: int(os.environ.get("COMP_CWORD", "0")) + 1])
        point = int(os.environ.get("COMP_POINT", len(line)))
        return line[:point]

    def get_completion_args(self) -> tuple[list[str], str]:
        return split_line(self._line())

    def format_completion(self, item: CompletionItem) -> str:
        return f"plain,{item.value}"

    def complete(self) -> str:
        text = self._line()
        args, incomplete = split_line(text)
        answer = _answer(self, args, incomplete)
        head, quote = readline_head(
            raw_last_word(text), os.environ.get("COMP_WORDBREAKS", _DEFAULT_WORDBREAKS)
        )
        lines = []
        for item in answer.items:
            if quote:
                typed = quote + item.value + ("" if item.value in complete.partial else quote)
            else:
                typed = _BASH_SAFE.sub(r"\\\g<0>", item.value)
            lines.append("plain," + (typed[len(head) :] if typed.startswith(head) else typed))
        if answer.nospace:
            lines.append("nospace,")
        if answer.files:
            lines.append("files,")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- zsh


class ZshComplete(ShellComplete):
    """Answers in triples of lines: kind, value, help (kind ``plain``, or ``nospace``/``files``
    with empty value and help)."""

    name = "zsh"
    source_template = ZSH_SCRIPT

    def source_vars(self) -> dict[str, Any]:
        return {
            "complete_func": self.func_name,
            "autocomplete_var": self.complete_var,
            "prog_name": self.prog_name,
        }

    def get_completion_args(self) -> tuple[list[str], str]:
        return split_line(os.environ.get("_TYPER_COMPLETE_ARGS", ""))

    def format_completion(self, item: CompletionItem) -> str:
        return "\n".join(["plain", item.value, " ".join((item.help or "").split())])

    def complete(self) -> str:
        args, incomplete = self.get_completion_args()
        answer = _answer(self, args, incomplete)
        lines = [self.format_completion(item) for item in answer.items]
        if answer.nospace:
            lines += ["nospace", "", ""]
        if answer.files:
            lines += ["files", "", ""]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------- fish


class PlainFishComplete(FishComplete):
    """Typer's fish completion (fish itself adds no space after ``/``, ``=`` or ``@``), with help
    texts as they are instead of rendered through Rich."""

    source_template = (
        "# fish completion for %(prog_name)s. Install it as vendor_completions.d/%(prog_name)s.fish or\n"
        "# ~/.config/fish/completions/%(prog_name)s.fish. It runs %(prog_name)s, which reads the\n"
        "# candidates (commands, options, model names, versions, aliases, URIs) from the store.\n"
        + COMPLETION_SCRIPT_FISH
    )

    def format_completion(self, item: CompletionItem) -> str:
        return f"{item.value}\t{' '.join(item.help.split())}" if item.help else item.value
