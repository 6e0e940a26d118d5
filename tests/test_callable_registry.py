"""CallableRegistry: registration, result semantics, FunctionExecution records, hooks, scenarios."""

from __future__ import annotations

import inspect
import json
import warnings
from datetime import datetime
from typing import Any

import pytest
from models import (
    Box,
    Course,
    Item,
    Recorder,
    Report,
    Stats,
    Student,
    make_student,
    registered_student,
    state_of,
)

from ecs_notebook import (
    CallableRegistry,
    EntityNotFoundError,
    EntityRegistry,
    ExecutionSemantics,
    FunctionExecution,
    FunctionNotFoundError,
    InputValidationError,
    RegistrationError,
)
from ecs_notebook.core.errors import AddressError, OutputValidationError

MUTATION, CREATION, DETACHMENT = ExecutionSemantics.MUTATION, ExecutionSemantics.CREATION, ExecutionSemantics.DETACHMENT


@pytest.fixture
def rec():
    recorder = Recorder()
    unsubscribe = CallableRegistry.on_execution(recorder)
    yield recorder
    unsubscribe()


# -- registration ------------------------------------------------------------------------------


def _register_named(func):
    return CallableRegistry.register("named")(func)


def _register_parens(func):
    return CallableRegistry.register()(func)


def _register_bare(func):
    return CallableRegistry.register(func)


@pytest.mark.parametrize(
    ("register", "expected_name"),
    [(_register_named, "named"), (_register_parens, "double"), (_register_bare, "double")],
    ids=["register('named')", "register()", "register"],
)
def test_register_forms_make_the_function_executable_under_its_name(register, expected_name):
    def double(x: int) -> int:
        return 2 * x

    returned = register(double)

    assert returned is double  # the decorator leaves the function usable as before
    assert CallableRegistry.list() == [expected_name]
    assert CallableRegistry.execute(expected_name, x=21).result == 42


def test_input_model_keeps_parameter_types_and_defaults():
    @CallableRegistry.register("analyze")
    def analyze(student: Student, threshold: float = 3.5, tags: list[str] | None = None) -> Report:
        return Report(student_name=student.name)

    fields = CallableRegistry.get_metadata("analyze").input_model.model_fields

    assert fields["student"].annotation is Student
    assert fields["student"].is_required()
    assert fields["threshold"].annotation is float
    assert fields["threshold"].default == 3.5
    assert fields["tags"].annotation == (list[str] | None)
    assert fields["tags"].default is None


def test_basemodel_return_type_contributes_its_fields_to_the_output_model():
    @CallableRegistry.register
    def summarize(student: Student) -> Stats:
        return Stats(mean=student.gpa, count=1)

    fields = CallableRegistry.get_metadata("summarize").output_model.model_fields

    assert fields["mean"].annotation is float
    assert fields["count"].annotation is int
    assert fields["count"].default == 0


def test_missing_return_annotation_is_a_registration_error_naming_the_function():
    def no_annotation(x: int):
        return x

    with pytest.raises(RegistrationError, match="no_annotation"):
        CallableRegistry.register(no_annotation)
    assert "no_annotation" not in CallableRegistry.list()


def test_registering_a_name_again_replaces_it_with_a_new_code_version(rec):
    @CallableRegistry.register("step")
    def step_v1(x: int) -> int:
        return x + 1

    first = CallableRegistry.execute("step", x=1)
    v1 = CallableRegistry.get_metadata("step").code_version

    @CallableRegistry.register("step")
    def step_v2(x: int) -> int:
        return x + 100

    second = CallableRegistry.execute("step", x=1)
    v2 = CallableRegistry.get_metadata("step").code_version

    assert (first.result, second.result) == (2, 101)
    assert v1 != v2
    assert CallableRegistry.list() == ["step"]
    old_execution = EntityRegistry.get(first.derived_from_execution_id)
    new_execution = EntityRegistry.get(second.derived_from_execution_id)
    assert (old_execution.code_version, new_execution.code_version) == (v1, v2)


def test_registering_the_same_source_again_keeps_the_code_version():
    def same(x: int) -> int:
        return x

    CallableRegistry.register(same)
    before = CallableRegistry.get_metadata("same").code_version
    CallableRegistry.register(same)

    assert CallableRegistry.get_metadata("same").code_version == before


