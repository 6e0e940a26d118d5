"""diff(a, b) (DESIGN A5): field-by-field differences between two versions, with address-style paths."""

from __future__ import annotations

import uuid

import pytest
from models import Course, Sample, Shelf, library, sample, student

from ecs_notebook import Entity, EntityNotFoundError, EntityRegistry, diff

# -- edits of a student (courses: list of entities, scores: dict, advisor: entity, tags: list) --------
# Each edit changes the live tree in place; the table gives the expected diff old -> new. Entity
# values are compared as (type, name).


def _rename(s):
    s.name = "Grace"


def _gpa(s):
    s.gpa = 4.0


def _course_name(s):
    s.courses[0].name = "Calculus"


def _course_credits(s):
    s.courses[1].credits = 5


def _advisor_name(s):
    s.advisor.name = "Office"


def _append_course(s):
    s.courses.append(Course(name="Chemistry"))


def _drop_course(s):
    s.courses.pop()


def _replace_course(s):
    s.courses[0] = Course(name="Zoology")


def _drop_advisor(s):
    s.advisor = None


def _score(s):
    s.scores["math"] = 2.0


def _add_score(s):
    s.scores["bio"] = 3.0


def _drop_score(s):
    del s.scores["art"]


def _append_tag(s):
    s.tags.append("b")


def _change_tag(s):
    s.tags[0] = "z"


def _two_places(s):
    s.name = "Grace"
    s.courses[1].credits = 5


STUDENT_EDITS = [
    (_rename, {"name": ("Ada", "Grace")}),
    (_gpa, {"gpa": (3.0, 4.0)}),
    (_course_name, {"courses.0.name": ("Algebra", "Calculus")}),
    (_course_credits, {"courses.1.credits": (4, 5)}),
    (_advisor_name, {"advisor.name": ("Advising", "Office")}),
    (_append_course, {"courses.2": (None, ("Course", "Chemistry"))}),
    (_drop_course, {"courses.1": (("Course", "Biology"), None)}),
    (_replace_course, {"courses.0": (("Course", "Algebra"), ("Course", "Zoology"))}),  # another lineage: whole
    (_drop_advisor, {"advisor": (("Course", "Advising"), None)}),
    (_score, {"scores.math": (1.0, 2.0)}),
    (_add_score, {"scores.bio": (None, 3.0)}),
    (_drop_score, {"scores.art": (0.5, None)}),
    (_append_tag, {"tags.1": (None, "b")}),
    (_change_tag, {"tags.0": ("a", "z")}),
    (_two_places, {"name": ("Ada", "Grace"), "courses.1.credits": (4, 5)}),
]


def _plain(v):
    if isinstance(v, Entity):
        return (type(v).__name__, v.name)
    return v


def _normal(d):
    return {k: (_plain(a), _plain(b)) for k, (a, b) in d.items()}


@pytest.mark.parametrize(("edit", "expected"), STUDENT_EDITS, ids=[e.__name__.strip("_") for e, _ in STUDENT_EDITS])
def test_student_edits(edit, expected):
    s = student()
    old = s.ecs_id
    edit(s)
    assert EntityRegistry.version_entity(s)
    got = diff(old, s.ecs_id)
    assert _normal(got) == expected
    back = diff(s.ecs_id, old)
    assert _normal(back) == {k: (b, a) for k, (a, b) in expected.items()}, "diff(b, a) swaps old and new"


# -- a tree with tuples, dicts of entities and nested plain containers --------------------------------


def _shelf():
    shelf = Shelf(
        title="t",
        items=[Sample(name=f"i{k}", value=float(k)) for k in range(5)],
        by_key={"k": Course(name="keyed"), "j": Course(name="other")},
        pair=(Course(name="p0"), Course(name="p1")),
        matrix=[[1, 2], [3]],
        meta={"x": ["a", "b"]},
    )
    shelf.promote_to_root()
    return shelf


def _item_name(sh):
    sh.items[3].name = "three"


def _keyed(sh):
    sh.by_key["k"].name = "KEYED"


def _pair(sh):
    sh.pair[1].credits = 1


def _matrix(sh):
    sh.matrix[0][1] = 20


def _matrix_row(sh):
    sh.matrix.append([4, 5])


def _meta(sh):
    sh.meta["x"][0] = "A"


def _meta_key(sh):
    sh.meta["y"] = []


SHELF_EDITS = [
    (_item_name, {"items.3.name": ("i3", "three")}),
    (_keyed, {"by_key.k.name": ("keyed", "KEYED")}),
    (_pair, {"pair.1.credits": (3, 1)}),
    (_matrix, {"matrix.0.1": (2, 20)}),
    (_matrix_row, {"matrix.2": (None, [4, 5])}),
    (_meta, {"meta.x.0": ("a", "A")}),
    (_meta_key, {"meta.y": (None, [])}),
]


@pytest.mark.parametrize(("edit", "expected"), SHELF_EDITS, ids=[e.__name__.strip("_") for e, _ in SHELF_EDITS])
def test_containers_and_nested_paths(edit, expected):
    sh = _shelf()
    old = sh.ecs_id
    edit(sh)
    assert EntityRegistry.version_entity(sh)
    assert _normal(diff(old, sh.ecs_id)) == expected


