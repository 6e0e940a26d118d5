"""Entities (DESIGN A2): identity fields, copies, roots, detach/attach, provenance, hashing."""

from __future__ import annotations

import copy
import sys
import types
import uuid
from datetime import datetime

import pytest
from models import Course, Item, Leaf, Middle, Node, Student, Top, all_entities, make_full_student, make_top

from ecs_notebook import (
    ContainerEntity,
    Entity,
    EntityNotFoundError,
    EntityRegistry,
    EntityTree,
    ParameterEntity,
    RegistrationError,
    get,
)

ID_FIELDS = ["ecs_id", "lineage_id", "live_id"]
OPTIONAL_ID_FIELDS = ["previous_ecs_id", "root_ecs_id", "root_live_id", "derived_from_execution_id"]


# -- identity fields ---------------------------------------------------------------------------


@pytest.mark.parametrize("field", ID_FIELDS)
def test_identity_fields_are_uuids(field):
    value = getattr(Course(name="x"), field)
    assert isinstance(value, uuid.UUID)


def test_identity_fields_are_distinct_and_fresh_per_entity():
    a, b = Course(name="a"), Course(name="a")
    assert len({a.ecs_id, a.lineage_id, a.live_id}) == 3
    assert {a.ecs_id, a.lineage_id, a.live_id}.isdisjoint({b.ecs_id, b.lineage_id, b.live_id})


@pytest.mark.parametrize("field", OPTIONAL_ID_FIELDS)
def test_optional_id_fields_start_empty(field):
    assert getattr(Course(name="x"), field) is None


def test_other_metadata_defaults():
    c = Course(name="x")
    assert c.old_ids == []
    assert isinstance(c.created_at, datetime)
    assert c.created_at.tzinfo is not None
    assert c.forked_at is None
    assert c.from_storage is False
    assert c.derived_from_function is None
    assert c.function_input_entities == []
    assert c.sibling_output_entities == []
    assert c.output_index is None


def test_registered_ids_stay_uuids():
    s = make_full_student()
    s.promote_to_root()
    s.courses[0].credits = 9
    EntityRegistry.version_entity(s)
    for e in all_entities(s):
        for field in [*ID_FIELDS, "previous_ecs_id", "root_ecs_id", "root_live_id"]:
            value = getattr(e, field)
            assert value is None or isinstance(value, uuid.UUID), (field, value)
        assert all(isinstance(i, uuid.UUID) for i in e.old_ids)


def test_metadata_is_not_data_in_repr():
    r = repr(Course(name="Algebra", credits=4))
    assert r.startswith("Course(name='Algebra', credits=4)")
    assert "live_id" not in r


def test_special_entity_classes_are_entities():
    assert issubclass(ParameterEntity, Entity)
    box = ContainerEntity(outputs=[Course(name="a")])
    assert [type(o) for o in box.outputs] == [Course]


# -- copies ------------------------------------------------------------------------------------

COPIES = [
    pytest.param(copy.copy, id="copy.copy"),
    pytest.param(copy.deepcopy, id="copy.deepcopy"),
    pytest.param(lambda e: e.model_copy(), id="model_copy"),
    pytest.param(lambda e: e.model_copy(deep=True), id="model_copy-deep"),
]


@pytest.mark.parametrize("make_copy", COPIES)
def test_copy_gets_a_new_live_id_and_keeps_version(make_copy):
    s = make_full_student()
    clone = make_copy(s)
    assert clone is not s
    assert clone.live_id != s.live_id
    assert clone.ecs_id == s.ecs_id
    assert clone.lineage_id == s.lineage_id
    assert clone.name == s.name


@pytest.mark.parametrize(
    "make_copy",
    [COPIES[1], COPIES[3]],
)
def test_deep_copy_gives_children_new_live_ids(make_copy):
    t = make_top()
    clone = make_copy(t)
    originals = {e.live_id for e in all_entities(t)}
    copies = {e.live_id for e in all_entities(clone)}
    assert len(copies) == len(originals) == 14
    assert originals.isdisjoint(copies)


