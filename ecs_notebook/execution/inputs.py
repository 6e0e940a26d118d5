"""Arguments of a call: validation, the recorded input versions, the composite input, the copies."""

from __future__ import annotations

import inspect
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from ..core._ids import new_id, short, utcnow
from ..core.address import is_address, resolve_input
from ..core.entity import Entity
from ..core.errors import InputValidationError
from ..core.records import VersionRecord, materialize, new_record
from ..core.registry import EntityRegistry
from ..core.tree import SLOT, FrozenSetTemplate, SetTemplate
from ..core.typeinfo import class_info, snapshot_value
from .functions import ENTITIES, ENTITY, FunctionMetadata, ParamSpec


class _In:
    """One input entity: a live object of the caller's, or a recorded version named by an address."""

    __slots__ = ("live", "record")

    def __init__(self, live: Entity | None = None, record: VersionRecord | None = None) -> None:
        self.live = live
        self.record = record


class CallInputs:
    """Everything a call knows about its inputs, from validation to the copies it passes on."""

    def __init__(self, meta: FunctionMetadata, execution_id: UUID, started_at: Any = None) -> None:
        self.meta = meta
        self.execution_id = execution_id
        self.started_at = started_at if started_at is not None else utcnow()
        #: per parameter: the value, with _In objects where entities stand
        self.shapes: dict[str, Any] = {}
        self.sources: dict[str, Any] = {}
        self.entity_inputs: list[_In] = []
        #: versions that plain values were read from (``@uuid.field`` arguments): inputs too
        self.source_ids: list[UUID] = []
        self.input_ids: list[UUID] = []
        self.composite_id: UUID | None = None
        self.composite_record: VersionRecord | None = None
        #: id(copy root) -> index into input_ids, for classifying results
        self.copy_roots: dict[int, int] = {}
        self._copies: list[Entity] = []
        self._members: set[int] | None = None
        self._copied_trees = False

    # -- phase 2: record (after validation succeeded) --------------------------------------

    def record(self) -> None:
        """Record pending edits of entity inputs, then build the composite input's record.

        The composite record is published together with the call's other records.
        """
        ids = []
        for inp in self.entity_inputs:
            if inp.record is None:
                assert inp.live is not None
                inp.record = _recorded_version(inp.live)
            ids.append(inp.record.ecs_id)
        ids.extend(s for s in self.source_ids if s not in ids)
        self.input_ids = ids
        for name, shape in self.shapes.items():
            if _has_input(shape):
                self.sources[name] = _source(shape)
        cls = self.meta.input_model
        info = class_info(cls)
        slots: list[UUID] = []
        templates = tuple(_template(self.shapes[f], slots) for f in info.entity_fields) if info.entity_fields else None
        plain = tuple(snapshot_value(self.shapes[f]) for f in info.plain_fields)
        cid = self.composite_id = new_id()
        self.composite_record = new_record(
            ecs_id=cid,
            lineage_id=cid,  # its own one-version lineage
            cls=cls,
            plain=plain,
            templates=templates,
            slots=tuple(slots),
            root_ecs_id=cid,
            created_at=self.started_at,
            attribute_source=self.sources,
            derived_from_execution_id=self.execution_id,
            function_input_entities=tuple(ids),
        )

    def function_arguments(self) -> dict[str, Any]:
        """The arguments the function receives: copies of the recorded inputs, copies of values."""
        args: dict[str, Any] = {}
        counter = iter(range(len(self.entity_inputs)))
        copy_plain = self.meta.copy_plain
        for name, shape in self.shapes.items():
            args[name] = self._copy(shape, counter) if copy_plain or _has_input(shape) else shape
        return args

    def _copy(self, shape: Any, counter: Any) -> Any:
        if type(shape) is _In:
            assert shape.record is not None
            copy = materialize(shape.record, EntityRegistry.record, shape.record.ecs_id, as_root=True)
            self.copy_roots[id(copy)] = next(counter)
            self._copies.append(copy)
            self._copied_trees = self._copied_trees or bool(shape.record.slots)
            return copy
        t = type(shape)
        if t is list:
            return [self._copy(v, counter) for v in shape]
        if t is tuple:
            return tuple(self._copy(v, counter) for v in shape)
        if t is dict:
            return {k: self._copy(v, counter) for k, v in shape.items()}
        if t is set or t is frozenset:
            return t(self._copy(v, counter) for v in shape)
        return snapshot_value(shape)

    # -- classifying results ---------------------------------------------------------------

    def is_inside_input(self, obj: Entity) -> bool:
        """True if ``obj`` sits somewhere inside the tree of an input copy (not its root)."""
        if not self._copied_trees:
            return False
        if self._members is None:
            from ..core.tree import walk

            self._members = {id(e) for c in self._copies if class_info(type(c)).entity_fields for e in walk(c).entities[1:]}
        return id(obj) in self._members

    @property
    def copies(self) -> list[Entity]:
        return self._copies


