"""Addresses (DESIGN A3): get/put against recorded versions, is_address, create_composite_entity."""

from __future__ import annotations

import uuid

import pytest
from models import Course, Leaf, Middle, Student, Top, all_entities, dump, make_full_student, make_top

from ecs_notebook import (
    AddressError,
    EntityNotFoundError,
    EntityRegistry,
    InputValidationError,
    create_composite_entity,
    get,
    is_address,
    put,
)


@pytest.fixture
def top() -> Top:
    t = make_top()
    t.promote_to_root()
    return t


# -- get ---------------------------------------------------------------------------------------

GETS = [
    ("title", "top"),
    ("middle.name", "m0"),
    ("middle.leaf.label", "deep"),  # three levels: Top -> Middle -> Leaf
    ("middle.leaf.value", 1),
    ("middle.leaves.1.label", "l1"),
    ("middle.by_key.k.label", "kv"),
    ("middles.0.leaves.0.label", "x"),
    ("middles.1.name", "m2"),
    ("pair.0.label", "p0"),
    ("pair.1.label", "p1"),
    ("index.i.leaf.label", "il"),
    ("index.i.name", "mi"),
    ("matrix.0.1", 2),
    ("matrix.1", [3]),
    ("matrix", [[1, 2], [3]]),
    ("notes.n.0", "x"),
    ("notes", {"n": ["x"]}),
    ("middles.1.leaf", None),
]


@pytest.mark.parametrize(("path", "expected"), GETS, ids=[p for p, _ in GETS])
def test_get_follows_fields_indices_and_keys(top, path, expected):
    assert get(f"@{top.ecs_id}.{path}") == expected


def test_get_student_paths():
    s = make_full_student()
    s.promote_to_root()
    assert get(f"@{s.ecs_id}.courses.0.name") == "Algebra"
    assert get(f"@{s.ecs_id}.scores.math") == 1.0
    assert get(f"@{s.ecs_id}.tags.0") == "a"
    assert get(f"@{s.ecs_id}.advisor.credits") == 0


@pytest.mark.parametrize("case", [str.upper, str.lower], ids=["upper", "lower"])
def test_uuid_in_any_case(top, case):
    assert get(f"@{case(str(top.ecs_id))}.middle.leaf.label") == "deep"


def test_bare_address_is_a_copy_of_the_entity(top):
    copy_ = get(f"@{top.ecs_id}")
    assert isinstance(copy_, Top)
    assert copy_.live_id != top.live_id
    assert dump(copy_) == dump(top)


def test_entity_values_are_copies_with_fresh_live_ids(top):
    middle = get(f"@{top.ecs_id}.middle")
    assert isinstance(middle, Middle)
    assert middle.ecs_id == top.middle.ecs_id
    assert middle.live_id != top.middle.live_id
    assert dump(middle) == dump(top.middle)
    leaves = get(f"@{top.ecs_id}.middle.leaves")
    assert [leaf.label for leaf in leaves] == ["l0", "l1"]
    assert {leaf.live_id for leaf in leaves}.isdisjoint({leaf.live_id for leaf in top.middle.leaves})
    by_key = get(f"@{top.ecs_id}.middle.by_key")
    assert list(by_key) == ["k"]
    assert by_key["k"].label == "kv"
    pair = get(f"@{top.ecs_id}.pair")
    assert isinstance(pair, tuple)
    assert [p.label for p in pair] == ["p0", "p1"]


def test_editing_a_got_value_does_not_change_the_record(top):
    got = get(f"@{top.ecs_id}.matrix")
    got[0].append(99)
    middle = get(f"@{top.ecs_id}.middle")
    middle.leaf.label = "edited"
    assert get(f"@{top.ecs_id}.matrix") == [[1, 2], [3]]
    assert get(f"@{top.ecs_id}.middle.leaf.label") == "deep"


def test_address_of_a_child_version(top):
    leaf = top.middle.leaf
    assert get(f"@{leaf.ecs_id}.label") == "deep"
    assert get(f"@{top.middle.ecs_id}.leaves.0.label") == "l0"


def test_old_versions_still_give_old_data(top):
    first = top.ecs_id
    first_leaf = top.middle.leaf.ecs_id
    top.middle.leaf.label = "v2"
    top.matrix[0][0] = 100
    top.middle.leaves.pop()
    EntityRegistry.version_entity(top)
    assert get(f"@{first}.middle.leaf.label") == "deep"
    assert get(f"@{first_leaf}.label") == "deep"
    assert get(f"@{first}.matrix.0.0") == 1
    assert get(f"@{first}.middle.leaves.1.label") == "l1"
    assert get(f"@{top.ecs_id}.middle.leaf.label") == "v2"
    assert get(f"@{top.ecs_id}.matrix.0.0") == 100
    with pytest.raises(AddressError):
        get(f"@{top.ecs_id}.middle.leaves.1.label")


