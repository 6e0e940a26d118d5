"""Version records ↔ stored rows (JSON data plus indexed columns)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from ..entity import ENTITY_CLASSES, Entity, UntypedEntity
from ..records import VersionRecord
from ..tree import SLOT
from ..typeinfo import class_info
from .codec import Encoder, decode, import_path

#: Longest chain of child-reference deltas before a full list is written again.
MAX_DELTA_CHAIN = 32

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode
_loads = json.loads
_tuple_new = tuple.__new__


class Row(NamedTuple):
    ecs_id: bytes
    lineage_id: bytes
    type_path: str
    root_ecs_id: bytes
    previous_ecs_id: bytes | None
    created_at: float
    is_root: int
    data: str


def _hex(ids: Any) -> list[str]:
    return [u.hex for u in ids]


def encode_record(rec: VersionRecord, is_root: bool, enc: Encoder, delta_depth: int | None) -> Row:
    """Return the row of a record. ``delta_depth``: length of the base's delta chain (None: no delta)."""
    info = class_info(rec.cls)
    cls_path = rec.cls.__ecs_type__
    plain_names = info.plain_fields
    data: dict[str, Any] = {}
    if rec.cls is UntypedEntity:  # reloaded without its class: store it as it was
        tp = rec.plain[plain_names.index("type_path")]
        cls_path = tp
        untyped = rec.templates[0] if rec.templates else {}
        data["p"] = {k: _enc_field(enc, k, v) for k, v in untyped.items() if not _has_slot(v)}
        data["t"] = {k: _enc_field(enc, k, v) for k, v in untyped.items() if _has_slot(v)}
    else:
        data["p"] = {k: _enc_field(enc, k, v) for k, v in zip(plain_names, rec.plain)}
        if rec.templates is not None:
            data["t"] = {k: _enc_field(enc, k, v) for k, v in zip(info.entity_fields, rec.templates)}
    if rec.slots_base is not None and delta_depth is not None and delta_depth < MAX_DELTA_CHAIN:
        assert rec.slots_delta is not None
        data["sb"] = rec.slots_base.hex
        data["sd"] = {str(k): v.hex for k, v in rec.slots_delta.items()}
        data["sdd"] = delta_depth + 1
        data["n"] = len(rec.slots)
    elif rec.slots:
        data["s"] = _hex(rec.slots)
    if rec.old_ids:
        data["o"] = _hex(rec.old_ids)
    if rec.forked_at is not None:
        data["f"] = rec.forked_at.isoformat()
    data["a"] = enc.encode(rec.attribute_source)
    if rec.derived_from_function is not None:
        data["df"] = rec.derived_from_function
    if rec.derived_from_execution_id is not None:
        data["de"] = rec.derived_from_execution_id.hex
    if rec.function_input_entities:
        data["fi"] = _hex(rec.function_input_entities)
    if rec.sibling_output_entities:
        data["si"] = _hex(rec.sibling_output_entities)
    if rec.output_index is not None:
        data["oi"] = rec.output_index
    data["c"] = rec.created_at.isoformat()
    return Row(
        rec.ecs_id.bytes,
        rec.lineage_id.bytes,
        cls_path,
        rec.root_ecs_id.bytes,
        rec.previous_ecs_id.bytes if rec.previous_ecs_id is not None else None,
        rec.created_at.timestamp(),
        int(is_root),
        _dumps(data),
    )


def _enc_field(enc: Encoder, name: str, value: Any) -> Any:
    enc.field = name
    return enc.encode(value)


def _has_slot(v: Any) -> bool:
    if v is SLOT:
        return True
    if isinstance(v, (list, tuple)):
        return any(_has_slot(x) for x in v)
    if isinstance(v, dict):
        return any(_has_slot(x) for x in v.values())
    return False


def resolve_class(path: str) -> type[Entity] | None:
    """The entity class of a stored type path, or None when it cannot be imported."""
    cls = ENTITY_CLASSES.get(path)
    if cls is not None:
        return cls
    try:
        obj = import_path(path)
    except Exception:
        return None
    return obj if isinstance(obj, type) and issubclass(obj, Entity) else None


def _uuid(b: bytes | None) -> UUID | None:
    return UUID(bytes=bytes(b)) if b is not None else None


def _ids(hexes: list[str] | None) -> tuple[UUID, ...]:
    return tuple(UUID(hex=h) for h in hexes) if hexes else ()


def decode_record(row: Any, full_slots: Callable[[UUID], tuple[UUID, ...]]) -> VersionRecord:
    """Rebuild a VersionRecord from its row; ``full_slots(base_id)`` gives a base record's slots."""
    ecs_id, lineage_id, tpath, root, prev, _created, _is_root, text = row
    data = _loads(text)
    plain_data = {k: decode(v) for k, v in data.get("p", {}).items()}
    tpl_data = {k: decode(v) for k, v in data.get("t", {}).items()}
    cls = resolve_class(tpath)
    if cls is None:
        untyped = {**plain_data, **tpl_data}
        plain: tuple[Any, ...] = (tpath,)
        templates: tuple[Any, ...] | None = (untyped,)
        cls = UntypedEntity
    else:
        info = class_info(cls)
        fields = cls.model_fields
        plain = tuple(plain_data[n] if n in plain_data else _default(fields[n]) for n in info.plain_fields)
        templates = (
            tuple(tpl_data[n] if n in tpl_data else _default(fields[n]) for n in info.entity_fields)
            if info.entity_fields
            else None
        )
    if "sb" in data:
        base = full_slots(UUID(hex=data["sb"]))
        slots_list = list(base)
        for k, h in data["sd"].items():
            slots_list[int(k)] = UUID(hex=h)
        slots = tuple(slots_list)
    else:
        slots = _ids(data.get("s"))
    f = data.get("f")
    de = data.get("de")
    return _tuple_new(
        VersionRecord,
        (
            UUID(bytes=bytes(ecs_id)),
            UUID(bytes=bytes(lineage_id)),
            cls,
            plain,
            templates,
            slots,
            _uuid(root),
            _uuid(prev),
            _ids(data.get("o")),
            datetime.fromisoformat(data["c"]),
            datetime.fromisoformat(f) if f else None,
            decode(data.get("a", {})),
            data.get("df"),
            UUID(hex=de) if de else None,
            _ids(data.get("fi")),
            _ids(data.get("si")),
            data.get("oi"),
            None,
            None,
            True,
        ),
    )


def delta_depth_of(text: str) -> int:
    """Length of the delta chain a stored record ends."""
    return int(_loads(text).get("sdd", 0))


def _default(field: Any) -> Any:
    if field.default_factory is not None:
        return field.default_factory()
    return None if field.is_required() else field.default
