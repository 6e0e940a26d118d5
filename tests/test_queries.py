"""Lineage queries (DESIGN A5): upstream, downstream, history, stale; what they accept and raise."""

from __future__ import annotations

import uuid

import pytest
from models import BUILDERS, Report, build_tree, register_all, sample, student

from ecs_notebook import (
    AddressError,
    CallableRegistry,
    EntityNotFoundError,
    EntityRegistry,
    FunctionExecution,
    create_composite_entity,
    diff,
    downstream,
    history,
    lineage_graph,
    stale,
    upstream,
)


@pytest.fixture(autouse=True)
def _live_graph(_fresh_ecs_state):
    """The session's graph exists from the start and is kept up to date as things are recorded."""
    lineage_graph()


# -- upstream / downstream tables ------------------------------------------------------------------
# (scenario, query, start, depth, include_executions, expected names). Depth counts entity-to-entity
# steps: an execution between two entities is not a step of its own.

CASES = [
    # three-stage pipeline: a0 --clean--> a1 --report--> r --summarize--> m
    ("pipeline", "up", "m", None, False, {"r", "a1", "a0"}),
    ("pipeline", "up", "m", 1, False, {"r"}),
    ("pipeline", "up", "m", 2, False, {"r", "a1"}),
    ("pipeline", "up", "m", 3, False, {"r", "a1", "a0"}),
    ("pipeline", "up", "m", 0, False, set()),
    ("pipeline", "up", "m", None, True, {"r", "a1", "a0", "x:summarize", "x:report", "x:clean"}),
    ("pipeline", "down", "a0", None, False, {"a1", "r", "m"}),
    ("pipeline", "down", "a0", 1, False, {"a1"}),
    ("pipeline", "down", "a0", 2, False, {"a1", "r"}),
    ("pipeline", "down", "a0", None, True, {"a1", "r", "m", "x:clean", "x:report", "x:summarize"}),
    ("pipeline", "up", "a0", None, False, set()),
    ("pipeline", "down", "m", None, False, set()),
    ("pipeline", "down", "r", None, False, {"m"}),
    # fan-out: s --split--> lo, hi; each --summarize--> slo, shi
    ("fan_out", "down", "s", None, False, {"lo", "hi", "slo", "shi"}),
    ("fan_out", "down", "s", 1, False, {"lo", "hi"}),
    ("fan_out", "up", "slo", None, False, {"lo", "s"}),
    ("fan_out", "up", "slo", 1, False, {"lo"}),
    ("fan_out", "down", "lo", None, False, {"slo"}),
    ("fan_out", "up", "hi", None, True, {"x:split", "s"}),
    # fan-in: a, b --report--> ra, rb --merge--> m; o --report--> ro is unrelated
    ("fan_in", "up", "m", None, False, {"ra", "rb", "a", "b"}),
    ("fan_in", "up", "m", 1, False, {"ra", "rb"}),
    ("fan_in", "down", "a", None, False, {"ra", "m"}),
    ("fan_in", "down", "o", None, False, {"ro"}),
    ("fan_in", "up", "ro", None, False, {"o"}),
    # versions: e0 -> e1 -> e2 (version_entity); r was derived from e1
    ("versions", "up", "e2", None, False, {"e1", "e0"}),
    ("versions", "up", "e2", 1, False, {"e1"}),
    ("versions", "down", "e0", None, False, {"e1", "e2", "r"}),
    ("versions", "down", "e0", 1, False, {"e1"}),
    ("versions", "down", "e0", 2, False, {"e1", "e2", "r"}),
    ("versions", "up", "r", None, False, {"e1", "e0"}),
    # borrows: src --label--> comp (create_composite_entity), src --label--> tgt (borrow_attribute_from)
    ("borrows", "down", "src", None, False, {"comp", "tgt", "s2"}),
    ("borrows", "down", "src", 1, False, {"comp", "tgt"}),
    ("borrows", "up", "s2", None, False, {"comp", "src"}),
    ("borrows", "up", "tgt", None, False, {"src"}),
    # a tree: s0 holds alg0, bio, adv; pick(s0) detached alg1 (next version of alg0); grade(s0) -> s1,
    # which shares s0's unchanged children (their child edges stay with s0; s1.advisor borrows adv)
    ("tree", "down", "s0", None, False, {"alg0", "bio", "adv", "s1", "alg1"}),
    ("tree", "down", "s0", 1, False, {"alg0", "bio", "adv", "s1", "alg1"}),
    ("tree", "down", "alg0", None, False, {"alg1"}),
    ("tree", "up", "bio", None, False, {"s0"}),
    ("tree", "up", "alg1", 1, False, {"alg0", "s0"}),
    ("tree", "up", "alg1", None, False, {"alg0", "s0"}),
    ("tree", "up", "s1", None, False, {"s0", "adv"}),
    ("tree", "up", "s1", None, True, {"s0", "adv", "x:grade"}),
]


