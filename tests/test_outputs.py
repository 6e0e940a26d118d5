"""What execute returns and records: wrapping of every return shape, unpacking, output provenance."""

from __future__ import annotations

import pytest
from models import Box, Course, Item, Recorder, Report, Stats, StatsSummary, Student, registered_student

from ecs_notebook import (
    CallableRegistry,
    ContainerEntity,
    Entity,
    EntityRegistry,
    ExecutionConfig,
    ExecutionSemantics,
)
from ecs_notebook.core.errors import EcsError, OutputValidationError

MUTATION, CREATION, DETACHMENT = ExecutionSemantics.MUTATION, ExecutionSemantics.CREATION, ExecutionSemantics.DETACHMENT


@pytest.fixture
def rec():
    recorder = Recorder()
    unsubscribe = CallableRegistry.on_execution(recorder)
    yield recorder
    unsubscribe()


def _register_shapes():
    @CallableRegistry.register
    def as_value(student: Student) -> float:
        return student.gpa * 2

    @CallableRegistry.register
    def as_tuple(student: Student) -> tuple[str, int]:
        return student.name, len(student.courses)

    @CallableRegistry.register
    def as_model(student: Student) -> Stats:
        return Stats(mean=student.gpa, count=len(student.courses))

    @CallableRegistry.register
    def as_entities(student: Student) -> tuple[Report, Course]:
        return Report(student_name=student.name), Course(name="Summary", credits=1)

    @CallableRegistry.register
    def as_list(student: Student) -> list[Report]:
        return [Report(student_name=student.name, summary=str(i)) for i in range(3)]

    @CallableRegistry.register
    def as_dict(student: Student) -> dict[str, Report]:
        return {"main": Report(student_name=student.name)}


def _check_provenance(output: Entity, execution, input_ids: list) -> None:
    """Every output names its function, its execution, the input versions, and sources at the inputs."""
    assert output.derived_from_function == execution.function_name
    assert output.derived_from_execution_id == execution.ecs_id
    assert output.function_input_entities == input_ids
    assert execution.input_entity_id not in output.function_input_entities  # never the composite
    allowed = {*input_ids, execution.input_entity_id}
    for field, source in output.attribute_source.items():
        values = source if isinstance(source, list) else list(source.values()) if isinstance(source, dict) else [source]
        assert values or getattr(output, field) in ([], {}), field  # an empty container has no items to source
        assert set(values) <= allowed, field
    recorded = EntityRegistry.get(output.ecs_id)
    assert recorded.derived_from_execution_id == execution.ecs_id
    assert recorded.function_input_entities == input_ids
    assert recorded.attribute_source == output.attribute_source


def test_non_entity_result_is_wrapped_in_a_result_field(rec):
    _register_shapes()
    s = registered_student(gpa=3.0)

    r = CallableRegistry.execute("as_value", student=s)

    assert isinstance(r, Entity)
    assert r.result == 6.0
    assert rec.last.semantics == [CREATION]
    assert rec.last.output_entity_ids == [r.ecs_id]
    assert r.attribute_source == {"result": s.ecs_id}
    _check_provenance(r, rec.last, [s.ecs_id])


def test_tuple_of_values_becomes_numbered_fields(rec):
    _register_shapes()
    s = registered_student()

    r = CallableRegistry.execute("as_tuple", student=s)

    assert (r.field_0, r.field_1) == ("Ada", 2)
    assert rec.last.was_unpacked is False
    _check_provenance(r, rec.last, [s.ecs_id])


def test_basemodel_result_contributes_its_fields(rec):
    _register_shapes()
    s = registered_student(gpa=3.5)

    r = CallableRegistry.execute("as_model", student=s)

    assert isinstance(r, Entity) and not isinstance(r, Stats)
    assert (r.mean, r.count) == (3.5, 2)
    assert type(r) is CallableRegistry.get_metadata("as_model").output_model
    _check_provenance(r, rec.last, [s.ecs_id])


def test_all_entity_tuple_is_unpacked_with_indices_and_siblings(rec):
    _register_shapes()
    s = registered_student()

    outputs = CallableRegistry.execute("as_entities", student=s)

    assert isinstance(outputs, list)
    report, course = outputs
    assert (type(report), type(course)) == (Report, Course)
    assert (report.output_index, course.output_index) == (0, 1)
    assert report.sibling_output_entities == [course.ecs_id]
    assert course.sibling_output_entities == [report.ecs_id]
    assert rec.last.was_unpacked is True
    assert rec.last.output_entity_ids == [report.ecs_id, course.ecs_id]
    assert [o.ecs_id for o in rec.last_outputs] == [report.ecs_id, course.ecs_id]
    for o in outputs:
        _check_provenance(o, rec.last, [s.ecs_id])
        assert EntityRegistry.get(o.ecs_id).output_index == o.output_index