@pytest.mark.parametrize("make_copy", [COPIES[0], COPIES[2]])
def test_shallow_copy_does_not_share_version_history_or_provenance(make_copy):
    original = Student(name="Ada")
    first = original.ecs_id
    source = Course(name="Source")
    source.promote_to_root()

    clone = make_copy(original)
    clone.update_ecs_ids()
    clone.borrow_attribute_from(source, "name", "name")

    assert original.ecs_id == first
    assert original.old_ids == []  # the clone's new version is not the original's history
    assert original.attribute_source["name"] is None  # the original's name was given literally


def test_deep_copy_does_not_share_data_with_original():
    s = make_full_student()
    clone = copy.deepcopy(s)
    clone.courses[0].name = "changed"
    clone.scores["math"] = 0.0
    assert s.courses[0].name == "Algebra"
    assert s.scores["math"] == 1.0


# -- promote_to_root / is_root_entity ----------------------------------------------------------


def test_unregistered_entity_is_not_a_root():
    assert Course(name="x").is_root_entity() is False


def test_promote_to_root_registers_the_tree():
    s = make_full_student()
    s.promote_to_root()
    assert s.is_root_entity()
    assert s.ecs_id in EntityRegistry
    assert EntityRegistry.is_root_version(s.ecs_id)
    assert all(e.ecs_id in EntityRegistry for e in all_entities(s))
    assert len(EntityRegistry) == 4


def _member(t: Top, path: str) -> Entity:
    members = {
        "root": lambda: t,
        "direct child": lambda: t.middle,
        "depth 3 via direct": lambda: t.middle.leaf,
        "list member": lambda: t.middles[1],
        "depth 3 via list in list": lambda: t.middles[0].leaves[0],
        "dict value": lambda: t.index["i"],
        "depth 3 via dict": lambda: t.index["i"].leaf,
        "dict-of-entity at depth 3": lambda: t.middle.by_key["k"],
        "list at depth 3": lambda: t.middle.leaves[1],
        "tuple member": lambda: t.pair[1],
        "set member": lambda: next(iter(t.bag)),
    }
    return members[path]()


MEMBERS = [
    "root",
    "direct child",
    "depth 3 via direct",
    "list member",
    "depth 3 via list in list",
    "dict value",
    "depth 3 via dict",
    "dict-of-entity at depth 3",
    "list at depth 3",
    "tuple member",
    "set member",
]


@pytest.mark.parametrize("path", MEMBERS)
def test_promote_to_root_sets_root_ids_on_every_member(path):
    t = make_top()
    t.promote_to_root()
    e = _member(t, path)
    assert e.root_ecs_id == t.ecs_id
    assert e.root_live_id == t.live_id
    assert e.is_root_entity() is (e is t)


def test_promote_to_root_reaches_all_fourteen_entities():
    t = make_top()
    t.promote_to_root()
    members = all_entities(t)
    assert len(members) == 14
    assert {e.root_ecs_id for e in members} == {t.ecs_id}
    assert {e.root_live_id for e in members} == {t.live_id}


def test_root_ids_follow_the_root_after_versioning():
    t = make_top()
    t.promote_to_root()
    t.middle.leaf.value = 99
    assert EntityRegistry.version_entity(t)
    assert {e.root_ecs_id for e in all_entities(t)} == {t.ecs_id}


def test_promote_to_root_twice_records_nothing_new():
    s = make_full_student()
    s.promote_to_root()
    before = (s.ecs_id, len(EntityRegistry))
    s.promote_to_root()
    assert (s.ecs_id, len(EntityRegistry)) == before


def test_promote_to_root_of_a_registered_child_detaches_it():
    s = make_full_student()
    s.promote_to_root()
    advisor = s.advisor
    old = advisor.ecs_id
    s.advisor = None
    advisor.promote_to_root()
    assert advisor.is_root_entity()
    assert advisor.ecs_id != old
    assert advisor.previous_ecs_id == old
    assert EntityRegistry.is_root_version(advisor.ecs_id)


# -- detach / attach ---------------------------------------------------------------------------


