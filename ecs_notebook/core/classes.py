"""Classes named by stored data, looked up among those already defined in this process.

A store is data: reading it must never import a module or call anything a row names. A stored
``module:qualname`` is resolved here only to a class this process has defined already (an entity
class, a pydantic model, an enum); anything else is unknown and the caller keeps the data untyped.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel

from .entity import ENTITY_CLASSES, Entity

__all__ = ["NO_MEMBER", "enum_member", "resolve_class", "resolve_entity_class", "type_path"]


def type_path(cls: type) -> str:
    """``module:qualname`` of a class (the form stores keep)."""
    return f"{cls.__module__}:{cls.__qualname__}"


def resolve_entity_class(path: Any) -> type[Entity] | None:
    """The Entity subclass defined in this process under ``path``, or None. Never imports."""
    if type(path) is not str:
        return None
    return ENTITY_CLASSES.get(path)


def _subclasses(base: type) -> list[type]:
    """Every class derived from ``base`` (depth first; the direct subclasses of a class in definition order)."""
    out: list[type] = []
    stack: list[type] = [base]
    seen: set[int] = set()
    while stack:
        subs: list[type] = type.__subclasses__(stack.pop())
        for sub in subs:
            if id(sub) not in seen:
                seen.add(id(sub))
                out.append(sub)
                stack.append(sub)
    return out


def _find(base: type, path: str) -> type | None:
    """The newest class derived from ``base`` named ``path`` (pydantic and enum keep no registry).

    Walks the defined subclasses each time (microseconds: a few hundred classes), so a class defined
    or redefined (a re-run notebook cell) since the last lookup is the one found.
    """
    module, sep, qualname = path.partition(":")
    if not sep:
        return None
    found = None
    for cls in _subclasses(base):
        if cls.__qualname__ == qualname and cls.__module__ == module:
            found = cls  # a later definition of the same name wins
    return found


def resolve_class(path: Any, kind: str = "entity") -> type | None:
    """The class defined in this process under ``module:qualname``, or None when there is none.

    ``kind`` is ``"entity"`` (Entity subclasses), ``"model"`` (any pydantic model) or ``"enum"``
    (``enum.Enum`` subclasses). Nothing is imported and nothing the path names is called.
    """
    if type(path) is not str:
        return None
    if kind == "entity":
        return ENTITY_CLASSES.get(path)
    if kind == "model":
        return ENTITY_CLASSES.get(path) or _find(BaseModel, path)
    if kind == "enum":
        return _find(enum.Enum, path)
    msg = f"resolve_class(): unknown kind {kind!r} (entity, model or enum)"
    raise ValueError(msg)


_NO_MEMBER = object()


def enum_member(cls: type[enum.Enum], value: Any) -> Any:
    """The member of a defined enum with ``value``, or ``_NO_MEMBER``. Looks members up; calls nothing a row names."""
    if not (isinstance(cls, type) and issubclass(cls, enum.Enum)):
        return _NO_MEMBER
    try:
        member = cls._value2member_map_.get(value, _NO_MEMBER)
    except TypeError:  # an unhashable value
        member = _NO_MEMBER
    if member is not _NO_MEMBER:
        return member
    for m in cls.__members__.values():
        if type(m.value) is type(value) and m.value == value:
            return m
    if issubclass(cls, enum.Flag) and type(value) is int:
        try:
            return cls(value)  # a combination of flags (a real Enum class defined in this process)
        except (ValueError, TypeError):
            return _NO_MEMBER
    return _NO_MEMBER


NO_MEMBER = _NO_MEMBER
