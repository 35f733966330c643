"""``mreg ui export DIR``: the pages as static files, for ``file://`` and any static host.

The same tree as the server's URLs, with ``index.html`` in each folder and every link relative.
The export is written into a new folder beside DIR and renamed to DIR at the end, so a failed or
interrupted export leaves DIR as it was (nothing half-written); ``--force`` replaces an existing
DIR. Nothing is written anywhere else, and a DIR at, in or around the store (or the project that
holds it) is refused as ``mreg get`` refuses such a destination.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mreg import history
from mreg.destination import check_destination
from mreg.errors import AlreadyExists, InvalidInput, NotFound
from mreg.store import files
from mreg.ui import pages, reading

if TYPE_CHECKING:
    from mreg.registry import Registry


@dataclass(frozen=True)
class ExportReport:
    path: Path
    models: int
    versions: int
    files: int
    problems: tuple[str, ...] = ()


class _Writer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = 0

    def page(self, segments: list[str], html: str) -> None:
        folder = self.root.joinpath(*segments)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / pages.INDEX).write_text(html, encoding="utf-8")
        self.files += 1

    def raw(self, segments: list[str], data: bytes) -> None:
        target = self.root.joinpath(*segments)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.files += 1


@files.scanning()
def write_site(registry: Registry, root: Path) -> ExportReport:
    """Every page of the registry under ``root`` (an empty folder)."""
    out = _Writer(root)
    models, problems = pages.all_models(registry, None)
    out.page([], pages.models_html(models, pages.Links(0, pages.INDEX), export=True, problems=problems))
    for file, data in pages.static_files():
        out.raw([pages.STATIC_SEGMENT, file], data)
    model_links = pages.Links(2, pages.INDEX)
    version_links = pages.Links(4, pages.INDEX)
    history_links = pages.Links(3, pages.INDEX)
    total = 0
    store_level = registry.store.events(None)  # read once: each model's history takes its own
    for model in models:
        name = pages.model_name(model.name)  # a valid name: one folder, nothing outside root
        base = [pages.MODELS_SEGMENT, name]
        versions = reading.versions_of(registry, model)
        total += len(versions)
        out.page(base, pages.model_html(model, versions, model_links, export=True))
        for mv in versions:
            out.page(
                [*base, pages.VERSIONS_SEGMENT, str(mv.version)],
                pages.version_html(mv, version_links, export=True),
            )
        events = reading.model_events(registry.store, name, store_level)
        spans = history.alias_spans(events)  # what get_alias_history gives, without a second read
        out.page(
            [*base, pages.HISTORY_SEGMENT],
            pages.history_html(name, events, spans, history_links, export=True),
        )
    return ExportReport(root, len(models), total, out.files, tuple(problems))


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)


def export(registry: Registry, dest: Path, *, force: bool = False) -> ExportReport:
    """Write the pages to ``dest`` as a whole (see the module's docstring)."""
    check_destination(registry.root, dest)
    target = Path(os.path.abspath(dest))
    if target.parent == target:
        raise InvalidInput(f"refusing to export to {dest}: give a folder to create")
    if not target.parent.is_dir():
        raise NotFound(f"folder {target.parent} does not exist")
    if os.path.lexists(target) and not force:
        raise AlreadyExists(f"{dest} already exists (give --force to replace it)")
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".export-tmp", dir=target.parent))
    old: Path | None = None
    try:
        umask = os.umask(0)
        os.umask(umask)
        work.chmod(0o777 & ~umask)  # mkdtemp makes it private; a published site is read by others
        report = write_site(registry, work)
        if os.path.lexists(target):
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.rmdir(old)
            os.rename(target, old)
        os.rename(work, target)
    except BaseException:
        if old is not None and not os.path.lexists(target):
            os.rename(old, target)
            old = None
        shutil.rmtree(work, ignore_errors=True)
        raise
    if old is not None:
        _remove(old)
    return ExportReport(target, report.models, report.versions, report.files, report.problems)
