"""Entity: a pydantic model with version identity, lineage identity and per-field provenance."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ._ids import new_id, utcnow

if TYPE_CHECKING:
    from .tree import EntityTree

#: Identity, provenance and execution fields every entity carries; everything else is data.
META_FIELDS: frozenset[str] = frozenset(
    {
        "ecs_id",
        "lineage_id",
        "live_id",
        "previous_ecs_id",
        "old_ids",
        "root_ecs_id",
        "root_live_id",
        "created_at",
        "forked_at",
        "from_storage",
        "attribute_source",
        "derived_from_function",
        "derived_from_execution_id",
        "function_input_entities",
        "sibling_output_entities",
        "output_index",
    }
)


#: Every Entity subclass defined in this process, by ``module:qualname`` (the newest definition).
ENTITY_CLASSES: dict[str, type[Entity]] = {}


def _registry() -> Any:
    from .registry import EntityRegistry

    return EntityRegistry


class Entity(BaseModel):
    """A versioned piece of data.

    Subclass it like any pydantic model; entities may hold other entities in fields and inside
    lists, tuples, sets and dict values, at any depth.

    >>> class Point(Entity):
    ...     x: float = 0.0
    >>> p = Point(x=1.0)
    >>> p.lineage_id != p.ecs_id
    True
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    ecs_id: UUID = Field(default_factory=new_id, description="Id of this version.")
    lineage_id: UUID = Field(default_factory=new_id, description="Id shared by all versions.")
    live_id: UUID = Field(default_factory=new_id, description="Id of this Python object.")
    previous_ecs_id: UUID | None = None
    old_ids: list[UUID] = Field(default_factory=list)
    root_ecs_id: UUID | None = None
    root_live_id: UUID | None = None
    created_at: datetime = Field(default_factory=utcnow)
    forked_at: datetime | None = None
    from_storage: bool = False
    attribute_source: dict[str, Any] = Field(default_factory=dict)
    derived_from_function: str | None = None
    derived_from_execution_id: UUID | None = None
    function_input_entities: list[UUID] = Field(default_factory=list)
    sibling_output_entities: list[UUID] = Field(default_factory=list)
    output_index: int | None = None

    #: ``module:qualname`` of the class, computed once per class.
    __ecs_type__: ClassVar[str] = "ecs_notebook.entity:Entity"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # ``__ecs_stored_as__`` keeps the name a class has in stores when its module moves.
        cls.__ecs_type__ = cls.__dict__.get("__ecs_stored_as__") or f"{cls.__module__}:{cls.__qualname__}"

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # The latest definition wins: re-running a notebook cell redefines the class.
        ENTITY_CLASSES[cls.__ecs_type__] = cls

    def model_post_init(self, context: Any, /) -> None:
        source = self.__dict__["attribute_source"]
        if source:
            return
        from .typeinfo import class_info

        for name in class_info(type(self)).data_fields:
            value = self.__dict__[name]
            if type(value) is list:
                source[name] = [None] * len(value)
            elif type(value) is dict:
                source[name] = dict.fromkeys(value)
            else:
                source[name] = None

    # Entities hash by identity so they can live in sets; equality stays pydantic's (field-wise,
    # and live_id differs between objects, so two distinct objects are never equal).
    def __hash__(self) -> int:
        return object.__hash__(self)

    def __copy__(self) -> Entity:
        clone = super().__copy__()
        d = clone.__dict__
        d["live_id"] = new_id()
        # Version history and provenance belong to each object: never share the containers.
        d["old_ids"] = list(d["old_ids"])
        d["attribute_source"] = copy.deepcopy(d["attribute_source"])
        d["function_input_entities"] = list(d["function_input_entities"])
        d["sibling_output_entities"] = list(d["sibling_output_entities"])
        return clone

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Entity:
        clone = super().__deepcopy__(memo)
        clone.__dict__["live_id"] = new_id()
        return clone

    def __repr__(self) -> str:
        from .typeinfo import class_info

        d = self.__dict__
        body = ", ".join(f"{n}={d[n]!r}" for n in class_info(type(self)).data_fields)
        return f"{type(self).__name__}({body}) @{str(d['ecs_id'])[:8]}"

    def __str__(self) -> str:
        return self.__repr__()

    # -- tree membership -------------------------------------------------------------------

    def is_root_entity(self) -> bool:
        """Return True if this entity is the registered root of its tree."""
        return self.root_ecs_id == self.ecs_id and self.root_live_id == self.live_id

    def promote_to_root(self) -> None:
        """Register this entity and its whole tree as a root (detaching it first if it is a child)."""
        _registry().promote_to_root(self)

    def detach(self) -> None:
        """Make this child entity the root of its own tree, as a new version."""
        _registry().detach(self)

    def attach(self, parent: Entity) -> None:
        """Record this root entity as a child of ``parent``'s tree (it must already sit in a field)."""
        _registry().attach(self, parent)

    def update_ecs_ids(self) -> None:
        """Give this entity a new version id, keeping its lineage."""
        d = self.__dict__
        old = d["ecs_id"]
        d["old_ids"].append(old)
        d["previous_ecs_id"] = old
        d["ecs_id"] = new_id()
        d["forked_at"] = utcnow()
        if d["root_live_id"] == d["live_id"]:
            d["root_ecs_id"] = d["ecs_id"]

    def get_tree(self) -> EntityTree:
        """Return the EntityTree rooted at this entity."""
        from .tree import build_entity_tree

        return build_entity_tree(self)

    # -- provenance ---------------------------------------------------------------------------

    def borrow_attribute_from(self, source: Entity, source_field: str, target_field: str) -> None:
        """Copy ``source.source_field`` into ``self.target_field`` and record where it came from."""
        if source_field not in type(source).model_fields:
            msg = f"{type(source).__name__} has no field {source_field!r} to borrow from"
            raise AttributeError(msg)
        value = getattr(source, source_field)
        self._set_borrowed(target_field, copy.deepcopy(value), source.ecs_id)

    def borrow_from_address(self, address: str, target_field: str) -> None:
        """Set ``self.target_field`` from an address (``@uuid.path``) and record its source."""
        from .address import resolve_with_source

        value, source_id = resolve_with_source(address)
        self._set_borrowed(target_field, value, source_id)

    def _set_borrowed(self, target_field: str, value: Any, source_id: UUID) -> None:
        if target_field not in type(self).model_fields:
            msg = f"{type(self).__name__} has no field {target_field!r} to borrow into"
            raise AttributeError(msg)
        setattr(self, target_field, value)
        if isinstance(value, list):
            mark: Any = [source_id] * len(value)
        elif isinstance(value, dict):
            mark = dict.fromkeys(value, source_id)
        else:
            mark = source_id
        self.__dict__["attribute_source"][target_field] = mark


class ParameterEntity(Entity):
    """Holds the plain (non-entity) arguments of a function call.

    Each registered function gets its own subclass (built once) with one field per plain parameter.
    """

    __ecs_stored_as__ = "ecs_notebook.entity:ParameterEntity"  # its name in stores written before the core/ folder


class ContainerEntity(Entity):
    """Holds the entities returned by one call when they are not unpacked."""

    __ecs_stored_as__ = "ecs_notebook.entity:ContainerEntity"  # its name in stores written before the core/ folder

    outputs: list[Entity] = Field(default_factory=list)


class UntypedEntity(Entity):
    """An entity reloaded from a store whose class could not be imported."""

    __ecs_stored_as__ = "ecs_notebook.entity:UntypedEntity"  # its name in stores written before the core/ folder

    type_path: str = ""
    untyped_data: dict[str, Any] = Field(default_factory=dict)
