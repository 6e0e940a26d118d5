"""Entity classes shared by the core tests (importable as ``tests.models`` or ``models``)."""

from __future__ import annotations

from ecs_notebook import Entity


class Course(Entity):
    name: str
    credits: int = 3


class Student(Entity):
    name: str
    gpa: float = 0.0
    courses: list[Course] = []
    scores: dict[str, float] = {}
    advisor: Course | None = None
    tags: list[str] = []


class Leaf(Entity):
    """Depth 3: the bottom of a three-level tree."""

    label: str
    value: int = 0


class Middle(Entity):
    """Depth 2: holds leaves in every container shape."""

    name: str
    leaf: Leaf | None = None
    leaves: list[Leaf] = []
    by_key: dict[str, Leaf] = {}


class Top(Entity):
    """Depth 1: the root of a three-level tree, with tuple/set/dict-of-entity fields."""

    title: str
    middle: Middle | None = None
    middles: list[Middle] = []
    pair: tuple[Leaf, ...] = ()
    bag: set[Leaf] = set()
    index: dict[str, Middle] = {}
    matrix: list[list[int]] = []
    notes: dict[str, list[str]] = {}


class Node(Entity):
    """A self-referencing class, for cycles and arbitrary depth."""

    name: str = ""
    child: Node | None = None
    children: list[Node] = []


class Item(Entity):
    name: str
    value: int = 0


class Root(Entity):
    items: list[Item] = []


def make_student() -> Student:
    return Student(
        name="Ada",
        gpa=3.6,
        courses=[Course(name="Algebra"), Course(name="Biology", credits=4)],
        scores={"math": 1.0, "art": 0.5},
        advisor=Course(name="Advising", credits=0),
        tags=["a"],
    )


def make_top() -> Top:
    """A three-level tree: Top -> Middle -> Leaf, with every container shape."""
    return Top(
        title="top",
        middle=Middle(
            name="m0",
            leaf=Leaf(label="deep", value=1),
            leaves=[Leaf(label="l0"), Leaf(label="l1")],
            by_key={"k": Leaf(label="kv")},
        ),
        middles=[Middle(name="m1", leaves=[Leaf(label="x")]), Middle(name="m2")],
        pair=(Leaf(label="p0"), Leaf(label="p1")),
        bag={Leaf(label="s0")},
        index={"i": Middle(name="mi", leaf=Leaf(label="il"))},
        matrix=[[1, 2], [3]],
        notes={"n": ["x"]},
    )


# -- helpers independent of the code under test ------------------------------------------------

_SKIP_IN_DUMP = frozenset({"live_id", "root_live_id"})


def _values(value):
    """Yield every value nested in a container (lists, tuples, sets, dict values)."""
    if isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _values(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _values(v)
    else:
        yield value


def all_entities(root: Entity) -> list[Entity]:
    """Every entity in the tree under ``root`` (root first), found by plain recursion."""
    out = [root]
    for name in type(root).model_fields:
        for v in _values(getattr(root, name)):
            if isinstance(v, Entity):
                out.extend(all_entities(v))
    return out


def dump(value, skip=_SKIP_IN_DUMP):
    """A comparable picture of a value: entities become dicts of every field except per-object ids.

    Two trees dump equal when they hold the same data, versions, lineages and provenance, whatever
    Python objects hold them. ``skip`` names the entity fields left out.
    """
    if isinstance(value, Entity):
        out = {"__class__": type(value).__qualname__}
        for name in type(value).model_fields:
            if name not in skip:
                out[name] = dump(getattr(value, name), skip)
        return out
    if isinstance(value, list):
        return [dump(v, skip) for v in value]
    if isinstance(value, tuple):
        return ("tuple", *[dump(v, skip) for v in value])
    if isinstance(value, (set, frozenset)):
        return ("set", *sorted((dump(v, skip) for v in value), key=repr))
    if isinstance(value, dict):
        return {k: dump(v, skip) for k, v in value.items()}
    return value


def parents(root: Entity) -> dict[int, Entity]:
    """Map ``id(child)`` to its parent entity, for every entity under ``root``."""
    out: dict[int, Entity] = {}
    for e in all_entities(root):
        for name in type(e).model_fields:
            for v in _values(getattr(e, name)):
                if isinstance(v, Entity):
                    out[id(v)] = e
    return out


def with_ancestors(root: Entity, targets) -> dict[int, Entity]:
    """The entities on the paths from ``root`` to each target (both ends included), by ``id()``."""
    parent = parents(root)
    out: dict[int, Entity] = {}
    for t in targets:
        cur = t
        while cur is not None:
            out[id(cur)] = cur
            cur = parent.get(id(cur))
    return out
