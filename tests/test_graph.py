"""The lineage graph (DESIGN A5): networkx model, node/edge kinds, incremental upkeep, acyclicity, stores."""

from __future__ import annotations

import json
import subprocess
import textwrap

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from models import (
    BUILDERS,
    PYTHON,
    Report,
    Sample,
    Wrap,
    child_env,
    last_execution_id,
    register_all,
    sample,
    student,
)

import ecs_notebook
from ecs_notebook import CallableRegistry, EntityRegistry, ParameterEntity, create_composite_entity, lineage_graph
from ecs_notebook.lineage.graph import LineageGraph, default_graph
from ecs_notebook.testing import fresh_state


def named_edges(names, g):
    """The graph's edges as (from-name, to-name, kind, field) tuples."""
    out = []
    for u, v, a in g.edges(data=True):
        (fu,) = names.of([u])
        (fv,) = names.of([v])
        out.append((fu, fv, a["kind"], a.get("field")))
    return sorted(out, key=lambda t: tuple(str(x) for x in t))


def edge_set(g):
    return sorted((u, v, a["kind"], a.get("field")) for u, v, a in g.edges(data=True))


# -- node and edge kinds, scenario by scenario -----------------------------------------------------
# Every edge of each hand-built lineage, written out from DESIGN A5 (not read back from the code).

EDGES = {
    "pipeline": [
        ("a0", "a1", "version", None),
        ("a0", "x:clean", "input", None),
        ("x:clean", "a1", "output", None),
        ("a1", "x:report", "input", None),
        ("x:report", "r", "output", None),
        ("r", "x:summarize", "input", None),
        ("x:summarize", "m", "output", None),
    ],
    "fan_out": [
        ("s", "x:split", "input", None),
        ("x:split", "lo", "output", None),
        ("x:split", "hi", "output", None),
        ("lo", "x:slo", "input", None),
        ("x:slo", "slo", "output", None),
        ("hi", "x:shi", "input", None),
        ("x:shi", "shi", "output", None),
    ],
    "fan_in": [
        ("a", "x:ra", "input", None),
        ("x:ra", "ra", "output", None),
        ("b", "x:rb", "input", None),
        ("x:rb", "rb", "output", None),
        ("o", "x:ro", "input", None),
        ("x:ro", "ro", "output", None),
        ("ra", "x:merge", "input", None),
        ("rb", "x:merge", "input", None),
        ("x:merge", "m", "output", None),
    ],
    "versions": [
        ("e0", "e1", "version", None),
        ("e1", "e2", "version", None),
        ("e1", "x:report", "input", None),
        ("x:report", "r", "output", None),
    ],
    "borrows": [
        ("src", "comp", "borrow", "label"),
        ("src", "tgt", "borrow", "label"),
        ("comp", "x:summarize", "input", None),
        ("x:summarize", "s2", "output", None),
    ],
    "tree": [
        ("s0", "alg0", "child", None),
        ("s0", "bio", "child", None),
        ("s0", "adv", "child", None),
        # grade(s0) -> s1, a new version sharing s0's unchanged children: they keep the child edges
        # from s0, where they were first recorded (an edge from s1 to an older part could close a
        # cycle). s1's advisor field points at the part's own version: a borrow edge.
        ("s0", "s1", "version", None),
        ("s0", "x:grade", "input", None),
        ("x:grade", "s1", "output", None),
        ("adv", "s1", "borrow", "advisor"),
        # pick() detached a changed child: a new version of the child's lineage
        ("alg0", "alg1", "version", None),
        ("s0", "x:pick", "input", None),
        ("x:pick", "alg1", "output", None),
    ],
}


def built(scenario, mode):
    """Record a scenario with the default graph subscribed from the start ("live") or created after ("late")."""
    if mode == "live":
        lineage_graph()
    return BUILDERS[scenario]()


def modes(scenarios):
    """(scenario, mode) params: each scenario with the graph subscribed live, and created late."""
    out = []
    for sc in scenarios:
        out.append(pytest.param(sc, "live", id=f"{sc}-live"))
        out.append(pytest.param(sc, "late", id=f"{sc}-late"))
    return out


