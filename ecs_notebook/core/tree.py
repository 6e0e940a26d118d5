"""Entity trees: walking the entities nested in an entity, edges, and change detection between trees."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from uuid import UUID

from ._ids import short
from .entity import Entity
from .errors import RegistrationError
from .typeinfo import _CACHE as _INFO_CACHE
from .typeinfo import ClassInfo, class_info, snapshot_plain, snapshot_value, values_equal


class EdgeType(str, enum.Enum):
    """How a child entity sits in its parent."""

    DIRECT = "direct"
    LIST = "list"
    DICT = "dict"
    TUPLE = "tuple"
    SET = "set"


@dataclass(frozen=True, slots=True)
class EntityEdge:
    """A parent → child link inside one entity tree."""

    source_id: UUID
    target_id: UUID
    edge_type: EdgeType
    field_name: str
    container_index: int | None = None
    container_key: Any = None

    @property
    def source(self) -> UUID:
        return self.source_id

    @property
    def target(self) -> UUID:
        return self.target_id


class _Slot:
    """Marks where a child entity sits inside a field template."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<entity>"

    def __reduce__(self) -> str:
        return "SLOT"


SLOT = _Slot()


class SetTemplate(tuple):  # type: ignore[type-arg]
    """Template of a set: its items in iteration order; equal only to another SetTemplate."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is SetTemplate and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = tuple.__hash__


class FrozenSetTemplate(SetTemplate):
    """Template of a frozenset."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is FrozenSetTemplate and tuple.__eq__(self, other)

    __hash__ = tuple.__hash__


# (field, edge type, index, key) of each child, in slot order; only collected when edges are wanted.
_Meta = tuple[str, EdgeType, "int | None", Any]


def make_template(value: Any, kids: list[Entity], meta: list[_Meta] | None, field: str) -> Any:
    """Return ``value`` with every entity replaced by SLOT (plain parts snapshotted).

    The entities found are appended to ``kids`` in slot order.
    """
    if isinstance(value, Entity):
        kids.append(value)
        if meta is not None:
            meta.append((field, EdgeType.DIRECT, None, None))
        return SLOT
    return _container_template(value, kids, meta, field)


def _container_template(value: Any, kids: list[Entity], meta: list[_Meta] | None, field: str) -> Any:
    t = type(value)
    if t is list or t is tuple or t is set or t is frozenset:
        et = EdgeType.LIST if t is list else EdgeType.TUPLE if t is tuple else EdgeType.SET
        if et is EdgeType.SET:
            # Sets have no order of their own (entities hash by identity): use a canonical one,
            # so a copy rebuilt from storage lists its members the same way.
            value = sorted(value, key=_set_order)
        out = []
        for i, item in enumerate(value):
            if isinstance(item, Entity):
                kids.append(item)
                if meta is not None:
                    meta.append((field, et, i, None))
                out.append(SLOT)
            else:
                out.append(_container_template(item, kids, meta, field))
        if t is list:
            return out
        if t is tuple:
            return tuple(out)
        return SetTemplate(out) if t is set else FrozenSetTemplate(out)
    if t is dict:
        res = {}
        for k, item in value.items():
            if isinstance(item, Entity):
                kids.append(item)
                if meta is not None:
                    meta.append((field, EdgeType.DICT, None, k))
                res[k] = SLOT
            else:
                res[k] = _container_template(item, kids, meta, field)
        return res
    return snapshot_value(value)


def _set_order(item: Any) -> tuple[int, Any, Any]:
    # By lineage (stable across versions: editing a member must not reorder the set).
    if isinstance(item, Entity):
        d = item.__dict__
        return (0, d["lineage_id"].int, d["ecs_id"].int)
    return (1, repr(item), 0)


def fill_template(template: Any, children: Iterator[Any]) -> Any:
    """Inverse of make_template: put the next child wherever SLOT stands."""
    if template is SLOT:
        return next(children)
    t = type(template)
    if t is list:
        return [next(children) if v is SLOT else fill_template(v, children) for v in template]
    if t is tuple:
        return tuple(next(children) if v is SLOT else fill_template(v, children) for v in template)
    if t is SetTemplate or t is FrozenSetTemplate:
        items = {next(children) if v is SLOT else fill_template(v, children) for v in template}
        return items if t is SetTemplate else frozenset(items)
    if t is dict:
        return {k: next(children) if v is SLOT else fill_template(v, children) for k, v in template.items()}
    return snapshot_value(template)


