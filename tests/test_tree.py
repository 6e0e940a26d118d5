"""Entity trees (DESIGN A2): nodes, typed edges, ancestry, lookups, and change detection between trees."""

from __future__ import annotations

import uuid

import pytest
from models import Course, Leaf, Middle, Node, Student, Top, all_entities, make_full_student, make_top

from ecs_notebook import (
    EdgeType,
    EntityEdge,
    EntityRegistry,
    EntityTree,
    RegistrationError,
    build_entity_tree,
    find_modified_entities,
)

# (child, parent, edge type, field, container index, container key) for every edge of make_top().
EDGES = [
    ("middle", "top", EdgeType.DIRECT, "middle", None, None),
    ("middles.0", "top", EdgeType.LIST, "middles", 0, None),
    ("middles.1", "top", EdgeType.LIST, "middles", 1, None),
    ("pair.0", "top", EdgeType.TUPLE, "pair", 0, None),
    ("pair.1", "top", EdgeType.TUPLE, "pair", 1, None),
    ("bag.0", "top", EdgeType.SET, "bag", 0, None),
    ("index.i", "top", EdgeType.DICT, "index", None, "i"),
    ("middle.leaf", "middle", EdgeType.DIRECT, "leaf", None, None),
    ("middle.leaves.0", "middle", EdgeType.LIST, "leaves", 0, None),
    ("middle.leaves.1", "middle", EdgeType.LIST, "leaves", 1, None),
    ("middle.by_key.k", "middle", EdgeType.DICT, "by_key", None, "k"),
    ("middles.0.leaves.0", "middles.0", EdgeType.LIST, "leaves", 0, None),
    ("index.i.leaf", "index.i", EdgeType.DIRECT, "leaf", None, None),
]


def at(t: Top, path: str):
    """Follow a dotted path of fields, indices and keys (``bag.0`` is the set's only member)."""
    if path == "top":
        return t
    cur = t
    for seg in path.split("."):
        if isinstance(cur, (list, tuple)):
            cur = cur[int(seg)]
        elif isinstance(cur, set):
            cur = sorted(cur, key=lambda e: e.label)[int(seg)]
        elif isinstance(cur, dict):
            cur = cur[seg]
        else:
            cur = getattr(cur, seg)
    return cur


@pytest.fixture
def top() -> Top:
    return make_top()


def test_tree_nodes_are_every_entity_by_ecs_id(top):
    tree = build_entity_tree(top)
    assert isinstance(tree, EntityTree)
    assert len(tree) == tree.node_count == 14
    assert set(tree.nodes) == {e.ecs_id for e in all_entities(top)}
    assert tree.root is top
    assert tree.root_ecs_id == top.ecs_id
    assert tree.lineage_id == top.lineage_id


def test_tree_has_one_edge_per_child(top):
    tree = build_entity_tree(top)
    assert len(tree.edges) == tree.edge_count == 13
    assert all(isinstance(e, EntityEdge) for e in tree.edges.values())


@pytest.mark.parametrize(
    ("child", "parent", "edge_type", "field", "index", "key"), EDGES, ids=[f"{e[0]}-{e[2].name}" for e in EDGES]
)
def test_edge_type_field_index_and_key(top, child, parent, edge_type, field, index, key):
    tree = build_entity_tree(top)
    c, p = at(top, child), at(top, parent)
    edge = tree.edges[(p.ecs_id, c.ecs_id)]
    assert (edge.source, edge.target) == (p.ecs_id, c.ecs_id)
    assert edge.edge_type is edge_type
    assert edge.field_name == field
    assert edge.container_index == index
    assert edge.container_key == key
    assert tree.get_incoming_edges(c.ecs_id) == [edge]


def test_edge_types_have_stable_values():
    assert {t.name: t.value for t in EdgeType} == {
        "DIRECT": "direct",
        "LIST": "list",
        "DICT": "dict",
        "TUPLE": "tuple",
        "SET": "set",
    }


def test_outgoing_edges_in_field_order(top):
    tree = build_entity_tree(top)
    out = tree.get_outgoing_edges(top.middle.ecs_id)
    assert [e.target for e in out] == [
        top.middle.leaf.ecs_id,
        top.middle.leaves[0].ecs_id,
        top.middle.leaves[1].ecs_id,
        top.middle.by_key["k"].ecs_id,
    ]
    assert {e.source for e in out} == {top.middle.ecs_id}