def _recorded_version(e: Entity) -> VersionRecord:
    """The record of what ``e`` holds now, recording pending edits (or registering it) first."""
    d = e.__dict__
    rec = EntityRegistry._records.get(d["ecs_id"].int)
    if rec is not None and rec.cls is type(e) and d["root_live_id"] is d["live_id"] and not rec.slots:
        info = class_info(type(e))
        if not info.entity_fields and d["attribute_source"] == rec.attribute_source:
            try:
                clean = info.plain_getter(d) == rec.plain
            except (ValueError, TypeError):
                clean = False
            if clean:
                return rec
    EntityRegistry.version_live_tree_of(e)
    return EntityRegistry.record(e.ecs_id)


def _has_input(shape: Any) -> bool:
    if type(shape) is _In:
        return True
    if type(shape) in (list, tuple, set, frozenset):
        return any(type(v) is _In for v in shape)
    return type(shape) is dict and any(type(v) is _In for v in shape.values())


def _source(shape: Any) -> Any:
    """attribute_source of a parameter: the input version(s) it holds."""
    if type(shape) is _In:
        assert shape.record is not None
        return shape.record.ecs_id
    if type(shape) is dict:
        return {k: _source(v) for k, v in shape.items()}
    if type(shape) in (list, tuple, set, frozenset):
        return [_source(v) for v in shape]
    return None


def _template(shape: Any, slots: list[UUID]) -> Any:
    if type(shape) is _In:
        assert shape.record is not None
        slots.append(shape.record.ecs_id)
        return SLOT
    t = type(shape)
    if t is list:
        return [_template(v, slots) for v in shape]
    if t is tuple:
        return tuple(_template(v, slots) for v in shape)
    if t is dict:
        return {k: _template(v, slots) for k, v in shape.items()}
    if t is set or t is frozenset:
        items = (_template(v, slots) for v in shape)
        return SetTemplate(items) if t is set else FrozenSetTemplate(items)
    return snapshot_value(shape)


# -- phase 1: validation (records nothing) ---------------------------------------------------


def resolve_inputs(meta: FunctionMetadata, kwargs: dict[str, Any], execution_id: UUID, started_at: Any = None) -> CallInputs:
    """Validate the arguments of a call against the function's parameters; record nothing.

    Raises:
        InputValidationError: unknown or missing parameters, values of the wrong type.
        AddressError, EntityNotFoundError: an address that does not resolve.
    """
    params = meta.params
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        kwargs = _absorb_loose_values(meta, kwargs, unknown)
    missing = [p.name for p in params.values() if p.required and p.name not in kwargs]
    if missing:
        msg = f"{meta.name}() is missing required parameter(s): {', '.join(missing)}. Signature: {meta.name}{meta.signature}"
        raise InputValidationError(msg)
    call = CallInputs(meta, execution_id, started_at)
    for p in params.values():
        value = kwargs[p.name] if p.name in kwargs else p.default
        shape, source = _resolve_param(meta, p, value, call)
        call.shapes[p.name] = shape
        call.sources[p.name] = source
    return call


def _absorb_loose_values(meta: FunctionMetadata, kwargs: dict[str, Any], unknown: list[str]) -> dict[str, Any]:
    """Build a missing entity parameter from keyword values that name its fields."""
    candidates = [p for p in meta.params.values() if p.kind == ENTITY and p.name not in kwargs]
    if len(candidates) == 1:
        p = candidates[0]
        assert p.entity_cls is not None
        fields = p.entity_cls.model_fields
        if all(k in fields for k in unknown):
            loose = {k: kwargs[k] for k in unknown}
            try:
                built = p.entity_cls(**loose)
            except ValidationError as exc:
                raise _validation_error(meta, p, exc) from None
            rest = {k: v for k, v in kwargs.items() if k not in loose}
            rest[p.name] = built
            return rest
    names = ", ".join(meta.params) or "none"
    msg = f"{meta.name}() got unexpected parameter(s) {', '.join(map(repr, unknown))}; its parameters are: {names}."
    raise InputValidationError(msg)