def test_functions_with_identical_signatures_get_distinct_models():
    @CallableRegistry.register
    def first(student: Student, k: int = 1) -> int:
        return k

    @CallableRegistry.register
    def second(student: Student, k: int = 1) -> int:
        return k

    a, b = CallableRegistry.get_metadata("first"), CallableRegistry.get_metadata("second")

    def type_id(cls):
        return f"{cls.__module__}:{cls.__qualname__}"

    assert a.input_model is not b.input_model
    assert a.output_model is not b.output_model
    assert type_id(a.input_model) != type_id(b.input_model)
    assert type_id(a.output_model) != type_id(b.output_model)
    s = registered_student()
    ra = CallableRegistry.execute("first", student=s)
    rb = CallableRegistry.execute("second", student=s)
    assert type(ra) is a.output_model
    assert type(rb) is b.output_model


def test_list_and_metadata_describe_the_registered_functions():
    @CallableRegistry.register("analyze")
    def analyze(student: Student, threshold: float = 3.5) -> Report:
        """Summarise a student."""
        return Report(student_name=student.name)

    @CallableRegistry.register
    async def fetch(n: int) -> int:
        return n

    assert CallableRegistry.list() == ["analyze", "fetch"]
    meta = CallableRegistry.get_metadata("analyze")
    assert meta.name == "analyze"
    assert isinstance(meta.signature, inspect.Signature)
    assert list(meta.signature.parameters) == ["student", "threshold"]
    assert meta.docstring == "Summarise a student."
    assert meta.is_async is False
    assert CallableRegistry.get_metadata("fetch").is_async is True
    assert isinstance(meta.code_version, str) and meta.code_version
    assert issubclass(meta.input_model, object) and "threshold" in meta.input_model.model_fields
    assert meta.output_model is Report
    payload = json.loads(json.dumps(meta.signature_json))
    assert [p["name"] for p in payload["parameters"]] == ["student", "threshold"]


def test_unknown_function_name_lists_close_names_and_records_nothing(rec):
    @CallableRegistry.register
    def analyze_student(student: Student) -> Report:
        return Report(student_name=student.name)

    s = registered_student()
    before = len(EntityRegistry)

    with pytest.raises(FunctionNotFoundError, match="analyze_student") as ei:
        CallableRegistry.execute("analyze_studnet", student=s)

    assert isinstance(ei.value, LookupError)
    assert len(EntityRegistry) == before
    assert rec.calls == []
    with pytest.raises(FunctionNotFoundError):
        CallableRegistry.get_metadata("analyze_studnet")


# -- semantics ---------------------------------------------------------------------------------


def _register_semantics_functions():
    @CallableRegistry.register
    def raise_gpa(student: Student, delta: float) -> Student:
        student.gpa += delta
        return student

    @CallableRegistry.register
    def identity(student: Student) -> Student:
        return student

    @CallableRegistry.register
    def take_item(box: Box, index: int) -> Item:
        return box.items[index]

    @CallableRegistry.register
    def make_report(student: Student) -> Report:
        return Report(student_name=student.name, score=student.gpa)


def test_mutation_is_a_new_version_of_the_input_lineage(rec):
    _register_semantics_functions()
    s = registered_student(gpa=3.0)
    version, caller_state = s.ecs_id, state_of(s)

    r = CallableRegistry.execute("raise_gpa", student=s, delta=0.5)

    assert rec.last.semantics == [MUTATION]
    assert r.gpa == 3.5
    assert r.lineage_id == s.lineage_id
    assert r.ecs_id != version
    assert r.previous_ecs_id == version
    assert version in r.old_ids
    assert EntityRegistry.history(s.lineage_id) == [version, r.ecs_id]
    assert EntityRegistry.get(r.ecs_id).gpa == 3.5
    assert state_of(s) == caller_state


def test_returned_unchanged_input_is_a_mutation_without_a_new_version(rec):
    _register_semantics_functions()
    s = registered_student()
    version = s.ecs_id

    r = CallableRegistry.execute("identity", student=s)

    assert rec.last.semantics == [MUTATION]
    assert r.ecs_id == version
    assert rec.last.output_entity_ids == [version]
    assert EntityRegistry.history(s.lineage_id) == [version]


