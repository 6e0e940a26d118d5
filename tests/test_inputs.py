"""Arguments of execute: the seven input patterns, the composite input entity, isolation, pending edits."""

from __future__ import annotations

import pytest
from models import Box, Course, Item, Recorder, Report, Student, make_student, registered_student, state_of

from ecs_notebook import (
    CallableRegistry,
    EntityRegistry,
    InputValidationError,
    ParameterEntity,
    RegistrationError,
)


@pytest.fixture
def rec():
    recorder = Recorder()
    unsubscribe = CallableRegistry.on_execution(recorder)
    yield recorder
    unsubscribe()


@pytest.fixture
def seen():
    """What the registered functions received, by parameter name."""
    received: dict = {}

    @CallableRegistry.register
    def enroll(student: Student, course: Course, label: str = "", weight: float = 1.0) -> Report:
        received.update(student=student, course=course, label=label, weight=weight)
        return Report(student_name=f"{student.name}/{course.name}/{label}", score=weight * course.credits)

    @CallableRegistry.register
    def add(a: float, b: float) -> float:
        received.update(a=a, b=b)
        return a + b

    return received


# -- the seven patterns -------------------------------------------------------------------------


def _patterns():
    """id -> (function, kwargs (s, t, c), values received, input versions, composite attribute_source)."""
    return {
        "entity": (
            "enroll",
            lambda s, t, c: {"student": s, "course": c},
            lambda s, t, c: {"student": "Ada", "course": "Chemistry"},
            lambda s, t, c: [s.ecs_id, c.ecs_id],
            lambda s, t, c: {"student": s.ecs_id, "course": c.ecs_id},
        ),
        "sub-entity object": (
            "enroll",
            lambda s, t, c: {"student": s, "course": s.courses[1]},
            lambda s, t, c: {"student": "Ada", "course": "Biology"},
            lambda s, t, c: [s.ecs_id, s.courses[1].ecs_id],
            lambda s, t, c: {"student": s.ecs_id, "course": s.courses[1].ecs_id},
        ),
        "@uuid": (
            "enroll",
            lambda s, t, c: {"student": f"@{s.ecs_id}", "course": f"@{str(c.ecs_id).upper()}"},
            lambda s, t, c: {"student": "Ada", "course": "Chemistry"},
            lambda s, t, c: [s.ecs_id, c.ecs_id],
            lambda s, t, c: {"student": s.ecs_id, "course": c.ecs_id},
        ),
        "@uuid.path (list index, dict key)": (
            "enroll",
            lambda s, t, c: {
                "student": s,
                "course": f"@{t.ecs_id}.courses.1",
                "label": f"@{t.ecs_id}.courses.0.name",
                "weight": f"@{t.ecs_id}.scores.math",
            },
            lambda s, t, c: {"student": "Ada", "course": "Biology", "label": "Algebra", "weight": 1.0},
            # the entity holding an addressed field is an input version too
            lambda s, t, c: [s.ecs_id, t.courses[1].ecs_id, t.courses[0].ecs_id, t.ecs_id],
            lambda s, t, c: {
                "student": s.ecs_id,
                "course": t.courses[1].ecs_id,
                "label": t.courses[0].ecs_id,
                "weight": t.ecs_id,
            },
        ),
        "plain values": (
            "add",
            lambda s, t, c: {"a": 1.5, "b": 2},
            lambda s, t, c: {"a": 1.5, "b": 2.0},
            lambda s, t, c: [],
            lambda s, t, c: {"a": None, "b": None},
        ),
        "entities + plain values": (
            "enroll",
            lambda s, t, c: {"student": s, "course": c, "label": "x", "weight": 2.0},
            lambda s, t, c: {"student": "Ada", "course": "Chemistry", "label": "x", "weight": 2.0},
            lambda s, t, c: [s.ecs_id, c.ecs_id],
            lambda s, t, c: {"student": s.ecs_id, "course": c.ecs_id, "label": None, "weight": None},
        ),
        "several entities, addresses and plain values": (
            "enroll",
            lambda s, t, c: {
                "student": f"@{t.ecs_id}",
                "course": s.courses[0],
                "label": f"@{c.ecs_id}.name",
                "weight": 0.5,
            },
            lambda s, t, c: {"student": "Bob", "course": "Algebra", "label": "Chemistry", "weight": 0.5},
            lambda s, t, c: [t.ecs_id, s.courses[0].ecs_id, c.ecs_id],
            lambda s, t, c: {"student": t.ecs_id, "course": s.courses[0].ecs_id, "label": c.ecs_id, "weight": None},
        ),
    }


