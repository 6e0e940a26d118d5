"""Lineage figures of DESIGN A10: graph upkeep, queries, diff, explorer payload and HTML export.

A synthetic lineage is recorded through the real registries (``CallableRegistry.execute`` in a loop):
a long chain ``s0 --step--> s1 --step--> ...`` (each call: entity -> new entity, two graph nodes) and a
fan-out (one hub consumed by many calls of ``fan``, each returning three entities: four nodes). Full
run: a 100,001-node chain plus a 10,001-node fan-out; ``--quick``: about 20,000 nodes in all.

Every figure stands beside a baseline measured in the same run: ``nx.ancestors``/``nx.descendants``
and a plain BFS over a dict of lists on the same graph for the queries, a dict-of-lists append for
graph upkeep, and so on. Figures are printed, never asserted.

    python benchmarks/run.py lineage [--quick]
    python benchmarks/bench_lineage.py [--quick]     # same, this module alone
"""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import networkx as nx  # noqa: E402
from _common import Row, calls_per_repeat, format_table, median_time, write_json  # noqa: E402

from ecs_notebook import CallableRegistry, Entity, EntityRegistry, diff, downstream, lineage_graph, upstream  # noqa: E402
from ecs_notebook.lineage.graph import LineageGraph, default_graph  # noqa: E402
from ecs_notebook.lineage.payload import build_payload  # noqa: E402
from ecs_notebook.testing import fresh_state  # noqa: E402

# DESIGN A10 and the lineage issue.
TARGET_QUERY_MS = 20.0  # upstream/downstream, result <= 30,000 nodes
TARGET_CLOSURE_MS = 40.0  # full closure of a 100,000-node chain
TARGET_PAYLOAD_MS = 200.0  # explorer payload, focused, depth 2
TARGET_UPKEEP_US = 10.0  # graph maintenance per execution
QUERY_RESULT = 30_000
BUDGET = 2_000
DIFF_CHILDREN = 10_000
HTML_NODES = 2_000


class Sample(Entity):
    name: str
    value: float = 0.0


class Shelf(Entity):
    items: list[Sample] = []


def step(a: Sample) -> Sample:
    return Sample(name="s", value=a.value + 1.0)


def fan(a: Sample) -> tuple[Sample, Sample, Sample]:
    return Sample(name="lo", value=a.value - 1.0), Sample(name="mid", value=a.value), Sample(name="hi", value=a.value + 1.0)


def _register() -> None:
    CallableRegistry.register(step)
    CallableRegistry.register(fan)


# -- the synthetic lineage -------------------------------------------------------------------------


class Lineage:
    """What was recorded: the chain's entity ids (in order), the hub, the record batches."""

    def __init__(self, chain: list[str], hub: str, batches: list[Any], build_s: float, calls: int) -> None:
        self.chain, self.hub, self.batches, self.build_s, self.calls = chain, hub, batches, build_s, calls


def _build(chain_calls: int, fan_calls: int) -> Lineage:
    _register()
    batches: list[Any] = []
    unsubscribe = EntityRegistry.subscribe(batches.append)
    gc.collect()
    gc.disable()  # bulk recording: the cyclic GC would rescan the growing heap again and again
    t0 = time.perf_counter()
    try:
        a = Sample(name="s0")
        a.promote_to_root()
        chain = [str(a.ecs_id)]
        for _ in range(chain_calls):
            a = CallableRegistry.execute("step", a=a)
            chain.append(str(a.ecs_id))
        hub = Sample(name="hub")
        hub.promote_to_root()
        for _ in range(fan_calls):
            CallableRegistry.execute("fan", a=hub)
    finally:
        build_s = time.perf_counter() - t0
        gc.enable()
        unsubscribe()
    gc.collect()
    gc.freeze()  # the recorded lineage is long-lived: keep it out of later collections
    return Lineage(chain, str(hub.ecs_id), batches, build_s, chain_calls + fan_calls)


def _adjacency(g: nx.MultiDiGraph) -> tuple[dict[str, int], list[list[int]], list[list[int]]]:
    """The same graph as plain dict-of-lists adjacency (int node keys), for the BFS baseline."""
    index = {n: i for i, n in enumerate(g)}
    out: list[list[int]] = [[] for _ in index]
    inn: list[list[int]] = [[] for _ in index]
    for u, v in g.edges():
        out[index[u]].append(index[v])
        inn[index[v]].append(index[u])
    return index, out, inn