@pytest.mark.parametrize(("scenario", "mode"), modes(EDGES))
def test_edges_of_hand_built_lineages(scenario, mode):
    names = built(scenario, mode)
    g = lineage_graph()
    assert isinstance(g, nx.MultiDiGraph)
    assert set(g.nodes) == set(names.values()), "nodes are exactly the named versions and executions"
    assert named_edges(names, g) == sorted(EDGES[scenario], key=lambda t: tuple(str(x) for x in t))
    assert nx.is_directed_acyclic_graph(g)


@pytest.mark.parametrize("scenario", list(BUILDERS), ids=list(BUILDERS))
def test_node_kinds_and_attributes(scenario):
    names = BUILDERS[scenario]()
    g = lineage_graph()
    for name, node in names.items():
        a = g.nodes[node]
        assert isinstance(node, str)
        if name.startswith("x:"):
            assert a["kind"] == "execution"
            rec = EntityRegistry.get(node)
            assert a["function_name"] == rec.function_name
            assert a["succeeded"] is True
            assert a["duration_s"] == rec.duration_s
        else:
            assert a["kind"] == "entity"
            e = EntityRegistry.get(node)
            assert a["type"] == type(e).__name__
            assert a["lineage_id"] == str(e.lineage_id)
            assert a["created_at"] == e.created_at.isoformat()
            assert isinstance(a["label"], str) and a["label"].startswith(type(e).__name__)


def test_edge_endpoints_match_edge_kinds():
    for build in BUILDERS.values():
        with fresh_state():
            build()
            g = lineage_graph()
            for u, v, a in g.edges(data=True):
                ku, kv = g.nodes[u]["kind"], g.nodes[v]["kind"]
                expected = {"input": ("entity", "execution"), "output": ("execution", "entity")}.get(a["kind"], ("entity", "entity"))
                assert (ku, kv) == expected, (a, ku, kv)


def test_label_uses_a_name_like_field():
    s = sample("Grace Hopper", 1.0)
    assert lineage_graph().nodes[str(s.ecs_id)]["label"] == "Sample Grace Hopper"


def test_composite_input_is_recorded_but_not_a_node():
    register_all()
    s = student()
    out = CallableRegistry.execute("grade", s=s, bonus=2.0)  # a plain parameter: a ParameterEntity composite
    execution = CallableRegistry.executions()[-1]
    composite = execution.input_entity_id
    assert EntityRegistry.has(composite)
    assert isinstance(EntityRegistry.get(composite), ParameterEntity)
    g = lineage_graph()
    assert str(composite) not in g
    assert [u for u, _, k in g.in_edges(str(execution.ecs_id), data="kind") if k == "input"] == [str(s.ecs_id)]
    assert g.has_edge(str(execution.ecs_id), str(out.ecs_id))


def test_returned_unchanged_input_gets_no_output_edge():
    register_all()
    a = sample()
    out = CallableRegistry.execute("same", a=a)
    assert out.ecs_id == a.ecs_id
    x = last_execution_id()
    g = lineage_graph()
    assert [(u, v, k) for u, v, k in g.edges(data="kind")] == [(str(a.ecs_id), x, "input")]
    assert nx.is_directed_acyclic_graph(g)


def test_failed_execution_is_a_node_with_inputs_and_no_outputs():
    register_all()
    a = sample()
    with pytest.raises(RuntimeError):
        CallableRegistry.execute("boom", a=a)
    x = last_execution_id()
    g = lineage_graph()
    assert g.nodes[x]["kind"] == "execution"
    assert g.nodes[x]["succeeded"] is False
    assert g.nodes[x]["function_name"] == "boom"
    assert list(g.in_edges(x, data="kind")) == [(str(a.ecs_id), x, "input")]
    assert list(g.out_edges(x)) == []


def test_fan_out_outputs_are_siblings_not_linked():
    names = BUILDERS["fan_out"]()
    g = lineage_graph()
    assert not nx.has_path(g, names["lo"], names["hi"])
    assert not nx.has_path(g, names["hi"], names["lo"])


