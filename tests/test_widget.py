"""The explorer widget without a browser: traits, live refresh, selection, filters, errors."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import pytest
import traitlets
from models import Course, Item, Report, Student

from ecs_notebook import CallableRegistry, Entity, EntityNotFoundError, EntityRegistry
from ecs_notebook.notebook.widget import STATIC, LineageExplorer, show_lineage


@pytest.fixture
def analyze():
    @CallableRegistry.register("analyze")
    def analyze(student: Student, threshold: float = 3.5) -> Report:
        return Report(student_name=student.name, score=student.gpa)

    @CallableRegistry.register("fail")
    def fail(student: Student) -> Report:
        raise RuntimeError("no report today")

    return analyze


@pytest.fixture
def ada():
    s = Student(name="Ada", gpa=3.6, courses=[Course(name="Algebra")])
    s.promote_to_root()
    return s


@pytest.fixture
def explorer():
    made = []

    def make(*args, **kwargs):
        w = LineageExplorer(*args, **kwargs)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def ids(w):
    return {n["id"] for n in w.graph["nodes"]}


def node(w, node_id):
    return next(n for n in w.graph["nodes"] if n["id"] == node_id)


# -- construction and traits ------------------------------------------------------------------


def test_defaults_show_the_whole_session_with_filter_choices(analyze, ada, explorer):
    r = CallableRegistry.execute("analyze", student=ada)
    w = explorer()
    assert (w.focus, w.depth, w.direction, w.selected, w.error) == ("", 2, "both", "", "")
    assert w.graph["version"] == 1 and w.graph["focus"] is None
    assert {str(ada.ecs_id), str(r.ecs_id), str(ada.courses[0].ecs_id)} <= ids(w)
    assert w.filter_options == {"types": ["Course", "Report", "Student"], "functions": ["analyze"]}
    assert w.details == {}


@pytest.mark.parametrize(
    "as_target",
    [
        lambda s: s,
        lambda s: str(s.ecs_id),
        lambda s: s.ecs_id,
        lambda s: f"@{s.ecs_id}",
        lambda s: f"@{str(s.ecs_id).upper()}",
    ],
    ids=["entity", "ecs_id-str", "uuid", "address", "address-uppercase"],
)
def test_target_may_be_an_entity_an_ecs_id_or_an_address(analyze, ada, explorer, as_target):
    w = explorer(as_target(ada), depth=1, direction="down")
    assert w.focus == str(ada.ecs_id)
    assert w.graph["focus"] == str(ada.ecs_id)
    assert (w.graph["depth"], w.graph["direction"]) == (1, "down")
    assert node(w, str(ada.ecs_id))["focus"] is True


def test_an_address_into_a_tree_focuses_on_the_child_it_names(ada, explorer):
    w = explorer(f"@{ada.ecs_id}.courses.0")
    assert w.focus == str(ada.courses[0].ecs_id)


def test_a_bad_target_or_direction_raises_at_once(explorer):
    with pytest.raises(EntityNotFoundError):
        explorer(str(uuid.uuid4()))
    with pytest.raises(ValueError, match="direction"):
        explorer(direction="sideways")


def test_traits_validate_direction_and_depth(ada, explorer):
    w = explorer(ada)
    with pytest.raises(traitlets.TraitError, match="direction"):
        w.direction = "left"
    with pytest.raises(traitlets.TraitError, match="depth"):
        w.depth = -1
    w.depth = None  # no limit
    assert w.graph["depth"] is None and w.error == ""


def test_every_synced_trait_is_plain_json(analyze, ada, explorer):
    ada.scores = {"nan": math.nan}
    EntityRegistry.version_entity(ada)
    CallableRegistry.execute("analyze", student=ada)
    w = explorer(ada)
    w.selected = str(ada.ecs_id)
    state = {k: v for k, v in w.get_state().items() if not k.startswith("_")}
    json.dumps(state, allow_nan=False)  # what the comm sends must be strict JSON
    assert w.details["fields"]["scores"] == {"nan": "nan"}


def test_the_front_end_bundle_is_shipped_in_the_package():
    js = (STATIC / "explorer.js").read_text(encoding="utf-8")
    assert "ecs-explorer" in js and "export{" in js.replace(" ", "")
    assert (STATIC / "explorer.css").is_file()
    assert str(LineageExplorer._esm) == js  # anywidget reads the file (no Node at install time)


# -- live refresh -----------------------------------------------------------------------------


def test_graph_is_refreshed_before_execute_returns_and_selection_is_kept(analyze, ada, explorer):
    w = explorer(ada)
    w.selected = str(ada.ecs_id)
    before = len(w.graph["nodes"])
    seen = []
    CallableRegistry.on_execution(lambda x, outs: seen.append(len(w.graph["nodes"])))  # runs after the widget's hook
    r = CallableRegistry.execute("analyze", student=ada)
    assert seen == [before + 2]  # the execution and its report, already there
    assert str(r.ecs_id) in ids(w)
    assert w.selected == str(ada.ecs_id)
    assert w.details["id"] == str(ada.ecs_id)
    assert "analyze()" in w.status

    @CallableRegistry.register("rename")
    def rename(student: Student) -> Student:
        student.name = "Ada L."
        return student

    CallableRegistry.execute("rename", student=ada)
    assert "rename" in w.filter_options["functions"]  # the filter choices follow the session
    assert any(n["semantics"] == "mutation" for n in w.graph["nodes"])


def test_execution_outside_a_focused_view_skips_the_rebuild(analyze, ada, explorer):
    w = explorer(ada, depth=1)
    before = w.graph
    grace = Student(name="Grace", gpa=3.9)
    grace.promote_to_root()
    r = CallableRegistry.execute("analyze", student=grace)  # nothing in ada's view
    assert w.graph is before
    assert "outside this view" in w.status
    assert str(r.ecs_id) not in ids(w)
    assert w.filter_options["functions"] == ["analyze"]
    # Rebuilt from scratch, the view is the same: skipping lost nothing.
    assert ids(LineageExplorer(ada, depth=1)) == ids(w)


@pytest.mark.parametrize("depth", [0, 1, 2, None])
@pytest.mark.parametrize("direction", ["up", "down", "both"])
def test_skipping_rebuilds_never_leaves_a_view_behind(analyze, ada, explorer, depth, direction):
    """After each call, the live view equals one built from scratch (nodes, edges, stale marks)."""

    @CallableRegistry.register("rename")
    def rename(student: Student, name: str) -> Student:
        student.name = name
        return student

    def view(w):
        return (ids(w), {(e["from"], e["to"]) for e in w.graph["edges"]}, {n["id"] for n in w.graph["nodes"] if n.get("stale")})

    v2 = CallableRegistry.execute("rename", student=ada, name="Ada 2")
    report = CallableRegistry.execute("analyze", student=v2)
    grace = Student(name="Grace")
    grace.promote_to_root()
    w = explorer(report, depth=depth, direction=direction)
    steps = [
        lambda: CallableRegistry.execute("analyze", student=grace),  # unrelated
        lambda: CallableRegistry.execute("rename", student=v2, name="Ada 3"),  # a newer version upstream
        lambda: CallableRegistry.execute("analyze", student=ada),  # an old version used again
        lambda: CallableRegistry.execute("rename", student=grace, name="Grace 2"),  # unrelated mutation
    ]
    for step in steps:
        step()
        assert view(w) == view(LineageExplorer(report, depth=depth, direction=direction))


def test_aggregated_view_skips_unrelated_executions_and_follows_related_ones(analyze, ada, explorer):
    for _ in range(1_050):  # 2,100 nodes around ada: past the 2,000-node budget
        CallableRegistry.execute("analyze", student=ada)
    w = explorer(ada, depth=1)
    assert w.graph["aggregated"] is True
    before = w.graph
    grace = Student(name="Grace")
    grace.promote_to_root()
    CallableRegistry.execute("analyze", student=grace)
    assert w.graph is before and "outside this view" in w.status
    CallableRegistry.execute("analyze", student=ada)
    assert w.graph["total_nodes"] == before["total_nodes"] + 2
    assert w.graph["total_nodes"] == LineageExplorer(ada, depth=1).graph["total_nodes"]


class Pupil(Entity):
    """Plain fields only: a function that sets them all leaves nothing of its input's sources behind."""

    name: str
    gpa: float = 0.0


