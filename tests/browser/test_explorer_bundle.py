"""The committed bundle in headless Chromium with a stub anywidget model: drawing, controls, updates, cleanup."""

from __future__ import annotations

import pytest
from browser_support import node_point, screenshot, widget_state
from models import Course, Item, Report, Student

from ecs_notebook import CallableRegistry
from ecs_notebook.lineage.payload import build_payload
from ecs_notebook.notebook.widget import LineageExplorer

pytestmark = pytest.mark.browser


@pytest.fixture
def session():
    @CallableRegistry.register("analyze")
    def analyze(student: Student) -> Report:
        return Report(student_name=student.name, score=student.gpa)

    @CallableRegistry.register("fail")
    def fail(student: Student) -> Report:
        raise RuntimeError("no")

    ada = Student(name="Ada", gpa=3.6, courses=[Course(name="Algebra")])
    ada.promote_to_root()
    report = CallableRegistry.execute("analyze", student=ada)
    with pytest.raises(RuntimeError):
        CallableRegistry.execute("fail", student=ada)
    return ada, report


def net(stub, js: str, arg=None):
    return stub.page.evaluate(f"(arg) => {{ const net = document.querySelector('.ecs-explorer').ecsNetwork; return {js}; }}", arg)


def test_draws_every_node_at_the_payload_position_with_physics_off(stub, session):
    payload = build_payload(None)
    stub.render(widget_state(payload))
    assert int(stub.page.get_attribute(".ecs-explorer", "data-node-count")) == len(payload["nodes"]) == 5
    positions = net(stub, "net.getPositions()")
    assert {k: (round(v["x"]), round(v["y"])) for k, v in positions.items()} == {n["id"]: (n["x"], n["y"]) for n in payload["nodes"]}
    assert net(stub, "net.physics.physicsEnabled") is False
    failed = next(n["id"] for n in payload["nodes"] if n["kind"] == "execution" and n["succeeded"] is False)
    assert net(stub, "net.body.data.nodes.get(arg).label", failed).startswith("\u2717 ")


def test_controls_talk_back_only_through_traits(stub, session):
    ada, report = session
    w = LineageExplorer()
    stub.render(widget_state(w.graph, filter_options=w.filter_options))
    page = stub.page
    saved = stub.model("export_request")

    page.fill(".ecs-explorer .ecs-search", f"@{str(report.ecs_id)[:8]}")
    page.press(".ecs-explorer .ecs-search", "Enter")
    assert stub.model("selected") == str(report.ecs_id)
    assert net(stub, "net.getSelectedNodes()") == [str(report.ecs_id)]

    page.select_option(".ecs-explorer .ecs-depth", "")
    assert stub.model("depth") is None
    page.select_option(".ecs-explorer .ecs-direction", "up")
    assert stub.model("direction") == "up"
    page.click(".ecs-explorer .ecs-filter-types summary")
    page.check(".ecs-explorer .ecs-filter-types input[value='Report']")
    assert stub.model("filters") == {"types": ["Report"]}
    page.click(".ecs-explorer .ecs-export")
    assert stub.model("export_request") == saved + 1
    page.click(".ecs-explorer .ecs-session")
    assert stub.model("focus") == "" and stub.model("expand") == []
    assert page.evaluate("() => window.model.saved") >= 6  # every change was sent to Python
    w.close()


def test_double_click_expands_aggregates_and_focuses_nodes(stub):
    @CallableRegistry.register("make")
    def make(k: int) -> Item:
        return Item(name=f"i{k}", value=k)

    for k in range(6):
        CallableRegistry.execute("make", k=k)
    payload = build_payload(None, budget=4)
    stub.render(widget_state(payload))
    aggregate = next(n["id"] for n in payload["nodes"] if n["kind"] == "aggregate")
    plain = next(n["id"] for n in payload["nodes"] if n["kind"] == "entity")
    p = node_point(stub.page, aggregate)
    stub.page.mouse.dblclick(p["x"], p["y"])
    assert stub.model("expand") == [aggregate]
    p = node_point(stub.page, plain)
    stub.page.mouse.dblclick(p["x"], p["y"])
    assert stub.model("focus") == plain


def test_graph_updates_keep_selection_and_view_and_a_new_focus_refits(stub, session):
    ada, report = session
    stub.render(widget_state(build_payload(ada), selected=str(ada.ecs_id)))
    assert net(stub, "net.getSelectedNodes()") == [str(ada.ecs_id)]
    net(stub, "net.moveTo({position: {x: 40, y: 25}, scale: 0.7, animation: false})")

    CallableRegistry.execute("analyze", student=ada)
    grown = build_payload(ada)
    stub.set("graph", grown)
    stub.page.wait_for_function(f"() => document.querySelector('.ecs-explorer').dataset.nodeCount === '{len(grown['nodes'])}'")
    assert net(stub, "net.getSelectedNodes()") == [str(ada.ecs_id)]
    assert net(stub, "net.getScale()") == pytest.approx(0.7)
    view = net(stub, "net.getViewPosition()")
    assert (view["x"], view["y"]) == (pytest.approx(40), pytest.approx(25))

    stub.set("graph", build_payload(report, depth=1, direction="down"))  # another focus: a new view, fitted
    stub.page.wait_for_function("() => Math.abs(document.querySelector('.ecs-explorer').ecsNetwork.getScale() - 0.7) > 1e-6")
    assert net(stub, "net.getSelectedNodes()") == []  # the selected node is not drawn any more