def test_detach_makes_the_child_its_own_root_as_a_new_version():
    s = make_full_student()
    s.promote_to_root()
    first_root = s.ecs_id
    child = s.courses.pop(0)
    version = child.ecs_id

    child.detach()

    assert child.is_root_entity()
    assert child.root_ecs_id == child.ecs_id
    assert child.root_live_id == child.live_id
    assert child.ecs_id != version
    assert child.previous_ecs_id == version
    assert child.old_ids == [version]
    assert child.lineage_id == EntityRegistry.lineage_of(version)
    assert EntityRegistry.history(child.lineage_id) == [version, child.ecs_id]
    # the detached child can now be versioned on its own
    child.credits = 10
    assert EntityRegistry.version_entity(child)
    assert get(f"@{child.ecs_id}.credits") == 10
    # the former parent records the removal; its first version still holds the child
    assert EntityRegistry.version_entity(s)
    assert [c.name for c in EntityRegistry.get(s.ecs_id).courses] == ["Biology"]
    assert [c.name for c in EntityRegistry.get(first_root).courses] == ["Algebra", "Biology"]


def test_detach_keeps_the_childs_own_subtree():
    t = make_top()
    t.promote_to_root()
    middle = t.middle
    t.middle = None
    middle.detach()
    assert {e.root_live_id for e in all_entities(middle)} == {middle.live_id}
    assert {e.root_ecs_id for e in all_entities(middle)} == {middle.ecs_id}
    assert EntityRegistry.get(middle.ecs_id).leaf.label == "deep"


def test_detach_of_a_root_changes_nothing():
    s = make_full_student()
    s.promote_to_root()
    before = (s.ecs_id, len(EntityRegistry))
    s.detach()
    assert (s.ecs_id, len(EntityRegistry)) == before


def test_detach_of_an_unregistered_entity_registers_it_as_a_root():
    c = Course(name="loose")
    c.detach()
    assert c.is_root_entity()
    assert c.ecs_id in EntityRegistry


def test_attach_records_a_root_as_child_of_the_parent_tree():
    child = Course(name="Chemistry")
    child.promote_to_root()
    child_version = child.ecs_id
    parent = Student(name="Ada")
    parent.promote_to_root()
    parent_version = parent.ecs_id

    parent.courses.append(child)
    child.attach(parent)

    assert not child.is_root_entity()
    assert child.root_ecs_id == parent.ecs_id
    assert child.root_live_id == parent.live_id
    assert child.previous_ecs_id == child_version
    assert parent.ecs_id != parent_version
    assert [c.name for c in EntityRegistry.get(parent.ecs_id).courses] == ["Chemistry"]
    # now a child: versioning it directly is refused, versioning the parent has nothing to do
    with pytest.raises(RegistrationError):
        EntityRegistry.version_entity(child)
    assert EntityRegistry.version_entity(parent) is False


def test_attach_requires_the_child_to_sit_in_the_parent():
    child = Course(name="Chemistry")
    child.promote_to_root()
    parent = Student(name="Ada")
    parent.promote_to_root()
    before = len(EntityRegistry)
    with pytest.raises(RegistrationError, match="attach"):
        child.attach(parent)
    assert len(EntityRegistry) == before
    assert child.is_root_entity()


# -- update_ecs_ids ----------------------------------------------------------------------------


def test_update_ecs_ids_gives_a_new_version_of_the_same_lineage():
    c = Course(name="x")
    first, lineage = c.ecs_id, c.lineage_id
    c.update_ecs_ids()
    second = c.ecs_id
    c.update_ecs_ids()
    assert len({first, second, c.ecs_id}) == 3
    assert c.lineage_id == lineage
    assert c.previous_ecs_id == second
    assert c.old_ids == [first, second]
    assert c.forked_at is not None


def test_update_ecs_ids_on_a_root_keeps_it_a_root():
    c = Course(name="x")
    c.promote_to_root()
    c.update_ecs_ids()
    assert c.is_root_entity()
    assert c.root_ecs_id == c.ecs_id


def test_version_entity_after_update_ecs_ids_records_the_new_version():
    c = Course(name="x")
    c.promote_to_root()
    first = c.ecs_id
    c.update_ecs_ids()
    c.credits = 5
    assert EntityRegistry.version_entity(c)
    assert EntityRegistry.history(c.lineage_id)[0] == first
    assert EntityRegistry.latest(c.lineage_id) == c.ecs_id
    assert get(f"@{c.ecs_id}.credits") == 5