def test_returned_child_of_an_input_is_a_detachment(rec):
    _register_semantics_functions()
    box = Box(label="b", items=[Item(name="a"), Item(name="b", value=2)])
    box.promote_to_root()
    child_version, child_lineage = box.items[1].ecs_id, box.items[1].lineage_id
    box_history, box_state = EntityRegistry.history(box.lineage_id), state_of(box)

    r = CallableRegistry.execute("take_item", box=box, index=1)

    assert rec.last.semantics == [DETACHMENT]
    assert r.lineage_id == child_lineage
    assert r.ecs_id != child_version
    assert r.previous_ecs_id == child_version
    assert r.is_root_entity()
    assert EntityRegistry.get(r.ecs_id).is_root_entity()
    assert EntityRegistry.history(child_lineage)[-1] == r.ecs_id
    assert EntityRegistry.history(box.lineage_id) == box_history
    assert state_of(box) == box_state


def test_new_entity_is_a_creation_with_its_own_lineage(rec):
    _register_semantics_functions()
    s = registered_student()

    r = CallableRegistry.execute("make_report", student=s)

    assert rec.last.semantics == [CREATION]
    assert r.lineage_id != s.lineage_id
    assert r.previous_ecs_id is None
    assert r.old_ids == []
    assert EntityRegistry.history(r.lineage_id) == [r.ecs_id]


# -- FunctionExecution on every path -------------------------------------------------------------

ORIGINAL = ValueError("the function's own error")


def _register_path_functions():
    @CallableRegistry.register
    def ok(student: Student, k: int = 1) -> Report:
        return Report(student_name=student.name, score=k)

    @CallableRegistry.register
    def raises(student: Student, k: int = 1) -> Report:
        student.name = "half-done"
        raise ORIGINAL

    @CallableRegistry.register
    def wrong_output(student: Student, k: int = 1) -> Report:
        return Course(name="not a report")


_PATHS = {
    "success": ("ok", {"k": 2}, None),
    "function raises": ("raises", {}, ValueError),
    "input validation failure": ("ok", {"k": "not an int"}, InputValidationError),
    "output validation failure": ("wrong_output", {}, OutputValidationError),
}


@pytest.mark.parametrize("path", list(_PATHS), ids=list(_PATHS))
def test_every_call_records_one_function_execution(rec, path):
    _register_path_functions()
    name, extra, error = _PATHS[path]
    s = registered_student()

    if error is None:
        CallableRegistry.execute(name, student=s, **extra)
    else:
        with pytest.raises(error):
            CallableRegistry.execute(name, student=s, **extra)

    assert len(rec.calls) == 1
    ex = rec.last
    assert isinstance(ex, FunctionExecution)
    assert EntityRegistry.get(ex.ecs_id).function_name == name  # recorded, not just reported
    assert ex.function_name == name
    assert ex.code_version == CallableRegistry.get_metadata(name).code_version
    assert isinstance(ex.started_at, datetime)
    assert ex.duration_s >= 0
    assert ex.was_unpacked is False
    assert ex.succeeded is (error is None)
    if error is None:
        assert (ex.error_type, ex.error_message, ex.traceback) == (None, None, None)
        assert len(ex.output_entity_ids) == 1
        assert ex.semantics == [CREATION]
    else:
        assert ex.error_type == error.__name__
        assert ex.error_message
        assert error.__name__ in ex.traceback
        assert ex.output_entity_ids == []
        assert ex.semantics == []
    if path == "input validation failure":
        assert ex.input_entity_ids == []  # validation failed before anything was recorded
    else:
        assert ex.input_entity_ids == [s.ecs_id]
        composite = EntityRegistry.get(ex.input_entity_id)
        assert composite.student.ecs_id == s.ecs_id


def test_the_functions_exception_is_reraised_unchanged(rec):
    _register_path_functions()
    s = registered_student()

    with pytest.raises(ValueError) as ei:
        CallableRegistry.execute("raises", student=s)

    assert ei.value is ORIGINAL
    assert rec.last.error_message == str(ORIGINAL)
    assert s.name == "Ada"


# -- hooks -------------------------------------------------------------------------------------


def test_hook_is_called_before_execute_returns_with_execution_and_outputs():
    _register_path_functions()
    s = registered_student()
    returned = []
    seen = []

    def hook(execution, outputs):
        seen.append((execution, outputs, bool(returned)))

    CallableRegistry.on_execution(hook)
    r = CallableRegistry.execute("ok", student=s)
    returned.append(r)

    [(execution, outputs, after_return)] = seen
    assert after_return is False
    assert execution.succeeded
    assert execution.output_entity_ids == [r.ecs_id]
    assert [o.ecs_id for o in outputs] == [r.ecs_id]