def test_multiple_borrowed_fields_give_one_borrow_edge_each():
    src = sample("src", 3.0)
    tgt = create_composite_entity(Report, {"label": f"@{src.ecs_id}.name", "score": f"@{src.ecs_id}.value"})
    g = lineage_graph()
    fields = sorted(a["field"] for u, v, a in g.edges(data=True) if a["kind"] == "borrow")
    assert fields == ["label", "score"]
    assert all(u == str(src.ecs_id) and v == str(tgt.ecs_id) for u, v, k in g.edges(data="kind") if k == "borrow")


# -- incremental upkeep ---------------------------------------------------------------------------


def test_graph_is_one_object_kept_up_to_date():
    register_all()
    a = sample()
    g = lineage_graph()
    assert set(g) == {str(a.ecs_id)}
    a1 = CallableRegistry.execute("clean", a=a)
    assert lineage_graph() is g, "the same MultiDiGraph grows; it is never rebuilt"
    assert str(a1.ecs_id) in g
    assert g.has_edge(str(a.ecs_id), str(a1.ecs_id))


def test_graph_created_late_reads_what_was_recorded_before():
    names = BUILDERS["pipeline"]()
    from ecs_notebook.lineage.graph import DEFAULT_GRAPH

    assert DEFAULT_GRAPH.graph is None, "nothing asked for the graph yet"
    assert set(lineage_graph()) == set(names.values())


def test_incremental_graph_equals_graph_built_from_the_store():
    register_all()
    lineage_graph()  # subscribe first: everything below arrives as events
    for build in BUILDERS.values():
        build()
    fresh = LineageGraph()
    try:
        rebuilt = fresh.nx()
    finally:
        fresh._close_state()
    g = lineage_graph()
    assert dict(g.nodes(data=True)) == dict(rebuilt.nodes(data=True))
    assert edge_set(g) == edge_set(rebuilt)


def test_node_attributes_filled_in_when_a_node_was_seen_first_as_a_reference():
    # Every node keeps its full attributes across syncs of the networkx view.
    register_all()
    a = sample("first")
    g = lineage_graph()
    a.value = 9.0
    EntityRegistry.version_entity(a)
    lineage_graph()
    for node, attrs in g.nodes(data=True):
        assert attrs["kind"] == "entity"
        assert attrs["type"] == "Sample"
    # The first version, synced while it was the only one, is relabelled once a second exists.
    labels = {node: attrs["label"] for node, attrs in g.nodes(data=True)}
    assert labels == {str(EntityRegistry.history(a.lineage_id)[0]): "Sample first v1", str(a.ecs_id): "Sample first v2"}


def test_labels_number_the_versions_of_a_lineage_as_history_lists_them():
    register_all()
    one = sample("solo")
    a = sample("ada")
    for value in (2.0, 3.0):
        a.value = value
        EntityRegistry.version_entity(a)
    labels = {n: attrs["label"] for n, attrs in lineage_graph().nodes(data=True)}
    assert labels[str(one.ecs_id)] == "Sample solo", "a lineage with one version needs no number"
    history = [str(v) for v in EntityRegistry.history(a.lineage_id)]
    assert [labels[v] for v in history] == ["Sample ada v1", "Sample ada v2", "Sample ada v3"]


# -- acyclicity under random call sequences (hypothesis) -------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("new"), st.integers(0, 9)),
        st.tuples(st.just("edit"), st.integers(0, 99), st.integers(0, 9)),
        st.tuples(st.sampled_from(["clean", "report", "split", "same", "boom"]), st.integers(0, 99)),
        st.tuples(st.just("merge"), st.integers(0, 99), st.integers(0, 99)),
        st.tuples(st.sampled_from(["pick", "grade", "edit_student", "detach_child", "new_student", "wrap", "hold"]), st.integers(0, 99)),
        st.tuples(st.sampled_from(["compose", "borrow"]), st.integers(0, 99)),
        st.tuples(st.just("look"), st.just(0)),
    ),
    min_size=1,
    max_size=14,
)


