"""EntityRegistry (DESIGN A2): change detection, versioning along the changed path, immutable records."""

from __future__ import annotations

import copy
import uuid

import pytest
from models import (
    Course,
    Item,
    Leaf,
    Middle,
    Node,
    Root,
    Student,
    Top,
    all_entities,
    dump,
    make_full_student,
    make_top,
    with_ancestors,
)
from pydantic import PrivateAttr

from ecs_notebook import (
    Entity,
    EntityNotFoundError,
    EntityRegistry,
    RegistrationError,
    get,
)

# -- in-place edits at any depth ---------------------------------------------------------------
# Each edit returns the entities whose own data changed (new entities count); their ancestors
# must get new versions too, everything else keeps its ecs_id.


def _student_name(s):
    s.name = "Grace"
    return [s]


def _student_gpa(s):
    s.gpa = 4.0
    return [s]


def _course_credits(s):
    s.courses[1].credits = 9
    return [s.courses[1]]


def _advisor_name(s):
    s.advisor.name = "Office"
    return [s.advisor]


def _append_course(s):
    s.courses.append(Course(name="Chemistry"))
    return [s, s.courses[-1]]


def _remove_course(s):
    s.courses.pop(0)
    return [s]


def _reorder_courses(s):
    s.courses.reverse()
    return [s]


def _replace_course(s):
    s.courses[0] = Course(name="Algebra")  # same data, different entity
    return [s, s.courses[0]]


def _clear_advisor(s):
    s.advisor = None
    return [s]


def _dict_value(s):
    s.scores["math"] = 0.25
    return [s]


def _dict_new_key(s):
    s.scores["music"] = 0.75
    return [s]


def _dict_delete_key(s):
    del s.scores["art"]
    return [s]


def _plain_list_append(s):
    s.tags.append("b")
    return [s]


def _plain_list_remove(s):
    s.tags.remove("a")
    return [s]


def _two_children(s):
    s.courses[0].name = "Algebra II"
    s.advisor.credits = 1
    return [s.courses[0], s.advisor]


STUDENT_EDITS = [
    _student_name,
    _student_gpa,
    _course_credits,
    _advisor_name,
    _append_course,
    _remove_course,
    _reorder_courses,
    _replace_course,
    _clear_advisor,
    _dict_value,
    _dict_new_key,
    _dict_delete_key,
    _plain_list_append,
    _plain_list_remove,
    _two_children,
]


def _depth3_leaf(t):
    t.middles[0].leaves[0].value = 42
    return [t.middles[0].leaves[0]]


def _depth3_direct(t):
    t.middle.leaf.label = "changed"
    return [t.middle.leaf]


def _depth3_via_dict(t):
    t.index["i"].leaf.value = 5
    return [t.index["i"].leaf]


def _depth3_list_append(t):
    t.middle.leaves.append(Leaf(label="new"))
    return [t.middle, t.middle.leaves[-1]]


def _depth3_dict_of_entities(t):
    t.middle.by_key["k2"] = Leaf(label="k2")
    return [t.middle, t.middle.by_key["k2"]]


def _nested_list_of_lists(t):
    t.matrix[0][1] = 20
    return [t]


def _nested_list_of_lists_append(t):
    t.matrix[1].append(4)
    return [t]


def _dict_of_lists(t):
    t.notes["n"].append("y")
    return [t]


def _tuple_member(t):
    t.pair[0].value = 3
    return [t.pair[0]]


def _tuple_swapped(t):
    t.pair = (t.pair[1], t.pair[0])
    return [t]


def _set_member(t):
    leaf = next(iter(t.bag))
    leaf.value = 3
    return [leaf]


def _set_add(t):
    new = Leaf(label="s1")
    t.bag.add(new)
    return [t, new]


def _move_between_parents(t):
    leaf = t.middle.leaves.pop()
    t.middles[1].leaves.append(leaf)
    return [t.middle, t.middles[1]]


TOP_EDITS = [
    _depth3_leaf,
    _depth3_direct,
    _depth3_via_dict,
    _depth3_list_append,
    _depth3_dict_of_entities,
    _nested_list_of_lists,
    _nested_list_of_lists_append,
    _dict_of_lists,
    _tuple_member,
    _tuple_swapped,
    _set_member,
    _set_add,
    _move_between_parents,
]