def test_paths_are_addresses_into_the_versions():
    from ecs_notebook import get

    sh = _shelf()
    old = sh.ecs_id
    sh.items[3].name = "three"
    sh.by_key["k"].name = "KEYED"
    sh.matrix[0][1] = 20
    EntityRegistry.version_entity(sh)
    for path, (a, b) in diff(old, sh.ecs_id).items():
        assert get(f"@{old}.{path}") == a
        assert get(f"@{sh.ecs_id}.{path}") == b


# -- arguments and trivial cases ------------------------------------------------------------------


def test_same_version_and_unchanged_copies_have_no_difference():
    s = student()
    assert diff(s, s) == {}
    assert diff(s.ecs_id, str(s.ecs_id)) == {}
    s.gpa = 3.5
    EntityRegistry.version_entity(s)
    s.gpa = 3.0  # back to the first value: a third version equal in data to the first
    EntityRegistry.version_entity(s)
    assert diff(s.old_ids[0], s.ecs_id) == {}


def test_versions_far_apart_accumulate_changes():
    s = student()
    first = s.ecs_id
    s.name = "B"
    EntityRegistry.version_entity(s)
    s.courses[0].name = "C"
    EntityRegistry.version_entity(s)
    assert _normal(diff(first, s)) == {"name": ("Ada", "B"), "courses.0.name": ("Algebra", "C")}


@pytest.mark.parametrize("form", ["entity", "str", "uuid", "address"])
def test_accepts_entities_ids_and_addresses(form):
    s = student()
    old = s.ecs_id
    s.courses[0].name = "Calculus"
    EntityRegistry.version_entity(s)
    new = {"entity": s, "str": str(s.ecs_id), "uuid": uuid.UUID(str(s.ecs_id)), "address": f"@{s.ecs_id}"}[form]
    assert diff(old, new) == {"courses.0.name": ("Algebra", "Calculus")}


def test_child_addresses_compare_children():
    s = student()
    old = s.ecs_id
    s.courses[0].name = "Calculus"
    EntityRegistry.version_entity(s)
    assert diff(f"@{old}.courses.0", f"@{s.ecs_id}.courses.0") == {"name": ("Algebra", "Calculus")}


def test_old_values_come_from_the_old_version():
    s = student()
    old = s.ecs_id
    s.courses[0] = Course(name="Zoology")
    EntityRegistry.version_entity(s)
    (a, b) = diff(old, s)["courses.0"]
    assert isinstance(a, Course) and a.name == "Algebra" and a.ecs_id == EntityRegistry.get(old).courses[0].ecs_id
    assert isinstance(b, Course) and b.name == "Zoology"
    a.name = "edited"  # a copy: the record is unchanged
    assert EntityRegistry.get(old).courses[0].name == "Algebra"


def test_unrelated_entities_of_one_type():
    a, b = sample("a", 1.0), sample("b", 1.0)
    assert diff(a, b) == {"name": ("a", "b")}


def test_unknown_version_raises():
    s = sample()
    with pytest.raises(EntityNotFoundError):
        diff(s, "01234567-89ab-4def-8123-456789abcdef")


# -- unchanged subtrees are skipped ---------------------------------------------------------------


def test_unchanged_subtrees_are_not_read(monkeypatch):
    lib = library(groups=40, per_group=50)  # 2,041 entities
    old = lib.ecs_id
    lib.groups[10].items[20].value = -1.0
    EntityRegistry.version_entity(lib)
    calls = []
    real = EntityRegistry.record

    def counting(ecs_id):
        calls.append(ecs_id)
        return real(ecs_id)

    monkeypatch.setattr(EntityRegistry, "record", counting)
    assert diff(old, lib) == {"groups.10.items.20.value": (20.0, -1.0)}
    # the two roots, the 40 groups of each, and the 50 items of the one changed group (twice);
    # never the 39 × 50 items of the unchanged groups
    assert len(calls) < 300, len(calls)


def test_diff_of_a_large_tree_after_one_edit():
    lib = library(groups=1, per_group=10_000)
    old = lib.ecs_id
    lib.groups[0].items[5000].name = "edited"
    EntityRegistry.version_entity(lib)
    assert diff(old, lib) == {"groups.0.items.5000.name": ("s0.5000", "edited")}


# -- sets of entities ------------------------------------------------------------------------------


def test_set_member_edit_paths_are_addresses():
    from models import make_top

    from ecs_notebook import get

    top = make_top()
    top.promote_to_root()
    old = top.ecs_id
    next(iter(top.bag)).label = "S0"
    EntityRegistry.version_entity(top)
    d = diff(old, top)
    assert d
    for path in d:
        get(f"@{old}.{path}")
        get(f"@{top.ecs_id}.{path}")


def test_tuple_member_edit_paths_are_addresses():
    from models import make_top

    from ecs_notebook import get

    top = make_top()
    top.promote_to_root()
    old = top.ecs_id
    top.pair[0].value = 5
    EntityRegistry.version_entity(top)
    assert diff(old, top) == {"pair.0.value": (0, 5)}
    assert get(f"@{old}.pair.0.value") == 0
    assert get(f"@{top.ecs_id}.pair.0.value") == 5