@pytest.mark.parametrize("pattern", list(_patterns()), ids=list(_patterns()))
def test_input_patterns_reach_the_function_and_are_recorded(rec, seen, pattern):
    name, build, expected_values, expected_inputs, expected_sources = _patterns()[pattern]
    s, t = registered_student("Ada", 3.0), registered_student("Bob", 2.0)
    c = Course(name="Chemistry", credits=5)
    c.promote_to_root()
    states = [state_of(x) for x in (s, t, c)]

    CallableRegistry.execute(name, **build(s, t, c))

    received = {k: (v.name if hasattr(v, "name") else v) for k, v in seen.items()}
    assert {k: received[k] for k in expected_values(s, t, c)} == expected_values(s, t, c)
    ex = rec.last
    assert ex.succeeded
    assert ex.input_entity_ids == expected_inputs(s, t, c)
    composite = EntityRegistry.get(ex.input_entity_id)
    assert isinstance(composite, ParameterEntity)
    assert composite.ecs_id == ex.input_entity_id
    # attribute_source names, per parameter, the version the value was borrowed from (the entity
    # holding an addressed field); None for a literal value.
    sources = {k: v for k, v in composite.attribute_source.items() if k in build(s, t, c)}
    assert sources == expected_sources(s, t, c)
    assert [state_of(x) for x in (s, t, c)] == states


def test_composite_input_holds_values_and_adds_no_version_to_inputs(rec, seen):
    s = registered_student()
    c = Course(name="Chemistry")
    c.promote_to_root()

    CallableRegistry.execute("enroll", student=s, course=c, label="lab", weight=0.25)

    composite = EntityRegistry.get(rec.last.input_entity_id)
    assert (composite.student.name, composite.course.name, composite.label, composite.weight) == (
        "Ada",
        "Chemistry",
        "lab",
        0.25,
    )
    assert composite.student.ecs_id == s.ecs_id
    assert EntityRegistry.history(s.lineage_id) == [s.ecs_id]
    assert EntityRegistry.history(c.lineage_id) == [c.ecs_id]
    assert composite.lineage_id not in (s.lineage_id, c.lineage_id)


def test_collection_of_entities_gives_one_input_version_per_item(rec):
    @CallableRegistry.register
    def total(items: list[Item], bonus: int = 0) -> int:
        return sum(i.value for i in items) + bonus

    a, b = Item(name="a", value=1), Item(name="b", value=2)
    a.promote_to_root()
    box = Box(items=[Item(name="c", value=4)])
    box.promote_to_root()

    r = CallableRegistry.execute("total", items=[a, b, f"@{box.items[0].ecs_id}"], bonus=10)

    assert r.result == 17
    assert rec.last.input_entity_ids == [a.ecs_id, b.ecs_id, box.items[0].ecs_id]
    assert b.ecs_id in EntityRegistry  # an unregistered item was registered first
    composite = EntityRegistry.get(rec.last.input_entity_id)
    assert composite.attribute_source["items"] == [a.ecs_id, b.ecs_id, box.items[0].ecs_id]


def test_entity_parameter_built_from_loose_keyword_values(rec):
    received = {}

    @CallableRegistry.register
    def describe(student: Student, k: int = 1) -> Report:
        received["student"] = student
        return Report(student_name=student.name, score=student.gpa * k)

    r = CallableRegistry.execute("describe", name="Zed", gpa=1.5, k=2)

    assert isinstance(received["student"], Student)
    assert (received["student"].name, received["student"].gpa) == ("Zed", 1.5)
    assert r.score == 3.0
    [built_version] = rec.last.input_entity_ids
    assert EntityRegistry.get(built_version).name == "Zed"


def test_unregistered_entity_argument_is_registered_first(rec, seen):
    s = make_student("New")
    c = Course(name="Fresh")

    CallableRegistry.execute("enroll", student=s, course=c)

    assert s.ecs_id in EntityRegistry and c.ecs_id in EntityRegistry
    assert s.is_root_entity()
    assert rec.last.input_entity_ids == [s.ecs_id, c.ecs_id]


def test_wrong_type_names_function_and_parameter_and_records_only_the_execution(rec, seen):
    s = registered_student()
    c = Course(name="Chemistry")
    c.promote_to_root()
    s.gpa = 1.0  # a pending edit: must not be recorded by a call that fails validation
    before = len(EntityRegistry)

    with pytest.raises(InputValidationError, match=r"enroll\(\).*'weight'") as ei:
        CallableRegistry.execute("enroll", student=s, course=c, weight=[1, 2])

    assert isinstance(ei.value, ValueError)
    assert len(EntityRegistry) == before + 1
    assert rec.last.succeeded is False and rec.last.error_type == "InputValidationError"
    assert EntityRegistry.get(rec.last.ecs_id).succeeded is False
    assert EntityRegistry.history(s.lineage_id) == [s.ecs_id]  # the pending edit stays pending
    assert s.gpa == 1.0


# -- isolation ----------------------------------------------------------------------------------


def test_function_receives_copies_never_the_callers_objects(seen):
    s = registered_student()
    c = Course(name="Chemistry")

    CallableRegistry.execute("enroll", student=s, course=s.courses[0])
    assert seen["student"] is not s and seen["student"].live_id != s.live_id
    assert seen["course"] is not s.courses[0] and seen["course"].live_id != s.courses[0].live_id
    assert seen["student"].courses[0] is not s.courses[0]

    CallableRegistry.execute("enroll", student=s, course=c)
    assert seen["course"] is not c and seen["course"].live_id != c.live_id
    assert seen["course"].ecs_id == c.ecs_id