CASES = [pytest.param(make_full_student, f, id=f"student-{f.__name__[1:]}") for f in STUDENT_EDITS] + [
    pytest.param(make_top, f, id=f"top-{f.__name__[1:]}") for f in TOP_EDITS
]


@pytest.mark.parametrize(("make", "edit"), CASES)
def test_version_entity_records_in_place_edits(make, edit):
    root = make()
    root.promote_to_root()
    first = root.ecs_id
    before_ids = {id(e): e.ecs_id for e in all_entities(root)}
    old_picture = dump(EntityRegistry.get(first))
    history = EntityRegistry.history(root.lineage_id)

    edited = edit(root)
    assert EntityRegistry.version_entity(root) is True

    changed = with_ancestors(root, edited)
    for e in all_entities(root):
        old = before_ids.get(id(e))
        if old is None:  # a new entity: recorded under its own first id
            assert id(e) in changed
            assert e.previous_ecs_id is None
        elif id(e) in changed:
            assert e.ecs_id != old, f"{e!r} was edited (or is an ancestor) but kept its id"
            assert e.previous_ecs_id == old
            assert e.old_ids[-1] == old
            assert e.lineage_id == EntityRegistry.lineage_of(old)
        else:
            assert e.ecs_id == old, f"{e!r} was not edited but got a new id"
        assert e.ecs_id in EntityRegistry
        assert e.root_ecs_id == root.ecs_id
    assert EntityRegistry.history(root.lineage_id) == [*history, root.ecs_id]
    # the new version holds the edit, the old one is untouched
    assert dump(EntityRegistry.get(root.ecs_id)) == dump(root)
    assert dump(EntityRegistry.get(first)) == old_picture


@pytest.mark.parametrize(("make", "edit"), CASES)
def test_only_the_changed_path_is_recorded(make, edit):
    root = make()
    root.promote_to_root()
    before_ids = {id(e): e.ecs_id for e in all_entities(root)}
    before = len(EntityRegistry)
    edited = edit(root)
    EntityRegistry.version_entity(root)
    new_versions = sum(1 for e in all_entities(root) if before_ids.get(id(e)) != e.ecs_id)
    assert len(EntityRegistry) - before == new_versions == len(with_ancestors(root, edited))


def test_unchanged_tree_records_nothing():
    t = make_top()
    t.promote_to_root()
    ids = [e.ecs_id for e in all_entities(t)]
    before = len(EntityRegistry)
    history = EntityRegistry.history(t.lineage_id)
    assert EntityRegistry.version_entity(t) is False
    assert len(EntityRegistry) == before
    assert EntityRegistry.history(t.lineage_id) == history
    assert [e.ecs_id for e in all_entities(t)] == ids


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda s: setattr(s, "gpa", 3.6), id="same-scalar"),
        pytest.param(lambda s: s.scores.update(math=1.0), id="same-dict-value"),
        pytest.param(lambda s: setattr(s, "tags", ["a"]), id="equal-new-list"),
        pytest.param(lambda s: setattr(s.courses[0], "credits", 3), id="same-child-value"),
        pytest.param(lambda s: (s.tags.append("x"), s.tags.pop()), id="append-then-pop"),
    ],
)
def test_edit_back_to_the_same_value_records_nothing(edit):
    s = make_full_student()
    s.promote_to_root()
    version, before = s.ecs_id, len(EntityRegistry)
    edit(s)
    assert EntityRegistry.version_entity(s) is False
    assert (s.ecs_id, len(EntityRegistry)) == (version, before)


def test_nan_value_does_not_look_changed():
    class Measured(Entity):
        x: float = 0.0
        xs: list[float] = []

    m = Measured(x=float("nan"), xs=[float("nan")])
    m.promote_to_root()
    assert EntityRegistry.version_entity(m) is False


def test_untouched_siblings_share_their_versions_between_tree_versions():
    root = Root(items=[Item(name=f"i{k}", value=k) for k in range(20)])
    root.promote_to_root()
    before = [i.ecs_id for i in root.items]
    root.items[7].value = -1
    EntityRegistry.version_entity(root)
    after = [i.ecs_id for i in root.items]
    assert [k for k, (a, b) in enumerate(zip(before, after)) if a != b] == [7]
    old_tree = EntityRegistry.get_stored_tree(root.old_ids[-1])
    new_tree = EntityRegistry.get_stored_tree(root.ecs_id)
    assert set(old_tree.nodes) & set(new_tree.nodes) == set(before) - {before[7]}


