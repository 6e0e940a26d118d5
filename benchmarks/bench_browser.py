"""Explorer figures in headless Chromium: a 2,000-node payload drawn and clickable; a focused view of a 100,000-node session.

The committed bundle (``ecs_notebook/static/explorer.js``) is loaded in a plain page with a stub
anywidget model (no JupyterLab: the figure is the front end's, not the notebook's). A figure runs from
``render()`` to a real mouse click on a node having set ``selected`` on the model: the graph is drawn
*and* clickable. The baseline is the same procedure on an 11-node payload (bundle already loaded, so it
is the fixed cost of creating the view, one draw and one click round trip through Playwright).
The node clicked is moved to the centre at scale 1 first (as a user zooms in to click one node of 2,000).

The focused view adds the Python side: ``LineageExplorer(hub)`` on a session of ~100,000 nodes (a long
chain of ``step`` calls plus a fan-out of ``fan`` calls on one hub), i.e. payload, stale marks and filter
choices, beside ``build_payload`` alone. Also measured: what one ``execute`` costs while an explorer on
that session is open (it refreshes ``graph`` before returning), beside ``execute`` with none open.

    python benchmarks/run.py browser [--quick]
    python benchmarks/bench_browser.py [--quick]

Needs Playwright and a system Chromium ($ECS_CHROMIUM or /usr/bin/chromium); without them it prints
why and returns no figures.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "browser"))

from _common import Row, format_table, median_time, write_json  # noqa: E402
from browser_support import CHROMIUM_ARGS, chromium_path, widget_state  # noqa: E402

from ecs_notebook import CallableRegistry, Entity  # noqa: E402
from ecs_notebook.lineage.payload import build_payload  # noqa: E402
from ecs_notebook.testing import fresh_state  # noqa: E402

STATIC = Path(__file__).resolve().parent.parent / "ecs_notebook" / "static"
ORIGIN = "http://explorer.bench.invalid/"
TARGET_DRAW_S = 2.0  # 2,000-node payload drawn and clickable
TARGET_FOCUSED_S = 1.0  # focused view of a 100,000-node session
DRAW_NODES = 2_000
PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="explorer.css"></head>
<body style="margin:0;padding:8px"><div id="out" style="width:1200px"></div>
<script type="module">
import widget from "./explorer.js";
class StubModel {
  constructor(state) { this.state = state; this.listeners = {}; }
  get(k) { return this.state[k]; }
  set(k, v) { this.state[k] = v; for (const cb of this.listeners["change:" + k] || []) cb(); }
  save_changes() {}
  on(e, cb) { (this.listeners[e] ||= []).push(cb); }
  off(e, cb) { this.listeners[e] = (this.listeners[e] || []).filter((x) => x !== cb); }
}
window.start = (state) => {
  if (window.cleanup) window.cleanup();
  window.t0 = performance.now();
  window.model = new StubModel(state);
  window.cleanup = widget.render({ model: window.model, el: document.getElementById("out") });
};
window.bundleLoaded = true;
</script></body></html>"""


class Sample(Entity):
    name: str
    value: float = 0.0


def step(a: Sample) -> Sample:
    return Sample(name="s", value=a.value + 1.0)


def fan(a: Sample) -> tuple[Sample, Sample, Sample]:
    return Sample(name="lo", value=a.value - 1.0), Sample(name="mid", value=a.value), Sample(name="hi", value=a.value + 1.0)