def test_new_version_of_an_undrawn_input_still_marks_the_view_stale(explorer):
    """The view reaches ada's lineage (v1) but not v2; R, drawn, derives from v2; v2 gets a new version."""

    @CallableRegistry.register("enrol")
    def enrol(course: Course) -> Pupil:
        return Pupil(name=course.name)

    @CallableRegistry.register("rename")
    def rename(student: Pupil, name: str) -> Pupil:
        student.name, student.gpa = name, student.gpa + 0.5  # every field: nothing left from the course
        return student

    @CallableRegistry.register("grade")
    def grade(course: Course, student: Pupil) -> Report:
        return Report(student_name=student.name, score=len(course.name))

    course = Course(name="Logic")
    course.promote_to_root()
    v1 = CallableRegistry.execute("enrol", course=course)
    v2 = CallableRegistry.execute("rename", student=v1, name="Ada L.")
    report = CallableRegistry.execute("grade", course=course, student=v2)
    w = explorer(course, depth=1, direction="down")
    assert {str(v1.ecs_id), str(report.ecs_id)} <= ids(w) and str(v2.ecs_id) not in ids(w)
    assert node(w, str(report.ecs_id))["stale"] is False
    CallableRegistry.execute("rename", student=v2, name="Ada Lovelace")
    assert node(w, str(report.ecs_id))["stale"] is True
    assert node(LineageExplorer(course, depth=1, direction="down"), str(report.ecs_id))["stale"] is True


