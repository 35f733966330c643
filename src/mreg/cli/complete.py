"""Candidates for the shell's TAB key, read from the store: model names, versions, aliases, tag keys
and model URIs.

Each function is an ``autocompletion=`` callback on a parameter: Typer calls it with the context
parsed so far (``ctx.params`` holds the NAME typed earlier on the line, the root context the
``--store`` option) and the word being completed, and keeps the candidates that start with that
word. They read only what the word needs (the folder of model names for a name, one model's files
for its versions and aliases), never raise (no store, an unreadable file: no candidates) and never
import Rich, so a TAB costs one start of ``mreg`` and a few file reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from mreg.names import STAGES
from mreg.uris import SCHEME, parse_version_ref

if TYPE_CHECKING:
    from mreg.registry import Registry

Candidates = list[str | tuple[str, str]]

partial: set[str] = set()
"""Candidates that begin a longer word (``models:/fraud`` before its ``/7`` or ``@champion``,
``KEY=`` before a value): the shell adds no space after them (see ``mreg.cli.shells``)."""


def _registry(ctx: typer.Context) -> Registry:
    """The store the command line names: ``--store`` (or ``MREG_STORE``), else the nearest .mreg."""
    from mreg.registry import Registry  # here: every command's arguments name this module

    return Registry(ctx.find_root().params.get("store"))


def _safely(func: Callable[[typer.Context, str], Candidates]) -> Callable[[typer.Context, str], Candidates]:
    """A completion never breaks the shell: no store, an unreadable file or an invalid name give
    no candidates instead of an error."""

    @functools.wraps(func)
    def wrapper(ctx: typer.Context, incomplete: str) -> Candidates:
        try:
            return func(ctx, incomplete)
        except Exception:
            return []

    return wrapper


def _given(ctx: typer.Context, key: str) -> str | None:
    """A value typed earlier on the line: NAME, or the ``--version`` of ``tag``."""
    value = ctx.params.get(key)
    if value is None:
        # An option still waiting for its value (``history fraud --alias <TAB>``) stops Click's
        # parsing before it assigns the arguments; they are left in ctx.args, in order.
        arguments = [p.name for p in ctx.command.params if p.param_type_name == "argument"]
        if key in arguments and arguments.index(key) < len(ctx.args):
            value = ctx.args[arguments.index(key)]
    return None if value is None else str(value)


def _names(registry: Registry, prefix: str) -> list[str]:
    """Model names starting with ``prefix``: one listing of models/, a stat per matching name."""
    return [name for name in registry.store.model_names() if name.startswith(prefix)]


def _version_specs(registry: Registry, name: str, *, with_at: bool) -> list[tuple[str, str]]:
    """What can follow a model name: its live versions (newest first), ``latest``, the stages that
    hold a version, and its aliases (``@champion`` when ``with_at``), each with a short description."""
    versions = registry.list_model_versions(name)
    aliases = registry.get_aliases(name)
    specs: list[tuple[str, str]] = []
    for mv in reversed(versions):
        notes = [f"@{a}" for a in mv.aliases]
        if mv.current_stage != "None":
            notes.append(mv.current_stage)
        specs.append((str(mv.version), " ".join(notes) or f"version {mv.version}"))
    if versions:
        specs.append(("latest", f"version {versions[-1].version}"))
    staged = {mv.current_stage: mv.version for mv in versions if mv.current_stage != "None"}
    specs += [(stage, f"version {staged[stage]}") for stage in STAGES if stage in staged]
    if with_at:
        specs += [(f"@{alias}", f"version {version}") for alias, version in aliases.items()]
    return specs


@_safely
def model_names(ctx: typer.Context, incomplete: str) -> Candidates:
    """Registered model names (for NAME arguments and ``--name``)."""
    return list(_names(_registry(ctx), incomplete))


@_safely
def remote_names(ctx: typer.Context, incomplete: str) -> Candidates:
    """Configured remote names, read from config.toml itself (no remote is contacted)."""
    config = _registry(ctx).store.config
    return [(name, record.url or "") for name, record in config.remotes if name.startswith(incomplete)]


@_safely
def versions(ctx: typer.Context, incomplete: str) -> Candidates:
    """Versions of the model named earlier on the line: numbers, latest, stages, @ALIAS."""
    name = _given(ctx, "name")
    return list(_version_specs(_registry(ctx), name, with_at=True)) if name else []


@_safely
def aliases(ctx: typer.Context, incomplete: str) -> Candidates:
    """Aliases of the model named earlier on the line (NAME, or ``--name`` for ``register``)."""
    name = _given(ctx, "name")
    if not name:
        return []
    return [(alias, f"version {v}") for alias, v in _registry(ctx).get_aliases(name).items()]


def _tags(ctx: typer.Context) -> dict[str, str]:
    """The tags of the model named on the line, or of its ``--version``."""
    name = _given(ctx, "name")
    if not name:
        return {}
    registry = _registry(ctx)
    spec = _given(ctx, "version")
    if spec:
        return registry.resolve(parse_version_ref(name, spec)).tags
    return registry.get_registered_model(name).tags


@_safely
def tag_keys(ctx: typer.Context, incomplete: str) -> Candidates:
    """Keys of the tags already set (for ``tag delete``)."""
    return [(key, _short(value)) for key, value in _tags(ctx).items()]


@_safely
def tag_pairs(ctx: typer.Context, incomplete: str) -> Candidates:
    """``KEY=`` for the tags already set (for ``tag set``), to type the new value after."""
    keys = [f"{key}=" for key in _tags(ctx)]
    partial.update(keys)
    return list(keys)


def stages(ctx: typer.Context, incomplete: str) -> Candidates:
    """The legacy stages. The command takes any case, so the case already typed is kept."""
    return [
        incomplete + stage[len(incomplete) :]
        for stage in STAGES
        if stage.lower().startswith(incomplete.lower())
    ]


@_safely
def model_uris(ctx: typer.Context, incomplete: str) -> Candidates:
    """Model URIs, long (``models:/NAME/7``, ``models:/NAME@champion``) and short (``NAME/7``)."""
    registry = _registry(ctx)
    if SCHEME.startswith(incomplete) and incomplete != SCHEME:
        # nothing or part of the scheme typed: the scheme, or a model name for a short form
        found = [SCHEME, *_names(registry, incomplete)]
        partial.update(found)
        return list(found)
    prefix = SCHEME if incomplete.startswith(SCHEME) else ""
    rest = incomplete[len(prefix) :]
    if "@" in rest:
        name = rest.rpartition("@")[0]
        return [(f"{prefix}{name}@{a}", f"version {v}") for a, v in registry.get_aliases(name).items()]
    if "/" in rest:
        name = rest.rpartition("/")[0]
        specs = _version_specs(registry, name, with_at=False)
        return [(f"{prefix}{name}/{spec}", note) for spec, note in specs]
    names = [prefix + name for name in _names(registry, rest)]
    partial.update(names)
    return list(names)


def _short(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 60 else text[:59] + "…"