def _apply(op, samples, reports, students):
    kind, i = op[0], op[1]
    if kind == "new":
        samples.append(sample(f"n{i}", float(i)))
    elif kind == "new_student":
        students.append(student())
    elif kind == "look":
        lineage_graph()  # sync midway: later additions must be applied on top
    elif kind == "edit":
        a = samples[i % len(samples)]
        a.value = float(op[2]) + 0.5
        EntityRegistry.version_entity(a)
    elif kind in ("clean", "same"):
        samples.append(CallableRegistry.execute(kind, a=samples[i % len(samples)]))
    elif kind == "report":
        reports.append(CallableRegistry.execute("report", a=samples[i % len(samples)]))
    elif kind == "split":
        reports.extend(CallableRegistry.execute("split", a=samples[i % len(samples)]))
    elif kind == "boom":
        with pytest.raises(RuntimeError):
            CallableRegistry.execute("boom", a=samples[i % len(samples)])
    elif kind == "merge":
        if reports:
            CallableRegistry.execute("merge", x=reports[i % len(reports)], y=reports[op[2] % len(reports)])
    elif kind in ("pick", "grade", "edit_student", "detach_child", "wrap", "hold"):
        if not students:
            students.append(student())
        s = students[i % len(students)]
        if kind == "pick" and s.courses:
            CallableRegistry.execute("pick", s=s)
        elif kind == "grade":
            students.append(CallableRegistry.execute("grade", s=s))
        elif kind == "edit_student":
            if s.courses:
                s.courses[0].credits += 1
            else:
                s.gpa += 1
            EntityRegistry.version_entity(s)
        elif kind == "wrap":
            CallableRegistry.execute("wrap", s=s)  # an output holding its input
        elif kind == "hold":
            create_composite_entity(Wrap, {"student": s})  # a composite holding (and borrowing) an entity
        elif kind == "detach_child" and s.courses:
            c = s.courses.pop(0)
            c.detach()
            EntityRegistry.version_entity(s)
    elif kind == "compose":
        src = samples[i % len(samples)]
        create_composite_entity(Report, {"label": f"@{src.ecs_id}.name", "score": 1.0})
    elif kind == "borrow":
        t = Report()
        t.borrow_attribute_from(samples[i % len(samples)], "name", "label")
        t.promote_to_root()


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_graph_stays_acyclic_holds_every_version_and_reads_back_the_same(ops):
    with fresh_state():
        register_all()
        lineage_graph()  # kept up to date live from the first record on
        samples, reports, students = [sample("seed", 1.0)], [], []
        for op in ops:
            _apply(op, samples, reports, students)
        g = lineage_graph()
        assert nx.is_directed_acyclic_graph(g), nx.find_cycle(g)
        recorded = list(EntityRegistry.store.iter_records())
        for rec in recorded:
            if issubclass(rec.cls, ParameterEntity):
                assert str(rec.ecs_id) not in g
            else:
                assert str(rec.ecs_id) in g, f"{rec.cls.__name__} {rec.ecs_id} is recorded but not a node"
        for u, v, k in g.edges(data="kind"):
            if k == "input":
                assert g.nodes[u]["kind"] == "entity" and g.nodes[v]["kind"] == "execution"
            elif k == "output":
                assert g.nodes[u]["kind"] == "execution" and g.nodes[v]["kind"] == "entity"
            else:
                assert g.nodes[u]["kind"] == g.nodes[v]["kind"] == "entity"
        fresh = LineageGraph()  # read back from the store in one go: the same graph
        try:
            rebuilt = fresh.nx()
        finally:
            fresh._close_state()
        assert dict(g.nodes(data=True)) == dict(rebuilt.nodes(data=True))
        assert edge_set(g) == edge_set(rebuilt)


# -- known ways to break the contract --------------------------------------------------------------


@pytest.mark.parametrize("mode", ["live", "late"])
def test_output_holding_its_input_keeps_the_graph_acyclic(mode):
    # input -> execution -> output, and the output holds the input's (unchanged) version as a child
    register_all()
    if mode == "live":
        lineage_graph()
    s = student()
    w = CallableRegistry.execute("wrap", s=s)
    assert isinstance(w, Wrap) and w.student.ecs_id == s.ecs_id
    assert nx.is_directed_acyclic_graph(lineage_graph())


@pytest.mark.parametrize("mode", ["live", "late"])
def test_composite_entity_with_an_entity_field_keeps_the_graph_acyclic(mode):
    # the composite borrows the student (borrow edge) and holds its version as a child
    if mode == "live":
        lineage_graph()
    s = student()
    w = create_composite_entity(Wrap, {"student": s, "note": "x"})
    assert w.attribute_source["student"] == s.ecs_id
    g = lineage_graph()
    assert nx.is_directed_acyclic_graph(g)
    assert (str(s.ecs_id), str(w.ecs_id), "borrow") in [(u, v, k) for u, v, k in g.edges(data="kind")]


