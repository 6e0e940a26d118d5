"""Per-class field information (computed once per class) and value snapshots/equality."""

from __future__ import annotations

import copy
import enum
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any
from uuid import UUID

from .entity import META_FIELDS, Entity

#: Values of these types are immutable: a snapshot may share them.
SCALAR_TYPES: frozenset[type] = frozenset(
    {int, float, complex, str, bytes, bool, type(None), UUID, datetime, date, time, timedelta, Decimal}
)


@dataclass(frozen=True, slots=True)
class ClassInfo:
    """What ecs_notebook needs to know about an entity class, computed once."""

    cls: type[Entity]
    type_path: str
    data_fields: tuple[str, ...]
    #: Data fields whose annotation cannot hold an entity, compared by value.
    plain_fields: tuple[str, ...]
    #: Data fields whose annotation may hold entities (directly or in containers).
    entity_fields: tuple[str, ...]
    #: True when every plain field is annotated with an immutable scalar type.
    plain_all_scalar: bool
    plain_getter: Callable[[dict[str, Any]], tuple[Any, ...]]
    #: Positions (in plain_fields) of values that may be mutable and must be copied in snapshots.
    plain_mutable: tuple[int, ...]


_CACHE: dict[type, ClassInfo] = {}


def class_info(cls: type[Entity]) -> ClassInfo:
    """Return the cached ClassInfo of an entity class."""
    info = _CACHE.get(cls)
    if info is None:
        info = _CACHE[cls] = _compute(cls)
    return info


def _getter(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    if not names:
        return lambda d: ()
    if len(names) == 1:
        name = names[0]
        return lambda d: (d[name],)
    return itemgetter(*names)


def _compute(cls: type[Entity]) -> ClassInfo:
    data = tuple(n for n in cls.model_fields if n not in META_FIELDS)
    plain: list[str] = []
    entity: list[str] = []
    mutable: list[int] = []
    for name in data:
        ann = cls.model_fields[name].annotation
        if may_hold_entity(ann):
            entity.append(name)
        else:
            if not _is_scalar_annotation(ann):
                mutable.append(len(plain))
            plain.append(name)
    plain_t = tuple(plain)
    return ClassInfo(
        cls=cls,
        type_path=cls.__ecs_type__,
        data_fields=data,
        plain_fields=plain_t,
        entity_fields=tuple(entity),
        plain_all_scalar=not mutable,
        plain_getter=_getter(plain_t),
        plain_mutable=tuple(mutable),
    )


def may_hold_entity(ann: Any) -> bool:
    """Return True if a value of annotation ``ann`` may contain an Entity anywhere."""
    if ann is Any or ann is object or isinstance(ann, (str, typing.ForwardRef, typing.TypeVar)):
        return True
    if isinstance(ann, type):
        if issubclass(ann, Entity):
            return True
        # Unparameterised containers may hold anything.
        return ann in (list, tuple, set, frozenset, dict) or ann.__module__ == "typing"
    args = typing.get_args(ann)
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return may_hold_entity(args[0])
    if origin is typing.Literal:
        return False
    return any(may_hold_entity(a) for a in args if a is not Ellipsis)


def _is_scalar_annotation(ann: Any) -> bool:
    if isinstance(ann, type):
        return ann in SCALAR_TYPES or issubclass(ann, enum.Enum)
    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        return True
    if origin is typing.Annotated:
        return _is_scalar_annotation(typing.get_args(ann)[0])
    if origin in (typing.Union, types.UnionType):
        return all(_is_scalar_annotation(a) for a in typing.get_args(ann))
    return False


def snapshot_value(value: Any) -> Any:
    """Return a copy of a plain value that later edits of ``value`` cannot reach."""
    t = type(value)
    if t in SCALAR_TYPES or isinstance(value, enum.Enum):
        return value
    if t is list:
        return [snapshot_value(v) for v in value]
    if t is dict:
        return {k: snapshot_value(v) for k, v in value.items()}
    if t is tuple:
        return tuple(snapshot_value(v) for v in value)
    if t is set:
        return {snapshot_value(v) for v in value}
    if t is frozenset:
        return value
    try:
        return copy.deepcopy(value)
    except Exception:  # a value that cannot be copied (a lock, a generator, ...): keep what it was
        return UnstorableValue.of(value)


def snapshot_plain(info: ClassInfo, d: dict[str, Any]) -> tuple[Any, ...]:
    """Return the snapshot tuple of an entity's plain fields."""
    values = info.plain_getter(d)
    if info.plain_all_scalar:
        return values
    out = list(values)
    for i in info.plain_mutable:
        out[i] = snapshot_value(out[i])
    return tuple(out)


class UnstorableValue:
    """Stands in for a value that could not be copied or stored; shows what it was."""

    __slots__ = ("fingerprint", "repr_text", "type_name")

    def __init__(self, type_name: str, repr_text: str, fingerprint: str) -> None:
        self.type_name, self.repr_text, self.fingerprint = type_name, repr_text, fingerprint

    @classmethod
    def of(cls, value: Any) -> UnstorableValue:
        import hashlib

        try:
            text = repr(value)
        except Exception:
            text = object.__repr__(value)
        tname = f"{type(value).__module__}:{type(value).__qualname__}"
        return cls(tname, text[:2000], hashlib.sha256(text.encode()).hexdigest())

    def __repr__(self) -> str:
        return f"<unstorable {self.type_name}: {self.repr_text[:80]} (sha256 {self.fingerprint[:12]})>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnstorableValue) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __deepcopy__(self, memo: Any) -> UnstorableValue:
        return self


_LAST_SOURCE: dict[type, dict[str, Any]] = {}


def snapshot_source(cls: type, source: dict[str, Any]) -> dict[str, Any]:
    """Snapshot an ``attribute_source`` dict, sharing the previous snapshot of the class when equal.

    Siblings usually carry identical sources (all literal, or borrowed alike); snapshots are never
    mutated, so sharing them is safe and skips a copy per entity.
    """
    last = _LAST_SOURCE.get(cls)
    if last is not None and last == source:
        return last
    snap = _LAST_SOURCE[cls] = snapshot_value(source)
    return snap


def values_equal(a: Any, b: Any) -> bool:
    """Compare two snapshots; arrays and frames compare by content, never raise."""
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        pass
    if isinstance(a, (tuple, list)) and type(a) is type(b):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and type(b) is dict:
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    equals = getattr(a, "equals", None)  # pandas
    if callable(equals):
        return bool(equals(b))
    try:
        import numpy as np

        return bool(np.array_equal(a, b))
    except Exception:
        return False