def test_versions_chain_through_previous_and_old_ids():
    s = make_full_student()
    s.promote_to_root()
    versions = [s.ecs_id]
    for gpa in (1.0, 2.0, 3.0):
        s.gpa = gpa
        assert EntityRegistry.version_entity(s)
        versions.append(s.ecs_id)
    assert s.old_ids == versions[:-1]
    assert s.previous_ecs_id == versions[-2]
    assert EntityRegistry.history(s.lineage_id) == versions
    assert EntityRegistry.latest(s.lineage_id) == versions[-1]
    assert [get(f"@{v}.gpa") for v in versions] == [3.6, 1.0, 2.0, 3.0]
    for older, newer in zip(versions, versions[1:]):
        assert EntityRegistry.get(newer).previous_ecs_id == older


def test_copy_with_the_same_version_id_becomes_its_own_version():
    s = make_full_student()
    s.promote_to_root()
    s.courses.append(s.courses[0].model_copy(deep=True))  # same ecs_id as courses[0]
    assert EntityRegistry.version_entity(s)
    assert s.courses[0].ecs_id != s.courses[2].ecs_id
    assert [c.name for c in EntityRegistry.get(s.ecs_id).courses] == ["Algebra", "Biology", "Algebra"]
    assert len(s.get_tree()) == 5


# -- copies out of the registry never change what is recorded ----------------------------------


def test_get_returns_a_copy_with_fresh_live_ids():
    t = make_top()
    t.promote_to_root()
    stored = EntityRegistry.get(t.ecs_id)
    assert stored is not t
    assert dump(stored) == dump(t)
    assert {e.live_id for e in all_entities(stored)}.isdisjoint({e.live_id for e in all_entities(t)})
    assert stored.is_root_entity()
    assert {e.root_live_id for e in all_entities(stored)} == {stored.live_id}
    assert EntityRegistry.get(t.ecs_id).live_id != stored.live_id


def test_get_of_a_child_version_is_a_copy_that_is_not_a_root():
    s = make_full_student()
    s.promote_to_root()
    child = EntityRegistry.get(s.courses[1].ecs_id)
    assert child.name == "Biology"
    assert child.live_id != s.courses[1].live_id
    assert child.root_ecs_id == s.ecs_id
    assert not child.is_root_entity()


def test_get_accepts_string_ids():
    s = make_full_student()
    s.promote_to_root()
    assert EntityRegistry.get(str(s.ecs_id)).name == "Ada"
    assert EntityRegistry.get(str(s.ecs_id).upper()).name == "Ada"


def _edit_everything(root):
    for e in all_entities(root):
        for name in type(e).model_fields:
            v = getattr(e, name)
            if isinstance(v, str) and name in ("name", "label", "title"):
                setattr(e, name, v + "!")
            elif isinstance(v, list):
                v.clear()
            elif isinstance(v, dict):
                v.clear()


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda r: EntityRegistry.get(r.ecs_id), id="get"),
        pytest.param(lambda r: EntityRegistry.get_stored_tree(r.ecs_id).root, id="get_stored_tree"),
        pytest.param(lambda r: EntityRegistry.get_stored_entity(r.ecs_id, r.ecs_id), id="get_stored_entity-root"),
        pytest.param(lambda r: get(f"@{r.ecs_id}"), id="address"),
    ],
)
def test_editing_a_copy_never_changes_what_is_stored(read):
    t = make_top()
    t.promote_to_root()
    picture = dump(EntityRegistry.get(t.ecs_id))
    _edit_everything(read(t))
    assert dump(EntityRegistry.get(t.ecs_id)) == picture


def test_editing_the_original_after_registering_never_changes_the_recorded_version():
    t = make_top()
    t.promote_to_root()
    version = t.ecs_id
    picture = dump(EntityRegistry.get(version))
    _edit_everything(t)
    assert dump(EntityRegistry.get(version)) == picture
    EntityRegistry.version_entity(t)
    assert dump(EntityRegistry.get(version)) == picture
    assert dump(EntityRegistry.get(t.ecs_id)) == dump(t)


def test_get_stored_tree_is_a_tree_of_fresh_copies():
    s = make_full_student()
    s.promote_to_root()
    tree = EntityRegistry.get_stored_tree(s.ecs_id)
    assert set(tree.nodes) == {e.ecs_id for e in all_entities(s)}
    assert tree.root.is_root_entity()
    assert {e.live_id for e in tree.nodes.values()}.isdisjoint({e.live_id for e in all_entities(s)})