def test_live_edits_are_invisible_until_versioned(top):
    top.title = "not yet recorded"
    assert get(f"@{top.ecs_id}.title") == "top"


def test_get_on_a_large_list_reaches_the_right_item():
    from models import Item, Root

    root = Root(items=[Item(name=f"i{k}", value=k) for k in range(500)])
    root.promote_to_root()
    assert [get(f"@{root.ecs_id}.items.{k}.value") for k in (0, 1, 250, 499)] == [0, 1, 250, 499]


# -- put ---------------------------------------------------------------------------------------


def test_put_records_a_new_version_and_leaves_old_version_and_live_object(top):
    first = top.ecs_id
    picture = dump(EntityRegistry.get(first))
    live_picture = dump(top)
    new = put(f"@{first}.middle.leaf.label", "put")
    assert isinstance(new, uuid.UUID)
    assert new != first
    assert get(f"@{new}.middle.leaf.label") == "put"
    assert get(f"@{new}.middle.name") == "m0"  # everything else carried over
    assert dump(EntityRegistry.get(first)) == picture
    assert dump(top) == live_picture
    assert top.ecs_id == first
    assert EntityRegistry.history(top.lineage_id) == [first, new]
    assert EntityRegistry.get(new).previous_ecs_id == first


def test_put_gives_new_ids_only_along_the_path(top):
    new = put(f"@{top.ecs_id}.middle.leaf.value", 7)
    stored = EntityRegistry.get(new)
    assert stored.middle.leaf.ecs_id != top.middle.leaf.ecs_id
    assert stored.middle.ecs_id != top.middle.ecs_id
    assert stored.middle.leaves[0].ecs_id == top.middle.leaves[0].ecs_id
    assert stored.middles[0].ecs_id == top.middles[0].ecs_id


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("title", "new title"),
        ("matrix.0.1", 20),
        ("notes.n", ["a", "b"]),
        ("middle.by_key.k.value", 3),
        ("index.i.leaf.label", "deep put"),
        ("middles.1.name", "renamed"),
        ("middle.leaf", None),
    ],
)
def test_put_sets_values_at_any_depth(top, path, value):
    new = put(f"@{top.ecs_id}.{path}", value)
    assert get(f"@{new}.{path}") == value
    assert get(f"@{top.ecs_id}.{path}") != value


def test_put_applies_to_the_latest_version_of_the_lineage():
    s = make_full_student()
    s.promote_to_root()
    first = s.ecs_id
    s.gpa = 2.0
    EntityRegistry.version_entity(s)
    new = put(f"@{first}.name", "Grace")
    assert get(f"@{new}.name") == "Grace"
    assert get(f"@{new}.gpa") == 2.0
    assert get(f"@{first}.name") == "Ada"


def test_put_an_entity_value():
    s = make_full_student()
    s.promote_to_root()
    new = put(f"@{s.ecs_id}.advisor", Course(name="New advisor"))
    assert get(f"@{new}.advisor.name") == "New advisor"
    assert s.advisor.name == "Advising"


def test_put_marks_the_value_as_literal():
    source = make_full_student()
    source.promote_to_root()
    s = Student(name="x")
    s.borrow_attribute_from(source, "name", "name")
    s.promote_to_root()
    new = put(f"@{s.ecs_id}.name", "literal")
    assert EntityRegistry.get(new).attribute_source["name"] is None


@pytest.mark.parametrize(
    ("address", "error"),
    [
        ("@{id}", AddressError),
        ("@{id}.nope", AddressError),
        ("@{id}.pair.0", AddressError),  # tuples are immutable
        ("@{id}.middles.9.name", AddressError),
        ("not an address", AddressError),
        (f"@{uuid.UUID(int=1)}.title", EntityNotFoundError),
    ],
    ids=["bare", "missing-field", "tuple-item", "index-out-of-range", "malformed", "unknown-id"],
)
def test_put_bad_address_records_nothing(top, registry_state, address, error):
    before = registry_state(top.lineage_id)
    with pytest.raises(error):
        put(address.format(id=top.ecs_id), "x")
    assert registry_state(top.lineage_id) == before


def test_put_invalid_value_raises_input_validation_error_and_records_nothing(registry_state):
    s = make_full_student()
    s.promote_to_root()
    before = registry_state(s.lineage_id)
    with pytest.raises(InputValidationError, match="gpa"):
        put(f"@{s.ecs_id}.gpa", "not a number")
    assert registry_state(s.lineage_id) == before


