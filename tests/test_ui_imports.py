"""Only ``mreg ui`` imports the page's code: Jinja2, markdown-it-py and ``mreg.ui`` stay out of
every other command (start-up is a feature)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from test_architecture import MODULES
from test_remotes_imports import modules_of

from mreg import Registry

UI_MODULES = ("jinja2", "markupsafe", "markdown_it", "mreg.ui")


def ui_modules(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == u or m.startswith(u + ".") for u in UI_MODULES))


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("ui", "--help"),
        ("resolve", "fraud@champion", "--field", "path"),
        ("models", "list"),
        ("models", "show", "fraud"),
        ("versions", "list"),
        ("versions", "show", "fraud", "1"),
        ("history", "fraud"),
        ("register", "SOURCE", "--name", "fraud"),
        ("fsck",),
    ],
)
def test_other_commands_import_none_of_the_page(
    registry: Registry, model_file: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    registry.create_model_version("fraud", model_file, aliases=["champion"], description="# Fraud")
    args = tuple(str(model_file) if a == "SOURCE" else a for a in args)
    found = ui_modules(modules_of(tmp_path, "--store", str(registry.root), *args))
    if "--help" in args:  # Typer's Rich help formatter brings markdown-it itself: not the page's doing
        found = [m for m in found if not m.startswith("markdown_it")]
    assert found == []


def test_export_imports_them(registry: Registry, model_file: Path, tmp_path: Path) -> None:
    registry.create_model_version("fraud", model_file, description="# Fraud")
    found = ui_modules(
        modules_of(tmp_path, "--store", str(registry.root), "ui", "export", str(tmp_path / "s"))
    )
    assert {"jinja2", "markdown_it", "mreg.ui.pages", "mreg.ui.export"} <= set(found)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at top level) for every import of a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, id(node) in top))
            found += [(f"{node.module}.{a.name}", id(node) in top) for a in node.names]
    return found


def test_no_other_module_imports_the_page() -> None:
    for module, path in MODULES.items():
        if module == "mreg.ui" or module.startswith("mreg.ui."):
            continue
        imported = _imports(path)
        page = [
            (m, top)
            for m, top in imported
            if m.split(".")[0] in ("jinja2", "markdown_it", "markupsafe")
            or m == "mreg.ui"
            or m.startswith("mreg.ui.")
        ]
        if module == "mreg.cli.ui":
            assert page and not [m for m, top in page if top], page  # only inside the commands
        else:
            assert page == [], module
