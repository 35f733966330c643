"""The shape of the fast paths, checked without a clock (timings live in benchmarks/).

* A command imports only what it needs: `mreg resolve` pulls in no Rich, no file lock and none of
  the other commands' modules (the subcommands are built on demand by ``cli.app.MregGroup``);
  `mreg --version` loads no registry at all, and `import mreg` loads each public name on first use.
* `resolve` and `alias set` touch the same files on a small store and on a larger one: they read
  the files the request names and never list a folder that grows with the store.
* Registering hashes and copies the artifact, and asks git about the tree, before taking the lock.
"""

from __future__ import annotations

import builtins
import io
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import typer

from mreg import Registry
from mreg import __version__ as mreg_version
from mreg.cli import app as app_module
from mreg.cli.app import COMMANDS, MregGroup, app
from mreg.store import objects

# Runs the command line like the `mreg` script does, then writes the names of every module the
# process imported to the file named by its first argument.
MODULES_DRIVER = """
import sys
out = sys.argv.pop(1)
from mreg.cli.app import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
with open(out, "w", encoding="utf-8") as handle:
    handle.write("\\n".join(sorted(sys.modules)))
sys.exit(code)
"""

COMMAND_MODULES = sorted({target.partition(":")[0] for target in COMMANDS.values()})