# -- is_address --------------------------------------------------------------------------------

_ID = "3f2a1c00-0000-4000-8000-0000000000e1"

IS_ADDRESS = [
    (f"@{_ID}", True),
    (f"@{_ID.upper()}", True),
    (f"@{_ID}.name", True),
    (f"@{_ID}.courses.0.name", True),
    (f"@{_ID}.scores.math", True),
    (_ID, False),
    ("@", False),
    ("", False),
    ("@3f2a1c00", False),
    (f"@{_ID}.", False),
    (f"@{_ID}..name", False),
    (f"@{_ID}.na me", False),
    (f"x@{_ID}", False),
    ("@not-a-uuid-at-all-xxxxxxxxxxxxxxxxxx", False),
    (None, False),
    (42, False),
    (uuid.UUID(_ID), False),
]


@pytest.mark.parametrize(("value", "expected"), IS_ADDRESS, ids=[repr(v)[:30] for v, _ in IS_ADDRESS])
def test_is_address(value, expected):
    assert is_address(value) is expected


# -- malformed and unresolvable addresses ------------------------------------------------------

MALFORMED = [
    "",
    "@",
    "name",
    "3f2a1c00-0000-4000-8000-0000000000e1",
    "@3f2",  # a prefix of fewer than 4 hex digits
    "@3f2a-1c00",  # a dash where the id has none
    "@not-a-uuid",
    "@{id}.",
    "@{id}..title",
    "@{id}.middle..name",
    "#{id}.title",
]


@pytest.mark.parametrize("address", MALFORMED)
def test_malformed_address_raises_address_error(top, registry_state, address):
    before = registry_state(top.lineage_id)
    with pytest.raises(AddressError, match="[Mm]alformed"):
        get(address.format(id=top.ecs_id))
    assert registry_state(top.lineage_id) == before


@pytest.mark.parametrize("value", [None, 42, uuid.uuid4(), b"@x"], ids=["None", "int", "UUID", "bytes"])
def test_non_string_address_raises_address_error(value):
    with pytest.raises(AddressError):
        get(value)


def test_short_ids_resolve_like_full_ones(top):
    full = str(top.ecs_id)
    for head in (full[:8], full[:4].upper(), full[:13], full.replace("-", "")):
        assert get(f"@{head}.middle.leaf.label") == "deep"
        assert get(f"@{head}").ecs_id == top.ecs_id


def test_unknown_short_id_raises_entity_not_found(top, registry_state):
    before = registry_state(top.lineage_id)
    other = "0123" if not str(top.ecs_id).startswith("0123") else "4567"
    with pytest.raises(EntityNotFoundError, match=f"starting with {other}"):
        get(f"@{other}.title")
    assert registry_state(top.lineage_id) == before


def test_unknown_uuid_raises_entity_not_found(top, registry_state):
    before = registry_state(top.lineage_id)
    missing = uuid.uuid4()
    with pytest.raises(EntityNotFoundError, match=str(missing)):
        get(f"@{missing}.title")
    assert registry_state(top.lineage_id) == before


UNRESOLVED = [
    ("nope", "'nope'"),
    ("middle.leaf.nope", "'nope'"),
    ("middles.5", "5"),
    ("middles.5.name", "5"),
    ("middle.leaves.2.label", "2"),
    ("pair.2", "2"),
    ("matrix.0.9", "9"),
    ("index.zz", "'zz'"),
    ("notes.q", "'q'"),
    ("middle.by_key.missing.label", "'missing'"),
    ("middles.x", "'x'"),
    ("title.x", "'x'"),
    ("bag.0", "'0'"),
    ("middles.1.leaf.label", "'label'"),  # leaf is None in that version
]


@pytest.mark.parametrize(("path", "segment"), UNRESOLVED, ids=[p for p, _ in UNRESOLVED])
def test_unresolvable_segment_raises_address_error_naming_it(top, registry_state, path, segment):
    before = registry_state(top.lineage_id)
    address = f"@{top.ecs_id}.{path}"
    with pytest.raises(AddressError) as info:
        get(address)
    msg = str(info.value)
    assert segment in msg
    assert address in msg
    assert registry_state(top.lineage_id) == before


def test_missing_field_error_lists_the_fields(top):
    with pytest.raises(AddressError) as info:
        get(f"@{top.ecs_id}.middle.lef")
    assert "leaf" in str(info.value).split("'lef'")[1]


# -- create_composite_entity -------------------------------------------------------------------