def test_borrow_inside_a_function_from_a_non_input_is_an_edge():
    register_all()
    lookup = sample("lookup", 4.0)

    def annotate(a: Sample) -> Report:
        out = Report(score=a.value)
        out.borrow_attribute_from(lookup, "name", "label")
        return out

    CallableRegistry.register(annotate)
    r = CallableRegistry.execute("annotate", a=sample("input"))
    assert r.attribute_source["label"] == lookup.ecs_id  # provenance is recorded on the entity ...
    g = lineage_graph()
    assert (str(lookup.ecs_id), str(r.ecs_id), "borrow") in [(u, v, k) for u, v, k in g.edges(data="kind")]  # ... and in the graph
    assert not [e for e in g.edges(data=True) if e[2]["kind"] == "borrow" and e[0] != str(lookup.ecs_id)], (
        "values taken from the inputs are linked through the execution, not by borrow edges"
    )


def test_borrow_into_a_function_output_is_an_edge():
    register_all()
    r = CallableRegistry.execute("report", a=sample("a"))
    src = sample("elsewhere")
    r.borrow_attribute_from(src, "name", "label")
    assert EntityRegistry.version_entity(r)
    g = lineage_graph()
    assert (str(src.ecs_id), str(r.ecs_id), "borrow") in [(u, v, k) for u, v, k in g.edges(data="kind")]


# -- stores ----------------------------------------------------------------------------------------


def test_store_switch_resets_the_graph_to_the_new_store(tmp_path):
    register_all()
    before = sample("memory only")
    g = lineage_graph()
    assert str(before.ecs_id) in g
    ecs_notebook.connect(f"sqlite:///{tmp_path / 'a.db'}")
    assert str(before.ecs_id) not in lineage_graph(), "the graph shows the connected store"
    names = BUILDERS["pipeline"]()
    g_sqlite = lineage_graph()
    assert set(g_sqlite) == set(names.values())
    expected = edge_set(g_sqlite)
    ecs_notebook.connect("memory://")
    assert lineage_graph().number_of_nodes() == 0
    ecs_notebook.connect(f"sqlite:///{tmp_path / 'a.db'}")
    assert edge_set(lineage_graph()) == expected, "reconnecting reads the same lineage back"


_CHILD = textwrap.dedent(
    """
    import json, sys
    import ecs_notebook
    import models  # the user's classes (a store never imports them itself)
    from ecs_notebook import lineage_graph
    ecs_notebook.connect(sys.argv[1])
    g = lineage_graph()
    print(json.dumps({
        "nodes": sorted([n, a["kind"], a.get("type"), a.get("function_name"), a.get("succeeded")] for n, a in g.nodes(data=True)),
        "edges": sorted([u, v, a["kind"], a.get("field")] for u, v, a in g.edges(data=True)),
    }))
    """
)


def _graph_in_child(url):
    proc = subprocess.run([PYTHON, "-c", _CHILD, url], capture_output=True, text=True, env=child_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _graph_here():
    g = lineage_graph()
    return {
        "nodes": sorted([n, a["kind"], a.get("type"), a.get("function_name"), a.get("succeeded")] for n, a in g.nodes(data=True)),
        "edges": sorted([u, v, a["kind"], a.get("field")] for u, v, a in g.edges(data=True)),
    }


def test_graph_without_executions_survives_a_new_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'lineage.db'}"
    ecs_notebook.connect(url)
    lineage_graph()  # kept up to date live
    a = sample("a")
    a.value = 2.0
    EntityRegistry.version_entity(a)  # version edge
    create_composite_entity(Report, {"label": f"@{a.ecs_id}.name"})  # borrow edge
    student()  # child edges
    here = _graph_here()
    assert {e[2] for e in here["edges"]} == {"version", "borrow", "child"}
    assert _graph_in_child(url) == json.loads(json.dumps(here))


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param("pipeline", id="pipeline"),
        pytest.param("fan_in", id="fan_in"),
        pytest.param("tree", id="tree"),
    ],
)
def test_graph_with_executions_survives_a_new_process(tmp_path, scenario):
    # The composite inputs' generated classes cannot be imported in the new process: they must
    # still not become nodes there.
    url = f"sqlite:///{tmp_path / 'lineage.db'}"
    ecs_notebook.connect(url)
    lineage_graph()  # the graph of the session that recorded it, kept up to date live
    BUILDERS[scenario]()
    here = _graph_here()
    there = _graph_in_child(url)
    assert there == json.loads(json.dumps(here))


