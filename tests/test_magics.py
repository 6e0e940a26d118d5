"""The magics (ecs_notebook.notebook.magics) in a real in-process IPython shell: %%ecs_exec cells and the %ecs_* line magics."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import UUID

import pytest
from ipython_shell import Ran, interactive_shell, one_line_usage_error, run

from ecs_notebook import CallableRegistry, EntityRegistry, ExecutionSemantics, get

MODELS = """
from ecs_notebook import Entity, CallableRegistry

class Course(Entity):
    name: str
    grade: float = 0.0

class Student(Entity):
    name: str
    gpa: float = 0.0
    courses: list[Course] = []

class Report(Entity):
    who: str
    honors: bool = False

ada = Student(name="Ada", gpa=3.4, courses=[Course(name="Algebra", grade=3.7), Course(name="Logic", grade=3.1)])
ada.promote_to_root()
first_version = ada.ecs_id
"""

SHORT = r"[0-9a-f]{8}"


@pytest.fixture
def ip(tmp_path, monkeypatch):
    with interactive_shell(tmp_path, monkeypatch) as shell:
        yield shell


@pytest.fixture
def school(ip):
    """The shell with Course/Student/Report classes and a recorded ``ada``."""
    ran = run(ip, MODELS)
    assert ran.error is None, ran.stdout
    return ip


def ok(ran: Ran) -> Ran:
    assert ran.error is None, f"{ran.error!r}\n{ran.stdout}\n{ran.stderr}"
    return ran


def last_execution(name: str):
    xs = CallableRegistry.executions(function=name)
    assert xs, f"no execution of {name} recorded"
    return xs[-1]


def summary_inputs(ran: Ran, name: str) -> list[str]:
    """The input names of the summary line ``NAME: a, b → ...``."""
    line = next(line for line in ran.text().splitlines() if line.startswith(f"{name}:"))
    ins = line.split(":", 1)[1].split("→")[0].strip()
    return [] if ins == "-" else [s.strip() for s in ins.split(",")]


def snapshot(ns: dict) -> dict[str, object]:
    """Name -> object identity of the user namespace (hidden IPython names excluded)."""
    return {k: id(v) for k, v in ns.items() if not k.startswith("_")}


def registry_counts() -> tuple[int, int]:
    c = EntityRegistry.store.counts()
    return c.get("versions", 0), c.get("executions", 0)


# -- %%ecs_exec: inputs and outputs (DESIGN A6) -------------------------------------------------


def test_undefined_in_name_is_a_usage_error(school):
    before = registry_counts()
    msg = one_line_usage_error(run(school, "%%ecs_exec f --in nope\ny = 1"))
    assert "nope" in msg
    assert registry_counts() == before
    assert "f" not in CallableRegistry.list()


# -- %%ecs_exec: isolation and write-back ---------------------------------------------------------


def test_read_only_entity_input_is_not_an_output(school):
    ok(run(school, "%%ecs_exec analyze\nreport = Report(who=ada.name)"))
    x = last_execution("analyze")
    assert school.user_ns["ada"].ecs_id not in x.output_entity_ids
    assert x.semantics == [ExecutionSemantics.CREATION]


def test_conditionally_assigned_name_read_later_is_an_input(school):
    ok(run(school, "reset = False\ntotal = 5"))
    ok(run(school, "%%ecs_exec tally\nif reset:\n    total = 0\ntotal += 1"))
    assert school.user_ns["total"] == 6


def test_top_level_await_inside_a_comprehension(school):
    ok(run(school, "import asyncio\nasync def fetch(v):\n    await asyncio.sleep(0)\n    return v * 2\nvs = [1, 2]"))
    ok(run(school, "%%ecs_exec fetched_all\nvalues = [await fetch(v) for v in vs]"))
    assert school.user_ns["values"] == [2, 4]


# -- %%ecs_exec: summary, failures, re-runs, batching ---------------------------------------------


def test_summary_line_shows_the_semantics_of_each_entity_output(school):
    ran = ok(run(school, "%%ecs_exec make\nreport = Report(who='x')"))
    assert re.search(rf"report@{SHORT} \(creation\)", ran.text())


def test_quiet_cell_shows_nothing(school):
    ran = ok(run(school, "%%ecs_exec analyze --quiet\nreport = Report(who=ada.name)"))
    assert ran.outputs == [] and ran.stdout == ""
    assert school.user_ns["report"].who == "Ada"


def test_exception_leaves_namespace_exactly_as_before_and_records_a_failed_execution(school):
    ok(run(school, "xs = [1, 2]\ntotal = 0"))
    ns = school.user_ns
    before = snapshot(ns)
    ada, xs = ns["ada"], ns["xs"]
    history_before = EntityRegistry.history(ada.lineage_id)
    ran = run(
        school,
        "%%ecs_exec broken\ntotal = 100\nnew_name = 1\nxs.append(3)\nada.gpa = 0.0\nreport = Report(who='half')\nraise ValueError('boom')",
    )
    assert isinstance(ran.result.error_in_exec, ValueError)
    assert "boom" in ran.stdout + ran.stderr
    assert snapshot(ns) == before
    assert ns["total"] == 0 and xs == [1, 2] and ada.gpa == 3.4 and "new_name" not in ns and "report" not in ns
    x = last_execution("broken")
    assert not x.succeeded
    assert (x.error_type, x.error_message) == ("ValueError", "boom")
    assert x.output_entity_ids == []
    assert ada.ecs_id in x.input_entity_ids
    assert EntityRegistry.history(ada.lineage_id) == history_before


# -- %ecs_exec NAME key=value (line form) ----------------------------------------------------------

REGISTERED = """
@CallableRegistry.register()
def grade(student: Student, bonus: float = 0.0) -> Report:
    return Report(who=student.name, honors=student.gpa + bonus >= 3.5)

