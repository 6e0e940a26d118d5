"""Helpers of the real-browser tests: Chromium lookup, the JupyterLab server, notebook and page helpers.

Plain functions and classes (the fixtures are in ``conftest.py``); test modules import them as
``browser_support``.
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
from contextlib import contextmanager
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


def write_json(path: Path, data: Any) -> None:
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


def wait_for_server(lab: Lab, timeout: float = 60) -> None:
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


@contextmanager
def running_lab(base: Path, notebooks: Path) -> Iterator[Lab]:
    """JupyterLab of this venv serving ``notebooks``, every Jupyter/IPython directory (and HOME) under ``base``.

    No news, no update checks, no virtual scrolling of cells (the widget must stay in the DOM), the
    in-memory lineage store; stopped on exit.
    """
    dirs = {name: base / name for name in ("home", "config", "data", "runtime", "ipython", "settings", "workspaces")}
    for d in dirs.values():
        d.mkdir()
    write_json(
        dirs["config"] / "jupyter_server_config.json",
        {"LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}},
    )
    settings = dirs["settings"] / "@jupyterlab"
    write_json(settings / "apputils-extension" / "notification.jupyterlab-settings", {"fetchNews": "false", "checkForUpdates": False})
    write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"})
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
    lab = Lab(f"http://127.0.0.1:{port}/", token, notebooks, proc, log)
    try:
        wait_for_server(lab)
        yield lab
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class PageWatch:
    """What a page did that it should not: dialogs, uncaught errors, console errors, outside requests."""

    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("dialog", self.on_dialog)
        page.on("pageerror", self.on_page_error)
        page.on("console", self.on_console)

    def on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_page_error(self, exc: Any) -> None:
        self.page_errors.append(str(exc))

    def on_console(self, msg: Any) -> None:
        if msg.type == "error":
            self.console_errors.append(msg.text)


@dataclass
class Session:
    """An open, fully run fixture notebook."""

    page: Any
    lab: Lab
    watch: PageWatch
    printed: dict[str, str]


def wait_for_kernel_idle(page: Any, timeout: float = 60_000) -> None:
    """Until the notebook's kernel (not "No Kernel") is started and idle."""
    page.wait_for_function(
        """() => {
            const status = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');
            const name = document.querySelector('.jp-NotebookPanel .jp-KernelName, .jp-NotebookPanel [data-jp-item-name=kernelName]');
            return Boolean(name && name.textContent.includes('Python') && status && status.dataset.status === 'idle');
        }""",
        timeout=timeout,
    )


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


# -- the bundle alone, with a stub anywidget model (no JupyterLab) ------------------------------

STUB_ORIGIN = "http://explorer.stub.invalid/"


STUB_PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="explorer.css"></head>
<body style="margin:0;padding:8px"><div id="out" style="width:1100px"></div>
<script type="module">
import widget from "./explorer.js";
// What anywidget gives render(): get/set (set fires change:<name> locally), save_changes, on/off.
class StubModel {
  constructor(state) { this.state = state; this.listeners = {}; this.saved = 0; }
  get(k) { return this.state[k]; }
  set(k, v) { this.state[k] = v; for (const cb of [...(this.listeners["change:" + k] || [])]) cb(); }
  save_changes() { this.saved += 1; }
  on(e, cb) { (this.listeners[e] ||= []).push(cb); }
  off(e, cb) { this.listeners[e] = (this.listeners[e] || []).filter((x) => x !== cb); }
  listenerCount() { return Object.values(this.listeners).reduce((n, l) => n + l.length, 0); }
}
window.start = (state) => {
  window.model = new StubModel(state);
  window.cleanup = widget.render({ model: window.model, el: document.getElementById("out") });
};
window.bundleLoaded = true;
</script></body></html>"""


def widget_state(payload: dict[str, Any], **traits: Any) -> dict[str, Any]:
    """The synced state of a LineageExplorer showing ``payload``, as the front end receives it."""
    state = {
        "graph": payload,
        "selected": "",
        "focus": payload["focus"] or "",
        "depth": payload["depth"],
        "direction": payload["direction"],
        "filters": {},
        "expand": [],
        "details": {},
        "error": "",
        "status": "",
        "filter_options": {"types": [], "functions": []},
        "export_request": 0,
    }
    state.update(traits)
    return state


class Stub:
    """A page with the committed bundle loaded; ``render(state)`` draws a fresh view."""

    def __init__(self, page: Any, watch: PageWatch) -> None:
        self.page = page
        self.watch = watch

    def render(self, state: dict[str, Any]) -> None:
        self.page.evaluate("(s) => { document.getElementById('out').replaceChildren(); window.start(s); }", state)
        self.page.wait_for_selector(".ecs-explorer[data-ecs-ready='1']", timeout=15_000)

    def model(self, name: str) -> Any:
        return self.page.evaluate("(k) => window.model.get(k)", name)

    def set(self, name: str, value: Any) -> None:
        """What a trait change from Python does: the model's value changes, change:<name> fires."""
        self.page.evaluate("([k, v]) => window.model.set(k, v)", [name, value])