def test_details_errors_and_status_are_text(stub, session):
    ada, _ = session
    w = LineageExplorer(ada)
    evil = "<img src=x onerror=window.__xss=1></script>"
    stub.render(widget_state(w.graph))
    w.selected = str(ada.ecs_id)
    details = {**w.details, "label": evil, "fields": {**w.details["fields"], "name": evil}}
    stub.set("details", details)
    stub.set("error", f"Error while showing focus={evil!r}")
    stub.set("status", "exported to /tmp/x.html")
    page = stub.page
    assert page.inner_text(".ecs-explorer .ecs-details h3") == evil
    assert evil in page.inner_text(".ecs-explorer .ecs-details table")
    assert evil in page.inner_text(".ecs-explorer .ecs-error")
    assert page.inner_text(".ecs-explorer .ecs-message") == "exported to /tmp/x.html"
    assert page.locator(".ecs-explorer img").count() == 0
    assert page.evaluate("() => window.__xss") is None
    page.click(".ecs-explorer .ecs-focus-here")
    assert stub.model("focus") == str(ada.ecs_id)
    page.click(".ecs-explorer .ecs-close")
    assert stub.model("selected") == ""
    screenshot(page.locator(".ecs-explorer"), "stub-details.png")
    w.close()


def test_cleanup_destroys_the_network_and_unsubscribes(stub, session):
    stub.render(widget_state(build_payload(None)))
    page = stub.page
    assert page.evaluate("() => window.model.listenerCount()") > 0
    page.evaluate("() => { window.__net = document.querySelector('.ecs-explorer').ecsNetwork; window.cleanup(); window.cleanup = null; }")
    assert page.locator(".ecs-explorer").count() == 0
    assert page.evaluate("() => window.model.listenerCount()") == 0
    assert page.evaluate("() => window.__net.body.nodes === undefined || Object.keys(window.__net.body.nodes).length === 0")


HOSTILE_IMAGES = {
    "javascript url": {"mime": "image/png", "base64": "javascript:window.__xss=1"},
    "breaks out of the url": {"mime": "image/png", "base64": 'iVBORw0KGgo" onerror="window.__xss=1'},
    "svg": {"mime": "image/svg+xml", "base64": "PHN2ZyBvbmxvYWQ9IndpbmRvdy5fX3hzcz0xIi8+"},
    "not a png": {"mime": "image/png", "base64": "R0lGODlhAQABAAAAACw="},
    "markup note": {"note": {"html": "<img src=x onerror=window.__xss=1>"}},
}


def test_details_show_a_recorded_figure_and_no_other_image(stub, tmp_path, monkeypatch):
    from ipython_shell import interactive_shell, run

    from ecs_notebook import ref

    pytest.importorskip("matplotlib")
    with interactive_shell(tmp_path, monkeypatch) as ip:
        assert run(ip, "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt").error is None
        assert run(ip, "%%ecs_exec plot\nfig, ax = plt.subplots(figsize=(5, 4), dpi=80)\nax.bar(['a', 'b'], [3, 5])").error is None
        fig = str(ref(ip.user_ns["fig"]))
        w = LineageExplorer()
        w.selected = fig
        figure_details = w.details
        stub.render(widget_state(w.graph))
        w.close()
    page = stub.page
    stub.set("details", figure_details)
    img = page.locator(".ecs-explorer .ecs-details figure.ecs-image img")
    img.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('.ecs-explorer .ecs-details img').complete")
    assert page.evaluate("() => document.querySelector('.ecs-explorer .ecs-details img').naturalWidth") == 400
    assert img.get_attribute("alt") == "fig"
    assert img.bounding_box()["width"] <= page.locator(".ecs-explorer .ecs-details").bounding_box()["width"], "fits the panel"
    screenshot(page.locator(".ecs-explorer"), "stub-figure-details.png")

    for what, image in HOSTILE_IMAGES.items():
        stub.set("details", {**figure_details, "label": what, "image": image})
        page.wait_for_function("(t) => document.querySelector('.ecs-explorer .ecs-details h3').textContent === t", arg=what)
        assert page.locator(".ecs-explorer img").count() == 0, what
    stub.set("details", {**figure_details, "label": "note", "image": {"note": "figure not shown: <b>the stored image is not a PNG</b>"}})
    assert page.inner_text(".ecs-explorer .ecs-details .ecs-image-note") == "figure not shown: <b>the stored image is not a PNG</b>"
    assert page.locator(".ecs-explorer img, .ecs-explorer .ecs-details b").count() == 0
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__xss") is None
