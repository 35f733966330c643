"""Write docs/ui-model.png, the screenshot of a model page that docs/ui.md and the README show.

    python scripts/ui_screenshot.py            write it
    python scripts/ui_screenshot.py --out X    write it elsewhere

It builds a small demo registry in a temporary folder (a model with a Markdown description, four
versions, two aliases that have moved, tags), exports it with ``mreg ui export`` and photographs
the model page from ``file://`` in the system's Chromium through Playwright (the test extra), with
the browser tests' arguments. Needs ``chromium`` installed (``.ci/run`` installs it). The result
is a PNG of a fixed viewport, kept small (well under 150 KB) because it is committed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from mreg import Registry  # noqa: E402

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

DESCRIPTION = """# Card fraud detector

Scores every card **transaction** in real time; anything above 0.8 goes to a reviewer.

- gradient-boosted trees, retrained every Monday on the last 90 days
- owned by the risk team (`#risk-ml`)
"""


def build_demo(top: Path) -> Path:
    """The demo registry; returns the store folder."""
    registry = Registry.init(top)
    artifacts = top / "artifacts"
    artifacts.mkdir()

    def version(n: int, user: str, **kwargs: object) -> None:
        os.environ["MREG_USER"] = user
        path = artifacts / f"model-{n}.onnx"
        path.write_bytes(os.urandom(1024 * n * 37))
        registry.create_model_version("fraud-detector", path, **kwargs)  # type: ignore[arg-type]

    version(1, "ana", run_id="4f1c2e9a", tags={"auc": "0.912"}, description="First model on 2025 data.")
    version(2, "ana", run_id="7b3d08c1", tags={"auc": "0.934"}, description="Adds merchant features.")
    version(3, "ben", run_id="a90e5f72", tags={"auc": "0.941", "validated": "yes"})
    version(4, "ben", run_id="c2d4e6f8", tags={"auc": "0.947"})
    os.environ["MREG_USER"] = "ana"
    registry.update_registered_model("fraud-detector", DESCRIPTION)
    registry.set_registered_model_tags("fraud-detector", {"team": "risk", "task": "classification"})
    registry.transition_model_version_stage("fraud-detector", 1, "Archived", False)
    registry.set_registered_model_alias("fraud-detector", "champion", 2, message="first release")
    os.environ["MREG_USER"] = "ben"
    registry.set_registered_model_alias(
        "fraud-detector", "champion", 3, message="better recall, same precision"
    )
    registry.set_registered_model_alias(
        "fraud-detector", "challenger", 4, message="shadow traffic from Monday"
    )
    path = artifacts / "iris.pkl"
    path.write_bytes(b"iris\n")
    registry.create_model_version("Iris Classifier", path, aliases=["champion"])
    return registry.root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "ui-model.png")
    options = parser.parse_args()
    chromium = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else shutil.which("chromium")
    if chromium is None:
        print("error: chromium is not installed", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        store = build_demo(Path(tmp) / "project")
        site = Path(tmp) / "site"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MREG_")}
        env["PYTHONPATH"] = str(REPO / "src")
        subprocess.run(
            [sys.executable, "-m", "mreg", "--store", str(store), "ui", "export", str(site)],
            check=True,
            env=env,
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto((site / "models" / "fraud-detector" / "index.html").as_uri())
            page.screenshot(path=str(options.out))
            browser.close()
    print(f"{options.out}: {options.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