def test_hook_gets_no_outputs_on_failure(rec):
    _register_path_functions()

    with pytest.raises(ValueError):
        CallableRegistry.execute("raises", student=registered_student())

    assert rec.last.succeeded is False
    assert rec.last_outputs == []


def test_failing_hook_becomes_a_warning_and_the_call_succeeds(rec):
    _register_path_functions()

    def broken(execution, outputs):
        raise RuntimeError("hook exploded")

    CallableRegistry.on_execution(broken)
    after = Recorder()
    CallableRegistry.on_execution(after)

    with pytest.warns(Warning, match="hook exploded"):
        r = CallableRegistry.execute("ok", student=registered_student(), k=5)

    assert r.score == 5
    assert len(rec.calls) == len(after.calls) == 1  # the other hooks still ran


def test_unsubscribe_stops_the_hook():
    _register_path_functions()
    hook = Recorder()
    unsubscribe = CallableRegistry.on_execution(hook)
    s = registered_student()

    CallableRegistry.execute("ok", student=s)
    unsubscribe()
    CallableRegistry.execute("ok", student=s)
    unsubscribe()  # a second call is harmless

    assert len(hook.calls) == 1


def test_hook_errors_never_break_a_failing_call():
    _register_path_functions()

    def broken(execution, outputs):
        raise RuntimeError("hook exploded")

    CallableRegistry.on_execution(broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError) as ei:
            CallableRegistry.execute("raises", student=registered_student())

    assert ei.value is ORIGINAL
    assert any("hook exploded" in str(w.message) for w in caught)


# -- bad input: recorded as failed executions, nothing else changes -------------------------------


def _bad_input_setup():
    @CallableRegistry.register
    def grade(student: Student, course: Course, weight: float = 1.0) -> Report:
        return Report(student_name=student.name, score=course.credits * weight)

    @CallableRegistry.register
    def crash(student: Student, course: Course) -> Report:
        student.courses[0].name = "mangled"
        course.credits = -1
        raise ZeroDivisionError("crash")

    @CallableRegistry.register
    def wrong_type(student: Student, course: Course) -> Report:
        return course  # a Course where a Report is declared

    @CallableRegistry.register
    async def async_crash(student: Student, course: Course) -> Report:
        student.gpa = -1.0
        raise KeyError("async crash")


_BAD_INPUTS = {
    # id: (function, kwargs builder (s, c) -> kwargs, expected error, records besides the execution)
    "unknown parameter": ("grade", lambda s, c: {"student": s, "course": c, "wieght": 2.0}, InputValidationError, 0),
    "missing required parameter": ("grade", lambda s, c: {"student": s}, InputValidationError, 0),
    "wrong type": ("grade", lambda s, c: {"student": s, "course": c, "weight": "heavy"}, InputValidationError, 0),
    "address to a missing entity": (
        "grade",
        lambda s, c: {"student": s, "course": "@00000000-0000-4000-8000-000000000000"},
        EntityNotFoundError,
        0,
    ),
    "address to a missing field": (
        "grade",
        lambda s, c: {"student": s, "course": c, "weight": f"@{s.ecs_id}.weight"},
        AddressError,
        0,
    ),
    "entity of the wrong class": ("grade", lambda s, c: {"student": c, "course": c}, InputValidationError, 0),
    "function raises": ("crash", lambda s, c: {"student": s, "course": c}, ZeroDivisionError, 1),
    "wrong declared output type": ("wrong_type", lambda s, c: {"student": s, "course": c}, OutputValidationError, 1),
    "async function raises": ("async_crash", lambda s, c: {"student": s, "course": c}, KeyError, 1),
}


@pytest.mark.parametrize("case", list(_BAD_INPUTS), ids=list(_BAD_INPUTS))
def test_bad_input_records_only_the_failed_execution(rec, case):
    _bad_input_setup()
    name, build, error, composite_records = _BAD_INPUTS[case]
    s = registered_student()
    c = Course(name="Chemistry", credits=5)
    c.promote_to_root()
    states = (state_of(s), state_of(c))
    before = len(EntityRegistry)

    with pytest.raises(error):
        CallableRegistry.execute(name, **build(s, c))

    ex = rec.last
    assert len(rec.calls) == 1
    assert ex.succeeded is False
    assert ex.error_type == error.__name__
    # Validation failures record the execution only; once the arguments were valid, the composite
    # input entity the execution names is recorded with it (DESIGN A4: every call has one).
    assert len(EntityRegistry) == before + 1 + composite_records
    if composite_records:
        assert EntityRegistry.get(ex.input_entity_id).ecs_id == ex.input_entity_id
    else:
        assert ex.input_entity_id is None
    assert EntityRegistry.history(s.lineage_id) == [s.ecs_id]
    assert EntityRegistry.history(c.lineage_id) == [c.ecs_id]
    assert (state_of(s), state_of(c)) == states