@CallableRegistry.register()
def explode(student: Student) -> Report:
    raise RuntimeError("exploded on " + student.name)
"""


@pytest.fixture
def registered(school):
    ok(run(school, REGISTERED))
    return school


def test_line_exec_evaluates_expressions_and_stores_the_result(registered):
    ok(run(registered, "b = 0.05"))
    ran = ok(run(registered, "%ecs_exec grade student=ada bonus=b*2 -o graded"))
    ns = registered.user_ns
    graded = ns["graded"]
    assert graded.honors is True and graded.who == "Ada"
    assert graded.derived_from_function == "grade"
    x = last_execution("grade")
    assert x.output_entity_ids == [graded.ecs_id]
    assert ns["ada"].ecs_id in x.input_entity_ids
    assert ran.result.result is graded


def test_line_exec_takes_addresses(registered):
    ns = registered.user_ns
    ok(run(registered, f"%ecs_exec grade student=@{ns['first_version']} bonus=@{ns['first_version']}.gpa -o graded"))
    assert ns["graded"].honors is True  # 3.4 + 3.4
    assert ns["first_version"] in last_execution("grade").input_entity_ids


def test_line_exec_failure_is_raised_as_is_and_recorded(registered):
    ran = run(registered, "%ecs_exec explode student=ada -o nothing")
    assert isinstance(ran.result.error_in_exec, RuntimeError)
    assert "nothing" not in registered.user_ns
    x = last_execution("explode")
    assert not x.succeeded and x.error_message == "exploded on Ada"


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        pytest.param("%ecs_exec nosuch student=ada", "nosuch", id="unknown-function"),
        pytest.param("%ecs_exec grade student", "student", id="missing-equals"),
        pytest.param("%ecs_exec grade 1x=ada", "1x", id="bad-key"),
        pytest.param("%ecs_exec grade student=undefined_thing", "undefined_thing", id="expression-fails"),
        pytest.param("%ecs_exec grade student=@00000000-0000-4000-8000-000000000000", "00000000", id="unknown-address"),
        pytest.param("%ecs_exec grade student=ada nosuchparam=1", "nosuchparam", id="unknown-parameter"),
        pytest.param("%ecs_exec", "name", id="no-name"),
        pytest.param("%ecs_exec grade --bogus", "--bogus", id="unknown-option"),
    ],
)
def test_line_exec_mistakes_are_one_line_usage_errors_and_leave_no_output(registered, line, needle):
    ns = registered.user_ns
    before_ns = snapshot(ns)
    ada_history = EntityRegistry.history(ns["ada"].lineage_id)
    msg = one_line_usage_error(run(registered, line))
    assert needle in msg
    assert snapshot(ns) == before_ns
    assert EntityRegistry.history(ns["ada"].lineage_id) == ada_history
    assert all(not x.output_entity_ids for x in CallableRegistry.executions(failed=True))
    assert CallableRegistry.executions(function="grade", failed=False) == []


def test_unknown_function_names_suggestions(registered):
    msg = one_line_usage_error(run(registered, "%ecs_exec grad student=ada"))
    assert "grade" in msg  # a close match is suggested


# -- inspection magics -----------------------------------------------------------------------------


@pytest.fixture
def two_versions(school):
    ok(run(school, "%%ecs_exec raise_gpa --quiet\nada.gpa = 3.8"))
    return school


def test_ecs_show_accepts_variable_ecs_id_address_and_expression(two_versions):
    ns = two_versions.user_ns
    ada = ns["ada"]
    assert two_versions.run_line_magic("ecs_show", "ada") is ada
    old = two_versions.run_line_magic("ecs_show", str(ns["first_version"]))
    assert (old.ecs_id, old.gpa) == (ns["first_version"], 3.4)
    assert two_versions.run_line_magic("ecs_show", f"@{ada.ecs_id}.courses.1.name") == "Logic"
    assert two_versions.run_line_magic("ecs_show", "ada.previous_ecs_id").gpa == 3.4
    shown = ok(run(two_versions, "%ecs_show ada"))
    assert shown.result.result is ada


def test_ecs_history_lists_versions_oldest_first(two_versions):
    ns = two_versions.user_ns
    table = two_versions.run_line_magic("ecs_history", "ada")
    assert [r[:2] for r in table.rows] == [["v1", str(ns["first_version"])[:8]], ["v2", str(ns["ada"].ecs_id)[:8]]]
    assert table.rows[1][3] == "raise_gpa()"
    assert "raise_gpa()" in repr(table)


def test_ecs_diff_shows_changed_fields(two_versions):
    table = two_versions.run_line_magic("ecs_diff", "first_version ada")
    assert table.rows == [["gpa", "3.4", "3.8"]]
    assert "1 field(s) differ" in repr(table)


def test_ecs_executions_filters_and_stats(registered):
    ok(run(registered, "%ecs_exec grade student=ada"))
    run(registered, "%ecs_exec explode student=ada")
    ok(run(registered, "%%ecs_exec cellfn --quiet\nr = Report(who='c')"))
    everything = registered.run_line_magic("ecs_executions", "")
    assert [r[1] for r in everything.rows] == ["grade", "explode", "cellfn"]
    only = registered.run_line_magic("ecs_executions", "--function grade")
    assert [r[1] for r in only.rows] == ["grade"]
    failed = registered.run_line_magic("ecs_executions", "--failed")
    assert [(r[1], r[2]) for r in failed.rows] == [("explode", "FAILED RuntimeError")]
    stats = registered.run_line_magic("ecs_executions", "--stats")
    assert sorted((r[0], r[1], r[2]) for r in stats.rows) == [("cellfn", 1, 0), ("explode", 1, 1), ("grade", 1, 0)]


def test_ecs_store_shows_and_switches_the_store(school, tmp_path):
    shown = repr(school.run_line_magic("ecs_store", ""))
    assert str(Path(".ecs_notebook/lineage.db").resolve()) in shown
    assert "versions" in shown
    target = tmp_path / "elsewhere" / "other.db"
    switched = repr(school.run_line_magic("ecs_store", f"sqlite:///{target}"))
    assert str(target) in switched
    assert Path(EntityRegistry.store.path) == target
    assert EntityRegistry.store.counts()["versions"] == 0


def test_ecs_export_writes_html_and_json(two_versions, tmp_path):
    html_path, json_path = tmp_path / "lineage.html", tmp_path / "lineage.json"
    assert "wrote" in repr(two_versions.run_line_magic("ecs_export", f"html {html_path}"))
    assert "wrote" in repr(two_versions.run_line_magic("ecs_export", f"json {json_path} --target ada --depth 1"))
    assert html_path.stat().st_size > 0
    import json

    data = json.loads(json_path.read_text())
    assert str(two_versions.user_ns["ada"].ecs_id) in {n["id"] for n in data["nodes"]}


def test_ecs_export_openlineage(two_versions, tmp_path):
    ok(run(two_versions, f"%ecs_export openlineage {tmp_path / 'events.json'}"))
    assert (tmp_path / "events.json").exists()


def test_ecs_export_openlineage_writes_the_run_events_around_a_target(two_versions, tmp_path):
    import json

    ok(run(two_versions, "%%ecs_exec unrelated --quiet\nz = 1"))
    ok(run(two_versions, f"%ecs_export openlineage {tmp_path / 'all.jsonl'}"))
    ok(run(two_versions, f"%ecs_export openlineage {tmp_path / 'ada.jsonl'} --target ada"))
    every = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    around = [json.loads(line) for line in (tmp_path / "ada.jsonl").read_text().splitlines()]
    assert [(e["job"]["name"], e["eventType"]) for e in every] == [
        ("raise_gpa", "START"),
        ("raise_gpa", "COMPLETE"),
        ("unrelated", "START"),
        ("unrelated", "COMPLETE"),
    ]
    assert [(e["job"]["name"], e["eventType"]) for e in around] == [("raise_gpa", "START"), ("raise_gpa", "COMPLETE")]
    outputs = [o["facets"]["version"]["datasetVersion"] for o in around[1]["outputs"]]
    assert outputs == [str(two_versions.user_ns["ada"].ecs_id)]


def test_ecs_lineage_returns_an_explorer_for_a_target_or_the_session(two_versions):
    from ecs_notebook.notebook.widget import LineageExplorer

    ns = two_versions.user_ns
    whole = two_versions.run_line_magic("ecs_lineage", "")
    focused = two_versions.run_line_magic("ecs_lineage", "ada --depth 1 --direction up")
    try:
        assert isinstance(whole, LineageExplorer) and isinstance(focused, LineageExplorer)
        assert (focused.depth, focused.direction) == (1, "up")
        assert str(ns["ada"].ecs_id) in {n["id"] for n in focused.graph["nodes"]}
    finally:
        whole.close()
        focused.close()


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        pytest.param("%ecs_show nope", "nope", id="show-unknown-target"),
        pytest.param("%ecs_show", "target", id="show-no-target"),
        pytest.param("%ecs_show @00000000-0000-4000-8000-000000000000", "00000000", id="show-unknown-id"),
        pytest.param("%ecs_show ada.courses", "list", id="show-not-an-entity"),
        pytest.param("%ecs_show @{ada}.nosuchfield", "nosuchfield", id="show-bad-address-field"),
        pytest.param("%ecs_history 12345", "12345", id="history-bad-target"),
        pytest.param("%ecs_diff ada", "b", id="diff-missing-argument"),
        pytest.param("%ecs_executions --bogus", "--bogus", id="executions-bad-option"),
        pytest.param("%ecs_store bogus://x", "bogus://x", id="store-bad-url"),
        pytest.param("%ecs_export pdf out.pdf", "pdf", id="export-bad-format"),
        pytest.param("%ecs_lineage ada --direction sideways", "sideways", id="lineage-bad-direction"),
        pytest.param("%ecs_lineage nope", "nope", id="lineage-unknown-target"),
    ],
)
def test_inspection_mistakes_are_one_line_usage_errors(school, line, needle):
    line = line.replace("{ada}", str(school.user_ns["ada"].ecs_id))
    store = EntityRegistry.store
    msg = one_line_usage_error(run(school, line))
    assert needle in msg
    assert EntityRegistry.store is store


@pytest.mark.parametrize(
    "magic", ["ecs_exec", "ecs_lineage", "ecs_show", "ecs_history", "ecs_diff", "ecs_executions", "ecs_store", "ecs_export"]
)
def test_every_magic_has_help(ip, magic):
    ran = ok(run(ip, f"%{magic}?"))
    assert f"%{magic}" in ran.stdout
    paragraphs = ip.find_line_magic(magic).__doc__.split("\n\n")
    assert paragraphs[1].strip().startswith(f"%{magic}")  # the usage block from magic_arguments
    summary = paragraphs[2].splitlines()[0].strip()  # the one-line description
    assert summary.endswith(".") and summary in ran.stdout


# -- bad input to %%ecs_exec (the list) ------------------------------------------------------


def test_cell_without_a_name_is_a_usage_error(school):
    before, before_ns = registry_counts(), snapshot(school.user_ns)
    msg = one_line_usage_error(run(school, "%%ecs_exec\ny = 1"))
    assert "name" in msg
    assert registry_counts() == before and snapshot(school.user_ns) == before_ns
    assert CallableRegistry.list() == []


def test_cell_form_rejects_key_value_arguments(school):
    msg = one_line_usage_error(run(school, "%%ecs_exec f a=1\ny = 1"))
    assert "a=1" in msg
    assert CallableRegistry.list() == []


def test_cell_with_a_syntax_error_fails_the_cell(school):
    ran = run(school, "%%ecs_exec broken\ny = (1 +\n")
    assert not ran.result.success


def test_cell_raising_after_assigning_outputs_loses_nothing(school):
    ok(run(school, "%%ecs_exec good --quiet\nreport = Report(who='kept')\nscore = 1"))
    ns = school.user_ns
    before, before_ns = registry_counts(), snapshot(ns)
    ran = run(school, "%%ecs_exec good\nreport = Report(who='lost')\nscore = 2\n1 / 0")
    assert isinstance(ran.result.error_in_exec, ZeroDivisionError)
    assert snapshot(ns) == before_ns and ns["report"].who == "kept" and ns["score"] == 1
    versions, executions = registry_counts()
    assert executions == before[1] + 1
    x = last_execution("good")
    assert not x.succeeded and x.output_entity_ids == []
    assert all(get(f"@{i}").who != "lost" for i in EntityRegistry.ids_by_type(type(ns["report"])))


def test_input_and_output_names_are_uuids_not_strings(school):
    ok(run(school, "%%ecs_exec analyze --quiet\nreport = Report(who=ada.name)"))
    x = last_execution("analyze")
    assert all(isinstance(i, UUID) for i in [*x.input_entity_ids, *x.output_entity_ids])