def _case_id(case):
    scenario, direction, start, depth, execs, _ = case
    return f"{scenario}-{direction}-{start}-d{depth}{'-x' if execs else ''}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_upstream_downstream_table(case):
    scenario, direction, start, depth, execs, expected = case
    names = BUILDERS[scenario]()
    query = upstream if direction == "up" else downstream
    got = query(names[start], depth=depth, include_executions=execs)
    assert names.of(got) == expected
    assert len(got) == len(set(got)), "no duplicates"
    assert all(isinstance(i, str) for i in got)


def test_results_are_nearest_first():
    names = BUILDERS["pipeline"]()
    assert upstream(names["m"]) == [names["r"], names["a1"], names["a0"]]
    assert downstream(names["a0"]) == [names["a1"], names["r"], names["m"]]


def test_depth_counts_entity_steps_not_executions():
    register_all()
    a = sample("a")
    r = CallableRegistry.execute("report", a=a)
    m = CallableRegistry.execute("summarize", r=r)
    # a --report--> r --summarize--> m: two entity steps, two executions
    assert downstream(a, depth=1) == [str(r.ecs_id)]
    assert downstream(a, depth=2) == [str(r.ecs_id), str(m.ecs_id)]
    assert len(downstream(a, depth=2, include_executions=True)) == 4
    assert upstream(m, depth=1) == [str(r.ecs_id)]


def test_depth_is_the_shortest_entity_distance():
    names = build_tree()
    d = CallableRegistry.execute("describe", c=EntityRegistry.get(names["alg1"]))
    # s0 --pick--> alg1 --describe--> d: two entity steps from s0
    assert str(d.ecs_id) in downstream(names["s0"])
    assert str(d.ecs_id) in downstream(names["s0"], depth=2)


# -- what a query accepts --------------------------------------------------------------------------


def _forms(names):
    s0 = names["s0"]
    return {
        "str": s0,
        "uuid": uuid.UUID(s0),
        "address": f"@{s0}",
        "address-upper": f"@{s0.upper()}",
        "entity": EntityRegistry.get(s0),
    }


@pytest.mark.parametrize("form", ["str", "uuid", "address", "address-upper", "entity"])
@pytest.mark.parametrize("query", [upstream, downstream, history, stale], ids=["upstream", "downstream", "history", "stale"])
def test_every_query_accepts_every_form(query, form):
    names = build_tree()
    assert query(_forms(names)[form]) == query(names["s0"])


def test_child_address_names_the_child_version():
    names = build_tree()
    s0 = names["s0"]
    assert downstream(f"@{s0}.courses.0") == downstream(names["alg0"]) == [names["alg1"]]
    assert set(upstream(f"@{s0}.advisor")) == set(upstream(names["adv"]))
    assert history(f"@{s0}.courses.0") == [names["alg0"], names["alg1"]]


def test_plain_value_address_names_the_entity_holding_it():
    names = build_tree()
    assert downstream(f"@{names['s0']}.name") == downstream(names["s0"])


def test_live_entity_is_queried_at_its_current_version():
    register_all()
    a = sample("a")
    r0 = CallableRegistry.execute("report", a=a)
    a.value = 5.0
    EntityRegistry.version_entity(a)
    assert downstream(a) == []  # the new version has nothing derived from it yet
    assert set(upstream(a)) == {str(a.old_ids[0])}
    assert str(r0.ecs_id) in downstream(a.old_ids[0])


# -- errors ----------------------------------------------------------------------------------------

UNKNOWN = "01234567-89ab-4def-8123-456789abcdef"
QUERIES = [upstream, downstream, history, stale]
QUERY_IDS = ["upstream", "downstream", "history", "stale"]


@pytest.mark.parametrize("query", QUERIES, ids=QUERY_IDS)
@pytest.mark.parametrize("target", [UNKNOWN, uuid.UUID(UNKNOWN), f"@{UNKNOWN}", f"@{UNKNOWN}.name"], ids=["str", "uuid", "address", "path"])
def test_unknown_ids_raise_entity_not_found(query, target):
    sample()
    with pytest.raises(EntityNotFoundError):
        query(target)


@pytest.mark.parametrize("query", QUERIES, ids=QUERY_IDS)
def test_bad_path_raises_address_error(query):
    s = student()
    with pytest.raises(AddressError, match="nosuch"):
        query(f"@{s.ecs_id}.nosuch")
    with pytest.raises(AddressError):
        query(f"@{s.ecs_id}.courses.7")


MALFORMED = ["@not-a-uuid", f"@{UNKNOWN}..name", f"@{UNKNOWN}.", "@"]


@pytest.mark.parametrize("query", [upstream, downstream, history, stale, lambda x: diff(x, x)], ids=[*QUERY_IDS, "diff"])
@pytest.mark.parametrize("address", MALFORMED, ids=["not-uuid", "empty-segment", "trailing-dot", "bare-at"])
def test_malformed_address_raises_address_error(query, address):
    sample()
    with pytest.raises(AddressError):
        query(address)


def test_composite_input_is_not_a_queryable_node():
    register_all()
    CallableRegistry.execute("grade", s=student(), bonus=1.0)
    composite = CallableRegistry.executions()[-1].input_entity_id
    assert EntityRegistry.has(composite)
    with pytest.raises(EntityNotFoundError):
        upstream(composite)