def test_default_graph_is_part_of_fresh_state():
    sample("outer")
    outer = default_graph()
    with fresh_state():
        assert default_graph() is not outer
        assert lineage_graph().number_of_nodes() == 0
    assert default_graph() is outer


def test_students_children_are_nodes_with_child_edges():
    s = student()
    g = lineage_graph()
    kids = {v for _, v, k in g.out_edges(str(s.ecs_id), data="kind") if k == "child"}
    assert kids == {str(c.ecs_id) for c in s.courses} | {str(s.advisor.ecs_id)}
    assert all(g.nodes[k]["type"] == "Course" for k in kids)


def test_cached_call_is_an_execution_linked_to_the_recorded_outputs():
    from ecs_notebook import RegistryConfig

    register_all()
    CallableRegistry.config = RegistryConfig(enable_function_caching=True)
    lineage_graph()
    a = sample("a")
    r1 = CallableRegistry.execute("report", a=a)
    r2 = CallableRegistry.execute("report", a=a)
    first, second = CallableRegistry.executions()
    assert second.cached and r1.ecs_id == r2.ecs_id
    g = lineage_graph()
    for x in (first, second):
        assert g.nodes[str(x.ecs_id)]["kind"] == "execution"
        assert g.has_edge(str(a.ecs_id), str(x.ecs_id))
        assert g.has_edge(str(x.ecs_id), str(r1.ecs_id))
    assert nx.is_directed_acyclic_graph(g)


def test_graph_follows_records_inside_a_batch(tmp_path):
    ecs_notebook.connect(f"sqlite:///{tmp_path / 'b.db'}")
    register_all()
    with ecs_notebook.batch():
        a = sample("a")
        assert str(a.ecs_id) in lineage_graph()
        r = CallableRegistry.execute("report", a=a)
        assert str(r.ecs_id) in lineage_graph(), "records are in the graph before the batch commits"
    assert lineage_graph().number_of_nodes() == 3


def test_the_read_api_answers_what_the_networkx_view_shows():
    """LineageTopology: the same nodes, kinds, edges (with borrowed fields) and attributes as lineage_graph()."""
    from ecs_notebook.lineage.graph import EDGE_KINDS, ENTITY, EXECUTION, LineageTopology

    names = BUILDERS["borrows"]()
    g: LineageTopology = default_graph()
    view = lineage_graph()
    assert len(g) == view.number_of_nodes() and list(g.names()) == [str(i) for i in g.ids]
    edges = set()
    for i, nid in enumerate(g.names()):
        assert g.kind(i) == g.kinds[i] == (EXECUTION if view.nodes[nid]["kind"] == "execution" else ENTITY)
        assert g.attrs(i) == view.nodes[nid]
        assert g.record(i) is g.records[i] and g.record(i).ecs_id == g.ids[i]
        assert g.index_of(g.ids[i]) == i
        assert list(g.out_edges(i)) == list(g.out_adjacency[i])
        for j, k in g.out_edges(i):
            assert (i, k) in g.in_edges(j)
            edges.add((nid, g.names()[j], EDGE_KINDS[k], ",".join(g.borrow_fields(i, j)) if EDGE_KINDS[k] == "borrow" else None))
    assert edges == {(a, b, d["kind"], d.get("field")) for a, b, d in view.edges(data=True)}
    src, tgt = g.index_of(uuid_of(names["src"])), g.index_of(uuid_of(names["tgt"]))
    assert list(g.borrow_fields(src, tgt)) == ["label"] and list(g.borrow_fields(tgt, src)) == []


def uuid_of(eid: str):
    import uuid

    return uuid.UUID(eid)