@pytest.mark.parametrize(
    "options",
    [{"unpack": False}, {"config": ExecutionConfig(unpack_tuples=False)}],
    ids=["unpack=False", "config unpack_tuples=False"],
)
def test_not_unpacked_gives_one_container_entity(rec, options):
    _register_shapes()
    s = registered_student()

    container = CallableRegistry.execute("as_entities", student=s, **options)

    assert isinstance(container, ContainerEntity)
    assert [type(o) for o in container.outputs] == [Report, Course]
    assert rec.last.was_unpacked is False
    assert rec.last.output_entity_ids == [container.ecs_id]
    recorded = EntityRegistry.get(container.ecs_id)
    assert [o.ecs_id for o in recorded.outputs] == [o.ecs_id for o in container.outputs]
    _check_provenance(container, rec.last, [s.ecs_id])


def test_list_of_entities_is_unpacked_like_a_tuple(rec):
    # Documented decision (ecs_notebook/outputs.py, prepare_outputs): a non-empty list whose items
    # are all entities is unpacked like a tuple.
    _register_shapes()
    s = registered_student()

    outputs = CallableRegistry.execute("as_list", student=s)

    assert [o.summary for o in outputs] == ["0", "1", "2"]
    assert [o.output_index for o in outputs] == [0, 1, 2]
    assert outputs[1].sibling_output_entities == [outputs[0].ecs_id, outputs[2].ecs_id]
    assert rec.last.was_unpacked is True
    assert rec.last.semantics == [CREATION] * 3


def test_empty_list_of_entities_becomes_a_result_field():
    @CallableRegistry.register
    def nothing(student: Student) -> list[Report]:
        return []

    r = CallableRegistry.execute("nothing", student=registered_student())

    assert r.result == []


def test_dict_of_entities_is_kept_in_a_result_field(rec):
    _register_shapes()
    s = registered_student()

    r = CallableRegistry.execute("as_dict", student=s)

    assert list(r.result) == ["main"]
    assert isinstance(r.result["main"], Report)
    assert r.result["main"].student_name == "Ada"
    assert rec.last.output_entity_ids == [r.ecs_id]
    assert EntityRegistry.get(r.ecs_id).result["main"].student_name == "Ada"
    _check_provenance(r, rec.last, [s.ecs_id])


def test_mutated_input_output_keeps_sources_pointing_at_the_input_version(rec):
    @CallableRegistry.register
    def rename(student: Student, name: str) -> Student:
        student.name = name
        return student

    s = registered_student()
    r = CallableRegistry.execute("rename", student=s, name="Grace")

    assert rec.last.semantics == [MUTATION]
    assert r.function_input_entities == [s.ecs_id]
    _check_provenance(r, rec.last, [s.ecs_id])


def test_output_from_several_inputs_names_every_input_version(rec):
    @CallableRegistry.register
    def pair(a: Student, b: Student, note: str) -> Report:
        return Report(student_name=f"{a.name}+{b.name}", summary=note)

    a, b = registered_student("A"), registered_student("B")
    r = CallableRegistry.execute("pair", a=a, b=b, note="n")

    assert r.function_input_entities == [a.ecs_id, b.ecs_id]
    _check_provenance(r, rec.last, [a.ecs_id, b.ecs_id])


def test_detached_output_records_provenance(rec):
    @CallableRegistry.register
    def first_item(box: Box) -> Item:
        return box.items[0]

    box = Box(items=[Item(name="a"), Item(name="b")])
    box.promote_to_root()
    r = CallableRegistry.execute("first_item", box=box)

    assert rec.last.semantics == [DETACHMENT]
    _check_provenance(r, rec.last, [box.ecs_id])


@pytest.mark.parametrize(
    ("returned", "annotation_error"),
    [("course", "Course"), ("number", "int")],
    ids=["entity of another class", "a value where an entity is declared"],
)
def test_output_of_the_wrong_declared_type_is_an_output_validation_error(rec, returned, annotation_error):
    @CallableRegistry.register
    def bad(student: Student) -> Report:
        return Course(name="c") if returned == "course" else 42

    s = registered_student()
    before = len(EntityRegistry)

    with pytest.raises(OutputValidationError, match="bad") as ei:
        CallableRegistry.execute("bad", student=s)

    assert isinstance(ei.value, EcsError)
    assert rec.last.succeeded is False and rec.last.error_type == "OutputValidationError"
    assert rec.last.output_entity_ids == []
    assert len(EntityRegistry) == before + 2  # the failed execution and the composite it names
    assert EntityRegistry.history(s.lineage_id) == [s.ecs_id]