def test_get_stored_entity_gives_a_child_as_recorded_in_that_tree_version():
    s = make_full_student()
    s.promote_to_root()
    first, course_v1 = s.ecs_id, s.courses[0].ecs_id
    s.courses[0].credits = 5
    EntityRegistry.version_entity(s)
    old = EntityRegistry.get_stored_entity(first, course_v1)
    assert old.credits == 3
    assert old.root_ecs_id == first
    assert old.live_id != s.courses[0].live_id
    new = EntityRegistry.get_stored_entity(s.ecs_id, s.courses[0].ecs_id)
    assert new.credits == 5
    old.credits = 100
    assert EntityRegistry.get_stored_entity(first, course_v1).credits == 3
    # an unchanged child is part of both tree versions
    assert EntityRegistry.get_stored_entity(first, s.advisor.ecs_id).name == "Advising"
    assert EntityRegistry.get_stored_entity(s.ecs_id, s.advisor.ecs_id).name == "Advising"


def test_get_stored_entity_refuses_a_version_outside_the_tree():
    s = make_full_student()
    s.promote_to_root()
    other = Course(name="other")
    other.promote_to_root()
    with pytest.raises(EntityNotFoundError):
        EntityRegistry.get_stored_entity(s.ecs_id, other.ecs_id)


# -- lookups -----------------------------------------------------------------------------------


def test_history_is_oldest_first_and_every_version_is_retrievable():
    c = Course(name="c0")
    c.promote_to_root()
    expected = [c.ecs_id]
    for k in range(1, 6):
        c.name = f"c{k}"
        EntityRegistry.version_entity(c)
        expected.append(c.ecs_id)
    history = EntityRegistry.history(c.lineage_id)
    assert history == expected
    assert [EntityRegistry.get(v).name for v in history] == [f"c{k}" for k in range(6)]
    assert EntityRegistry.history(str(c.lineage_id)) == expected


def test_history_of_a_child_lineage_lists_only_its_own_versions():
    s = make_full_student()
    s.promote_to_root()
    v1 = s.advisor.ecs_id
    s.name = "root only"
    EntityRegistry.version_entity(s)
    assert EntityRegistry.history(s.advisor.lineage_id) == [v1]
    s.advisor.name = "changed"
    EntityRegistry.version_entity(s)
    assert EntityRegistry.history(s.advisor.lineage_id) == [v1, s.advisor.ecs_id]


def test_history_returns_a_copy():
    c = Course(name="c")
    c.promote_to_root()
    EntityRegistry.history(c.lineage_id).clear()
    assert EntityRegistry.history(c.lineage_id) == [c.ecs_id]


def test_ids_by_type():
    s = make_full_student()
    s.promote_to_root()
    assert EntityRegistry.ids_by_type(Student) == [s.ecs_id]
    assert set(EntityRegistry.ids_by_type(Course)) == {c.ecs_id for c in [*s.courses, s.advisor]}
    assert EntityRegistry.ids_by_type(Course.__ecs_type__) == EntityRegistry.ids_by_type(Course)
    assert EntityRegistry.ids_by_type(Leaf) == []
    s.courses[0].credits = 1
    EntityRegistry.version_entity(s)
    assert len(EntityRegistry.ids_by_type(Student)) == 2
    assert len(EntityRegistry.ids_by_type(Course)) == 4


def test_lineage_lookups():
    s = make_full_student()
    s.promote_to_root()
    first = s.ecs_id
    s.gpa = 1.0
    EntityRegistry.version_entity(s)
    assert EntityRegistry.lineage_of(first) == s.lineage_id
    assert EntityRegistry.lineage_of(s.ecs_id) == s.lineage_id
    assert EntityRegistry.latest(s.lineage_id) == s.ecs_id
    assert len(EntityRegistry.lineages()) == 4  # the student and its three courses
    assert EntityRegistry.is_root_version(first)
    assert EntityRegistry.is_root_version(s.ecs_id)
    assert not EntityRegistry.is_root_version(s.advisor.ecs_id)
    assert first in EntityRegistry
    assert str(first) in EntityRegistry
    assert uuid.uuid4() not in EntityRegistry
    assert 42 not in EntityRegistry
    assert EntityRegistry.has(first)
    assert not EntityRegistry.has(uuid.uuid4())


