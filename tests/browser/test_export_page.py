"""The offline lineage page (``to_html`` / ``%ecs_export html``) in headless Chromium (issue 15).

The page is served from an origin that answers nothing else, so it must work offline. Screenshots
of each size land in test-artifacts/ (look at them: the assertions check what can be measured —
a legend, the label zoom, the details panel — not taste).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import PageWatch, node_point, screenshot

from ecs_notebook import CallableRegistry, Entity, EntityRegistry
from ecs_notebook.lineage.export import to_html

pytestmark = pytest.mark.browser

ORIGIN = "http://lineage.page.invalid/"
HOSTILE = "<img src=x onerror=alert(1)>"
MIN_LABEL_PX = 10.0  # labels are 13 px at zoom 1: the page must not open below ~0.8


class Pupil(Entity):
    name: str
    gpa: float = 0.0


class Grade(Entity):
    pupil: str
    score: float


def _record(pupils: int) -> dict[str, str]:
    """``pupils`` pupils, each graded (pupil, call, grade: 3 nodes); Ada edited and graded again; one failure."""

    @CallableRegistry.register("grade")
    def grade(p: Pupil) -> Grade:
        return Grade(pupil=p.name, score=p.gpa * 10)

    @CallableRegistry.register("audit")
    def audit(p: Pupil) -> Grade:
        raise ValueError("audit is down")

    ada = Pupil(name="Ada", gpa=3.1)
    ada.promote_to_root()
    v1 = str(ada.ecs_id)
    first = CallableRegistry.execute("grade", p=ada)  # stale once Ada changes
    ada.gpa = 3.7
    EntityRegistry.version_entity(ada)
    CallableRegistry.execute("grade", p=ada)
    with pytest.raises(ValueError):
        CallableRegistry.execute("audit", p=ada)
    hostile = Pupil(name=HOSTILE, gpa=1.0)
    hostile.promote_to_root()
    for k in range(pupils - 2):
        p = Pupil(name=f"pupil {k}", gpa=(k % 40) / 10)
        p.promote_to_root()
        CallableRegistry.execute("grade", p=p)
    return {"v1": v1, "v2": str(ada.ecs_id), "stale": str(first.ecs_id), "hostile": str(hostile.ecs_id)}


@pytest.fixture
def open_page(chromium: Any, tmp_path: Path) -> Iterator[Any]:
    contexts = []

    def open_(html_path: Path, name: str) -> tuple[Any, PageWatch]:
        context = chromium.new_context(viewport={"width": 1400, "height": 860})
        contexts.append(context)
        watch = PageWatch()

        def serve(route: Any) -> None:
            if route.request.url == ORIGIN + name:
                route.fulfill(path=str(html_path), content_type="text/html")
            else:
                watch.blocked.append(route.request.url)
                route.abort()

        context.route("**/*", serve)
        page = context.new_page()
        watch.attach(page)
        page.goto(ORIGIN + name)
        page.wait_for_selector(".ecs-page[data-ecs-ready='1']", timeout=30_000)
        return page, watch

    yield open_
    for c in contexts:
        c.close()


def _scale(page: Any) -> float:
    return float(page.evaluate("() => document.querySelector('.ecs-page').ecsNetwork.getScale()"))


@pytest.mark.parametrize("pupils", [33, 660], ids=["100-nodes", "2000-nodes"])
def test_page_has_a_legend_readable_labels_and_a_details_panel(open_page, tmp_path, pupils):
    ids = _record(pupils)
    out = to_html(tmp_path / "lineage.html")
    page, watch = open_page(out, "lineage.html")
    drawn = int(page.get_attribute(".ecs-page", "data-node-count"))
    assert drawn >= 3 * pupils - 10

    legend = page.locator(".ecs-page .ecs-legend")
    assert legend.get_attribute("open") is not None, "the legend is shown unfolded"
    legend_text = legend.inner_text()
    for entry in ("created by a call", "mutated by a call", "stale", "failed execution", "version edge"):
        assert entry in legend_text
    assert legend.bounding_box()["height"] > 60

    scale = _scale(page)
    assert 13 * scale >= MIN_LABEL_PX, f"labels drawn at {13 * scale:.1f} px"
    screenshot(page, f"export-{drawn}-nodes.png")

    # Click Ada's second version: the panel shows its label, fields, provenance and versions.
    page.evaluate("(id) => document.querySelector('.ecs-page').ecsNetwork.focus(id, {scale: 1, animation: false})", ids["v2"])
    p = node_point(page, ids["v2"])
    page.mouse.click(p["x"], p["y"])
    panel = page.locator(".ecs-page .ecs-details")
    panel.wait_for(state="visible")
    assert panel.locator("h3").inner_text() == "Pupil Ada v2"
    text = panel.inner_text()
    assert "FIELDS" in text.upper() and "gpa" in text and "3.7" in text
    assert "PROVENANCE" in text.upper()
    assert ids["v1"][:8] in text and "this one" in text, "the version history lists v1 and marks v2"
    screenshot(page, f"export-{drawn}-nodes-details.png")

    # The hostile name is text, in the panel and on the canvas; nothing ran, nothing was fetched.
    page.evaluate("(id) => document.querySelector('.ecs-page').ecsNetwork.focus(id, {scale: 1, animation: false})", ids["hostile"])
    h = node_point(page, ids["hostile"])
    page.mouse.click(h["x"], h["y"])
    page.wait_for_function("(id) => document.querySelector('.ecs-page').getAttribute('data-selected') === id", arg=ids["hostile"])
    assert panel.locator("h3").inner_text() == f"Pupil {HOSTILE}"
    assert page.locator("img").count() == 0
    assert watch.dialogs == [] and watch.page_errors == [] and watch.console_errors == []
    assert watch.blocked == [], "the page loads nothing"


def test_stale_and_failed_nodes_carry_the_widgets_marks(open_page, tmp_path):
    ids = _record(5)
    page, _ = open_page(to_html(tmp_path / "lineage.html"), "lineage.html")
    labels = page.evaluate(
        "() => Object.fromEntries(document.querySelector('.ecs-page').ecsNetwork.body.data.nodes.get().map(n => [n.id, n.label]))"
    )
    assert labels[ids["stale"]].startswith("\u26a0 "), "stale results are marked as in the widget"
    assert any(label == "\u2717 audit()" for label in labels.values()), "the failed call is marked"
    assert labels[ids["v1"]] == "Pupil Ada v1" and labels[ids["v2"]] == "Pupil Ada v2"


def test_a_recorded_figure_is_shown_in_the_details_panel(open_page, tmp_path, monkeypatch):
    """A matplotlib Figure recorded in a notebook cell: its PNG is in the exported page, shown when its node is clicked."""
    from ipython_shell import interactive_shell, run

    from ecs_notebook import ref

    pytest.importorskip("matplotlib")
    with interactive_shell(tmp_path, monkeypatch) as ip:
        assert run(ip, "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt").error is None
        cell = "%%ecs_exec plot\nfig, ax = plt.subplots(figsize=(4, 3), dpi=60)\nax.plot([1, 3, 2], color='tab:red')\nax.set_title('curve')"
        assert run(ip, cell).error is None
        fig = str(ref(ip.user_ns["fig"]))
        page, watch = open_page(to_html(tmp_path / "figure.html"), "figure.html")

    page.evaluate("(id) => document.querySelector('.ecs-page').ecsNetwork.focus(id, {scale: 1, animation: false})", fig)
    p = node_point(page, fig)
    page.mouse.click(p["x"], p["y"])
    page.wait_for_function("(id) => document.querySelector('.ecs-page').getAttribute('data-selected') === id", arg=fig)
    img = page.locator(".ecs-page .ecs-details figure.ecs-image img")
    img.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('.ecs-details figure.ecs-image img').complete")
    size = page.evaluate("() => { const i = document.querySelector('.ecs-details img'); return [i.naturalWidth, i.naturalHeight]; }")
    assert size == [240, 180], "the figure's PNG, 4 x 3 inches at 60 dpi"
    assert img.get_attribute("alt") == "fig"
    assert img.get_attribute("src").startswith("data:image/png;base64,iVBORw0KGgo")
    box = img.bounding_box()
    assert box["width"] > 200, "drawn at (nearly) its size, inside the panel"
    assert page.locator(".ecs-page .ecs-details h3").inner_text().startswith("fig")
    screenshot(page, "export-figure-details.png")
    assert watch.page_errors == [] and watch.console_errors == [] and watch.blocked == []