def test_composite_from_literals_has_no_sources():
    c = create_composite_entity(Course, {"name": "Literal", "credits": 2})
    assert (c.name, c.credits) == ("Literal", 2)
    assert c.attribute_source == {"name": None, "credits": None}
    assert c.is_root_entity()
    assert c.ecs_id in EntityRegistry


def test_composite_from_addresses_records_the_source_versions():
    s = make_full_student()
    s.promote_to_root()
    c = create_composite_entity(
        Student,
        {
            "name": f"@{s.ecs_id}.name",
            "gpa": 2.5,
            "scores": f"@{s.ecs_id}.scores",
            "advisor": f"@{s.ecs_id}.advisor",
            "courses": f"@{s.ecs_id}.courses",
        },
    )
    assert (c.name, c.gpa, c.scores) == ("Ada", 2.5, {"math": 1.0, "art": 0.5})
    assert c.advisor.name == "Advising"
    assert c.advisor.live_id != s.advisor.live_id
    assert c.attribute_source["name"] == s.ecs_id
    assert c.attribute_source["gpa"] is None
    assert c.attribute_source["advisor"] == s.advisor.ecs_id
    assert [x.name for x in c.courses] == ["Algebra", "Biology"]
    assert EntityRegistry.get(c.ecs_id).attribute_source["name"] == s.ecs_id


def test_composite_from_entities_copies_them_and_records_their_versions():
    s = make_full_student()
    s.promote_to_root()
    extra = Course(name="Unregistered")
    c = create_composite_entity(Student, {"name": "Mix", "advisor": s.advisor, "courses": [s.courses[1], extra]})
    assert c.advisor is not s.advisor
    assert c.advisor.root_live_id == c.live_id
    assert s.advisor.root_live_id == s.live_id  # the source tree is untouched
    assert c.attribute_source["advisor"] == s.advisor.ecs_id
    assert c.attribute_source["courses"] == [s.courses[1].ecs_id, extra.ecs_id]
    assert extra.ecs_id in EntityRegistry  # a borrowed entity is recorded so its source resolves
    assert [x.name for x in EntityRegistry.get(c.ecs_id).courses] == ["Biology", "Unregistered"]


def test_composite_mixing_addresses_and_entities_in_a_list():
    s = make_full_student()
    s.promote_to_root()
    c = create_composite_entity(Student, {"name": "m", "courses": [f"@{s.ecs_id}.courses.0", s.courses[1]]})
    assert [x.name for x in c.courses] == ["Algebra", "Biology"]
    assert c.attribute_source["courses"] == [s.courses[0].ecs_id, s.courses[1].ecs_id]


def test_composite_without_registering():
    before = len(EntityRegistry)
    c = create_composite_entity(Course, {"name": "x"}, register=False)
    assert len(EntityRegistry) == before
    assert not c.is_root_entity()


def test_composite_with_invalid_values_raises_and_records_nothing(registry_state):
    before = registry_state()
    with pytest.raises(InputValidationError, match="Course"):
        create_composite_entity(Course, {"name": "x", "credits": "many"})
    assert registry_state() == before


def test_composite_from_bad_address_raises(registry_state):
    s = make_full_student()
    s.promote_to_root()
    before = registry_state(s.lineage_id)
    with pytest.raises(AddressError):
        create_composite_entity(Course, {"name": f"@{s.ecs_id}.nope"})
    assert registry_state(s.lineage_id) == before


def test_composite_of_deep_trees_keeps_every_member():
    t = make_top()
    t.promote_to_root()
    c = create_composite_entity(Top, {"title": "c", "middle": f"@{t.ecs_id}.middle", "pair": f"@{t.ecs_id}.pair"})
    assert c.middle.leaf.label == "deep"
    assert [p.label for p in c.pair] == ["p0", "p1"]
    assert {e.root_live_id for e in all_entities(c)} == {c.live_id}
    assert dump(EntityRegistry.get(c.ecs_id).middle)["leaf"]["label"] == "deep"


def test_borrowed_leaf_source_is_its_own_version():
    t = make_top()
    t.promote_to_root()
    m = create_composite_entity(Middle, {"name": "m", "leaf": f"@{t.ecs_id}.middle.leaf"})
    assert isinstance(m.leaf, Leaf)
    assert m.attribute_source["leaf"] == t.middle.leaf.ecs_id


def test_composite_source_of_an_edited_entity_holds_the_borrowed_value():
    s = make_full_student()
    s.promote_to_root()
    s.advisor.name = "edited, not yet versioned"
    c = create_composite_entity(Student, {"name": "c", "advisor": s.advisor})
    source = c.attribute_source["advisor"]
    # the recorded source version must hold what was borrowed
    assert get(f"@{source}.name") == c.advisor.name == "edited, not yet versioned"