def test_lineages_are_uuids():
    s = make_full_student()
    s.promote_to_root()
    assert set(EntityRegistry.lineages()) == {e.lineage_id for e in all_entities(s)}


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: EntityRegistry.get(uuid.uuid4()), id="get"),
        pytest.param(lambda: EntityRegistry.record(uuid.uuid4()), id="record"),
        pytest.param(lambda: EntityRegistry.history(uuid.uuid4()), id="history"),
        pytest.param(lambda: EntityRegistry.latest(uuid.uuid4()), id="latest"),
        pytest.param(lambda: EntityRegistry.lineage_of(uuid.uuid4()), id="lineage_of"),
        pytest.param(lambda: EntityRegistry.get_stored_tree(uuid.uuid4()), id="get_stored_tree"),
        pytest.param(lambda: EntityRegistry.get_stored_entity(uuid.uuid4(), uuid.uuid4()), id="get_stored_entity"),
        pytest.param(lambda: EntityRegistry.get("not-a-uuid"), id="malformed-id"),
    ],
)
def test_unknown_ids_raise_entity_not_found(call):
    with pytest.raises(EntityNotFoundError):
        call()
    with pytest.raises(KeyError):  # also a KeyError, for code written against dicts
        call()


def test_repr_counts_versions_and_lineages():
    make_full_student().promote_to_root()
    r = repr(EntityRegistry)
    assert r.startswith("<EntityRegistry")
    assert "4 versions in 4 lineages" in r


# -- listeners ---------------------------------------------------------------------------------


def test_subscribers_receive_the_new_records_of_each_version():
    batches = []
    unsubscribe = EntityRegistry.subscribe(batches.append)
    s = make_full_student()
    s.promote_to_root()
    s.courses[0].credits = 1
    EntityRegistry.version_entity(s)
    EntityRegistry.version_entity(s)  # nothing changed: no batch
    assert [len(b) for b in batches] == [4, 2]
    assert [r.ecs_id for r in batches[1]] == [s.ecs_id, s.courses[0].ecs_id]  # parents first
    unsubscribe()
    s.gpa = 0.0
    EntityRegistry.version_entity(s)
    assert len(batches) == 2


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda r: r.items.__setitem__(slice(0, 2), [r.items[1], r.items[0]]), id="swap-two"),
        pytest.param(lambda r: (r.items.pop(0), r.items.append(Item(name="new"))), id="pop-and-append"),
        pytest.param(lambda r: r.items.reverse(), id="reverse"),
    ],
)
def test_slots_delta_rebuilds_the_child_references(edit):
    records = []
    EntityRegistry.subscribe(records.extend)
    root = Root(items=[Item(name=f"i{k}", value=k) for k in range(12)])
    root.promote_to_root()
    records.clear()
    edit(root)
    assert EntityRegistry.version_entity(root)
    (rec,) = [r for r in records if r.ecs_id == root.ecs_id]
    if rec.slots_base is not None:  # a store writes base + delta instead of every child reference
        base = EntityRegistry.record(rec.slots_base)
        rebuilt = tuple(rec.slots_delta.get(i, ref) for i, ref in enumerate(base.slots))
        assert rebuilt == rec.slots


def test_slots_delta_for_a_one_child_edit_names_only_that_child():
    records = []
    EntityRegistry.subscribe(records.extend)
    root = Root(items=[Item(name=f"i{k}", value=k) for k in range(40)])
    root.promote_to_root()
    records.clear()
    root.items[30].value = -1
    EntityRegistry.version_entity(root)
    (rec,) = [r for r in records if r.ecs_id == root.ecs_id]
    assert rec.slots_delta == {30: root.items[30].ecs_id}
    assert rec.slots_base == root.previous_ecs_id


# -- bad input leaves the registry exactly as it was -------------------------------------------


def test_cycle_in_a_registered_tree_raises_and_records_nothing(registry_state):
    root = Node(name="r", child=Node(name="c"))
    root.promote_to_root()
    ids = [e.ecs_id for e in all_entities(root)]
    before = registry_state(root.lineage_id, root.child.lineage_id)
    root.child.child = root
    with pytest.raises(RegistrationError, match="[Cc]ycle"):
        EntityRegistry.version_entity(root)
    assert registry_state(root.lineage_id, root.child.lineage_id) == before
    root.child.child = None
    assert [e.ecs_id for e in all_entities(root)] == ids  # live objects untouched by the failure
    assert EntityRegistry.version_entity(root) is False


