"""The explorer in real JupyterLab and headless Chromium: drawing, selection, live updates, safety, export."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, node_point, run_new_cell, screenshot

pytestmark = pytest.mark.browser

EXPLORER = ".ecs-explorer"


def drawn_count(page) -> int:
    return int(page.get_attribute(EXPLORER, "data-node-count"))


def show_explorer(page) -> None:
    page.locator(EXPLORER).scroll_into_view_if_needed()


def click_node(page, node_id: str, double: bool = False) -> None:
    show_explorer(page)
    p = node_point(page, node_id)
    if double:
        page.mouse.dblclick(p["x"], p["y"])
    else:
        page.mouse.click(p["x"], p["y"])


def test_explorer_draws_the_lineage_of_the_session(notebook):
    page, printed = notebook.page, notebook.printed
    el = page.locator(EXPLORER)
    assert el.get_attribute("data-ecs-ready") == "1"
    assert drawn_count(page) == int(printed["NODES"]) == 11
    ids = page.evaluate("() => document.querySelector('.ecs-explorer').ecsNetwork.body.data.nodes.getIds()")
    assert printed["ADA"] in ids and printed["MALLORY"] in ids  # front-end ids are the payload's ecs_ids
    canvas = el.locator(".ecs-canvas canvas")
    box = canvas.bounding_box()
    assert box["width"] > 300 and box["height"] > 300
    show_explorer(page)
    screenshot(page, "lab-explorer.png")


def test_clicking_a_node_selects_it_in_the_kernel_and_shows_details(notebook):
    page, ada = notebook.page, notebook.printed["ADA"]
    click_node(page, ada)
    details = page.locator(f"{EXPLORER} .ecs-details")
    details.wait_for(state="visible")
    # Ada has two versions (curve() made the second): labels carry the version number.
    page.wait_for_function("() => /^Student Ada v[12]$/.test(document.querySelector('.ecs-explorer .ecs-details h3')?.textContent)")
    text = details.inner_text().lower()
    assert "provenance" in text and "versions (2)" in text and "course algebra @" in text
    assert page.evaluate("() => document.querySelector('.ecs-explorer').ecsNetwork.getSelectedNodes()") == [ada]

    out = run_new_cell(page, 'print("SELECTED", explorer.selected, type(explorer.selected_entity).__name__)', "SELECTED")
    assert out.split() == ["SELECTED", ada, "Student"]

    show_explorer(page)
    page.locator(f"{EXPLORER} .ecs-legend summary").click()  # open the legend for the picture
    page.locator(f"{EXPLORER} .ecs-fit").click()  # the details panel took width: fit the graph again
    page.mouse.move(5, 5)  # no tooltip in it
    page.wait_for_timeout(400)  # the fit animation
    screenshot(page.locator(EXPLORER), "lab-explorer-selected.png")  # docs/explorer.png is a copy of this one
    page.locator(f"{EXPLORER} .ecs-legend summary").click()


def view_state(page) -> dict:
    return page.evaluate(
        """() => { const net = document.querySelector('.ecs-explorer').ecsNetwork;
                   return {position: net.getViewPosition(), scale: net.getScale(), selected: net.getSelectedNodes()}; }"""
    )


def test_an_execution_in_a_new_cell_grows_the_graph_without_reload(notebook):
    page, ada = notebook.page, notebook.printed["ADA"]
    click_node(page, ada)
    page.wait_for_function(f"() => document.querySelector('.ecs-explorer').ecsNetwork.getSelectedNodes()[0] === '{ada}'")
    page.evaluate("() => { window.__sameDocument = true; }")
    before = drawn_count(page)
    view = view_state(page)
    out = run_new_cell(
        page,
        'again = CallableRegistry.execute("analyze", student=ada)\nprint("NOW", len(explorer.graph["nodes"]), again.ecs_id)',
        "NOW",
    )
    _, now, new_report = out.split()
    assert int(now) == before + 2  # the execution and the report it made
    page.wait_for_function(f"() => document.querySelector('.ecs-explorer').getAttribute('data-node-count') === '{now}'", timeout=15_000)
    assert page.evaluate("() => window.__sameDocument") is True
    assert new_report in page.evaluate("() => document.querySelector('.ecs-explorer').ecsNetwork.body.data.nodes.getIds()")
    after = view_state(page)  # the user's selection and viewport survive the update
    assert after["selected"] == [ada]
    assert after["scale"] == pytest.approx(view["scale"])
    assert after["position"]["x"] == pytest.approx(view["position"]["x"]) and after["position"]["y"] == pytest.approx(view["position"]["y"])


def test_hostile_entity_text_is_shown_as_text_and_runs_nothing(notebook):
    page, watch, mallory = notebook.page, notebook.watch, notebook.printed["MALLORY"]
    label = page.evaluate(f"() => document.querySelector('.ecs-explorer').ecsNetwork.body.data.nodes.get('{mallory}').label")
    assert label.startswith("Student <img src=x onerror=window.__xss=1>")

    show_explorer(page)
    p = node_point(page, mallory)
    page.mouse.move(p["x"] - 4, p["y"])
    page.mouse.move(p["x"], p["y"], steps=3)
    tooltip = page.locator(f"{EXPLORER} div.vis-tooltip")
    page.wait_for_function(
        """() => { const t = document.querySelector('.ecs-explorer div.vis-tooltip');
                   return Boolean(t) && getComputedStyle(t).visibility === 'visible'; }"""
    )
    assert "<img src=x onerror=window.__xss=1>" in tooltip.inner_text()
    assert tooltip.locator("img, script").count() == 0

    click_node(page, mallory)
    page.wait_for_function("() => (document.querySelector('.ecs-explorer .ecs-details h3')?.textContent || '').includes('<img')")
    details = page.locator(f"{EXPLORER} .ecs-details")
    assert "</script><script>window.__xss=2</script>" in details.inner_text()
    assert page.locator(f"{EXPLORER} img, {EXPLORER} script").count() == 0
    page.wait_for_timeout(300)  # give an injected onerror handler the chance to run
    assert page.evaluate("() => window.__xss") is None
    assert watch.dialogs == []
    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.blocked == []  # the explorer fetched nothing from outside the server
    screenshot(page.locator(EXPLORER), "lab-explorer-hostile.png")


def test_double_click_focuses_on_a_node_and_session_goes_back(notebook):
    page, ada = notebook.page, notebook.printed["ADA"]
    click_node(page, ada, double=True)
    summary = page.locator(f"{EXPLORER} .ecs-summary")
    summary.filter(has_text=f"around {ada[:8]}").wait_for(timeout=15_000)
    out = run_new_cell(page, 'print("FOCUS", explorer.focus)', "FOCUS")
    assert out.split() == ["FOCUS", ada]
    show_explorer(page)
    page.locator(f"{EXPLORER} .ecs-session").click()
    summary.filter(has_text="whole session").wait_for(timeout=15_000)


def test_exported_page_renders_offline_from_a_file(notebook, chromium):
    page = notebook.page
    show_explorer(page)
    page.locator(f"{EXPLORER} .ecs-export").click()
    message = page.locator(f"{EXPLORER} .ecs-message").filter(has_text="exported to ")
    message.wait_for(timeout=30_000)
    path = Path(re.sub(r"^exported to ", "", message.inner_text().strip()))
    assert path.is_file() and path.parent == notebook.lab.notebook_dir
    expected = drawn_count(page)

    context = chromium.new_context(viewport={"width": 1200, "height": 800})
    requests: list[str] = []

    def no_network(route):
        requests.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^https?://"), no_network)
    export = context.new_page()
    errors: list[str] = []
    export.on("pageerror", lambda exc: errors.append(str(exc)))
    export.on("dialog", lambda d: (errors.append(d.message), d.dismiss()))
    try:
        export.goto(path.as_uri())
        export.wait_for_selector(".ecs-page[data-ecs-ready='1']", timeout=15_000)
        count = export.evaluate("() => document.querySelector('.ecs-page').ecsNetwork.body.data.nodes.length")
        assert count == expected
        assert export.evaluate("() => window.__xss") is None
        assert errors == [] and requests == []
        ARTIFACTS.mkdir(exist_ok=True)
        export.screenshot(path=str(ARTIFACTS / "export-offline.png"))
    finally:
        context.close()


def test_a_figure_recorded_in_a_cell_shows_in_the_details_panel(notebook):
    page = notebook.page
    setup = "%load_ext ecs_notebook\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nprint('READY')"
    run_new_cell(page, setup, "READY")
    run_new_cell(page, "%%ecs_exec plot\nfig, ax = plt.subplots(figsize=(4, 3), dpi=60)\nax.plot([1, 3, 2])\nprint('PLOTTED')", "PLOTTED")
    fig = run_new_cell(page, "import ecs_notebook\nprint('FIG', ecs_notebook.ref(fig))", "FIG").split()[-1]
    page.wait_for_function(
        "(id) => document.querySelector('.ecs-explorer').ecsNetwork.body.data.nodes.get(id) !== null", arg=fig, timeout=15_000
    )
    page.evaluate("(id) => document.querySelector('.ecs-explorer').ecsNetwork.focus(id, {scale: 1, animation: false})", fig)
    click_node(page, fig)
    img = page.locator(f"{EXPLORER} .ecs-details figure.ecs-image img")
    img.wait_for(state="visible", timeout=15_000)
    page.wait_for_function("() => document.querySelector('.ecs-explorer .ecs-details img').complete")
    natural = "(sel) => { const i = document.querySelector(sel); return [i.naturalWidth, i.naturalHeight]; }"
    size = page.evaluate(natural, f"{EXPLORER} .ecs-details img")
    assert size == [240, 180]
    assert img.get_attribute("alt") == "fig"
    show_explorer(page)
    page.mouse.move(5, 5)  # no tooltip over the picture
    page.wait_for_timeout(200)
    screenshot(page.locator(EXPLORER), "lab-explorer-figure.png")
    assert notebook.watch.page_errors == [] and notebook.watch.blocked == []