def test_failed_executions_are_drawn_and_marked(analyze, ada, explorer):
    w = explorer(ada)
    with pytest.raises(RuntimeError):
        CallableRegistry.execute("fail", student=ada)
    failed = [n for n in w.graph["nodes"] if n["kind"] == "execution"]
    assert len(failed) == 1 and failed[0]["succeeded"] is False
    assert "FAILED" in failed[0]["title"]
    assert "failed" in w.status


def test_close_unsubscribes(analyze, ada, explorer):
    w = explorer(ada)
    before = w.graph
    w.close()
    CallableRegistry.execute("analyze", student=ada)
    assert w.graph == before
    assert w.comm is None
    w.close()  # twice is harmless


def test_an_explorer_nobody_holds_is_collected_and_its_hook_goes_with_it(analyze, ada):
    import gc
    import weakref

    import ipywidgets

    hooks_before = len(CallableRegistry._hooks)
    w = LineageExplorer(ada)
    assert len(CallableRegistry._hooks) == hooks_before + 1
    alive = weakref.ref(w)
    # Dropped without our close(): ipywidgets forgets it (its own close: comm and widget registry),
    # the caller lets go. Neither the execution hook nor anywidget's file watcher may keep it alive.
    ipywidgets.Widget.close(w)
    del w
    gc.collect()
    assert alive() is None
    assert len(CallableRegistry._hooks) == hooks_before  # the hook unsubscribed itself
    CallableRegistry.execute("analyze", student=ada)  # and nothing dangles


# -- selection and details --------------------------------------------------------------------


def test_selecting_an_entity_fills_details_and_selected_entity(analyze, ada, explorer):
    r = CallableRegistry.execute("analyze", student=ada)
    w = explorer(ada)
    w.selected = str(r.ecs_id)
    d = w.details
    assert (d["id"], d["kind"], d["type"]) == (str(r.ecs_id), "entity", "Report")
    assert d["fields"] == {"student_name": "Ada", "summary": "", "label": None, "score": 3.6}
    assert d["provenance"]["student_name"] == {"entity": str(ada.ecs_id), "label": "Student Ada"}
    assert [v["id"] for v in d["versions"]] == [str(r.ecs_id)]
    x = d["execution"]
    assert (x["function_name"], x["succeeded"], x["semantics"], x["direct"]) == ("analyze", True, "creation", True)
    assert x["inputs"] == [{"id": str(ada.ecs_id), "label": "Student Ada"}]

    got = w.selected_entity
    assert isinstance(got, Report) and got.ecs_id == r.ecs_id
    got.score = 0.0  # a copy: what is recorded does not change
    assert w.selected_entity.score == 3.6


