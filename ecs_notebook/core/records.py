"""Immutable version records: what the registry keeps of each entity version, and rebuilding copies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from pydantic_core import PydanticUndefined

from ._ids import new_id, utcnow
from .entity import Entity, UntypedEntity
from .tree import fill_template
from .typeinfo import class_info, snapshot_plain, snapshot_value


class VersionRecord(NamedTuple):
    """One recorded entity version. Never changes once made (a tuple: cheap to build, immutable).

    Child entities are referenced by their version ids (``slots``, in template order), so a record
    is shared by every tree version in which that child is unchanged.
    """

    ecs_id: UUID
    lineage_id: UUID
    cls: type[Entity]
    #: Snapshot of the plain fields, in ``class_info(cls).plain_fields`` order.
    plain: tuple[Any, ...]
    #: Field templates (entities replaced by SLOT), in ``class_info(cls).entity_fields`` order.
    templates: tuple[Any, ...] | None
    #: ecs_ids of the children, in slot order.
    slots: tuple[UUID, ...]
    root_ecs_id: UUID
    previous_ecs_id: UUID | None
    old_ids: tuple[UUID, ...]
    created_at: datetime
    forked_at: datetime | None
    attribute_source: dict[str, Any]
    derived_from_function: str | None = None
    derived_from_execution_id: UUID | None = None
    function_input_entities: tuple[UUID, ...] = ()
    sibling_output_entities: tuple[UUID, ...] = ()
    output_index: int | None = None
    #: When only some children changed: the record whose slots these extend, and the changed slots.
    #: Lets a store write the changed path instead of every child reference.
    slots_base: UUID | None = None
    slots_delta: dict[int, UUID] | None = None
    from_storage: bool = False

    @property
    def type_path(self) -> str:
        return self.cls.__ecs_type__  # type: ignore[attr-defined]

    def plain_dict(self) -> dict[str, Any]:
        """Plain field values by name (shared, do not mutate)."""
        return dict(zip(class_info(self.cls).plain_fields, self.plain))


_tuple_new = tuple.__new__


def new_record(
    *,
    ecs_id: UUID,
    lineage_id: UUID,
    cls: type[Entity],
    plain: tuple[Any, ...],
    templates: tuple[Any, ...] | None = None,
    slots: tuple[UUID, ...] = (),
    root_ecs_id: UUID,
    previous_ecs_id: UUID | None = None,
    old_ids: tuple[UUID, ...] = (),
    created_at: datetime,
    forked_at: datetime | None = None,
    attribute_source: dict[str, Any],
    derived_from_function: str | None = None,
    derived_from_execution_id: UUID | None = None,
    function_input_entities: tuple[UUID, ...] = (),
    sibling_output_entities: tuple[UUID, ...] = (),
    output_index: int | None = None,
    slots_base: UUID | None = None,
    slots_delta: dict[int, UUID] | None = None,
    from_storage: bool = False,
) -> VersionRecord:
    """The one constructor of a VersionRecord: every field by name, no validation (callers pass snapshots).

    ``tuple.__new__`` skips NamedTuple's own ``__new__`` (about twice as fast).
    """
    return _tuple_new(
        VersionRecord,
        (
            ecs_id,
            lineage_id,
            cls,
            plain,
            templates,
            slots,
            root_ecs_id,
            previous_ecs_id,
            old_ids,
            created_at,
            forked_at,
            attribute_source,
            derived_from_function,
            derived_from_execution_id,
            function_input_entities,
            sibling_output_entities,
            output_index,
            slots_base,
            slots_delta,
            from_storage,
        ),
    )


def source_ids(source: Any) -> list[UUID]:
    """The ecs_ids one ``attribute_source`` value names, in order (an id, or lists/dicts of ids; None: a literal value).

    >>> from uuid import UUID
    >>> a, b = UUID(int=1), UUID(int=2)
    >>> [s.int for s in source_ids([a, None, b])], [s.int for s in source_ids({"x": b})], source_ids(None)
    ([1, 2], [2], [])
    """
    if isinstance(source, UUID):
        return [source]
    if isinstance(source, dict):
        source = source.values()
    elif not isinstance(source, (list, tuple)):
        return []
    out: list[UUID] = []
    for s in source:
        if isinstance(s, UUID):
            out.append(s)
        elif isinstance(s, (list, tuple, dict)):
            out.extend(source_ids(s))
    return out


def record_fields(
    rec: VersionRecord,
    child: Callable[[UUID], Any] | None = None,
    fill: Callable[[Any, Iterator[Any]], Any] = fill_template,
) -> dict[str, Any]:
    """A version's field values by name, in class order (plain fields shared with the record: do not mutate).

    Entity fields are filled with ``child(ecs_id)`` for each child, by ``fill(template, children)``
    (left out when ``child`` is None). A version whose class could not be imported here
    (UntypedEntity) gives its stored data under the original field names.
    """
    info = class_info(rec.cls)
    fields = dict(zip(info.plain_fields, rec.plain))
    if rec.templates is not None:
        if child is not None:
            kids = map(child, rec.slots)
            fields.update(zip(info.entity_fields, (fill(t, kids) for t in rec.templates)))
        elif rec.cls is UntypedEntity:
            fields["untyped_data"] = rec.templates[0]  # its data, children left as template slots
    if rec.cls is UntypedEntity and isinstance(fields.get("untyped_data"), dict):
        return dict(fields["untyped_data"])
    return fields


#: ``FunctionExecution.__ecs_type__``, for the stores and queries below the execution layer.
EXECUTION_TYPE = "ecs_notebook.execution:FunctionExecution"

_new_obj = object.__new__
_setattr = object.__setattr__


def build_entity(rec: VersionRecord, children: list[Entity], root_ecs_id: UUID, root_live_id: UUID | None) -> Entity:
    """Return a fresh entity object (new live_id) holding a copy of ``rec``'s data."""
    cls = rec.cls
    info = class_info(cls)
    d: dict[str, Any] = {
        "ecs_id": rec.ecs_id,
        "lineage_id": rec.lineage_id,
        "live_id": new_id(),
        "previous_ecs_id": rec.previous_ecs_id,
        "old_ids": list(rec.old_ids),
        "root_ecs_id": root_ecs_id,
        "root_live_id": root_live_id,
        "created_at": rec.created_at,
        "forked_at": rec.forked_at,
        "from_storage": rec.from_storage,
        "attribute_source": snapshot_value(rec.attribute_source),
        "derived_from_function": rec.derived_from_function,
        "derived_from_execution_id": rec.derived_from_execution_id,
        "function_input_entities": list(rec.function_input_entities),
        "sibling_output_entities": list(rec.sibling_output_entities),
        "output_index": rec.output_index,
    }
    d.update(zip(info.plain_fields, rec.plain))
    for i in info.plain_mutable:
        name = info.plain_fields[i]
        d[name] = snapshot_value(d[name])
    if rec.templates is not None:
        kids = iter(children)
        d.update(zip(info.entity_fields, (fill_template(t, kids) for t in rec.templates)))
    obj = _new_obj(cls)
    _setattr(obj, "__dict__", d)
    _setattr(obj, "__pydantic_fields_set__", set(info.data_fields))
    _setattr(obj, "__pydantic_extra__", None)
    _setattr(obj, "__pydantic_private__", _private_defaults(cls))
    return obj