# -- get_tree ----------------------------------------------------------------------------------


def test_get_tree_holds_every_entity_by_ecs_id():
    t = make_top()
    tree = t.get_tree()
    assert isinstance(tree, EntityTree)
    assert tree.root_ecs_id == t.ecs_id
    assert set(tree.nodes) == {e.ecs_id for e in all_entities(t)}
    assert all(tree.nodes[e.ecs_id] is e for e in all_entities(t))


# -- attribute_source --------------------------------------------------------------------------


def test_attribute_source_defaults_by_field_kind():
    s = make_full_student()
    assert s.attribute_source == {
        "name": None,
        "gpa": None,
        "courses": [None, None],
        "scores": {"math": None, "art": None},
        "advisor": None,
        "tags": [None],
    }


def test_attribute_source_has_no_metadata_fields():
    assert set(Course(name="x").attribute_source) == {"name", "credits"}


def test_attribute_source_for_empty_containers():
    s = Student(name="x")
    assert s.attribute_source["courses"] == []
    assert s.attribute_source["scores"] == {}


# -- borrowing ---------------------------------------------------------------------------------


def test_borrow_scalar_records_the_source_version():
    source = make_full_student()
    source.promote_to_root()
    target = Student(name="T")
    target.borrow_attribute_from(source, "gpa", "gpa")
    assert target.gpa == 3.6
    assert target.attribute_source["gpa"] == source.ecs_id
    assert target.attribute_source["name"] is None


def test_borrow_list_of_entities_deep_copies_and_records_one_source_per_item():
    source = make_full_student()
    source.promote_to_root()
    target = Student(name="T")
    target.borrow_attribute_from(source, "courses", "courses")
    assert [c.name for c in target.courses] == ["Algebra", "Biology"]
    assert target.courses is not source.courses
    assert all(a is not b and a.live_id != b.live_id for a, b in zip(target.courses, source.courses))
    assert target.attribute_source["courses"] == [source.ecs_id, source.ecs_id]
    target.courses[0].name = "changed"
    assert source.courses[0].name == "Algebra"


def test_borrow_dict_deep_copies_and_records_a_source_per_key():
    source = make_full_student()
    source.promote_to_root()
    target = Student(name="T")
    target.borrow_attribute_from(source, "scores", "scores")
    assert target.scores == {"math": 1.0, "art": 0.5}
    assert target.attribute_source["scores"] == {"math": source.ecs_id, "art": source.ecs_id}
    target.scores["math"] = 0.0
    assert source.scores["math"] == 1.0


def test_borrow_plain_list_is_a_copy():
    source = make_full_student()
    target = Student(name="T")
    target.borrow_attribute_from(source, "tags", "tags")
    target.tags.append("new")
    assert source.tags == ["a"]
    assert target.attribute_source["tags"] == [source.ecs_id]


@pytest.mark.parametrize(
    ("source_field", "target_field", "missing"),
    [("nope", "name", "nope"), ("name", "nope", "nope")],
    ids=["missing-source-field", "missing-target-field"],
)
def test_borrow_unknown_field_raises_and_changes_nothing(source_field, target_field, missing):
    source = make_full_student()
    target = Student(name="T")
    with pytest.raises(AttributeError, match=missing):
        target.borrow_attribute_from(source, source_field, target_field)
    assert target.name == "T"
    assert target.attribute_source["name"] is None


def test_borrow_into_a_registered_tree_is_recorded_on_version():
    source = make_full_student()
    source.promote_to_root()
    target = Student(name="T")
    target.promote_to_root()
    target.borrow_attribute_from(source, "name", "name")
    assert EntityRegistry.version_entity(target)
    stored = EntityRegistry.get(target.ecs_id)
    assert stored.name == "Ada"
    assert stored.attribute_source["name"] == source.ecs_id


def test_borrow_from_address_records_the_holding_version():
    source = make_full_student()
    source.promote_to_root()
    target = Student(name="T")
    target.borrow_from_address(f"@{source.ecs_id}.courses.1.name", "name")
    assert target.name == "Biology"
    assert target.attribute_source["name"] == source.courses[1].ecs_id