def test_value_that_does_not_fit_the_annotation_is_an_output_validation_error(rec):
    @CallableRegistry.register
    def count(student: Student) -> int:
        return "many"

    with pytest.raises(OutputValidationError, match="count"):
        CallableRegistry.execute("count", student=registered_student())
    assert rec.last.succeeded is False


def test_none_from_an_optional_entity_annotation(rec):
    @CallableRegistry.register
    def maybe(student: Student) -> Report | None:
        return None

    r = CallableRegistry.execute("maybe", student=registered_student())

    assert rec.last.succeeded
    assert r.result is None  # a non-entity result (A4): an output entity with field 'result'
    assert rec.last.output_entity_ids == [r.ecs_id]


# -- edge shapes ---------------------------------------------------------------------------------


def test_tuple_mixing_an_entity_and_a_value_becomes_numbered_fields(rec):
    @CallableRegistry.register
    def graded(student: Student) -> tuple[Student, float]:
        return student, student.gpa

    s = registered_student(gpa=3.3)
    r = CallableRegistry.execute("graded", student=s)

    assert (r.field_0.name, r.field_1) == ("Ada", 3.3)
    assert isinstance(r.field_0, Student)
    assert rec.last.succeeded
    assert rec.last.output_entity_ids == [r.ecs_id]


def test_basemodel_result_with_a_nested_model_field(rec):
    @CallableRegistry.register
    def summary(student: Student) -> StatsSummary:
        return StatsSummary(stats=Stats(mean=student.gpa), label="x")

    r = CallableRegistry.execute("summary", student=registered_student(gpa=2.0))

    assert (r.stats.mean, r.label) == (2.0, "x")


def test_returning_a_parent_and_its_child_keeps_live_and_recorded_trees_equal(rec):
    @CallableRegistry.register
    def relabel_and_pick(box: Box) -> tuple[Box, Item]:
        box.label = "changed"
        return box, box.items[0]

    box = Box(label="b", items=[Item(name="x"), Item(name="y")])
    box.promote_to_root()
    new_box, item = CallableRegistry.execute("relabel_and_pick", box=box)

    assert rec.last.semantics == [MUTATION, DETACHMENT]
    assert EntityRegistry.get(new_box.ecs_id).items[0].ecs_id == new_box.items[0].ecs_id
    assert EntityRegistry.version_entity(new_box) is False


def test_returning_a_child_before_its_parent_detaches_a_copy(rec):
    @CallableRegistry.register
    def pick_then_relabel(box: Box) -> tuple[Item, Box]:
        box.items[0].name = "picked"
        return box.items[0], box

    box = Box(label="b", items=[Item(name="x"), Item(name="y")])
    box.promote_to_root()
    item, new_box = CallableRegistry.execute("pick_then_relabel", box=box)

    assert rec.last.semantics == [DETACHMENT, MUTATION]
    assert item is not new_box.items[0]
    assert item.is_root_entity() and item.lineage_id == new_box.items[0].lineage_id
    assert EntityRegistry.get(item.ecs_id).name == "picked"
    assert EntityRegistry.get(new_box.ecs_id).items[0].ecs_id == new_box.items[0].ecs_id
    assert EntityRegistry.version_entity(new_box) is False
    assert EntityRegistry.version_entity(item) is False
    assert box.items[0].name == "x"


def test_a_field_the_function_changes_no_longer_keeps_its_old_source(rec):
    """Provenance of a mutation: fields set by the call point at the call's input, the rest keep theirs."""

    @CallableRegistry.register
    def enrol(course: Course) -> Student:
        return Student(name=course.name)

    @CallableRegistry.register
    def rename(student: Student, name: str) -> Student:
        student.name = name
        return student

    course = Course(name="Logic")
    course.promote_to_root()
    v1 = CallableRegistry.execute("enrol", course=course)
    assert v1.attribute_source["name"] == course.ecs_id
    v2 = CallableRegistry.execute("rename", student=v1, name="Ada")

    assert v2.attribute_source["name"] == v1.ecs_id  # set by rename, whose entity input is v1
    assert v2.attribute_source["gpa"] == v1.attribute_source["gpa"]  # untouched: keeps its source
    assert EntityRegistry.get(v2.ecs_id).attribute_source == v2.attribute_source
