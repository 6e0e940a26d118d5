"""Real-browser fixtures: a private JupyterLab server and headless Chromium driven by Playwright.

The server runs on 127.0.0.1 with a random token, every Jupyter/IPython directory (and HOME) in a
temporary directory, and a temporary copy of ``explorer.ipynb`` as its notebook directory. The
browser may talk to that server only: every other request is aborted, so the explorer has to work
offline. Tests skip (with the reason) when Chromium, Playwright or JupyterLab is not installed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ARTIFACTS = ROOT / "test-artifacts"
NOTEBOOK = "explorer.ipynb"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: runs JupyterLab and headless Chromium (tests/browser)")


def chromium_path() -> str | None:
    """The Chromium to drive: $ECS_CHROMIUM, else the system one (never a Playwright download)."""
    for candidate in (os.environ.get("ECS_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def missing_requirement() -> str | None:
    if chromium_path() is None:
        return "Chromium not found (apt-get install chromium, or set ECS_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed (pip install -e '.[browser]')"
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "jupyterlab not installed (pip install -e '.[browser]')"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@dataclass
class Lab:
    url: str
    token: str
    notebook_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    def notebook_url(self, name: str = NOTEBOOK) -> str:
        return f"{self.url}lab/tree/{name}?token={self.token}"


@pytest.fixture(scope="session")
def browser_requirements() -> None:
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def jupyter_lab(browser_requirements: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A JupyterLab server of this venv, isolated in temporary directories."""
    base = tmp_path_factory.mktemp("lab")
    notebooks = base / "notebooks"
    notebooks.mkdir()
    shutil.copy2(HERE / NOTEBOOK, notebooks / NOTEBOOK)
    dirs = {name: base / name for name in ("home", "config", "data", "runtime", "ipython", "settings", "workspaces")}
    for d in dirs.values():
        d.mkdir()
    # No news, no update checks, no virtual scrolling of cells (the widget must stay in the DOM).
    _write_json(dirs["config"] / "jupyter_server_config.json", {"LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}})
    settings = dirs["settings"] / "@jupyterlab"
    _write_json(settings / "apputils-extension" / "notification.jupyterlab-settings", {"fetchNews": "false", "checkForUpdates": False})
    _write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"})
    token = secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(dirs["home"]),
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "ECS_NOTEBOOK_STORE": "memory://",
        "PYTHONUNBUFFERED": "1",
    }
    log = base / "lab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={notebooks}",
        "--allow-root",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=notebooks, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    lab = Lab(url, token, notebooks, proc, log)
    try:
        _wait_for_server(lab)
        yield lab
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_server(lab: Lab, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            pytest.fail(f"JupyterLab exited ({lab.process.returncode}):\n{lab.log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{lab.url}api/status?token={lab.token}", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"JupyterLab did not start in {timeout:.0f} s:\n{lab.log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="session")
def chromium(browser_requirements: None) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class PageWatch:
    """What a page did that it should not: dialogs, uncaught errors, console errors, outside requests."""

    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("console", lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None)


@dataclass
class Session:
    """An open, fully run fixture notebook."""

    page: Any
    lab: Lab
    watch: PageWatch
    printed: dict[str, str]


@pytest.fixture(scope="module")
def notebook(jupyter_lab: Lab, chromium: Any) -> Iterator[Session]:
    """The fixture notebook opened in JupyterLab, every cell run with the Run menu."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1100})
    watch = PageWatch()

    def only_the_lab(route: Any) -> None:
        if route.request.url.startswith(jupyter_lab.url):
            route.continue_()
        else:
            watch.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_lab)
    page = context.new_page()
    watch.attach(page)
    page.goto(jupyter_lab.notebook_url())
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    wait_for_kernel_idle(page)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    out = cell_output(page, 4, "MALLORY")
    printed = dict(line.split(" ", 1) for line in out.strip().splitlines())
    page.wait_for_selector(".ecs-explorer[data-ecs-ready='1']", timeout=30_000)
    try:
        yield Session(page, jupyter_lab, watch, printed)
    finally:
        context.close()


def wait_for_kernel_idle(page: Any, timeout: float = 60_000) -> None:
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout)


def cell_output(page: Any, index: int, expect: str, timeout: float = 30_000) -> str:
    """The text output of code cell ``index`` (0-based among all cells), once it contains ``expect``."""
    locator = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea-output")
    locator.filter(has_text=expect).first.wait_for(timeout=timeout)
    return str(locator.all_inner_texts()[-1]) if locator.count() == 1 else "\n".join(locator.all_inner_texts())


def run_new_cell(page: Any, code: str, expect: str, timeout: float = 30_000) -> str:
    """Add a code cell at the end of the notebook, run it, and return its output (once it contains ``expect``)."""
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    n = cells.count()
    cells.nth(n - 1).locator(".jp-InputPrompt").click()  # select the last cell (command mode)
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # insert a cell below and select it
    page.wait_for_function(f"document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length === {n + 1}")
    page.keyboard.press("Enter")  # edit mode
    page.keyboard.insert_text(code)  # as one input event: no auto-closed brackets or auto-indent
    page.keyboard.press("Shift+Enter")
    return cell_output(page, n, expect, timeout)


def node_point(page: Any, node_id: str) -> dict[str, float]:
    """Page coordinates of a node's centre, from the network's own canvas-to-DOM transform."""
    return page.evaluate(
        """(id) => {
            const el = document.querySelector('.ecs-explorer');
            const net = el.ecsNetwork;
            const p = net.canvasToDOM(net.getPosition(id));
            const box = el.querySelector('.ecs-canvas canvas').getBoundingClientRect();
            return {x: box.left + p.x, y: box.top + p.y};
        }""",
        node_id,
    )


def screenshot(page_or_locator: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page_or_locator.screenshot(path=str(path))
    return path