def test_bad_input_errors_name_the_function_and_parameter():
    _bad_input_setup()
    s = registered_student()

    with pytest.raises(InputValidationError, match=r"grade.*'weight'"):
        CallableRegistry.execute("grade", student=s, course=Course(name="x"), weight="heavy")
    with pytest.raises(InputValidationError, match=r"grade.*'student'.*Student"):
        CallableRegistry.execute("grade", student=Course(name="x"), course=Course(name="y"))
    with pytest.raises(InputValidationError, match="wieght"):
        CallableRegistry.execute("grade", student=s, course=Course(name="x"), wieght=1.0)
    with pytest.raises(InputValidationError, match="course"):
        CallableRegistry.execute("grade", student=s)


# -- scenarios ---------------------------------------------------------------------------------


def test_scenario_in_place_gpa_update(rec):
    @CallableRegistry.register
    def update_gpa(student: Student, new_gpa: float) -> Student:
        student.gpa = new_gpa
        return student

    s = registered_student(gpa=3.1)
    before = state_of(s)

    r = CallableRegistry.execute("update_gpa", student=s, new_gpa=3.9)

    assert rec.last.semantics == [MUTATION]
    assert (r.lineage_id, r.previous_ecs_id, r.gpa) == (s.lineage_id, s.ecs_id, 3.9)
    assert EntityRegistry.history(s.lineage_id) == [s.ecs_id, r.ecs_id]
    assert state_of(s) == before
    assert EntityRegistry.get(s.ecs_id).gpa == 3.1


def test_scenario_report_from_a_student_points_at_that_version(rec):
    @CallableRegistry.register
    def student_report(student: Student) -> Report:
        return Report(student_name=student.name, summary=f"{len(student.courses)} courses", score=student.gpa)

    s = registered_student()

    r = CallableRegistry.execute("student_report", student=s)

    assert rec.last.semantics == [CREATION]
    assert r.derived_from_function == "student_report"
    assert r.derived_from_execution_id == rec.last.ecs_id
    assert r.function_input_entities == [s.ecs_id]
    assert set(r.attribute_source.values()) == {s.ecs_id}
    assert EntityRegistry.get(r.ecs_id).function_input_entities == [s.ecs_id]


def test_scenario_address_to_an_old_version_gives_old_values():
    seen = {}

    @CallableRegistry.register
    def look(student: Student, gpa: float) -> float:
        seen["student"], seen["gpa"] = (student.name, student.gpa), gpa
        return gpa

    s = registered_student(gpa=2.0)
    old = s.ecs_id
    s.gpa, s.name = 3.5, "Ada Lovelace"
    assert EntityRegistry.version_entity(s)

    CallableRegistry.execute("look", student=f"@{old}", gpa=f"@{old}.gpa")

    assert seen == {"student": ("Ada", 2.0), "gpa": 2.0}
    CallableRegistry.execute("look", student=s, gpa=f"@{s.ecs_id}.gpa")
    assert seen == {"student": ("Ada Lovelace", 3.5), "gpa": 3.5}


def test_scenario_two_entity_tuple_is_unpacked_with_sibling_links(rec):
    @CallableRegistry.register
    def split(student: Student) -> tuple[Report, Report]:
        return Report(student_name=student.name, summary="first"), Report(student_name=student.name, summary="second")

    s = registered_student()
    first, second = CallableRegistry.execute("split", student=s)

    assert (first.summary, second.summary) == ("first", "second")
    assert (first.output_index, second.output_index) == (0, 1)
    assert first.sibling_output_entities == [second.ecs_id]
    assert second.sibling_output_entities == [first.ecs_id]
    assert rec.last.was_unpacked is True
    assert rec.last.output_entity_ids == [first.ecs_id, second.ecs_id]
    assert rec.last.semantics == [CREATION, CREATION]