def imported_modules(tmp_path: Path, cwd: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.txt"
    proc = subprocess.run(
        [sys.executable, "-c", MODULES_DRIVER, str(out), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return set(out.read_text(encoding="utf-8").splitlines())


def heavy(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.startswith(prefixes))


@pytest.fixture
def small_store(registry: Registry, model_file: Path) -> Registry:
    for _ in range(3):
        registry.create_model_version("fraud", model_file)
    registry.set_registered_model_alias("fraud", "champion", 2)
    registry.set_registered_model_alias("fraud", "challenger", 3)
    return registry


@pytest.mark.slow
def test_resolve_imports_no_rich_no_lock_and_no_other_command(
    small_store: Registry, isolated: Path, tmp_path: Path
) -> None:
    modules = imported_modules(tmp_path, isolated, "resolve", "fraud@champion", "--field", "path")
    assert "mreg.cli.resolve" in modules  # the driver really ran the command
    assert heavy(modules, ("rich", "pydantic", "filelock", "mreg.cli.render")) == []
    others = [m for m in COMMAND_MODULES if m != "mreg.cli.resolve"]
    assert sorted(modules & set(others)) == []


@pytest.mark.slow
def test_alias_set_imports_no_rich_and_only_its_own_commands(
    small_store: Registry, isolated: Path, tmp_path: Path
) -> None:
    modules = imported_modules(tmp_path, isolated, "alias", "set", "fraud", "champion", "3")
    assert small_store.get_aliases("fraud")["champion"] == 3
    assert heavy(modules, ("rich", "pydantic", "mreg.cli.render")) == []
    # `alias set` reads a version spec through versions.lookup; nothing else is built
    allowed = {"mreg.cli.alias", "mreg.cli.versions"}
    assert sorted((modules & set(COMMAND_MODULES)) - allowed) == []


@pytest.mark.slow
def test_piped_listing_imports_no_rich(small_store: Registry, isolated: Path, tmp_path: Path) -> None:
    modules = imported_modules(tmp_path, isolated, "versions", "list", "fraud")
    assert heavy(modules, ("rich", "mreg.cli.render")) == []


# What `mreg --version` may import of mreg: the package, the app and what the app's module needs.
VERSION_MODULES = {"mreg", "mreg.cli", "mreg.cli.app", "mreg.cli.options"}


@pytest.mark.slow
@pytest.mark.parametrize("args", [("--version",), ("--debug", "--version")])
def test_version_imports_no_registry_and_no_command(
    isolated: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    modules = imported_modules(tmp_path, isolated, *args)
    # With another option first, the root command is built (and its options named as the docs
    # name them): that is the one module more.
    expected = VERSION_MODULES | ({"mreg.cli.helptext"} if args[0] == "--debug" else set())
    assert {m for m in modules if m == "mreg" or m.startswith("mreg.")} == expected
    assert heavy(modules, ("rich", "filelock", "dataclasses", "tomllib", "tomli_w", "json")) == []


@pytest.mark.parametrize("args", [("--version",), ("--debug", "--version")])
def test_version_prints_the_same_line_on_the_short_and_the_typer_path(
    isolated: Path, args: tuple[str, ...]
) -> None:
    code = "import sys; from mreg.cli.app import main; sys.exit(main())"
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"mreg {mreg_version}\n", "")


@pytest.mark.slow
def test_resolve_imports_no_search_no_maintenance_and_does_not_hash(
    small_store: Registry, isolated: Path, tmp_path: Path
) -> None:
    modules = imported_modules(tmp_path, isolated, "resolve", "fraud@champion", "--field", "version")
    assert "mreg.cli.resolve" in modules
    unwanted = ("mreg.search", "mreg.fsck", "mreg.gc", "mreg.diff", "mreg.gitmerge", "mreg.cli.shells")
    assert heavy(modules, (*unwanted, "hashlib", "json", "queue")) == []


def test_importing_mreg_loads_nothing_until_a_name_is_used() -> None:
    code = (
        "import sys, mreg\n"
        "print(sorted(m for m in sys.modules if m.startswith('mreg')))\n"
        "print(mreg.Registry.__module__, mreg.NotFound.__module__, mreg.PagedList.__module__)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["['mreg']", "mreg.registry mreg.errors mreg.search"]


def test_every_public_name_of_mreg_is_the_object_of_its_module() -> None:
    import importlib

    import mreg

    for name in mreg.__all__:
        value = getattr(mreg, name)
        if name != "__version__":
            assert getattr(importlib.import_module(mreg._EXPORTS[name]), name) is value
    assert set(mreg.__all__) <= set(dir(mreg))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = mreg.nothing  # type: ignore[attr-defined]


# -------------------------------------------------------------------------- the lazy command group


def test_help_lists_every_command_with_its_summary(cli: Any) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for name, target in COMMANDS.items():
        module, _, attribute = target.partition(":")
        obj = getattr(__import__(module, fromlist=[attribute]), attribute)
        summary = obj.info.help if isinstance(obj, typer.Typer) else obj.__doc__.splitlines()[0]
        assert re.search(rf"│ {re.escape(name)} +{re.escape(summary[:30])}", result.stdout), name


def test_walking_the_click_command_sees_every_command_in_order() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, MregGroup)
    assert list(group.commands) == list(COMMANDS)
    assert {name: cmd.name for name, cmd in group.commands.items()} == {n: n for n in COMMANDS}
    assert typer.main.get_command(app).commands["alias"].commands["set"].name == "set"  # type: ignore[attr-defined]


def test_a_command_is_built_only_when_it_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real = app_module.build_command

    def spy(name: str, target: str) -> Any:
        built.append(name)
        return real(name, target)

    monkeypatch.setattr(app_module, "build_command", spy)
    group = typer.main.get_command(app)
    ctx = group.make_context("mreg", ["resolve", "x@y"], resilient_parsing=True)
    assert group.list_commands(ctx) == list(COMMANDS)
    assert built == []
    assert group.get_command(ctx, "resolve") is not None
    assert group.get_command(ctx, "no-such-command") is None
    assert built == ["resolve"]


def test_eagerly_registered_commands_still_work_beside_the_lazy_ones(cli: Any) -> None:
    extra = typer.Typer(cls=MregGroup)

    @extra.callback()
    def root() -> None:
        pass

    @extra.command("ping")
    def ping() -> None:
        """Answer pong."""
        typer.echo("pong")

    group = typer.main.get_command(extra)
    assert list(group.commands) == [*COMMANDS, "ping"]  # type: ignore[attr-defined]
    result = cli.runner.invoke(extra, ["ping"])
    assert (result.exit_code, result.stdout) == (0, "pong\n")


def test_unknown_command_still_suggests_the_close_one(cli: Any) -> None:
    result = cli("aliass")
    assert result.exit_code == 2
    assert "Did you mean 'alias'?" in result.stderr


# ------------------------------------------------------------------------ files read per request

TEMP_RE = re.compile(r"\.[0-9a-f]{8}\.tmp$")
EVENT_RE = re.compile(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{6}")


@contextmanager
def file_access_log(root: Path) -> Iterator[list[tuple[str, str]]]:
    """Every (operation, path relative to ``root``) of opens and listings under ``root``, with
    random temp-file and event names made comparable."""
    accesses: list[tuple[str, str]] = []
    prefix = str(root) + os.sep

    def record(operation: str, path: Any) -> None:
        if isinstance(path, int):
            return
        text = os.fsdecode(os.fspath(path))
        if text.startswith(prefix):
            rel = EVENT_RE.sub("EVENT", TEMP_RE.sub(".TEMP.tmp", text[len(prefix) :]))
            accesses.append((operation, rel))

    def wrap(operation: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def spy(path: Any, *args: Any, **kwargs: Any) -> Any:
            record(operation, path)
            return real(path, *args, **kwargs)

        return spy

    patches = [
        (os, "open", wrap("open", os.open)),
        (io, "open", wrap("open", io.open)),
        (builtins, "open", wrap("open", builtins.open)),
        (os, "listdir", wrap("list", os.listdir)),
        (os, "scandir", wrap("list", os.scandir)),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    try:
        for module, name, spy in patches:
            setattr(module, name, spy)
        yield accesses
    finally:
        for module, name, real in saved:
            setattr(module, name, real)


# Folders whose entries grow with the store: listing one to answer a request costs time in
# proportion to the store (the same number of calls on any store would not show it).
GROWING_FOLDERS = {"models", "models/fraud/versions", "models/fraud/history", "objects/sha256", "history"}


def listed_folders(accesses: list[tuple[str, str]]) -> set[str]:
    return {path for operation, path in accesses if operation == "list"}


def build_store(root: Path, model_file: Path, *, fraud_versions: int, other_models: int) -> Path:
    registry = Registry.init(root)
    for _ in range(fraud_versions):
        registry.create_model_version("fraud", model_file)
    registry.set_registered_model_alias("fraud", "champion", 2)
    registry.set_registered_model_alias("fraud", "challenger", 3)
    for index in range(other_models):
        for _ in range(2):
            registry.create_model_version(f"other-{index}", f"s3://bucket/other-{index}")
        registry.set_registered_model_alias(f"other-{index}", "champion", 1)
    return registry.root


def accesses_of(root: Path, operation: Callable[[Registry], object]) -> list[tuple[str, str]]:
    with file_access_log(root) as accesses:
        operation(Registry(root))
    return accesses


def resolve_path(registry: Registry) -> Path:
    return registry.artifact_path(registry.resolve("models:/fraud@champion"))


def resolve_version(registry: Registry) -> Path:
    return registry.artifact_path(registry.resolve("fraud/3"))


def move_alias(registry: Registry) -> None:
    registry.set_registered_model_alias("fraud", "champion", 3)


@pytest.mark.parametrize("operation", [resolve_path, resolve_version, move_alias])
def test_reads_and_writes_do_not_grow_with_the_store(
    operation: Callable[[Registry], object], isolated: Path, model_file: Path
) -> None:
    small = build_store(isolated / "small", model_file, fraud_versions=3, other_models=1)
    large = build_store(isolated / "large", model_file, fraud_versions=30, other_models=12)
    on_small = accesses_of(small, operation)
    on_large = accesses_of(large, operation)
    assert on_small == on_large
    assert any(op == "open" for op, _ in on_small)  # the spy saw the reads
    assert listed_folders(on_large) & GROWING_FOLDERS == set()


def test_cli_resolve_and_alias_set_read_the_same_files_on_any_store_size(
    cli: Any, isolated: Path, model_file: Path
) -> None:
    small = build_store(isolated / "small", model_file, fraud_versions=3, other_models=1)
    large = build_store(isolated / "large", model_file, fraud_versions=30, other_models=12)
    seen = []
    for root in (small, large):
        store = ("--store", str(root))
        with file_access_log(root) as accesses:
            assert cli(*store, "resolve", "fraud@champion", "-f", "path").exit_code == 0
            assert cli(*store, "alias", "set", "fraud", "champion", "@challenger").exit_code == 0
        seen.append(accesses)
    assert seen[0] == seen[1]
    assert listed_folders(seen[1]) & GROWING_FOLDERS == set()


# ------------------------------------------------------------------------------ the lock is short


def test_register_hashes_copies_and_asks_git_before_taking_the_lock(
    registry: Registry, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subprocess.run(["git", "init", "-q"], cwd=isolated, check=True)
    artifact = isolated / "export"
    artifact.mkdir()
    (artifact / "a.bin").write_bytes(b"a" * 5000)
    (artifact / "b.bin").write_bytes(b"b" * 5000)
    held = {"now": False}
    heavy_calls: list[tuple[str, bool]] = []
    inner = registry.store.lock

    class WatchedLock:
        def __enter__(self) -> None:
            inner.__enter__()
            held["now"] = True

        def __exit__(self, *exc: object) -> None:
            held["now"] = False
            inner.__exit__(*exc)  # type: ignore[arg-type]

    def watch(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def spy(*args: Any, **kwargs: Any) -> Any:
            heavy_calls.append((name, held["now"]))
            return real(*args, **kwargs)

        return spy

    versions_dir = str(registry.store.layout.versions_dir("fraud"))

    def listdir(path: Any) -> list[str]:
        if os.fspath(path) == versions_dir:
            heavy_calls.append(("list versions", held["now"]))
        return real_listdir(path)

    real_listdir = os.listdir
    registry.create_model_version("fraud", artifact)
    monkeypatch.setattr(registry.store, "lock", WatchedLock())
    monkeypatch.setattr(objects, "_copy_hashing", watch("copy", objects._copy_hashing))
    monkeypatch.setattr(subprocess, "run", watch("git", subprocess.run))
    monkeypatch.setattr(os, "listdir", listdir)
    assert registry.create_model_version("fraud", artifact).version == 2
    assert [name for name, _ in heavy_calls] == ["copy", "copy", "git", "list versions"]
    assert [name for name, under_lock in heavy_calls if under_lock] == []


def test_versions_registered_between_the_listing_and_the_lock_are_not_reused(
    registry: Registry, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        registry.create_model_version("fraud", model_file)
    # the listing saw version 1 only: versions 2 and 3 were registered by others before the lock
    monkeypatch.setattr(registry.store, "version_numbers", lambda name: [1])
    assert registry.create_model_version("fraud", model_file).version == 4


def test_a_model_recreated_between_the_listing_and_the_lock_counts_from_its_own_versions(
    registry: Registry, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        registry.create_model_version("fraud", model_file)
    registry.delete_registered_model("fraud")
    registry.create_model_version("fraud", model_file)
    real = registry.store.version_numbers
    listings = [[1, 2, 3, 4, 5]]  # the first listing was made before the old model was deleted

    def version_numbers(name: str) -> list[int]:
        return listings.pop() if listings else real(name)

    monkeypatch.setattr(registry.store, "version_numbers", version_numbers)
    assert registry.create_model_version("fraud", model_file).version == 2
    assert listings == []
