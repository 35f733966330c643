"""The shape of the code, as docs/architecture.md describes it: imports flow one way with no
cycle, and only ``mreg.store`` builds a path inside the store."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO

SRC = REPO / "src" / "mreg"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str) -> Iterator[str]:
    """Every mreg module ``module`` imports when it runs (at import time or inside a function);
    imports under ``if TYPE_CHECKING:`` are for the type checker only and do not count."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in MODULES else base
        stack.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {m for m in _imports(tree, module) if m in MODULES and m != module and m != "mreg"}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, …, a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_src_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "mreg.registry" in graph and "mreg.store.store" in graph["mreg.registry"]
    assert find_cycle(graph) is None


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        ("mreg.store", "mreg.registry"),
        ("mreg.store", "mreg.cli"),
        ("mreg.store", "mreg.fsck"),
        ("mreg.fsck", "mreg.registry"),
        ("mreg.gc", "mreg.registry"),
        ("mreg.registry", "mreg.cli"),
        ("mreg.search", "mreg.registry"),
        ("mreg.history", "mreg.registry"),
    ],
)
def test_data_flows_one_way(lower: str, upper: str) -> None:
    """cli → registry → store: nothing below imports what sits above it."""
    graph = import_graph()
    for module, targets in graph.items():
        if module == lower or module.startswith(lower + "."):
            assert not [t for t in targets if t == upper or t.startswith(upper + ".")], module


def test_nothing_below_the_cli_imports_typer_or_rich() -> None:
    for module, path in MODULES.items():
        if module.startswith("mreg.cli"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            n.module if isinstance(n, ast.ImportFrom) else a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in n.names
        }
        assert not {m for m in imported if m and m.split(".")[0] in ("typer", "rich", "click")}, module


# ------------------------------------------------------------------------------ store paths

# What a hand-built path inside the store looks like: a fragment of the layout in a string (an
# f-string part too), or a path joined with one of the layout's names.
_STORE_FRAGMENT = re.compile(
    r"(^|/)(models|objects/sha256|history|versions|aliases|cache|trash|tmp)/|^(config\.toml|\.gitignore|"
    r"\.gitattributes|model\.toml)$"
)
_JOINED_NAMES = {
    "models",
    "objects",
    "sha256",
    "history",
    "versions",
    "aliases",
    "cache",
    "trees",
    "trash",
    "tmp",
}


def hand_built_store_paths(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string that builds a store path by hand; docstrings do not count."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and side.value in _JOINED_NAMES:
                    found.append((node.lineno, f"/ {side.value!r}"))
        is_text = (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        )
        if is_text and "\n" not in node.value and _STORE_FRAGMENT.search(node.value):
            found.append((node.lineno, node.value))
    return found


def test_the_path_check_catches_hand_built_paths() -> None:
    source = '''
def f(root, name):
    """Reads models/<name>/model.toml."""
    a = root / "models" / name
    b = f"models/{name}/versions/1.toml"
    c = root / "config.toml"
    return a, b, c
'''
    found = [text for _, text in hand_built_store_paths(source)]
    assert "/ 'models'" in found
    assert "models/" in found and "/versions/1.toml" in found
    assert "config.toml" in found
    assert hand_built_store_paths('def g():\n    """models/x/versions"""\n    return "ok"\n') == []


def test_only_the_store_builds_store_paths() -> None:
    """``store/layout.py`` builds and parses every path inside ``.mreg/``; the rest of ``store/``
    uses it, and no module outside ``store/`` joins a path under the store by hand."""
    offenders = {}
    for module, path in MODULES.items():
        if module.startswith("mreg.store"):
            continue
        found = hand_built_store_paths(path.read_text(encoding="utf-8"))
        if found:
            offenders[module] = found
    assert offenders == {}