def test_scenario_child_returned_from_a_container_is_a_detachment(rec):
    @CallableRegistry.register
    def best_course(student: Student) -> Course:
        return max(student.courses, key=lambda c: c.credits)

    s = registered_student()
    biology = s.courses[1]

    r = CallableRegistry.execute("best_course", student=s)

    assert rec.last.semantics == [DETACHMENT]
    assert (r.name, r.lineage_id, r.previous_ecs_id) == ("Biology", biology.lineage_id, biology.ecs_id)
    assert r.is_root_entity()
    assert s.courses[1] is biology and biology.root_ecs_id == s.ecs_id  # caller's tree untouched


def test_scenario_two_entities_and_primitives_in_one_call(rec):
    @CallableRegistry.register
    def compare(a: Student, b: Student, margin: float, label: str) -> Report:
        winner = a if a.gpa - b.gpa > margin else b
        return Report(student_name=winner.name, summary=label, score=abs(a.gpa - b.gpa))

    a, b = registered_student("Ada", 3.9), registered_student("Bob", 3.0)

    r = CallableRegistry.execute("compare", a=a, b=b, margin=0.5, label="duel")

    assert (r.student_name, r.summary) == ("Ada", "duel")
    assert r.score == pytest.approx(0.9)
    assert r.function_input_entities == [a.ecs_id, b.ecs_id]
    composite = EntityRegistry.get(rec.last.input_entity_id)
    assert (composite.margin, composite.label) == (0.5, "duel")
    assert composite.attribute_source["a"] == a.ecs_id
    assert composite.attribute_source["b"] == b.ecs_id


def test_scenario_three_stage_pipeline_traces_back_to_exact_input_versions(rec):
    @CallableRegistry.register
    def clean(student: Student) -> Student:
        student.name = student.name.strip().title()
        return student

    @CallableRegistry.register
    def score(student: Student, bonus: float = 0.0) -> Report:
        return Report(student_name=student.name, score=student.gpa + bonus)

    @CallableRegistry.register
    def publish(report: Report, student: Student) -> Report:
        return Report(student_name=report.student_name, summary=f"{student.name}: {report.score}", score=report.score)

    raw = make_student("  ada lovelace ", 3.5)
    raw.promote_to_root()
    raw_version = raw.ecs_id

    cleaned = CallableRegistry.execute("clean", student=raw)
    report = CallableRegistry.execute("score", student=cleaned, bonus=0.25)
    final = CallableRegistry.execute("publish", report=report, student=cleaned)

    assert final.summary == "Ada Lovelace: 3.75"

    # Walk back from the final output through executions only (no knowledge of the pipeline).
    def inputs_of(ecs_id):
        entity = EntityRegistry.get(ecs_id)
        if entity.derived_from_execution_id is None:
            return []
        execution = EntityRegistry.get(entity.derived_from_execution_id)
        assert execution.succeeded and list(entity.function_input_entities) == execution.input_entity_ids
        return execution.input_entity_ids

    reached, frontier = set(), [final.ecs_id]
    while frontier:
        current = frontier.pop()
        for upstream in inputs_of(current):
            if upstream not in reached:
                reached.add(upstream)
                frontier.append(upstream)
        previous = EntityRegistry.get(current).previous_ecs_id
        if previous is not None and previous not in reached:
            reached.add(previous)
            frontier.append(previous)

    assert {report.ecs_id, cleaned.ecs_id, raw_version} <= reached
    assert EntityRegistry.get(raw_version).name == "  ada lovelace "
    assert [e.function_name for e in rec.executions] == ["clean", "score", "publish"]
    assert rec.executions[0].input_entity_ids == [raw_version]
    assert rec.executions[2].input_entity_ids == [report.ecs_id, cleaned.ecs_id]


def test_register_with_a_shared_input_model_uses_it_and_checks_its_fields():
    from pydantic import create_model

    from ecs_notebook.core.errors import RegistrationError
    from ecs_notebook.execution.functions import _InputModel

    shared = create_model("SharedInputs", __base__=_InputModel, a=(Any, ...), b=(Any, ...))

    def one(a: Any, b: Any) -> int:
        return a + b

    def two(a: Any, b: Any) -> int:
        return a * b

    CallableRegistry.register("one", input_model=shared)(one)
    CallableRegistry.register("two", input_model=shared)(two)
    assert CallableRegistry.get_metadata("one").input_model is CallableRegistry.get_metadata("two").input_model is shared
    assert CallableRegistry.execute("two", a=3, b=4).result == 12

    def other(a: Any) -> int:
        return a

    with pytest.raises(RegistrationError, match="input_model SharedInputs"):
        CallableRegistry.register("other", input_model=shared)(other)