def test_borrow_from_address_of_a_list_gives_copies_and_a_source_per_item():
    source = make_full_student()
    source.promote_to_root()
    target = Student(name="T")
    target.borrow_from_address(f"@{source.ecs_id}.courses", "courses")
    assert [c.name for c in target.courses] == ["Algebra", "Biology"]
    assert {c.live_id for c in target.courses}.isdisjoint({c.live_id for c in source.courses})
    assert target.attribute_source["courses"] == [source.ecs_id, source.ecs_id]


def test_borrow_from_an_old_address_gives_the_old_value():
    source = make_full_student()
    source.promote_to_root()
    first = source.ecs_id
    source.scores["math"] = 4.0
    EntityRegistry.version_entity(source)
    target = Student(name="T")
    target.borrow_from_address(f"@{first}.scores", "scores")
    assert target.scores == {"math": 1.0, "art": 0.5}
    assert target.attribute_source["scores"] == {"math": first, "art": first}


def test_borrow_from_unknown_address_raises():
    target = Student(name="T")
    with pytest.raises(EntityNotFoundError):
        target.borrow_from_address(f"@{uuid.uuid4()}.name", "name")
    assert target.name == "T"


# -- hashing and class identity ----------------------------------------------------------------


def test_entities_are_usable_in_sets_and_as_dict_keys():
    a, b = Course(name="same"), Course(name="same")
    assert len({a, b, a}) == 2
    d = {a: 1, b: 2}
    assert d[a] == 1
    assert d[b] == 2
    a.name = "edited"  # hash is by identity, so editing does not lose the entry
    assert a in {a}
    assert d[a] == 1


def test_distinct_objects_are_never_equal_but_an_object_equals_itself():
    a = Course(name="x")
    assert a == a
    assert a != copy.copy(a)


def test_entity_type_is_module_and_qualname():
    assert Course.__ecs_type__ == f"{Course.__module__}:Course"
    assert Middle.__ecs_type__.endswith(":Middle")


def _class_in_other_module(module_name: str):
    """Define ``class Item(Entity)`` in a fresh module, as a user's second notebook module would."""
    module = types.ModuleType(module_name)
    sys.modules[module_name] = module
    try:
        exec("from ecs_notebook import Entity\nclass Item(Entity):\n    name: str\n", module.__dict__)
    finally:
        del sys.modules[module_name]
    return module.Item


def test_same_class_name_in_two_modules_does_not_collide():
    Other = _class_in_other_module("other_notebook_module")
    assert Other.__qualname__ == Item.__qualname__ == "Item"
    assert Other.__ecs_type__ == "other_notebook_module:Item"
    assert Other.__ecs_type__ != Item.__ecs_type__
    a, b = Item(name="a"), Other(name="b")
    a.promote_to_root()
    b.promote_to_root()
    assert EntityRegistry.ids_by_type(Item) == [a.ecs_id]
    assert EntityRegistry.ids_by_type(Other) == [b.ecs_id]
    assert EntityRegistry.ids_by_type("other_notebook_module:Item") == [b.ecs_id]
    assert type(EntityRegistry.get(b.ecs_id)) is Other
    assert type(EntityRegistry.get(a.ecs_id)) is Item


def test_deep_tree_does_not_hit_the_recursion_limit():
    root = Node(name="0")
    cur = root
    for i in range(1, 3000):
        cur.child = Node(name=str(i))
        cur = cur.child
    root.promote_to_root()
    cur.name = "bottom"
    assert EntityRegistry.version_entity(root)
    copy_ = EntityRegistry.get(root.ecs_id)
    assert len(all_entities_iter(copy_)) == 3000


def all_entities_iter(root: Node) -> list[Node]:
    out, cur = [], root
    while cur is not None:
        out.append(cur)
        cur = cur.child
    return out


def test_leaf_default_values():
    leaf = Leaf(label="x")
    assert leaf.value == 0
    assert leaf.attribute_source == {"label": None, "value": None}


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_forked_processes_do_not_repeat_ids():
    import os

    from ecs_notebook.core._ids import new_id

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report one id and leave at once
        os.write(write, new_id().hex.encode())
        os._exit(0)
    os.close(write)
    child_id = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child_id and child_id != new_id().hex