def _bfs(adj: list[list[int]], start: int) -> int:
    seen = {start}
    frontier = deque([start])
    while frontier:
        for nxt in adj[frontier.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return len(seen) - 1


# -- figures ---------------------------------------------------------------------------------------


def _upkeep(lin: Lineage, repeats: int, sample_calls: int) -> list[Row]:
    """LineageGraph._on_records per execution, on the record batches of the last calls."""
    batches = lin.batches[-sample_calls:]
    graphs: list[LineageGraph] = []

    def setup() -> LineageGraph:
        g = LineageGraph()
        g._loaded = True  # as a graph already in use: every batch is applied at once
        graphs.append(g)
        return g

    def feed(g: LineageGraph) -> None:
        on = g._on_records
        for b in batches:
            on(b)

    per_call = median_time(feed, setup=setup, repeats=repeats) / len(batches)
    for g in graphs:
        g._close_state()

    def plain(_: Any) -> None:  # 2 nodes + 2 edges appended to dict-of-lists adjacency
        index: dict[int, int] = {}
        out: list[list[int]] = []
        for k in range(len(batches)):
            for key in (2 * k, 2 * k + 1):
                index[key] = len(out)
                out.append([])
            out[index[2 * k]].append(2 * k + 1)
            out[index[2 * k + 1]].append(2 * k + 2)

    baseline = median_time(plain, repeats=repeats) / len(batches)
    return [
        Row(
            "graph upkeep per execution (LineageGraph._on_records)",
            len(batches),
            per_call * 1e6,
            "µs",
            baseline * 1e6,
            "dict-of-lists: 2 nodes + 2 edges",
            TARGET_UPKEEP_US,
            note="record batches of the last calls fed to a fresh graph; GC on, bulk build frozen",
        )
    ]


def _execute_with_graph(repeats: int) -> Row:
    """execute with the default graph subscribed vs. not, batches alternating."""
    with fresh_state():
        _register()
        a = Sample(name="a")
        a.promote_to_root()
        lineage_graph()  # the default graph exists, loaded and subscribed
        g = default_graph()
        on = g._on_records

        def call() -> object:
            return CallableRegistry.execute("step", a=a)

        call()
        number = calls_per_repeat(call)
        with_s, without_s = [], []
        for _ in range(repeats):
            with_s.append(median_time(lambda _: call(), repeats=1, number=number))
            g._unsubscribe()
            without_s.append(median_time(lambda _: call(), repeats=1, number=number))
            g._unsubscribe = EntityRegistry.subscribe(on)
        w, wo = statistics.median(with_s), statistics.median(without_s)
    return Row(
        "execute overhead of the subscribed graph",
        None,
        (w - wo) * 1e6,
        "µs",
        wo * 1e6,
        "execute, graph unsubscribed",
        None,
        note=f"execute {w * 1e6:.1f} µs per call with the graph; a difference of two noisy medians: the upkeep figure is the direct one",
    )


def _first_sync(lin: Lineage, repeats: int) -> list[Row]:
    graphs: list[LineageGraph] = []

    def setup() -> LineageGraph:
        g = LineageGraph()
        graphs.append(g)
        return g

    first = median_time(lambda g: g.nx(), setup=setup, repeats=repeats)
    g = graphs[-1]
    nodes = g._nx.number_of_nodes()
    edges = [(u, v, d) for u, v, d in g._nx.edges(data=True)]
    loaded = median_time(lambda g: g.ensure_loaded(), setup=setup, repeats=1)
    for old in graphs:
        old._close_state()

    def plain(_: Any) -> None:
        h = nx.MultiDiGraph()
        h.add_edges_from(edges)

    baseline = median_time(plain, repeats=repeats)
    return [
        Row(
            "lineage_graph() first call: read store + networkx",
            nodes,
            first * 1e3,
            "ms",
            baseline * 1e3,
            "nx add_edges_from, same edges",
            note=f"of which reading {len(lin.batches):,} batches from the store: {loaded * 1e3:.0f} ms",
        )
    ]


def _sync_after_one(lin: Lineage, repeats: int) -> Row:
    g = lineage_graph()
    a = Sample(name="late")
    a.promote_to_root()
    times = []
    for _ in range(repeats):
        a = CallableRegistry.execute("step", a=a)
        t0 = time.perf_counter()
        lineage_graph()
        times.append(time.perf_counter() - t0)
    t_graph = statistics.median(times)
    baseline = median_time(lambda _: g.number_of_nodes(), repeats=repeats, number=1000)
    return Row(
        "lineage_graph() after one more execution",
        g.number_of_nodes(),
        t_graph * 1e6,
        "µs",
        baseline * 1e6,
        "g.number_of_nodes()",
        note="the networkx view is brought up to date, never rebuilt",
    )


def _queries(lin: Lineage, repeats: int) -> list[Row]:
    g = lineage_graph()
    index, out, inn = _adjacency(g)
    rows = []
    k = min(QUERY_RESULT // 2, (len(lin.chain) - 1) // 2)
    mid = lin.chain[k]  # 2k nodes (entities and executions) upstream of it
    cases: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any], Callable[[Any], Any], str, float]] = [
        (
            "upstream(chain node), executions included",
            lambda _: upstream(mid, include_executions=True),
            lambda _: nx.ancestors(g, mid),
            lambda _: _bfs(inn, index[mid]),
            mid,
            TARGET_QUERY_MS,
        ),
        (
            "downstream(hub of the fan-out), executions included",
            lambda _: downstream(lin.hub, include_executions=True),
            lambda _: nx.descendants(g, lin.hub),
            lambda _: _bfs(out, index[lin.hub]),
            lin.hub,
            TARGET_QUERY_MS,
        ),
        (
            "downstream(chain start): full closure of the chain",
            lambda _: downstream(lin.chain[0], include_executions=True),
            lambda _: nx.descendants(g, lin.chain[0]),
            lambda _: _bfs(out, index[lin.chain[0]]),
            lin.chain[0],
            TARGET_CLOSURE_MS,
        ),
        (
            "  same, entity versions only (include_executions=False)",
            lambda _: downstream(lin.chain[0]),
            lambda _: nx.descendants(g, lin.chain[0]),
            lambda _: _bfs(out, index[lin.chain[0]]),
            lin.chain[0],
            TARGET_CLOSURE_MS,
        ),
    ]
    for figure, query, nx_query, bfs, _start, target in cases:
        n = len(query(None))
        t = median_time(query, repeats=repeats)
        t_nx = median_time(nx_query, repeats=repeats)
        t_bfs = median_time(bfs, repeats=repeats)
        rows.append(
            Row(
                figure,
                n,
                t * 1e3,
                "ms",
                t_nx * 1e3,
                "nx.ancestors/descendants",
                target,
                note=f"plain BFS over dict-of-lists {t_bfs * 1e3:.1f} ms; graph {g.number_of_nodes():,} nodes",
            )
        )
    near = lin.chain[len(lin.chain) // 2]
    t = median_time(lambda _: downstream(near, depth=2, include_executions=True), repeats=repeats, number=100)
    t_nx = median_time(lambda _: nx.single_source_shortest_path_length(g, near, cutoff=4), repeats=repeats, number=100)
    rows.append(Row("downstream(chain node, depth=2)", 4, t * 1e6, "µs", t_nx * 1e6, "nx shortest paths, cutoff 4"))
    return rows


def _payloads(lin: Lineage, repeats: int) -> list[Row]:
    g = lineage_graph()
    undirected = g.to_undirected(as_view=True)
    rows = []
    p = build_payload(lin.hub, depth=2, budget=BUDGET)
    t = median_time(lambda _: build_payload(lin.hub, depth=2, budget=BUDGET), repeats=repeats)
    t_nx = median_time(lambda _: nx.single_source_shortest_path_length(undirected, lin.hub, cutoff=4), repeats=repeats)
    rows.append(
        Row(
            "explorer payload, focused on the hub, depth 2",
            g.number_of_nodes(),
            t * 1e3,
            "ms",
            t_nx * 1e3,
            "nx selection only (undirected, cutoff 4)",
            TARGET_PAYLOAD_MS,
            note=f"{p['total_nodes']:,} selected, {p['shown_nodes']:,} drawn, {len(p['nodes']) - p['shown_nodes']} aggregates",
        )
    )
    mid = lin.chain[len(lin.chain) // 2]
    t = median_time(lambda _: build_payload(mid, depth=2, budget=BUDGET), repeats=repeats, number=20)
    t_nx = median_time(lambda _: nx.single_source_shortest_path_length(undirected, mid, cutoff=4), repeats=repeats, number=20)
    rows.append(
        Row(
            "explorer payload, focused on a chain node, depth 2",
            g.number_of_nodes(),
            t * 1e3,
            "ms",
            t_nx * 1e3,
            "nx selection only (undirected, cutoff 4)",
            TARGET_PAYLOAD_MS,
        )
    )
    whole = build_payload(None, budget=BUDGET)
    t = median_time(lambda _: build_payload(None, budget=BUDGET), repeats=max(3, repeats // 2))
    t_nx = median_time(lambda _: nx.node_link_data(g, edges="links"), repeats=max(3, repeats // 2))
    levels = len({n["level"] for n in whole["nodes"]})
    rows.append(
        Row(
            f"explorer payload, whole graph, budget {BUDGET:,}",
            g.number_of_nodes(),
            t * 1e3,
            "ms",
            t_nx * 1e3,
            "nx.node_link_data (whole graph)",
            note=f"{whole['shown_nodes']:,} drawn, {len(whole['nodes']) - whole['shown_nodes']} aggregates, {levels} layout columns",
        )
    )
    return rows


def _diff(repeats: int) -> Row:
    with fresh_state():
        shelf = Shelf(items=[Sample(name=f"item{k}", value=float(k)) for k in range(DIFF_CHILDREN)])
        shelf.promote_to_root()
        old = shelf.ecs_id
        shelf.items[DIFF_CHILDREN // 2].name = "edited"
        EntityRegistry.version_entity(shelf)
        new = shelf.ecs_id
        assert diff(old, new) == {f"items.{DIFF_CHILDREN // 2}.name": (f"item{DIFF_CHILDREN // 2}", "edited")}
        t = median_time(lambda _: diff(old, new), repeats=repeats)
        a, b = EntityRegistry.get(old), EntityRegistry.get(new)
        t_dump = median_time(lambda _: a.model_dump() == b.model_dump(), repeats=repeats)
    return Row(
        "diff after one edit in a tree",
        DIFF_CHILDREN,
        t * 1e3,
        "ms",
        t_dump * 1e3,
        "model_dump() both + ==",
        note="unchanged children are skipped by version id",
    )


def _html(repeats: int) -> list[Row]:
    with fresh_state(), tempfile.TemporaryDirectory() as tmp:
        from ecs_notebook.lineage.export import to_html, to_json

        _register()
        a = Sample(name="s0")
        a.promote_to_root()
        for _ in range(HTML_NODES // 2):
            a = CallableRegistry.execute("step", a=a)
        nodes = lineage_graph().number_of_nodes()
        page = Path(tmp) / "lineage.html"
        t = median_time(lambda _: to_html(page), repeats=max(3, repeats // 2))
        t_json = median_time(lambda _: to_json(Path(tmp) / "lineage.json"), repeats=max(3, repeats // 2))
        size = page.stat().st_size
    return [
        Row(
            "to_html (offline page: payload, details of every node, inlined bundle)",
            nodes,
            t * 1e3,
            "ms",
            t_json * 1e3,
            "to_json, same graph",
            note=f"page {size / 1e6:.2f} MB",
        )
    ]


def run(quick: bool = False) -> list[Row]:
    """Measure every lineage figure; ``quick`` records about 20,000 nodes and uses fewer repeats."""
    repeats = 3 if quick else 7
    chain_calls, fan_calls = (8_000, 1_000) if quick else (50_000, 2_500)
    rows: list[Row] = []
    with fresh_state():
        try:
            lin = _build(chain_calls, fan_calls)
            nodes = len(default_graph())
            rows.append(
                Row(
                    "record the synthetic lineage (execute per call)",
                    lin.calls,
                    lin.build_s / lin.calls * 1e6,
                    "µs",
                    note=f"{nodes:,} graph nodes; built in {lin.build_s:.1f} s with GC off",
                )
            )
            rows += _first_sync(lin, max(3, repeats // 2))
            rows.append(_sync_after_one(lin, repeats))
            rows += _upkeep(lin, repeats, min(10_000, len(lin.batches)))
            rows += _queries(lin, repeats)
            rows += _payloads(lin, repeats)
        finally:
            gc.unfreeze()
    rows.append(_execute_with_graph(repeats))
    rows.append(_diff(repeats))
    rows += _html(repeats)
    return rows


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    t0 = time.perf_counter()
    rows = run(quick=quick)
    seconds = round(time.perf_counter() - t0, 2)
    path = write_json("lineage-quick" if quick else "lineage", rows, {"quick": quick, "seconds": seconds})
    print(format_table(rows))
    print(f"\n{len(rows)} figures in {seconds:.1f} s -> {path}", file=sys.stderr)