def _private_defaults(cls: type[Entity]) -> dict[str, Any] | None:
    private = cls.__private_attributes__
    if not private:
        return None
    out = {}
    for name, attr in private.items():
        factory = getattr(attr, "default_factory", None)
        value = factory() if factory is not None else attr.get_default()
        if value is not PydanticUndefined:
            out[name] = value
    return out


def materialize(
    top: VersionRecord,
    lookup: Callable[[UUID], VersionRecord],
    root_ecs_id: UUID | None = None,
    *,
    as_root: bool = False,
) -> Entity:
    """Rebuild the entity of ``top`` and its whole subtree as fresh objects.

    Iterative (deep chains do not hit the recursion limit). ``as_root`` makes the rebuilt object
    the root of its copy (``root_live_id`` = its new live_id).
    """
    if not top.slots:  # a leaf: no bookkeeping needed
        root_id = root_ecs_id if root_ecs_id is not None else top.root_ecs_id
        obj = build_entity(top, [], root_id, None)
        if as_root:
            obj.__dict__["root_live_id"] = obj.__dict__["live_id"]
        return obj
    order = [top]
    parent_of = [-1]
    i = 0
    while i < len(order):
        for cid in order[i].slots:
            order.append(lookup(cid))
            parent_of.append(i)
        i += 1
    kids: list[list[Entity]] = [[] for _ in order]
    root_id = root_ecs_id if root_ecs_id is not None else top.root_ecs_id
    built: list[Entity] = [None] * len(order)  # type: ignore[list-item]
    for j in range(len(order) - 1, -1, -1):
        built[j] = build_entity(order[j], kids[j][::-1], root_id, None)
        if parent_of[j] >= 0:
            kids[parent_of[j]].append(built[j])
    obj = built[0]
    if as_root:
        live = obj.__dict__["live_id"]
        for e in built:
            e.__dict__["root_live_id"] = live
    return obj