class Walk:
    """The entities of a live tree in breadth-first order, with parents, templates and children.

    Children always come after their parent, so iterating backwards visits children first.
    """

    __slots__ = ("children", "entities", "infos", "meta", "parents", "templates")

    def __init__(self) -> None:
        self.entities: list[Entity] = []
        self.infos: list[ClassInfo] = []
        self.parents: list[int] = []
        self.templates: list[tuple[Any, ...] | None] = []
        self.children: list[list[int]] = []
        self.meta: list[list[_Meta]] | None = None

    @classmethod
    def single(cls, root: Entity, info: ClassInfo) -> Walk:
        """The walk of an entity whose class holds no entity fields."""
        w = cls()
        w.entities.append(root)
        w.infos.append(info)
        w.parents.append(-1)
        w.templates.append(None)
        w.children.append([])
        return w


def walk(root: Entity, *, with_meta: bool = False) -> Walk:
    """Walk the tree under ``root``; raise RegistrationError on cycles and shared objects."""
    if not isinstance(root, Entity):
        msg = f"Expected an Entity as tree root, got {type(root).__name__}: {root!r:.80}"
        raise RegistrationError(msg)
    w = Walk()
    if with_meta:
        w.meta = []
    entities, infos, parents, templates, children = w.entities, w.infos, w.parents, w.templates, w.children
    entities.append(root)
    parents.append(-1)
    index = {id(root): 0}
    cache = _INFO_CACHE
    no_kids: list[int] = []  # shared by every leaf; never mutated
    i = 0
    while i < len(entities):
        e = entities[i]
        info = cache.get(type(e)) or class_info(type(e))
        infos.append(info)
        if info.entity_fields:
            kids: list[Entity] = []
            meta: list[_Meta] | None = [] if with_meta else None
            d = e.__dict__
            templates.append(tuple([make_template(d[f], kids, meta, f) for f in info.entity_fields]))
            kid_idx: list[int] = []
            for k in kids:
                j = index.get(id(k))
                if j is not None:
                    _raise_shared(w, i, j, k)
                j = len(entities)
                index[id(k)] = j
                entities.append(k)
                parents.append(i)
                kid_idx.append(j)
            children.append(kid_idx)
            if w.meta is not None:
                w.meta.append(meta or [])
        else:
            templates.append(None)
            children.append(no_kids)
            if w.meta is not None:
                w.meta.append([])
        i += 1
    return w


def _raise_shared(w: Walk, parent: int, seen: int, obj: Entity) -> None:
    p = parent
    while p != -1:
        if p == seen:
            msg = (
                f"Cycle: {type(obj).__name__} {short(obj.ecs_id)} contains itself (through "
                f"{type(w.entities[parent]).__name__} {short(w.entities[parent].ecs_id)}). "
                "Entity trees must be acyclic: store an id or an address instead of the object."
            )
            raise RegistrationError(msg)
        p = w.parents[p]
    msg = (
        f"{type(obj).__name__} {short(obj.ecs_id)} appears twice in the tree of "
        f"{type(w.entities[0]).__name__} {short(w.entities[0].ecs_id)}. An entity has one parent: "
        "put a copy (entity.model_copy(deep=True)) in the second place."
    )
    raise RegistrationError(msg)


def fingerprint(info: ClassInfo, e: Entity, template: tuple[Any, ...] | None) -> tuple[Any, ...]:
    """Return what identifies an entity's own data: plain values, field templates, provenance."""
    d = e.__dict__
    return (snapshot_plain(info, d), template, d["attribute_source"])