def test_leaf_has_no_outgoing_edges_and_root_no_incoming(top):
    tree = build_entity_tree(top)
    assert tree.get_outgoing_edges(top.middle.leaf.ecs_id) == []
    assert tree.get_incoming_edges(top.ecs_id) == []


def test_live_id_to_ecs_id(top):
    tree = build_entity_tree(top)
    assert tree.live_id_to_ecs_id == {e.live_id: e.ecs_id for e in all_entities(top)}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("top", ["top"]),
        ("middle", ["top", "middle"]),
        ("middle.leaf", ["top", "middle", "middle.leaf"]),
        ("middles.0.leaves.0", ["top", "middles.0", "middles.0.leaves.0"]),
        ("index.i.leaf", ["top", "index.i", "index.i.leaf"]),
        ("middle.by_key.k", ["top", "middle", "middle.by_key.k"]),
        ("pair.1", ["top", "pair.1"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_ancestry_path_runs_from_root_to_node(top, path, expected):
    tree = build_entity_tree(top)
    target = at(top, path).ecs_id
    want = [at(top, p).ecs_id for p in expected]
    assert tree.get_ancestry_path(target) == want
    assert tree.ancestry_paths[target] == want


def test_ancestry_path_of_unknown_id_is_empty(top):
    assert build_entity_tree(top).get_ancestry_path(uuid.uuid4()) == []


def test_max_depth(top):
    assert build_entity_tree(top).max_depth == 2
    assert build_entity_tree(Course(name="x")).max_depth == 0


def test_get_entity_returns_the_live_object(top):
    tree = build_entity_tree(top)
    leaf = top.middles[0].leaves[0]
    assert tree.get_entity(leaf.ecs_id) is leaf
    assert tree.get_entity(uuid.uuid4()) is None
    assert leaf.ecs_id in tree
    assert uuid.uuid4() not in tree


def test_repr_names_root_and_size(top):
    r = repr(build_entity_tree(top))
    assert "Top" in r
    assert "14" in r


def test_entities_nested_in_plain_containers_of_containers():
    class Nest(Top):
        grid: list[list[Leaf]] = []
        groups: dict[str, list[Leaf]] = {}

    n = Nest(
        title="n", grid=[[Leaf(label="a")], [], [Leaf(label="b"), Leaf(label="c")]], groups={"g": [Leaf(label="d")]}
    )
    tree = build_entity_tree(n)
    assert len(tree) == 5
    edge = tree.edges[(n.ecs_id, n.grid[2][1].ecs_id)]
    assert (edge.edge_type, edge.field_name, edge.container_index) == (EdgeType.LIST, "grid", 1)
    assert tree.get_ancestry_path(n.groups["g"][0].ecs_id) == [n.ecs_id, n.groups["g"][0].ecs_id]


# -- malformed trees ---------------------------------------------------------------------------


def test_cycle_raises_instead_of_hanging():
    a = Node(name="a")
    b = Node(name="b", child=a)
    a.child = b
    with pytest.raises(RegistrationError, match="[Cc]ycle"):
        build_entity_tree(a)


def test_self_cycle_through_a_list_raises():
    a = Node(name="a")
    a.children.append(a)
    with pytest.raises(RegistrationError, match="[Cc]ycle"):
        build_entity_tree(a)


def test_same_object_twice_raises():
    c = Course(name="shared")
    with pytest.raises(RegistrationError, match="twice"):
        build_entity_tree(Student(name="s", courses=[c], advisor=c))


@pytest.mark.parametrize("value", [None, 1, "x", {"a": 1}, Course], ids=["None", "int", "str", "dict", "class"])
def test_non_entity_root_raises(value):
    with pytest.raises(RegistrationError):
        build_entity_tree(value)


# -- find_modified_entities --------------------------------------------------------------------


def _edit_depth3_leaf(t):
    t.middles[0].leaves[0].value = 42
    return ["middles.0.leaves.0"]


def _edit_direct_depth3(t):
    t.middle.leaf.label = "changed"
    return ["middle.leaf"]


def _append_to_list(t):
    t.middle.leaves.append(Leaf(label="new"))
    return ["middle", "middle.leaves.2"]


def _remove_from_list(t):
    t.middle.leaves.pop(0)
    return ["middle"]


def _reorder_list(t):
    t.middle.leaves.reverse()
    return ["middle"]


def _replace_dict_value(t):
    t.middle.by_key["k"] = Leaf(label="replacement")
    return ["middle", "middle.by_key.k"]


def _edit_entity_in_dict(t):
    t.index["i"].leaf.value = 5
    return ["index.i.leaf"]


def _add_dict_key(t):
    t.index["j"] = Middle(name="mj")
    return ["index.j"]


def _edit_plain_dict(t):
    t.notes["n"].append("y")
    return []


def _edit_nested_plain_list(t):
    t.matrix[1].append(4)
    return []


def _edit_tuple_member(t):
    t.pair[1].value = 7
    return ["pair.1"]


def _edit_set_member(t):
    next(iter(t.bag)).value = 7
    return ["bag.0"]


def _set_child_to_none(t):
    t.middle.leaf = None
    return ["middle"]


def _edit_root_scalar(t):
    t.title = "renamed"
    return []


def _two_edits_in_two_branches(t):
    t.middle.leaves[1].value = 3
    t.middles[1].name = "m2!"
    return ["middle.leaves.1", "middles.1"]


def _no_edit(t):
    return None


MODIFICATIONS = [
    _edit_depth3_leaf,
    _edit_direct_depth3,
    _append_to_list,
    _remove_from_list,
    _reorder_list,
    _replace_dict_value,
    _edit_entity_in_dict,
    _add_dict_key,
    _edit_plain_dict,
    _edit_nested_plain_list,
    _edit_tuple_member,
    _edit_set_member,
    _set_child_to_none,
    _edit_root_scalar,
    _two_edits_in_two_branches,
    _no_edit,
]


@pytest.mark.parametrize("edit", MODIFICATIONS, ids=[f.__name__.lstrip("_") for f in MODIFICATIONS])
def test_find_modified_entities_is_edited_entities_and_their_ancestors(edit):
    t = make_top()
    t.promote_to_root()
    old = EntityRegistry.get_stored_tree(t.ecs_id)
    edited = edit(t)
    new = build_entity_tree(t)
    if edited is None:
        expected = set()
    else:
        # the root is an ancestor of everything (or edited itself when the list is empty)
        expected = {t.ecs_id}
        for path in edited:
            expected.update(new.get_ancestry_path(at(t, path).ecs_id))
    assert find_modified_entities(new, old) == expected


def test_find_modified_entities_of_identical_live_trees_is_empty():
    s = make_full_student()
    assert find_modified_entities(build_entity_tree(s), build_entity_tree(s)) == set()


def test_find_modified_entities_between_two_recorded_versions_is_the_new_path():
    t = make_top()
    t.promote_to_root()
    first = t.ecs_id
    t.middles[0].leaves[0].value = 42
    EntityRegistry.version_entity(t)
    modified = find_modified_entities(EntityRegistry.get_stored_tree(t.ecs_id), EntityRegistry.get_stored_tree(first))
    assert modified == {t.ecs_id, t.middles[0].ecs_id, t.middles[0].leaves[0].ecs_id}


def test_find_modified_entities_sees_a_provenance_change():
    source = make_full_student()
    source.promote_to_root()
    s = make_full_student()
    s.promote_to_root()
    old = EntityRegistry.get_stored_tree(s.ecs_id)
    s.borrow_attribute_from(source, "name", "name")  # same value, new provenance
    assert find_modified_entities(build_entity_tree(s), old) == {s.ecs_id}


def test_find_modified_entities_ignores_set_iteration_order():
    spurious = 0
    for _ in range(30):  # a stored copy rebuilds the set from new objects, in a hash-dependent order
        t = Top(title="t", bag={Leaf(label=f"s{k}") for k in range(6)})
        t.promote_to_root()
        if find_modified_entities(build_entity_tree(t), EntityRegistry.get_stored_tree(t.ecs_id)):
            spurious += 1
    assert spurious == 0
