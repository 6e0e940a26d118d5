"""The explorer payload (DESIGN A5/A7): deterministic JSON, selection, filters, layout, aggregation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from models import BUILDERS, build_tree, register_all, sample

from ecs_notebook import CallableRegistry, EntityNotFoundError, EntityRegistry, downstream, lineage_graph, upstream
from ecs_notebook.lineage.payload import DEFAULT_BUDGET, X_STEP, build_payload


@pytest.fixture(autouse=True)
def _live_graph(_fresh_ecs_state):
    """The session's graph exists from the start and is kept up to date as things are recorded."""
    lineage_graph()


def ids_of(payload, kind=None):
    return {n["id"] for n in payload["nodes"] if kind is None or n["kind"] == kind}


def drawn(payload):
    return {n["id"] for n in payload["nodes"] if n["kind"] != "aggregate"}


def check_well_formed(p):
    """Structure every payload has: sorted nodes, edges between drawn nodes, consistent counts."""
    node_ids = [n["id"] for n in p["nodes"]]
    assert node_ids == sorted(node_ids), "nodes sorted by id"
    assert len(node_ids) == len(set(node_ids))
    ids = set(node_ids)
    for e in p["edges"]:
        assert e["from"] in ids and e["to"] in ids, e
        assert e["kind"] in ("input", "output", "version", "borrow", "child")
    keys = [(e["from"], e["to"], e["kind"], e["field"] or "") for e in p["edges"]]
    assert keys == sorted(keys), "edges sorted"
    assert len({e["id"] for e in p["edges"]}) == len(p["edges"])
    aggregates = [n for n in p["nodes"] if n["kind"] == "aggregate"]
    assert p["shown_nodes"] == len(p["nodes"]) - len(aggregates)
    assert p["total_nodes"] == p["shown_nodes"] + sum(n["count"] for n in aggregates), "aggregate counts are exact"
    assert p["aggregated"] is bool(aggregates)
    assert json.loads(json.dumps(p)) == p, "plain JSON (no default= needed)"


# -- determinism -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", list(BUILDERS), ids=list(BUILDERS))
def test_building_twice_gives_identical_json(scenario):
    names = BUILDERS[scenario]()
    first = json.dumps(build_payload(), sort_keys=True)
    assert json.dumps(build_payload(), sort_keys=True) == first
    focus = next(iter(names.values()))
    assert json.dumps(build_payload(focus, depth=1), sort_keys=True) == json.dumps(build_payload(focus, depth=1), sort_keys=True)
    p = build_payload()
    check_well_formed(p)
    assert drawn(p) == set(names.values())


def test_payload_fields():
    names = BUILDERS["pipeline"]()
    p = build_payload(names["r"], depth=1, direction="up")
    assert p["version"] == 1
    assert p["focus"] == names["r"]
    assert p["depth"] == 1
    assert p["direction"] == "up"
    focus = [n for n in p["nodes"] if n["focus"]]
    assert [n["id"] for n in focus] == [names["r"]]
    r = focus[0]
    assert r["kind"] == "entity" and r["type"] == "Report" and r["function"] == "report"
    assert r["lineage_id"] == str(EntityRegistry.get(names["r"]).lineage_id)
    x = next(n for n in p["nodes"] if n["id"] == names["x:report"])
    assert x["kind"] == "execution" and x["function"] == "report" and x["succeeded"] is True
    assert x["label"] == "report()"


def test_whole_graph_without_target():
    names = BUILDERS["fan_in"]()
    p = build_payload(None)
    assert p["focus"] is None and p["depth"] is None
    assert drawn(p) == set(names.values())
    assert p["total_nodes"] == len(names)
    assert not any(n["focus"] for n in p["nodes"])


# -- selection: focus, depth, direction ------------------------------------------------------------

SELECTIONS = [
    ("pipeline", "a1", 1, "both", {"a1", "x:clean", "a0", "x:report", "r", "x:summarize"}),
    ("pipeline", "a1", 1, "down", {"a1", "x:report", "r", "x:summarize"}),
    ("pipeline", "a1", 1, "up", {"a1", "x:clean", "a0"}),
    ("pipeline", "m", None, "up", {"m", "x:summarize", "r", "x:report", "a1", "x:clean", "a0"}),
    ("pipeline", "a0", 0, "down", {"a0", "x:clean"}),
    ("fan_in", "ra", 1, "both", {"ra", "x:ra", "a", "x:merge", "m"}),
    ("fan_out", "s", 1, "down", {"s", "x:split", "lo", "hi", "x:slo", "x:shi"}),
    ("versions", "e1", 1, "both", {"e1", "e0", "e2", "x:report", "r"}),
]