class Stage:
    """A Chromium page with the bundle loaded, ready to render payloads."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1240, "height": 720})
        self.context.route("**/*", self._serve)
        self.page = self.context.new_page()
        self.page.goto(ORIGIN + "index.html")
        self.page.wait_for_function("() => window.bundleLoaded === true")

    @staticmethod
    def _serve(route: Any) -> None:
        url = route.request.url
        if not url.startswith(ORIGIN):
            route.abort()
            return
        name = url[len(ORIGIN) :]
        if name == "index.html":
            route.fulfill(body=PAGE, content_type="text/html")
        elif name in ("explorer.js", "explorer.css"):
            route.fulfill(path=str(STATIC / name), content_type="text/javascript" if name.endswith(".js") else "text/css")
        else:
            route.abort()

    def draw_and_click(self, payload: dict[str, Any]) -> tuple[float, float]:
        """Seconds from render() to drawn (data-ecs-ready), and to a clicked node being ``selected``."""
        page = self.page
        node_id = payload["focus"] or payload["nodes"][0]["id"]
        page.evaluate("(s) => window.start(s)", widget_state(payload))
        page.wait_for_function(
            "() => document.querySelector('.ecs-explorer')?.getAttribute('data-ecs-ready') === '1'", polling="raf", timeout=60_000
        )
        drawn = page.evaluate("() => performance.now() - window.t0") / 1e3
        p = page.evaluate(
            """(id) => {
                const el = document.querySelector('.ecs-explorer'); const net = el.ecsNetwork;
                net.moveTo({position: net.getPosition(id), scale: 1, animation: false});
                const d = net.canvasToDOM(net.getPosition(id));
                const box = el.querySelector('.ecs-canvas canvas').getBoundingClientRect();
                return {x: box.left + d.x, y: box.top + d.y};
            }""",
            node_id,
        )
        page.mouse.click(p["x"], p["y"])
        page.wait_for_function("(id) => window.model.get('selected') === id", arg=node_id, polling="raf", timeout=30_000)
        clicked = page.evaluate("() => performance.now() - window.t0") / 1e3
        count = int(page.get_attribute(".ecs-explorer", "data-node-count") or 0)
        assert count == len(payload["nodes"]), (count, len(payload["nodes"]))
        return drawn, clicked

    def close(self) -> None:
        self.context.close()


def _median_draw(stage: Stage, payload: dict[str, Any], repeats: int) -> tuple[float, float]:
    runs = [stage.draw_and_click(payload) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def _small_payload() -> dict[str, Any]:
    with fresh_state():
        CallableRegistry.register(step)
        s = Sample(name="s0")
        s.promote_to_root()
        for _ in range(5):
            s = CallableRegistry.execute("step", a=s)
        return build_payload(None)


def _wide_payload(n: int) -> dict[str, Any]:
    """A whole-session payload of ``n`` nodes: fan-outs of 3 from ``n // 5`` roots (root, call, 3 outputs)."""
    with fresh_state():
        CallableRegistry.register(fan)
        for k in range(n // 5):
            s = Sample(name=f"root{k}", value=float(k))
            s.promote_to_root()
            CallableRegistry.execute("fan", a=s)
        p = build_payload(None, budget=n)
    assert len(p["nodes"]) == n, len(p["nodes"])
    return p


def _draw_rows(stage: Stage, repeats: int) -> tuple[list[Row], float, str]:
    small = _small_payload()
    base_name = f"{len(small['nodes'])}-node payload"
    base_drawn, base_clicked = _median_draw(stage, small, repeats)
    wide = _wide_payload(DRAW_NODES)
    drawn, clicked = _median_draw(stage, wide, repeats)
    rows = [
        Row(
            f"explorer: {DRAW_NODES:,}-node payload drawn and clickable (Chromium)",
            DRAW_NODES,
            clicked,
            "s",
            base_clicked,
            base_name,
            TARGET_DRAW_S,
            note=f"drawn (data-ecs-ready) after {drawn:.2f} s; baseline drawn after {base_drawn:.2f} s; {len(wide['edges']):,} edges",
        )
    ]
    return rows, base_clicked, base_name


def _session(chain_calls: int, fan_calls: int) -> str:
    """Record a chain of ``step`` calls and ``fan_calls`` fan-outs of one hub; returns the hub's id."""
    CallableRegistry.register(step)
    CallableRegistry.register(fan)
    s = Sample(name="s0")
    s.promote_to_root()
    for _ in range(chain_calls):
        s = CallableRegistry.execute("step", a=s)
    hub = Sample(name="hub")
    hub.promote_to_root()
    for _ in range(fan_calls):
        CallableRegistry.execute("fan", a=hub)
    return str(hub.ecs_id)


def _focused_rows(stage: Stage, repeats: int, quick: bool, base_clicked: float, base_name: str) -> list[Row]:
    from ecs_notebook.lineage.graph import default_graph
    from ecs_notebook.notebook.widget import LineageExplorer

    chain_calls, fan_calls = (9_000, 500) if quick else (45_000, 2_500)
    rows: list[Row] = []
    with fresh_state():
        hub = _session(chain_calls, fan_calls)
        nodes = len(default_graph())
        build_payload(hub, depth=2)  # first use: reads the records into the graph (not what is measured)
        payload_s = median_time(lambda _: build_payload(hub, depth=2), repeats=repeats)
        widgets: list[Any] = []

        def open_explorer(_: Any) -> None:
            widgets.append(LineageExplorer(hub, depth=2))

        widget_s = median_time(open_explorer, repeats=repeats)
        w = widgets[-1]
        for other in widgets[:-1]:
            other.close()
        drawn, clicked = _median_draw(stage, w.graph, repeats)
        shown = len(w.graph["nodes"])
        rows.append(
            Row(
                f"explorer: focused view of a {nodes:,}-node session, Python (LineageExplorer)",
                nodes,
                widget_s,
                "s",
                payload_s,
                "build_payload alone",
                note=f"{shown:,} nodes drawn of {w.graph['total_nodes']:,} (aggregated: {w.graph['aggregated']})",
            )
        )
        rows.append(
            Row(
                "  same, drawn and clickable in Chromium",
                shown,
                clicked,
                "s",
                base_clicked,
                base_name,
                note=f"drawn after {drawn:.2f} s",
            )
        )
        rows.append(
            Row(
                "  same, total (Python + browser)",
                nodes,
                widget_s + clicked,
                "s",
                None,
                "",
                TARGET_FOCUSED_S,
            )
        )
        # One more call while the explorer is open: the hook rebuilds `graph` before execute returns.
        s = Sample(name="extra")
        s.promote_to_root()
        with_open = median_time(lambda _: CallableRegistry.execute("step", a=s), repeats=repeats)
        w.close()
        without = median_time(lambda _: CallableRegistry.execute("step", a=s), repeats=repeats)
        rows.append(
            Row(
                f"execute with an explorer open on the {nodes:,}-node session",
                nodes,
                with_open * 1e3,
                "ms",
                without * 1e3,
                "no explorer open",
                note="graph refreshed before execute returns (full payload rebuild)",
            )
        )
    return rows


def run(quick: bool = False) -> list[Row]:
    """Measure the browser figures; no figures (and a message) without Playwright or Chromium."""
    chromium = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("bench_browser: playwright not installed (pip install -e '.[browser]'); skipped", file=sys.stderr)
        return []
    if chromium is None:
        print("bench_browser: no Chromium (apt-get install chromium or set ECS_CHROMIUM); skipped", file=sys.stderr)
        return []
    repeats = 3 if quick else 5
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        stage = Stage(browser)
        try:
            stage.draw_and_click(_small_payload())  # warm-up: JIT, fonts
            rows, base_clicked, base_name = _draw_rows(stage, repeats)
            rows += _focused_rows(stage, repeats, quick, base_clicked, base_name)
        finally:
            stage.close()
            browser.close()
    return rows


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    t0 = time.perf_counter()
    rows = run(quick=quick)
    seconds = round(time.perf_counter() - t0, 2)
    path = write_json("browser-quick" if quick else "browser", rows, {"quick": quick, "seconds": seconds})
    print(format_table(rows))
    print(f"\n{len(rows)} figures in {seconds:.1f} s -> {path}", file=sys.stderr)