def test_details_show_children_as_references_and_the_version_history(ada, explorer):
    first = ada.ecs_id
    ada.gpa = 3.9
    EntityRegistry.version_entity(ada)
    w = explorer(ada)
    w.selected = str(first)
    d = w.details
    assert d["fields"]["courses"] == [{"entity": str(ada.courses[0].ecs_id), "label": "Course Algebra"}]
    assert [(v["id"], v["selected"], v["latest"]) for v in d["versions"]] == [(str(first), True, False), (str(ada.ecs_id), False, True)]
    assert d["fields"]["gpa"] == 3.6  # the selected (old) version's data


def test_selecting_an_execution_shows_inputs_and_outputs_and_no_entity(analyze, ada, explorer):
    r = CallableRegistry.execute("analyze", student=ada)
    w = explorer(ada)
    x = str(r.derived_from_execution_id)
    w.selected = x
    assert w.details["kind"] == "execution"
    assert w.details["inputs"][0]["id"] == str(ada.ecs_id)
    assert w.details["outputs"] == [{"id": str(r.ecs_id), "label": node(w, str(r.ecs_id))["label"], "semantics": "creation"}]
    assert w.details["fields"]["function_name"] == "analyze"
    assert w.selected_entity is None
    w.selected = ""
    assert w.details == {} and w.selected_entity is None


def test_double_click_focus_and_depth_rebuild_the_graph(analyze, ada, explorer):
    r = CallableRegistry.execute("analyze", student=ada)
    w = explorer(ada, depth=2)
    w.focus = str(r.ecs_id)  # what a double-click on a node sets
    assert w.graph["focus"] == str(r.ecs_id)
    w.direction = "down"
    assert ids(w) == {str(r.ecs_id)}  # nothing derives from the report
    w.direction = "up"
    w.depth = 1
    assert str(ada.ecs_id) in ids(w) and w.error == ""


# -- filters, aggregates, stale ---------------------------------------------------------------


def test_filters_keep_only_chosen_types_and_functions(analyze, ada, explorer):
    CallableRegistry.execute("analyze", student=ada)
    w = explorer()
    w.filters = {"types": ["Report"], "functions": []}
    assert {n["type"] for n in w.graph["nodes"] if n["kind"] == "entity"} == {"Report"}
    w.filters = {"types": [], "functions": ["nothing-like-this"]}
    assert not [n for n in w.graph["nodes"] if n["kind"] == "execution"]
    w.filters = {}
    assert any(n["kind"] == "execution" for n in w.graph["nodes"])


def test_expand_draws_the_members_of_an_aggregate(explorer):
    @CallableRegistry.register("make")
    def make(k: int) -> Item:
        return Item(name=f"item{k}", value=k)

    for k in range(1100):  # 2,200 nodes: past the 2,000 drawn
        CallableRegistry.execute("make", k=k)
    w = explorer()
    assert w.graph["aggregated"]
    aggregates = [n for n in w.graph["nodes"] if n["kind"] == "aggregate"]
    assert aggregates and all(n["id"].startswith("more:") for n in aggregates)
    target = aggregates[0]
    w.selected = target["id"]
    assert w.details["kind"] == "aggregate" and w.details["count"] == target["count"]
    w.expand = [target["id"]]  # what a double-click on it sets
    assert target["id"] not in ids(w)
    assert set(target["members"]) <= ids(w)