def test_cycle_before_registration_raises_and_records_nothing(registry_state):
    a = Node(name="a")
    a.child = Node(name="b", child=a)
    before = registry_state()
    with pytest.raises(RegistrationError):
        a.promote_to_root()
    assert registry_state() == before
    assert not a.is_root_entity()


def test_same_object_twice_in_one_tree_raises_and_records_nothing(registry_state):
    s = make_full_student()
    s.promote_to_root()
    before = registry_state(s.lineage_id)
    s.courses.append(s.courses[0])
    with pytest.raises(RegistrationError, match="twice"):
        EntityRegistry.version_entity(s)
    assert registry_state(s.lineage_id) == before


def test_same_object_twice_in_a_new_tree_raises_and_records_nothing(registry_state):
    c = Course(name="shared")
    before = registry_state()
    with pytest.raises(RegistrationError):
        Student(name="s", courses=[c], advisor=c).promote_to_root()
    assert registry_state() == before


def test_same_object_in_two_registered_trees_raises_and_records_nothing(registry_state):
    first = make_full_student()
    first.promote_to_root()
    second = Student(name="Bob")
    second.promote_to_root()
    before = registry_state(first.lineage_id, second.lineage_id)
    second.courses.append(first.courses[0])
    with pytest.raises(RegistrationError, match="already belongs"):
        EntityRegistry.version_entity(second)
    assert registry_state(first.lineage_id, second.lineage_id) == before
    assert first.courses[0].root_live_id == first.live_id


def test_same_object_in_a_new_tree_raises_and_records_nothing(registry_state):
    first = make_full_student()
    first.promote_to_root()
    before = registry_state(first.lineage_id)
    with pytest.raises(RegistrationError, match="already belongs"):
        Student(name="Bob", advisor=first.advisor).promote_to_root()
    assert registry_state(first.lineage_id) == before


def test_a_deep_copy_of_a_member_may_join_another_tree():
    first = make_full_student()
    first.promote_to_root()
    second = Student(name="Bob", advisor=first.advisor.model_copy(deep=True))
    second.promote_to_root()
    assert second.advisor.root_live_id == second.live_id
    assert first.advisor.root_live_id == first.live_id


@pytest.mark.parametrize("value", [None, 1, "x", {"name": "a"}, Course, [Course(name="a")]])
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(EntityRegistry.version_entity, id="version_entity"),
        pytest.param(EntityRegistry.promote_to_root, id="promote_to_root"),
        pytest.param(EntityRegistry.register_entity, id="register_entity"),
    ],
)
def test_non_entity_raises_registration_error(registry_state, call, value):
    before = registry_state()
    with pytest.raises(RegistrationError, match="needs an Entity"):
        call(value)
    assert registry_state() == before


def test_versioning_an_unregistered_entity_raises_not_found(registry_state):
    before = registry_state()
    with pytest.raises(EntityNotFoundError, match="promote_to_root"):
        EntityRegistry.version_entity(make_full_student())
    assert registry_state() == before


def test_versioning_a_child_directly_raises_and_records_nothing(registry_state):
    t = make_top()
    t.promote_to_root()
    before = registry_state(t.lineage_id, t.middle.lineage_id)
    t.middle.name = "edited"
    with pytest.raises(RegistrationError, match="child"):
        EntityRegistry.version_entity(t.middle)
    assert registry_state(t.lineage_id, t.middle.lineage_id) == before
    assert EntityRegistry.version_entity(t) is True  # the edit is still pending on the root


def test_failed_version_after_a_real_edit_keeps_the_edit_pending(registry_state):
    s = make_full_student()
    s.promote_to_root()
    before = registry_state(s.lineage_id)
    s.gpa = 1.5
    s.courses.append(s.courses[0])
    with pytest.raises(RegistrationError):
        EntityRegistry.version_entity(s)
    assert registry_state(s.lineage_id) == before
    s.courses.pop()
    assert EntityRegistry.version_entity(s)
    assert get(f"@{s.ecs_id}.gpa") == 1.5


def test_many_roots_are_independent():
    a, b = make_full_student(), make_top()
    a.promote_to_root()
    b.promote_to_root()
    b_version = b.ecs_id
    a.name = "A"
    EntityRegistry.version_entity(a)
    assert b.ecs_id == b_version
    assert EntityRegistry.version_entity(b) is False