@pytest.mark.parametrize("case", SELECTIONS, ids=[f"{c[0]}-{c[1]}-d{c[2]}-{c[3]}" for c in SELECTIONS])
def test_selection_table(case):
    scenario, focus, depth, direction, expected = case
    names = BUILDERS[scenario]()
    p = build_payload(names[focus], depth=depth, direction=direction)
    check_well_formed(p)
    assert names.of(drawn(p)) == expected
    # the same selection as the queries (executions included)
    same = {names[focus]}
    if direction in ("up", "both"):
        same |= set(upstream(names[focus], depth, include_executions=True))
    if direction in ("down", "both"):
        same |= set(downstream(names[focus], depth, include_executions=True))
    assert drawn(p) == same


def test_edges_are_those_of_the_selection():
    names = BUILDERS["pipeline"]()
    p = build_payload(names["a1"], depth=1, direction="up")
    got = {(names.of([e["from"]]).pop(), names.of([e["to"]]).pop(), e["kind"]) for e in p["edges"]}
    assert got == {("a0", "x:clean", "input"), ("x:clean", "a1", "output"), ("a0", "a1", "version")}


def test_borrow_edges_carry_their_field():
    names = BUILDERS["borrows"]()
    p = build_payload(names["src"], depth=1, direction="down")
    borrows = [e for e in p["edges"] if e["kind"] == "borrow"]
    assert {(e["from"], e["to"], e["field"]) for e in borrows} == {
        (names["src"], names["comp"], "label"),
        (names["src"], names["tgt"], "label"),
    }


def test_selection_depth_is_the_shortest_distance():
    names = build_tree()
    d = CallableRegistry.execute("describe", c=EntityRegistry.get(names["alg1"]))
    assert str(d.ecs_id) in drawn(build_payload(names["s0"], depth=2, direction="down"))


def test_errors():
    names = BUILDERS["pipeline"]()
    with pytest.raises(ValueError, match="direction"):
        build_payload(names["a0"], direction="sideways")
    with pytest.raises(EntityNotFoundError):
        build_payload("01234567-89ab-4def-8123-456789abcdef")


# -- filters ---------------------------------------------------------------------------------------


def test_type_filter_keeps_those_entity_types_and_every_execution():
    names = BUILDERS["fan_out"]()
    p = build_payload(types=["Summary"])
    check_well_formed(p)
    assert {n["type"] for n in p["nodes"] if n["kind"] == "entity"} == {"Summary"}
    assert names.of(ids_of(p, "execution")) == {"x:split", "x:slo", "x:shi"}
    assert p["filters"]["types"] == ["Summary"]


def test_function_filter_keeps_those_executions_and_every_entity():
    names = BUILDERS["pipeline"]()
    p = build_payload(functions=["report"])
    check_well_formed(p)
    assert names.of(ids_of(p, "execution")) == {"x:report"}
    assert names.of(ids_of(p, "entity")) == {"a0", "a1", "r", "m"}


def test_filters_keep_the_focus():
    names = BUILDERS["pipeline"]()
    p = build_payload(names["r"], depth=None, types=["Sample"])
    assert names["r"] in drawn(p)
    assert names.of(ids_of(p, "entity")) == {"r", "a0", "a1"}


def test_since_and_until_bound_creation_and_start_times():
    register_all()
    old = sample("old")
    new = sample("new")
    r = CallableRegistry.execute("report", a=new)
    execution = CallableRegistry.executions()[-1]
    stamp = EntityRegistry.record(new.ecs_id).created_at.isoformat()
    p = build_payload(since=stamp)
    assert str(old.ecs_id) not in drawn(p)
    assert {str(new.ecs_id), str(r.ecs_id), str(execution.ecs_id)} <= drawn(p)
    p = build_payload(until=EntityRegistry.record(old.ecs_id).created_at.isoformat())
    assert drawn(p) == {str(old.ecs_id)}