# -- results ---------------------------------------------------------------------------------------


def test_results_are_a_list_with_a_readable_display_and_a_loader():
    names = BUILDERS["pipeline"]()
    got = upstream(names["m"], include_executions=True)
    assert isinstance(got, list)
    text = repr(got)
    assert "6 version(s)" in text or "6 " in text
    assert names["m"][:8] in text  # says what it is about
    assert "Report" in text and "Sample" in text  # labels, not only ids
    loaded = got.entities()
    executions = {names[x] for x in names if x.startswith("x:")}
    assert [str(e.ecs_id) for e in loaded] == [i for i in got if i not in executions]
    assert not any(isinstance(e, FunctionExecution) for e in loaded)
    assert {type(e).__name__ for e in loaded} == {"Report", "Sample"}
    loaded[0].label = "edited"  # copies: editing them changes nothing recorded
    assert EntityRegistry.get(names["r"]).label == "a"


def test_empty_result_display():
    a = sample()
    got = downstream(a)
    assert got == []
    assert "none" in repr(got)


def test_long_result_display_is_shortened():
    register_all()
    a = sample("a")
    for _ in range(12):
        CallableRegistry.execute("report", a=a)
    text = repr(downstream(a))
    assert "12 version(s)" in text
    assert "more" in text
    assert len(text) < 1000


# -- history ---------------------------------------------------------------------------------------


def test_history_oldest_first_from_any_version():
    names = BUILDERS["versions"]()
    expected = [names["e0"], names["e1"], names["e2"]]
    for v in ("e0", "e1", "e2"):
        assert history(names[v]) == expected
    assert history(names["e0"]) == [str(i) for i in EntityRegistry.history(EntityRegistry.lineage_of(names["e0"]))]


def test_history_of_an_execution_output_and_a_mutation():
    names = BUILDERS["pipeline"]()
    assert history(names["a1"]) == [names["a0"], names["a1"]]  # clean() is a new version of a's lineage
    assert history(names["r"]) == [names["r"]]


# -- stale -----------------------------------------------------------------------------------------


def _edit(name_or_id, **changes):
    """Record a new version of the lineage of a recorded version (through a copy, then version it)."""
    e = EntityRegistry.get(EntityRegistry.latest(EntityRegistry.lineage_of(name_or_id)))
    for k, v in changes.items():
        setattr(e, k, v)
    EntityRegistry.version_entity(e)
    return e


STALE = [
    # (scenario, edits: [(name, changes)], query, expected)
    ("versions", [], "e2", {"r"}),  # r came from e1, and e2 is newer
    ("versions", [], "e0", {"r"}),
    ("pipeline", [], "a0", set()),  # a1 (latest) is a's own lineage: nothing else came from a0
    ("pipeline", [("a1", {"value": 9.0})], "a0", {"r", "m"}),
    ("fan_in", [("a", {"value": 9.0})], "a", {"ra", "m"}),
    ("fan_in", [("a", {"value": 9.0})], "b", set()),
    ("fan_in", [], "a", set()),
    ("fan_out", [("s", {"value": 0.0})], "s", {"lo", "hi", "slo", "shi"}),
    ("borrows", [("src", {"name": "renamed"})], "src", {"comp", "tgt", "s2"}),
    ("tree", [], "s0", {"alg1"}),  # pick() ran on s0; grade() made s1 the latest
    ("tree", [], "s1", {"alg1"}),
]


@pytest.mark.parametrize("case", STALE, ids=[f"{c[0]}-{len(c[1])}edit-{c[2]}" for c in STALE])
def test_stale_table(case):
    scenario, edits, query, expected = case
    names = BUILDERS[scenario]()
    for name, changes in edits:
        _edit(names[name], **changes)
    got = stale(names[query])
    assert names.of(got) == expected
    lineage = EntityRegistry.lineage_of(names[query])
    assert all(EntityRegistry.lineage_of(i) != lineage for i in got), "x's own lineage is never stale"


def test_stale_follows_derivations_transitively_and_skips_fresh_results():
    register_all()
    a = sample("a")
    r0 = CallableRegistry.execute("report", a=a)
    m0 = CallableRegistry.execute("summarize", r=r0)
    a.value = 2.0
    EntityRegistry.version_entity(a)
    r1 = CallableRegistry.execute("report", a=a)
    m1 = CallableRegistry.execute("summarize", r=r1)
    got = set(stale(a))
    assert got == {str(r0.ecs_id), str(m0.ecs_id)}
    assert str(r1.ecs_id) not in got and str(m1.ecs_id) not in got


def test_stale_of_an_unrelated_composite():
    src = sample("src")
    comp = create_composite_entity(Report, {"label": f"@{src.ecs_id}.name"})
    assert stale(src) == []
    _edit(str(src.ecs_id), name="new")
    assert stale(src) == [str(comp.ecs_id)]
    assert isinstance(EntityRegistry.get(comp.ecs_id), Report)