_DEFAULT_META = {
    "previous_ecs_id": None,
    "root_ecs_id": None,
    "root_live_id": None,
    "forked_at": None,
    "from_storage": False,
    "derived_from_function": None,
    "derived_from_execution_id": None,
    "output_index": None,
}


def fast_new(cls: type[Entity], data: dict[str, Any], *, as_root: bool = True) -> Entity:
    """Build an entity from already-valid ``data`` without pydantic validation (internal records).

    Gives it fresh ids; ``as_root`` makes it the root of its own (one-entity) tree.
    """
    d: dict[str, Any] = dict(_DEFAULT_META)
    eid = new_id()
    live = new_id()
    d["ecs_id"] = eid
    d["lineage_id"] = new_id()
    d["live_id"] = live
    d["old_ids"] = []
    d["created_at"] = utcnow()
    d["function_input_entities"] = []
    d["sibling_output_entities"] = []
    if as_root:
        d["root_ecs_id"] = eid
        d["root_live_id"] = live
    info = class_info(cls)
    d["attribute_source"] = dict.fromkeys(info.data_fields)
    d.update(data)
    obj = _new_obj(cls)
    _setattr(obj, "__dict__", d)
    _setattr(obj, "__pydantic_fields_set__", set(data))
    _setattr(obj, "__pydantic_extra__", None)
    _setattr(obj, "__pydantic_private__", _private_defaults(cls))
    return obj


def record_from_data(cls: type[Entity], data: dict[str, Any], ecs_id: UUID, created_at: Any) -> VersionRecord:
    """Record a new one-entity root of ``cls`` straight from ``data`` (which the caller gives up).

    For internal entities (executions) that need no live object: no copy, no validation. A new
    lineage starts here, so its id is the first version's id.
    """
    info = class_info(cls)
    return new_record(
        ecs_id=ecs_id,
        lineage_id=ecs_id,
        cls=cls,
        plain=info.plain_getter(data),
        root_ecs_id=ecs_id,
        created_at=created_at,
        attribute_source=dict.fromkeys(info.data_fields),
    )


def leaf_record(e: Entity) -> VersionRecord:
    """Return the record of an entity that holds no child entities, as it is now (a root)."""
    d = e.__dict__
    info = class_info(type(e))
    plain = snapshot_plain(info, d)
    templates = None
    if info.entity_fields:
        from .tree import make_template

        kids: list[Entity] = []
        templates = tuple(make_template(d[f], kids, None, f) for f in info.entity_fields)
        if kids:
            msg = f"leaf_record() called on {type(e).__name__}, which holds child entities"
            raise ValueError(msg)
    return new_record(
        ecs_id=d["ecs_id"],
        lineage_id=d["lineage_id"],
        cls=type(e),
        plain=plain,
        templates=templates,
        root_ecs_id=d["ecs_id"],
        previous_ecs_id=d["previous_ecs_id"],
        old_ids=tuple(d["old_ids"]),
        created_at=d["created_at"],
        forked_at=d["forked_at"],
        attribute_source=snapshot_value(d["attribute_source"]),
        derived_from_function=d["derived_from_function"],
        derived_from_execution_id=d["derived_from_execution_id"],
        function_input_entities=tuple(d["function_input_entities"]),
        sibling_output_entities=tuple(d["sibling_output_entities"]),
        output_index=d["output_index"],
    )