def test_since_accepts_any_iso_offset():
    a = sample("a")
    created = EntityRegistry.record(a.ecs_id).created_at
    just_before = created - timedelta(seconds=1)
    as_z = just_before.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    plus_two = (just_before + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%f+02:00")
    assert str(a.ecs_id) in drawn(build_payload(since=as_z))
    assert str(a.ecs_id) in drawn(build_payload(since=plus_two))


def test_since_and_until_must_be_timestamps():
    sample("a")
    with pytest.raises(ValueError, match="since"):
        build_payload(since="yesterday")
    with pytest.raises(ValueError, match="until"):
        build_payload(until="2024-13-45")


def test_since_keeps_versions_recorded_after_it():
    register_all()
    a = sample("a")
    created = EntityRegistry.record(a.ecs_id).created_at
    a1 = CallableRegistry.execute("clean", a=a)
    since = (created + timedelta(microseconds=1)).isoformat()
    p = build_payload(since=since)
    execution = CallableRegistry.executions()[-1]
    assert str(execution.ecs_id) in drawn(p)
    assert str(a1.ecs_id) in drawn(p)


# -- layout ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", list(BUILDERS), ids=list(BUILDERS))
def test_layout_runs_left_to_right_along_every_edge(scenario):
    BUILDERS[scenario]()
    p = build_payload()
    level = {n["id"]: n["level"] for n in p["nodes"]}
    for e in p["edges"]:
        assert level[e["from"]] < level[e["to"]], e
    for n in p["nodes"]:
        assert n["x"] == n["level"] * X_STEP
    rows = {}
    for n in p["nodes"]:
        rows.setdefault(n["level"], []).append(n["y"])
    for ys in rows.values():
        assert len(ys) == len(set(ys)), "no two nodes of one column overlap"


def _crossings(p):
    """Pairs of edges between adjacent columns that cross."""
    node = {n["id"]: n for n in p["nodes"]}
    spans = [(node[e["from"]], node[e["to"]]) for e in p["edges"]]
    spans = [(a["level"], a["y"], b["y"]) for a, b in spans if b["level"] == a["level"] + 1]
    return sum(
        1 for i, (la, a1, b1) in enumerate(spans) for lb, a2, b2 in spans[i + 1 :] if la == lb and (a1 - a2) * (b1 - b2) < 0
    )


def test_layout_keeps_independent_pipelines_from_crossing():
    """Rows are ordered by their neighbours, not by random ids: parallel pipelines draw as parallel lines."""
    register_all()
    for k in range(8):
        a = sample(f"s{k}", float(k))
        r = CallableRegistry.execute("report", a=CallableRegistry.execute("clean", a=a))
        CallableRegistry.execute("summarize", r=r)
    p = build_payload()
    assert len(p["nodes"]) == 8 * 7
    assert _crossings(p) == 0


def _chain(n):
    """a0 --clean--> a1 --clean--> ... an, each version also --report--> a Report."""
    register_all()
    a = sample("a", 0.0)
    versions = [a]
    for _ in range(n):
        CallableRegistry.execute("report", a=versions[-1])
        versions.append(CallableRegistry.execute("clean", a=versions[-1]))
    return versions


def test_aggregated_layout_runs_left_to_right_between_drawn_nodes():
    _chain(30)
    p = build_payload(budget=20)
    assert p["aggregated"]
    level = {n["id"]: n["level"] for n in p["nodes"]}
    real = drawn(p)
    for e in p["edges"]:
        if e["from"] in real and e["to"] in real:
            assert level[e["from"]] < level[e["to"]], e
    assert len(set(level.values())) > 3


# -- aggregation -----------------------------------------------------------------------------------


def test_aggregation_over_budget():
    _chain(30)  # 1 + 30 * 4 = 121 nodes
    p = build_payload(budget=20)
    check_well_formed(p)
    assert p["total_nodes"] == 121
    assert p["shown_nodes"] == 20
    aggregates = [n for n in p["nodes"] if n["kind"] == "aggregate"]
    assert aggregates
    hidden = set()
    for n in aggregates:
        assert n["id"].startswith("more:")
        assert n["label"].startswith(f"+{n['count']} more")
        assert n["members"] == sorted(n["members"])
        assert len(n["members"]) == n["count"]
        hidden |= set(n["members"])
    assert not hidden & drawn(p)
    assert len(hidden) + 20 == 121


def test_default_budget_is_2000():
    assert DEFAULT_BUDGET == 2000
    _chain(3)
    assert not build_payload()["aggregated"]


def test_focused_aggregation_keeps_the_nearest():
    versions = _chain(12)
    focus = versions[0]
    p = build_payload(focus, depth=None, direction="down", budget=9)
    check_well_formed(p)
    assert p["shown_nodes"] == 9
    kept = drawn(p)
    hidden = {m for n in p["nodes"] if n["kind"] == "aggregate" for m in n["members"]}

    def dist(node):
        for d in range(0, 40):
            if node == str(focus.ecs_id) or node in downstream(focus, depth=d, include_executions=True):
                return d
        raise AssertionError(node)

    assert max(dist(k) for k in kept) <= min(dist(h) for h in hidden)


def test_expand_draws_an_aggregate_individually():
    _chain(30)
    p = build_payload(budget=20)
    agg = max((n for n in p["nodes"] if n["kind"] == "aggregate"), key=lambda n: n["count"])
    q = build_payload(budget=20, expand=[agg["id"]])
    check_well_formed(q)
    assert agg["id"] not in ids_of(q)
    assert set(agg["members"]) <= drawn(q)
    assert q["shown_nodes"] == 20 + agg["count"]
    assert q["total_nodes"] == p["total_nodes"]


def test_expand_a_single_member():
    _chain(30)
    p = build_payload(budget=20)
    agg = next(n for n in p["nodes"] if n["kind"] == "aggregate" and n["count"] > 1)
    member = agg["members"][0]
    q = build_payload(budget=20, expand=[member])
    assert member in drawn(q)
    assert q["shown_nodes"] == 21
    check_well_formed(q)


def test_aggregate_count_is_exact_beyond_the_member_list(monkeypatch):
    import ecs_notebook.lineage.payload as payload

    monkeypatch.setattr(payload, "MEMBERS_SHOWN", 5)
    _chain(30)
    p = build_payload(budget=10)
    check_well_formed_counts_only(p)
    assert any(n["count"] > len(n["members"]) == 5 for n in p["nodes"] if n["kind"] == "aggregate")


def check_well_formed_counts_only(p):
    aggregates = [n for n in p["nodes"] if n["kind"] == "aggregate"]
    assert p["total_nodes"] == p["shown_nodes"] + sum(n["count"] for n in aggregates)


def test_focused_depth_two_stays_under_budget():
    register_all()
    hub = sample("hub")
    for _ in range(60):
        CallableRegistry.execute("split", a=hub)  # 60 executions, 120 reports around the hub
    p = build_payload(hub, depth=2, budget=50)
    check_well_formed(p)
    assert p["shown_nodes"] == 50
    assert p["total_nodes"] == 181
    assert str(hub.ecs_id) in drawn(p)


# -- entity text stays data ------------------------------------------------------------------------

HOSTILE = "<img src=x onerror=alert(1)>"


def test_labels_and_titles_are_raw_text():
    a = sample(HOSTILE)
    b = sample("</script><b>bold</b> & co")
    p = build_payload()
    by_id = {n["id"]: n for n in p["nodes"]}
    assert by_id[str(a.ecs_id)]["label"] == f"Sample {HOSTILE}"
    assert by_id[str(b.ecs_id)]["label"] == "Sample </script><b>bold</b> & co"
    for n in p["nodes"]:
        for key in ("label", "title"):
            assert "&lt;" not in n[key] and "&amp;" not in n[key], "no HTML escaping: the front end sets text"
            assert "<br" not in n[key] and "<div" not in n[key], "no HTML markup built around data"


def test_stale_ids_are_marked():
    names = BUILDERS["versions"]()
    p = build_payload(stale_ids={names["r"]})
    marked = {n["id"] for n in p["nodes"] if n["stale"]}
    assert marked == {names["r"]}


def test_failed_executions_are_marked():
    register_all()
    with pytest.raises(RuntimeError):
        CallableRegistry.execute("boom", a=sample())
    p = build_payload()
    (x,) = [n for n in p["nodes"] if n["kind"] == "execution"]
    assert x["succeeded"] is False
    assert "FAILED" in x["title"]
