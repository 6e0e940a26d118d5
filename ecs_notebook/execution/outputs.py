"""What a call returned: wrapping, classification (mutation/creation/detachment), provenance, recording."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..core._ids import new_id
from ..core.entity import ContainerEntity, Entity
from ..core.errors import OutputValidationError
from ..core.records import fast_new
from ..core.registry import EntityRegistry, PendingTree
from ..core.typeinfo import class_info
from .functions import FunctionMetadata, _entity_class
from .model import ExecutionSemantics

if TYPE_CHECKING:
    from .callable_registry import _Call
    from .inputs import CallInputs

MUTATION, CREATION, DETACHMENT = ExecutionSemantics.MUTATION, ExecutionSemantics.CREATION, ExecutionSemantics.DETACHMENT

_ADAPTERS: dict[type, dict[str, TypeAdapter[Any]]] = {}


class PreparedOutputs:
    """The outputs of a call, classified, with their records built but not yet published."""

    __slots__ = ("ids", "items", "pendings", "returned", "semantics", "unpacked")

    def __init__(
        self,
        returned: Any,
        items: list[Entity],
        semantics: list[ExecutionSemantics],
        pendings: list[PendingTree],
        ids: list[UUID],
        unpacked: bool,
    ) -> None:
        self.returned, self.items, self.semantics = returned, items, semantics
        self.pendings, self.ids, self.unpacked = pendings, ids, unpacked

    @property
    def records(self) -> list[Any]:
        return [r for p in self.pendings for r in p.records]

    @property
    def roots(self) -> list[UUID]:
        return [p.root_id for p in self.pendings if p.changed]

    def finish(self) -> None:
        """Once published: give the returned objects their recorded ids."""
        for p in self.pendings:
            p.finish()


def prepare_outputs(call: _Call, result: Any) -> PreparedOutputs:
    """Classify what the function returned and build its records (published by the caller).

    Output rules: an entity is recorded as it is; a tuple (or a non-empty list) whose items are all
    entities is unpacked into separate outputs (``unpack=False``: one ContainerEntity holding them);
    a pydantic model contributes its fields to an output entity; any other value becomes the
    ``result`` field (tuples of values: ``field_0``, ``field_1``, ...) of an output entity.
    """
    meta, inputs = call.meta, call.inputs
    assert inputs is not None
    unpacked = False
    if isinstance(result, Entity):
        declared = _entity_class(meta.return_annotation)
        if declared is not None and not isinstance(result, declared):
            msg = (
                f"{meta.name}() returned a {type(result).__name__}, but its return annotation declares "
                f"{declared.__name__}. Fix the function or its annotation."
            )
            raise OutputValidationError(msg)
        items = [result]
    elif isinstance(result, (tuple, list)) and result and all(isinstance(x, Entity) for x in result):
        if call.unpack:
            items, unpacked = list(result), True
        else:
            items = [ContainerEntity(outputs=list(result))]
    else:
        items = [_wrap(meta, result)]

    shared = _held_by_other_outputs(items) if len(items) > 1 else set()
    prepared: list[tuple[Entity, ExecutionSemantics, PendingTree]] = []
    for obj in items:
        try:
            if id(obj) in shared and inputs.is_inside_input(obj):
                # A part of an input returned next to the input that still holds it: the output is
                # a detached copy, and the returned parent keeps its child as it is.
                obj = obj.model_copy(deep=True)
                sem, pending = DETACHMENT, EntityRegistry.prepare(obj, force=True)
            else:
                sem, pending = _prepare(obj, inputs)
        except _Replace:
            obj = _fresh_copy(obj)
            sem, pending = CREATION, EntityRegistry.prepare(obj)
        prepared.append((obj, sem, pending))
    final_ids = [p.root_id if p.changed else o.ecs_id for o, _, p in prepared]
    input_ids = tuple(inputs.input_ids)
    default_source = input_ids[0] if len(input_ids) == 1 else inputs.composite_id
    for k, (obj, _sem, pending) in enumerate(prepared):
        if not pending.changed:
            continue
        pending.patch_root(
            derived_from_function=meta.name,
            derived_from_execution_id=call.execution_id,
            function_input_entities=input_ids,
            output_index=k if unpacked else None,
            sibling_output_entities=tuple(i for j, i in enumerate(final_ids) if j != k) if unpacked else (),
            attribute_source=_provenance(obj, inputs, default_source, pending.records[0].plain),
        )
    outputs = [o for o, _, _ in prepared]
    return PreparedOutputs(
        outputs if unpacked else outputs[0],
        outputs,
        [s for _, s, _ in prepared],
        [p for _, _, p in prepared],
        final_ids,
        unpacked,
    )


def _prepare(obj: Entity, inputs: CallInputs) -> tuple[ExecutionSemantics, PendingTree]:
    if id(obj) in inputs.copy_roots:
        # A returned input: a new version of its lineage if the function changed it.
        return MUTATION, EntityRegistry.prepare(obj, promote=False)
    if inputs.is_inside_input(obj):
        return DETACHMENT, EntityRegistry.prepare(obj, force=True)
    d = obj.__dict__
    if d["ecs_id"].int in EntityRegistry._records:
        # Not a copy the function received but an already recorded object (one captured from
        # outside, or a clone built from a recorded version's fields): the output is a new
        # lineage, and the object the function returned is left as it is.
        raise _Replace(obj)
    return CREATION, EntityRegistry.prepare(obj)


def _held_by_other_outputs(items: list[Entity]) -> set[int]:
    """``id()`` of the returned entities that sit inside the tree of another returned entity."""
    from ..core.tree import walk

    inside: set[int] = set()
    for obj in items:
        if class_info(type(obj)).entity_fields:
            inside.update(id(e) for e in walk(obj).entities[1:])
    return {id(o) for o in items if id(o) in inside}


class _Replace(Exception):
    def __init__(self, obj: Entity) -> None:
        self.obj = obj


def _fresh_copy(obj: Entity) -> Entity:
    clone = obj.model_copy(deep=True)
    d = clone.__dict__
    d["ecs_id"], d["lineage_id"], d["previous_ecs_id"], d["old_ids"] = new_id(), new_id(), None, []
    d["root_ecs_id"] = d["root_live_id"] = None
    return clone


def _wrap(meta: FunctionMetadata, result: Any) -> Entity:
    model = meta.output_model
    if result is None and _allows_none(meta.return_annotation):
        return fast_new(_none_model(meta), {"result": None}, as_root=False)
    if model is None or _entity_class(meta.return_annotation) is not None:
        declared = getattr(meta.return_annotation, "__name__", str(meta.return_annotation))
        msg = (
            f"{meta.name}() returned {type(result).__name__} {result!r:.60}, but its return annotation "
            f"declares {declared}. Fix the function or its annotation."
        )
        raise OutputValidationError(msg)
    fields = model.model_fields
    if isinstance(result, BaseModel) and "result" not in fields:
        data = {k: getattr(result, k) for k in fields if k in type(result).model_fields}
    elif "field_0" in fields:
        if not isinstance(result, tuple) or len(result) != sum(1 for f in fields if f.startswith("field_")):
            msg = f"{meta.name}() returned {result!r:.60}; its annotation declares a tuple of {len(fields)} items."
            raise OutputValidationError(msg)
        data = {f"field_{i}": v for i, v in enumerate(result)}
    else:
        data = {"result": result}
    adapters = _ADAPTERS.get(model)
    if adapters is None:
        adapters = _ADAPTERS[model] = {name: _adapter(f.annotation) for name, f in fields.items() if name in class_info(model).data_fields}
    for name, value in data.items():
        t = type(value)
        if t is adapters[name]._type and (t is int or t is str or t is float or t is bool):  # type: ignore[attr-defined]
            continue
        try:
            data[name] = adapters[name].validate_python(value)
        except ValidationError as exc:
            msg = f"{meta.name}() returned {value!r:.60} for {name!r}, which does not fit its annotation: {exc.errors()[0]['msg']}"
            raise OutputValidationError(msg) from exc
    return fast_new(model, data, as_root=False)


def _adapter(annotation: Any) -> TypeAdapter[Any]:
    try:
        return TypeAdapter(annotation, config={"arbitrary_types_allowed": True})
    except Exception:  # models, dataclasses and TypedDicts carry their own config
        return TypeAdapter(annotation)


def _allows_none(ann: Any) -> bool:
    import types
    import typing

    return (
        ann is None
        or ann is type(None)
        or (typing.get_origin(ann) in (typing.Union, types.UnionType) and type(None) in typing.get_args(ann))
    )


_NONE_MODELS: dict[str, type[Entity]] = {}


def _none_model(meta: FunctionMetadata) -> type[Entity]:
    """Output model for a None result of a function whose annotation allows None."""
    if meta.output_model is not None and "result" in meta.output_model.model_fields:
        return meta.output_model
    from pydantic import create_model

    key = f"{meta.name}:{meta.code_version}"
    model = _NONE_MODELS.get(key)
    if model is None:
        model = _NONE_MODELS[key] = create_model(  # type: ignore[call-overload]
            f"{meta.name}_NoneOutput", __base__=Entity, result=(type(None), None)
        )
    return model


def _provenance(obj: Entity, inputs: CallInputs, default: UUID | None, plain: tuple[Any, ...]) -> dict[str, Any]:
    """attribute_source for an output: each field points at the input it came from.

    A field holding an input (or part of one) or a value identical to an input's field points at
    that input version; other computed fields point at the call's input (the single input entity,
    or the composite input that names them all). Fields already borrowed keep their source.
    """
    d = obj.__dict__
    source = dict(d["attribute_source"])
    copies = inputs.copies
    ids = inputs.input_ids
    changed = _changed_plain_fields(obj, inputs, plain)
    for f in class_info(type(obj)).data_fields:
        current = source.get(f)
        if current is not None and f not in changed and not (isinstance(current, (list, dict)) and not any(_values(current))):
            continue
        v = d[f]
        match: UUID | None = None
        if isinstance(v, Entity):
            match = v.__dict__["ecs_id"] if EntityRegistry._records.get(v.__dict__["ecs_id"].int) else None
        else:
            for idx, c in enumerate(copies):
                if c is obj and f in changed:
                    continue  # the function set it: it comes from this call, not from the input's old value
                cv = c.__dict__.get(f, _MISSING)
                if cv is v or (type(cv) is type(v) and _same(cv, v)):
                    match = ids[inputs.copy_roots[id(c)]] if id(c) in inputs.copy_roots else ids[idx]
                    break
        val = match or default
        if type(v) is list:
            source[f] = [val] * len(v)
        elif type(v) is dict:
            source[f] = dict.fromkeys(v, val)
        else:
            source[f] = val
    return source


_MISSING = object()


def _changed_plain_fields(obj: Entity, inputs: CallInputs, plain: tuple[Any, ...]) -> frozenset[str]:
    """The plain fields of a returned input that the function changed (their old sources no longer hold).

    ``plain``: the plain values of the output's new record (the snapshot versioning already took).
    """
    k = inputs.copy_roots.get(id(obj))
    if k is None:
        return frozenset()
    rec = EntityRegistry._records.get(inputs.input_ids[k].int)
    if rec is None or rec.cls is not type(obj):
        return frozenset()
    names = class_info(type(obj)).plain_fields
    return frozenset(name for name, new, old in zip(names, plain, rec.plain) if not (new is old or _same(new, old)))


def _values(x: Any) -> list[Any]:
    return list(x.values()) if isinstance(x, dict) else list(x)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


__all__ = ["PreparedOutputs", "prepare_outputs"]