class EntityTree:
    """A view of an entity tree: nodes by ecs_id, edges, ancestry.

    ``nodes`` is built at once; the edge and ancestry maps are built on first use (most callers
    need only some of them, and each costs a pass over the tree).
    """

    def __init__(self, root: Entity, w: Walk) -> None:
        self.root_ecs_id: UUID = root.ecs_id
        self.lineage_id: UUID = root.lineage_id
        self._walk = w
        self._ids = [e.__dict__["ecs_id"] for e in w.entities]
        self.nodes: dict[UUID, Entity] = dict(zip(self._ids, w.entities))

    @cached_property
    def edges(self) -> dict[tuple[UUID, UUID], EntityEdge]:
        """Parent → child edges keyed by (parent ecs_id, child ecs_id)."""
        ids, out = self._ids, {}
        for i, (kids, meta) in enumerate(zip(self._walk.children, self._meta)):
            src = ids[i]
            for j, (field, et, idx, key) in zip(kids, meta):
                out[(src, ids[j])] = EntityEdge(src, ids[j], et, field, idx, key)
        return out

    @cached_property
    def _meta(self) -> list[list[_Meta]]:
        if self._walk.meta is None:
            self._walk = walk(self.nodes[self.root_ecs_id], with_meta=True)
        assert self._walk.meta is not None
        return self._walk.meta

    @cached_property
    def outgoing_edges(self) -> dict[UUID, list[UUID]]:
        """Child ecs_ids of each node, in field order."""
        ids = self._ids
        return {ids[i]: [ids[j] for j in kids] for i, kids in enumerate(self._walk.children)}

    @cached_property
    def incoming_edges(self) -> dict[UUID, list[UUID]]:
        """Parent ecs_id of each node (a one-item list; empty for the root)."""
        ids, parents = self._ids, self._walk.parents
        return {ids[i]: ([ids[p]] if p >= 0 else []) for i, p in enumerate(parents)}

    @cached_property
    def live_id_to_ecs_id(self) -> dict[UUID, UUID]:
        """Map from each node's live_id to its ecs_id."""
        return {e.__dict__["live_id"]: eid for e, eid in zip(self._walk.entities, self._ids)}

    @cached_property
    def _position(self) -> dict[UUID, int]:
        return {eid: i for i, eid in enumerate(self._ids)}

    @property
    def root(self) -> Entity:
        return self.nodes[self.root_ecs_id]

    @property
    def node_count(self) -> int:
        return len(self.nodes)

    @property
    def edge_count(self) -> int:
        return len(self._ids) - 1

    def get_entity(self, ecs_id: UUID) -> Entity | None:
        """Return the entity with this ecs_id in the tree, or None."""
        return self.nodes.get(ecs_id)

    def get_outgoing_edges(self, ecs_id: UUID) -> list[EntityEdge]:
        """Return the edges from ``ecs_id`` to its direct children, in field order."""
        return [self.edges[(ecs_id, t)] for t in self.outgoing_edges.get(ecs_id, [])]

    def get_incoming_edges(self, ecs_id: UUID) -> list[EntityEdge]:
        """Return the edge from the parent of ``ecs_id`` (empty for the root)."""
        return [self.edges[(s, ecs_id)] for s in self.incoming_edges.get(ecs_id, [])]

    def get_ancestry_path(self, ecs_id: UUID) -> list[UUID]:
        """Return the ecs_ids from the root down to ``ecs_id`` (both included)."""
        i = self._position.get(ecs_id)
        if i is None:
            return []
        path, parents = [], self._walk.parents
        while i >= 0:
            path.append(self._ids[i])
            i = parents[i]
        path.reverse()
        return path

    @cached_property
    def ancestry_paths(self) -> dict[UUID, list[UUID]]:
        """Root-to-node paths of every node."""
        paths: list[list[UUID]] = []
        for i, p in enumerate(self._walk.parents):
            paths.append([*paths[p], self._ids[i]] if p >= 0 else [self._ids[i]])
        return dict(zip(self._ids, paths))

    @property
    def max_depth(self) -> int:
        depth = [0] * len(self._ids)
        for i, p in enumerate(self._walk.parents):
            if p >= 0:
                depth[i] = depth[p] + 1
        return max(depth)

    def __contains__(self, ecs_id: object) -> bool:
        return ecs_id in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        root = self.nodes[self.root_ecs_id]
        return f"EntityTree(root={type(root).__name__} {short(self.root_ecs_id)}, nodes={len(self.nodes)})"


def build_entity_tree(root: Entity) -> EntityTree:
    """Return the EntityTree of ``root`` and every entity nested in it.

    Raises:
        RegistrationError: the entities form a cycle, or one object sits in two places.
    """
    return EntityTree(root, walk(root))


def find_modified_entities(new_tree: EntityTree, old_tree: EntityTree) -> set[UUID]:
    """Return the ecs_ids of ``new_tree`` whose own data or children differ from ``old_tree``.

    Ancestors of a modified entity are modified too (their subtree changed).
    """
    new_w, old_w = new_tree._walk, old_tree._walk
    old_pos = {e.ecs_id: i for i, e in enumerate(old_w.entities)}
    modified: set[UUID] = set()
    for i, e in enumerate(new_w.entities):
        j = old_pos.get(e.ecs_id)
        if j is None:
            modified.add(e.ecs_id)
            continue
        old = old_w.entities[j]
        if type(old) is not type(e) or not values_equal(
            fingerprint(new_w.infos[i], e, new_w.templates[i]),
            fingerprint(old_w.infos[j], old, old_w.templates[j]),
        ):
            modified.add(e.ecs_id)
            continue
        new_kids = [new_w.entities[k].ecs_id for k in new_w.children[i]]
        old_kids = [old_w.entities[k].ecs_id for k in old_w.children[j]]
        if new_kids != old_kids:
            modified.add(e.ecs_id)
    for eid in list(modified):
        modified.update(new_tree.get_ancestry_path(eid))
    return modified