def test_the_focus_is_drawn_even_when_its_neighbourhood_is_aggregated(explorer):
    @CallableRegistry.register("derive")
    def derive(student: Student) -> Item:
        return Item(name=student.name)

    hub = Student(name="hub")
    while str(hub.ecs_id) < "f":  # an id ranked after most others at the same distance
        hub = Student(name="hub")
    hub.promote_to_root()
    for _ in range(2400):  # 2,400 calls at distance 0 from the hub: past the 2,000 drawn
        CallableRegistry.execute("derive", student=hub)
    w = explorer(hub)
    assert w.graph["aggregated"]
    assert node(w, str(hub.ecs_id))["focus"] is True


def test_outputs_of_an_outdated_input_version_are_marked_stale(analyze, ada, explorer):
    r = CallableRegistry.execute("analyze", student=ada)
    w = explorer(r, direction="up")
    assert not node(w, str(r.ecs_id))["stale"]
    ada.gpa = 1.0
    EntityRegistry.version_entity(ada)
    w.refresh()
    assert node(w, str(r.ecs_id))["stale"]
    assert not node(w, str(ada.previous_ecs_id))["stale"]


# -- errors, export, display ------------------------------------------------------------------


def test_observer_errors_surface_in_error_and_clear_on_success(ada, explorer):
    w = explorer(ada)
    graph = w.graph
    w.focus = str(uuid.uuid4())
    assert w.error.startswith("Error while showing focus=") and "EntityNotFoundError" in w.error
    assert w.graph == graph  # the last good view stays
    w.selected = str(uuid.uuid4())
    assert "EntityNotFoundError" in w.error
    w.selected = str(ada.ecs_id)
    assert w.error == ""
    w.focus = str(ada.ecs_id)
    assert w.error == "" and w.graph["focus"] == str(ada.ecs_id)


def test_a_failing_refresh_after_an_execution_is_reported_not_raised(analyze, ada, explorer, monkeypatch):
    w = explorer(ada)

    def broken(*args, **kwargs):
        raise RuntimeError("graph unavailable")

    monkeypatch.setattr("ecs_notebook.lineage.explorer.build_payload", broken)
    CallableRegistry.execute("analyze", student=ada)  # the call itself succeeds
    assert "graph unavailable" in w.error


def test_export_button_writes_the_standalone_page_and_reports_the_path(analyze, ada, explorer, tmp_path):
    evil = Student(name="<img src=x onerror=window.__xss=1></script>")
    evil.promote_to_root()
    CallableRegistry.execute("analyze", student=evil)
    w = explorer(evil)
    w.export_path = tmp_path / "view.html"
    w.export_request += 1  # what the button does
    assert w.status == f"exported to {(tmp_path / 'view.html').resolve()}", w.error
    html = (tmp_path / "view.html").read_text(encoding="utf-8")
    assert "<img src=x" not in html and '</script>"' not in html
    assert "\\u003cimg src=x" in html
    assert [p.name for p in tmp_path.iterdir()] == ["view.html"]


def test_to_html_writes_the_same_view(analyze, ada, explorer, tmp_path):
    r = CallableRegistry.execute("analyze", student=ada)
    w = explorer(r, depth=1, direction="up")
    out = w.to_html(tmp_path / "x.html")
    html = out.read_text(encoding="utf-8")
    data = json.loads(html.split('<script type="application/json" id="ecs-data">', 1)[1].split("</script>", 1)[0])
    drawn = {n["id"] for n in data["payload"]["nodes"]}
    assert drawn == {n["id"] for n in w.graph["nodes"]}, "the page draws what the widget shows"
    assert str(r.ecs_id) in drawn and str(ada.ecs_id) in drawn
    assert str(ada.courses[0].ecs_id) not in drawn  # two steps away: outside depth 1 (named in Ada's fields only)


def test_show_lineage_displays_and_returns_the_explorer(ada, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    w = show_lineage(ada, depth=3, direction="up")
    try:
        assert shown == [w] and isinstance(w, LineageExplorer)
        assert (w.focus, w.depth, w.direction) == (str(ada.ecs_id), 3, "up")
    finally:
        w.close()


def test_lazy_exports_resolve_to_the_widget():
    import ecs_notebook

    assert ecs_notebook.LineageExplorer is LineageExplorer
    assert ecs_notebook.show_lineage is show_lineage
    assert Path(STATIC).name == "static"
