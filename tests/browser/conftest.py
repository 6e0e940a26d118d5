"""Real-browser fixtures: a private JupyterLab server and headless Chromium driven by Playwright.

The server runs on 127.0.0.1 with a random token, every Jupyter/IPython directory (and HOME) in a
temporary directory, and a temporary copy of ``explorer.ipynb`` as its notebook directory. The
browser may talk to that server only: every other request is aborted, so the explorer has to work
offline. Tests skip (with the reason) when Chromium, Playwright or JupyterLab is not installed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import (
    CHROMIUM_ARGS,
    HERE,
    NOTEBOOK,
    ROOT,
    STUB_ORIGIN,
    STUB_PAGE,
    Lab,
    PageWatch,
    Session,
    Stub,
    cell_output,
    chromium_path,
    missing_requirement,
    running_lab,
    wait_for_kernel_idle,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: runs JupyterLab and headless Chromium (tests/browser)")


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
    with running_lab(base, notebooks) as lab:
        yield lab


@pytest.fixture(scope="module")
def chromium(browser_requirements: None) -> Iterator[Any]:
    # Module scope, not session: while Playwright's sync API is active the main thread has a running
    # asyncio loop, which would break every later test that calls asyncio.run().
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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
    # More room for the notebook: collapse the file browser (click its active sidebar tab).
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    out = cell_output(page, 4, "MALLORY")
    printed = dict(line.split(" ", 1) for line in out.strip().splitlines())
    page.wait_for_selector(".ecs-explorer[data-ecs-ready='1']", timeout=30_000)
    try:
        yield Session(page, jupyter_lab, watch, printed)
    finally:
        context.close()


@pytest.fixture(scope="module")
def stub_page(chromium: Any) -> Iterator[Any]:
    static = ROOT / "ecs_notebook" / "static"

    def serve(route: Any) -> None:
        url = route.request.url
        name = url[len(STUB_ORIGIN) :] if url.startswith(STUB_ORIGIN) else ""
        if name == "index.html":
            route.fulfill(body=STUB_PAGE, content_type="text/html")
        elif name in ("explorer.js", "explorer.css"):
            route.fulfill(path=str(static / name), content_type="text/javascript" if name.endswith(".js") else "text/css")
        else:
            route.abort()

    context = chromium.new_context(viewport={"width": 1140, "height": 700})
    context.route("**/*", serve)
    page = context.new_page()
    page.goto(STUB_ORIGIN + "index.html")
    page.wait_for_function("() => window.bundleLoaded === true")
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def stub(stub_page: Any) -> Iterator[Stub]:
    """The bundle page, with what it does wrong recorded during one test."""
    watch = PageWatch()
    watch.attach(stub_page)
    yield Stub(stub_page, watch)
    stub_page.evaluate("() => { if (window.cleanup) { window.cleanup(); window.cleanup = null; } }")
    stub_page.remove_listener("dialog", watch.on_dialog)
    stub_page.remove_listener("pageerror", watch.on_page_error)
    stub_page.remove_listener("console", watch.on_console)
    assert watch.page_errors == [] and watch.console_errors == [] and watch.dialogs == []