def test_callers_objects_never_change_even_when_the_function_raises_mid_mutation(rec):
    @CallableRegistry.register
    def vandalize(student: Student, course: Course) -> Student:
        student.name = "changed"
        student.courses[0].credits = 99
        student.courses.append(Course(name="Injected"))
        student.scores["math"] = -1.0
        course.name = "changed too"
        raise RuntimeError("stopped half-way")

    s = registered_student()
    c = Course(name="Chemistry")
    c.promote_to_root()
    states = (state_of(s), state_of(c))
    histories = (EntityRegistry.history(s.lineage_id), EntityRegistry.history(c.lineage_id))

    with pytest.raises(RuntimeError, match="half-way"):
        CallableRegistry.execute("vandalize", student=s, course=c)

    assert (state_of(s), state_of(c)) == states
    assert (EntityRegistry.history(s.lineage_id), EntityRegistry.history(c.lineage_id)) == histories
    assert EntityRegistry.get(s.ecs_id).name == "Ada"
    assert rec.last.input_entity_ids == [s.ecs_id, c.ecs_id]


def test_edits_to_input_copies_that_are_not_returned_are_discarded():
    @CallableRegistry.register
    def peek(student: Student) -> int:
        student.name = "edited"
        return len(student.courses)

    s = registered_student()
    r = CallableRegistry.execute("peek", student=s)

    assert r.result == 2
    assert EntityRegistry.history(s.lineage_id) == [s.ecs_id]
    assert EntityRegistry.get(s.ecs_id).name == "Ada"


def test_pending_in_place_edits_are_versioned_before_the_call(rec, seen):
    s = registered_student(gpa=3.0)
    old = s.ecs_id
    s.gpa = 3.8  # edited in place since its last version
    c = Course(name="Chemistry")

    CallableRegistry.execute("enroll", student=s, course=c)

    assert seen["student"].gpa == 3.8
    assert s.ecs_id != old and s.previous_ecs_id == old  # the caller's object carries the new version
    assert s.gpa == 3.8
    assert rec.last.input_entity_ids[0] == s.ecs_id
    assert EntityRegistry.history(s.lineage_id) == [old, s.ecs_id]
    assert EntityRegistry.get(old).gpa == 3.0
    assert EntityRegistry.get(s.ecs_id).gpa == 3.8


def test_pending_edit_of_a_child_versions_the_tree_before_the_call(rec, seen):
    s = registered_student()
    old_root, old_child = s.ecs_id, s.courses[0].ecs_id
    s.courses[0].name = "Linear Algebra"

    CallableRegistry.execute("enroll", student=s, course=s.courses[0])

    assert seen["course"].name == "Linear Algebra"
    assert s.ecs_id != old_root and s.courses[0].ecs_id != old_child
    assert rec.last.input_entity_ids == [s.ecs_id, s.courses[0].ecs_id]
    assert EntityRegistry.get(old_root).courses[0].name == "Algebra"


def test_address_to_an_old_version_passes_the_old_data(seen):
    s = registered_student()
    old = s.ecs_id
    s.name = "Renamed"
    EntityRegistry.version_entity(s)

    CallableRegistry.execute("enroll", student=f"@{old}", course=f"@{old}.courses.0", label=f"@{old}.name")

    assert (seen["student"].name, seen["student"].ecs_id) == ("Ada", old)
    assert seen["label"] == "Ada"


def test_field_addresses_count_as_input_versions(rec, seen):
    x, y = registered_student("X", 1.0), registered_student("Y", 2.0)

    r = CallableRegistry.execute("add", a=f"@{x.ecs_id}.gpa", b=f"@{y.ecs_id}.gpa")

    assert r.result == 3.0
    assert set(rec.last.input_entity_ids) == {x.ecs_id, y.ecs_id}
    assert set(r.function_input_entities) == {x.ecs_id, y.ecs_id}


def test_input_that_cannot_be_recorded_still_records_a_failed_execution(rec, seen):
    s = registered_student()
    shared = Student(name="Sharer", courses=[s.courses[0]])  # the same Course object in two trees

    with pytest.raises(RegistrationError):
        CallableRegistry.execute("enroll", student=shared, course=Course(name="x"))

    assert len(rec.calls) == 1 and rec.last.succeeded is False
    assert rec.last.error_type == "RegistrationError"


def test_pending_edit_of_a_child_whose_root_object_is_gone_is_not_ignored(rec):
    import gc

    received = {}

    @CallableRegistry.register
    def credits_of(course: Course) -> int:
        received["name"] = course.name
        return course.credits

    s = registered_student()
    course = s.courses[0]
    del s
    gc.collect()
    course.name = "Edited"

    CallableRegistry.execute("credits_of", course=course)

    assert received["name"] == "Edited"  # what the caller's object holds
    assert EntityRegistry.get(rec.last.input_entity_ids[0]).name == "Edited"
