"""The committed front-end bundle is exactly what js/ builds, and the JS unit tests pass."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "js"
STATIC = ROOT / "ecs_notebook" / "static"
SOURCES = ("package.json", "package-lock.json", "build.mjs", "src")

needs_npm = pytest.mark.skipif(
    shutil.which("npm") is None or shutil.which("node") is None,
    reason="npm/node not installed: cannot check that ecs_notebook/static matches js/ (CI installs Node 20)",
)


def run(cmd: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@needs_npm
@pytest.mark.slow
def test_committed_bundle_matches_a_clean_build(tmp_path):
    work = tmp_path / "js"
    work.mkdir()
    for name in SOURCES:
        src = JS / name
        if src.is_dir():
            shutil.copytree(src, work / name)
        else:
            shutil.copy2(src, work / name)
    run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], work)
    out = tmp_path / "out"
    run(["node", "build.mjs", "--outdir", str(out)], work)

    built = sorted(p.name for p in out.iterdir())
    committed = sorted(p.name for p in STATIC.iterdir() if not p.name.startswith("."))
    assert built == committed, f"bundle files differ: built {built}, committed {committed}"
    stale = [name for name in built if (out / name).read_bytes() != (STATIC / name).read_bytes()]
    assert not stale, f"ecs_notebook/static/{', '.join(stale)} is out of date with js/: run `cd js && npm ci && npm run build`"


@needs_npm
def test_js_unit_tests_pass():
    proc = run(["node", "--test", "js/test"], ROOT, timeout=120)
    assert "# fail 0" in proc.stdout


def test_bundle_loads_nothing_from_the_network():
    js = (STATIC / "explorer.js").read_text(encoding="utf-8")
    css = (STATIC / "explorer.css").read_text(encoding="utf-8")
    for needle in ('import("http', 'from"http', 'from "http', "@import", "url(http", "cdn.", "unpkg", "jsdelivr"):
        assert needle not in js + css, needle
    for name in ("index.js", "dom.js", "panel.js", "page.js"):
        assert "innerHTML" not in (JS / "src" / name).read_text(encoding="utf-8"), name