def test_deepcopy_of_a_registered_root_can_be_versioned_separately():
    s = make_full_student()
    s.promote_to_root()
    fork = copy.deepcopy(s)
    fork.promote_to_root()
    fork.name = "fork"
    assert EntityRegistry.version_entity(fork)
    assert s.name == "Ada"
    assert EntityRegistry.version_entity(s) is False
    assert get(f"@{fork.ecs_id}.name") == "fork"
    assert get(f"@{s.ecs_id}.name") == "Ada"


def test_leaf_classes_round_trip_through_the_registry():
    m = Middle(name="m", leaf=Leaf(label="l", value=1), by_key={"a": Leaf(label="a")})
    m.promote_to_root()
    assert dump(EntityRegistry.get(m.ecs_id)) == dump(m)
    t = Top(title="t", middle=m.model_copy(deep=True))
    t.promote_to_root()
    assert dump(EntityRegistry.get(t.ecs_id)) == dump(t)


# -- copies keep the shape of user classes -----------------------------------------------------


class WithPrivate(Entity):
    x: int = 0
    _cache: dict = PrivateAttr(default_factory=dict)


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda e: EntityRegistry.get(e.ecs_id), id="get"),
        pytest.param(lambda e: EntityRegistry.get_stored_tree(e.ecs_id).root, id="get_stored_tree"),
        pytest.param(lambda e: get(f"@{e.ecs_id}"), id="address"),
    ],
)
def test_copies_of_entities_with_private_attributes_work(read):
    e = WithPrivate(x=1)
    e._cache["k"] = 1
    e.promote_to_root()
    copy_ = read(e)
    assert copy_._cache == {}  # a fresh default, as for any new object of the class
    copy_._cache["k"] = 2
    assert copy_.x == 1


class Frozen(Entity):
    members: frozenset[Leaf] = frozenset()


def test_frozenset_of_entities_comes_back_as_a_frozenset():
    f = Frozen(members=frozenset({Leaf(label="a"), Leaf(label="b")}))
    f.promote_to_root()
    stored = EntityRegistry.get(f.ecs_id)
    assert type(stored.members) is frozenset
    assert {leaf.label for leaf in stored.members} == {"a", "b"}
    hash(stored.members)


def test_unchanged_set_after_a_member_edit_records_nothing():
    spurious = 0
    for _ in range(20):  # the order of 5 random ids changes in most trials
        t = Top(title="t", bag={Leaf(label=f"s{k}") for k in range(5)})
        t.promote_to_root()
        min(t.bag, key=lambda e: e.label).value = 1
        assert EntityRegistry.version_entity(t)
        spurious += EntityRegistry.version_entity(t)  # nothing changed since the last version
    assert spurious == 0


def test_set_of_entities_round_trips_and_a_stored_copy_is_unchanged():
    t = Top(title="t", bag={Leaf(label=f"s{k}") for k in range(6)})
    t.promote_to_root()
    stored = EntityRegistry.get(t.ecs_id)
    assert sorted(leaf.label for leaf in stored.bag) == [f"s{k}" for k in range(6)]
    before = len(EntityRegistry)
    stored.promote_to_root()  # same data, same ids: nothing new to record
    assert len(EntityRegistry) == before


def test_records_built_by_position_hold_each_field_under_its_name():
    """The registry's hot loop builds records by position (new_record() elsewhere): every field lands by name."""
    from ecs_notebook.core.records import new_record

    s = make_full_student()
    s.promote_to_root()
    first = s.ecs_id
    algebra = s.courses[0]
    old_algebra = algebra.ecs_id
    algebra.name = "Algebra II"
    assert EntityRegistry.version_entity(s)
    rec = EntityRegistry.record(algebra.ecs_id)
    expected = new_record(
        ecs_id=algebra.ecs_id,
        lineage_id=algebra.lineage_id,
        cls=Course,
        plain=("Algebra II", 3),
        root_ecs_id=s.ecs_id,
        previous_ecs_id=old_algebra,
        old_ids=(old_algebra,),
        created_at=algebra.created_at,
        forked_at=algebra.forked_at,
        attribute_source=algebra.attribute_source,
    )
    assert rec == expected
    root = EntityRegistry.record(s.ecs_id)
    assert (root.previous_ecs_id, root.old_ids, root.root_ecs_id) == (first, (first,), s.ecs_id)
    assert root.slots == tuple(c.ecs_id for c in [*s.courses, s.advisor])
    assert root.lineage_id == s.lineage_id and root.cls is Student and root.forked_at is not None