def _resolve_param(meta: FunctionMetadata, p: ParamSpec, value: Any, call: CallInputs) -> tuple[Any, Any]:
    if p.kind == ENTITY:
        if value is None and not p.required and p.default is None:
            return None, None
        return _entity_arg(meta, p, value, call)
    if p.kind == ENTITIES:
        return _entities_arg(meta, p, value, call)
    # a plain parameter
    if is_address(value):
        rec, plain, owner = resolve_input(value)
        if rec is not None:
            if p.annotation in (Any, object, inspect.Parameter.empty):
                return _add(call, _In(record=rec)), rec.ecs_id
            value = materialize(rec, EntityRegistry.record)
        else:
            value = plain
        validated = _validate(meta, p, value)
        call.source_ids.append(owner)
        return validated, owner
    if isinstance(value, Entity) and p.annotation in (Any, object):
        return _add(call, _In(live=value)), None
    return _validate(meta, p, value), None


def _validate(meta: FunctionMetadata, p: ParamSpec, value: Any) -> Any:
    assert p.adapter is not None
    t = type(value)
    if t is p.annotation and (t is int or t is str or t is float or t is bool):
        return value  # the common case needs no pydantic round trip
    try:
        return p.adapter.validate_python(value)
    except ValidationError as exc:
        raise _validation_error(meta, p, exc) from None


def _validation_error(meta: FunctionMetadata, p: ParamSpec, exc: ValidationError) -> InputValidationError:
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first.get("loc", ()))
    detail = f"{first['msg']}" + (f" (at {where})" if where else "")
    ann = getattr(p.annotation, "__name__", str(p.annotation))
    msg = f"{meta.name}(): parameter {p.name!r} expects {ann}: {detail}. Got {first.get('input')!r:.80}."
    err = InputValidationError(msg)
    err.__cause__ = exc
    return err


def _add(call: CallInputs, inp: _In) -> _In:
    call.entity_inputs.append(inp)
    return inp


def _entity_arg(meta: FunctionMetadata, p: ParamSpec, value: Any, call: CallInputs) -> tuple[Any, Any]:
    cls = p.entity_cls
    assert cls is not None
    if isinstance(value, Entity):
        if not isinstance(value, cls):
            msg = f"{meta.name}(): parameter {p.name!r} expects {cls.__name__}, got {type(value).__name__} {short(value.ecs_id)}."
            raise InputValidationError(msg)
        return _add(call, _In(live=value)), value.ecs_id
    if is_address(value):
        rec, _, _owner = resolve_input(value)
        if rec is None:
            msg = f"{meta.name}(): parameter {p.name!r} expects {cls.__name__}, but {value} names a plain value."
            raise InputValidationError(msg)
        if not issubclass(rec.cls, cls):
            msg = f"{meta.name}(): parameter {p.name!r} expects {cls.__name__}, but {value} is a {rec.cls.__name__}."
            raise InputValidationError(msg)
        return _add(call, _In(record=rec)), rec.ecs_id
    if isinstance(value, dict):
        try:
            built = cls(**value)
        except ValidationError as exc:
            raise _validation_error(meta, p, exc) from None
        return _add(call, _In(live=built)), None
    msg = (
        f"{meta.name}(): parameter {p.name!r} expects a {cls.__name__} (an entity, an '@uuid' address "
        f"or a dict of its fields), got {type(value).__name__}: {value!r:.60}."
    )
    raise InputValidationError(msg)


def _entities_arg(meta: FunctionMetadata, p: ParamSpec, value: Any, call: CallInputs) -> tuple[Any, Any]:
    import typing

    args = [a for a in typing.get_args(p.annotation) if a is not Ellipsis]  # tuple[X, ...] holds Xs
    item_cls = args[-1] if args else Entity
    item_cls = item_cls if isinstance(item_cls, type) else Entity
    item = ParamSpec(p.name, item_cls, p.default, ENTITY, item_cls, None)
    if isinstance(value, dict):
        pairs = {k: _entity_arg(meta, item, v, call) for k, v in value.items()}
        return {k: s for k, (s, _) in pairs.items()}, {k: src for k, (_, src) in pairs.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        pairs_l = [_entity_arg(meta, item, v, call) for v in value]
        shapes = [s for s, _ in pairs_l]
        sources = [src for _, src in pairs_l]
        return (type(value)(shapes) if not isinstance(value, list) else shapes), sources
    msg = f"{meta.name}(): parameter {p.name!r} expects a collection of {item_cls.__name__}, got {type(value).__name__}."
    raise InputValidationError(msg)
