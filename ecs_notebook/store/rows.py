"""Version records ↔ stored rows (JSON data plus indexed columns)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from pydantic import TypeAdapter
from pydantic_core import to_json as _to_json

from ..core.classes import resolve_entity_class
from ..core.entity import Entity, UntypedEntity
from ..core.errors import StoreError
from ..core.records import EXECUTION_TYPE, VersionRecord, new_record, record_fields
from ..core.tree import SLOT, FrozenSetTemplate, SetTemplate
from ..core.typeinfo import class_info
from .codec import Encoder, decode

# ensure_ascii keeps lone surrogates (file names from os.fsdecode) as \\ud8xx escapes SQLite can store.
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, check_circular=False).encode
_loads = json.loads


class Row(NamedTuple):
    ecs_id: bytes
    lineage_id: bytes
    type_path: str
    root_ecs_id: bytes
    previous_ecs_id: bytes | None
    created_at: float
    is_root: int
    function_name: str | None  # set on FunctionExecution rows only (indexed)
    succeeded: int | None
    cache_key: str | None  # successful, not cached executions of cacheable calls
    plain: str
    data: str


class _PlainCodec:
    """Plain fields of one entity class as JSON, through pydantic (typed both ways, in Rust).

    A class whose plain values pydantic cannot serialise (arbitrary types) uses the tagged codec.
    """

    __slots__ = ("adapter", "names", "tagged")

    def __init__(self, cls: type[Entity]) -> None:
        from typing_extensions import TypedDict

        info = class_info(cls)
        self.names = info.plain_fields
        fields = {n: cls.model_fields[n].annotation for n in self.names}
        td = TypedDict(f"{cls.__name__}Plain", fields, total=False)  # type: ignore[misc]
        td.__pydantic_config__ = _PLAIN_CONFIG  # type: ignore[attr-defined]
        self.tagged = False
        try:
            self.adapter: TypeAdapter[Any] | None = TypeAdapter(td)
        except Exception:
            self.adapter, self.tagged = None, True

    def dump(self, plain: tuple[Any, ...], enc: Encoder) -> tuple[str, bool]:
        """Return (json text, tagged?)."""
        if self.adapter is not None and not self.tagged and not any(map(_needs_tags, plain)):
            try:
                return self.adapter.dump_json(dict(zip(self.names, plain)), warnings="error").decode(), False
            except Exception:
                pass  # a value pydantic cannot serialise: this record goes through the tagged codec
        return _dumps({k: _enc_field(enc, k, v) for k, v in zip(self.names, plain)}), True

    def load(self, text: str, tagged: bool) -> dict[str, Any]:
        if tagged or self.adapter is None:
            return {k: decode(v) for k, v in _loads(text).items()}
        return self.adapter.validate_json(text)  # type: ignore[no-any-return]


def _needs_tags(v: Any) -> bool:
    """Values JSON through pydantic would not keep: NaN/inf floats, strings with lone surrogates."""
    t = type(v)
    if t is float:
        return not math.isfinite(v)
    if t is str:
        return not v.isascii() and _has_surrogate(v)
    if t is list or t is tuple or t is set or t is frozenset:
        return any(map(_needs_tags, v))
    if t is dict:
        return any(map(_needs_tags, v.values())) or any(map(_needs_tags, v.keys()))
    return False


_INF = float("inf")


def _has_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_PLAIN_CONFIG: Any = {
    "arbitrary_types_allowed": True,
    "ser_json_inf_nan": "constants",
    "ser_json_bytes": "base64",
    "val_json_bytes": "base64",
    "ser_json_timedelta": "float",
}
_PLAIN_CODECS: dict[type, _PlainCodec] = {}


def plain_codec(cls: type[Entity]) -> _PlainCodec:
    codec = _PLAIN_CODECS.get(cls)
    if codec is None:
        codec = _PLAIN_CODECS[cls] = _PlainCodec(cls)
    return codec


def _plain_keys(value: Any) -> bool:
    """True if every dict inside ``value`` has string keys (JSON keeps them as they are)."""
    if type(value) is dict:
        return all(type(k) is str and _plain_keys(v) for k, v in value.items())
    if type(value) is list:
        return all(_plain_keys(v) for v in value)
    return True


def _compact_sources(value: dict[str, Any]) -> dict[str, Any]:
    """attribute_source with long all-literal lists written as {"$n": length}."""
    out = value
    for k, v in value.items():
        if type(v) is list and len(v) > 8 and v.count(None) == len(v):
            if out is value:
                out = dict(value)
            out[k] = {"$n": len(v)}
    return out


def _ids_back(value: Any) -> Any:
    if type(value) is str:
        return UUID(value)
    if type(value) is list:
        return [_ids_back(v) for v in value]
    if type(value) is dict:
        if len(value) == 1 and "$n" in value:
            return [None] * value["$n"]
        return {k: _ids_back(v) for k, v in value.items()}
    return value


class Sharing(NamedTuple):
    """What a new row may reference instead of writing it again (all references are one hop).

    ``slots_full``: the record holding the full child list this one is a delta of, and the delta
    (every position changed since that record). ``plain_from``: the record whose row holds the
    plain fields, when they are the very same as the previous version's.
    """

    slots_full: UUID | None
    slots_delta: dict[int, UUID] | None
    plain_from: UUID | None


NO_SHARING = Sharing(None, None, None)


def encode_record(rec: VersionRecord, is_root: bool, enc: Encoder, sharing: Sharing = NO_SHARING) -> Row:
    """Return the row of a record; ``sharing`` says which parts are written as references."""
    cls = rec.cls
    info = class_info(cls)
    cls_path = cls.__ecs_type__
    data: dict[str, Any] = {}
    if cls is UntypedEntity:  # reloaded without its class: store it as it was
        cls_path = rec.plain[0]
        untyped = rec.templates[0] if rec.templates else {}
        plain_text = _dumps({k: _enc_field(enc, k, v) for k, v in untyped.items() if not _has_slot(v)})
        data["pt"] = 1
        data["t"] = {k: _enc_field(enc, k, v) for k, v in untyped.items() if _has_slot(v)}
    else:
        if sharing.plain_from is not None:
            plain_text, tagged = "{}", False
            data["pf"] = sharing.plain_from
        else:
            plain_text, tagged = plain_codec(cls).dump(rec.plain, enc)
        if tagged:
            data["pt"] = 1
        if rec.templates is not None:
            data["t"] = {k: _enc_field(enc, k, v) for k, v in zip(info.entity_fields, rec.templates)}
    # UUIDs and datetimes go to pydantic-core's serialiser as they are (fast, in Rust).
    if sharing.slots_full is not None and sharing.slots_delta is not None:
        data["sf"] = sharing.slots_full
        data["sd"] = {str(k): v for k, v in sharing.slots_delta.items()}
    elif rec.slots:
        data["s"] = rec.slots
    if rec.old_ids:
        data["o"] = rec.old_ids
    if rec.forked_at is not None:
        data["f"] = rec.forked_at
    if _plain_keys(rec.attribute_source):
        data["a"] = _compact_sources(rec.attribute_source)
    else:  # dict fields with non-string keys: keep the key types
        data["A"] = enc.encode(rec.attribute_source)
    if rec.derived_from_function is not None:
        data["df"] = rec.derived_from_function
    if rec.derived_from_execution_id is not None:
        data["de"] = rec.derived_from_execution_id
    if rec.function_input_entities:
        data["fi"] = rec.function_input_entities
    if rec.sibling_output_entities:
        data["si"] = rec.sibling_output_entities
    if rec.output_index is not None:
        data["oi"] = rec.output_index
    data["c"] = rec.created_at
    function_name = succeeded = cache_key = None
    if cls.__ecs_type__ == EXECUTION_TYPE:
        p = rec.plain_dict()
        function_name, succeeded = p["function_name"], int(p["succeeded"])
        if p["succeeded"] and not p["cached"]:
            cache_key = p["cache_key"]
    return Row(
        rec.ecs_id.bytes,
        rec.lineage_id.bytes,
        cls_path,
        rec.root_ecs_id.bytes,
        rec.previous_ecs_id.bytes if rec.previous_ecs_id is not None else None,
        rec.created_at.timestamp(),
        int(is_root),
        function_name,
        succeeded,
        cache_key,
        plain_text,
        _to_json(data).decode(),
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


def _count_slots(v: Any) -> int:
    if v is SLOT:
        return 1
    t = type(v)  # the containers tree.fill_template fills
    if t is list or t is tuple or t is SetTemplate or t is FrozenSetTemplate:
        return sum(map(_count_slots, v))
    if t is dict:
        return sum(map(_count_slots, v.values()))
    return 0


def _fields_of(rec: VersionRecord) -> dict[str, Any]:
    """Every field of a record by name, entity fields as their templates (an untyped record's untyped_data)."""
    return record_fields(rec, child=_as_is, fill=_template_itself)


def _as_is(eid: UUID) -> UUID:
    return eid


def _template_itself(template: Any, children: Any) -> Any:
    return template


def _uuid(b: bytes | None) -> UUID | None:
    return UUID(bytes=bytes(b)) if b is not None else None


def _ids(texts: list[str] | None) -> tuple[UUID, ...]:
    return tuple(map(UUID, texts)) if texts else ()


def decode_record(row: Any, load_base: Callable[[UUID], VersionRecord]) -> VersionRecord:
    """Rebuild a VersionRecord from its row; ``load_base(id)`` gives the record a delta builds on.

    A row that cannot be read (damaged, or edited by hand) raises StoreError naming the version.
    Nothing a row names is imported or called (see ``codec``).
    """
    try:
        return _decode_record(row, load_base)
    except StoreError:
        raise
    except Exception as exc:
        try:
            which = str(UUID(bytes=bytes(row[0])))
        except Exception:
            which = "with a malformed id"
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        msg = (
            f"Stored version {which} cannot be read ({reason}). The store was damaged or edited by something "
            "other than ecs_notebook; its other versions are unaffected."
        )
        raise StoreError(msg) from None


def _execution_fields(
    cls: type[Entity] | None, plain_text: str, tagged: bool, shared: dict[str, Any] | None, tpath: str
) -> dict[str, Any]:
    """The plain fields of a stored execution, validated as FunctionExecution's; ValueError if they do not fit."""
    if cls is None or tpath != EXECUTION_TYPE:
        msg = f"a row indexed as an execution has the type {tpath[:80]!r}"
        raise ValueError(msg)
    codec = plain_codec(cls)
    info = class_info(cls)
    if shared is not None:  # the fields of another (decoded, so checked) execution record
        values = {n: shared[n] for n in info.plain_fields if n in shared}
    else:
        values = codec.load(plain_text, tagged)  # typed by pydantic, except tagged values
        if tagged:
            if codec.adapter is None:
                msg = "its execution record cannot be validated"
                raise ValueError(msg)
            values = codec.adapter.validate_python(values)
    fields = cls.model_fields
    missing = [n for n in info.plain_fields if n not in values and fields[n].is_required()]
    if missing:
        msg = f"its execution record lacks {', '.join(missing)}"
        raise ValueError(msg)
    return values


def _decode_record(row: Any, load_base: Callable[[UUID], VersionRecord]) -> VersionRecord:
    ecs_id, lineage_id, tpath, root, prev, _created, _is_root, _fn, _ok, _key, plain_text, text = row
    data = _loads(text)
    if type(data) is not dict:
        msg = "its data is not a JSON object"
        raise ValueError(msg)
    tagged = "pt" in data
    tpl_data = {k: decode(v) for k, v in data.get("t", {}).items()}
    cls = resolve_entity_class(tpath)  # among the classes defined in this process: never imports
    plain_data: dict[str, Any] | None = None
    shared = _fields_of(load_base(UUID(data["pf"]))) if "pf" in data else None
    if shared is not None and cls is not None:
        plain_data = {n: shared[n] for n in class_info(cls).plain_fields if n in shared}
    if tpath == EXECUTION_TYPE or _fn is not None:
        # Executions are read by the registries, queries and the CLI field by field: one that does
        # not fit FunctionExecution exactly is a damaged row, never an untyped entity.
        plain_data = _execution_fields(cls, plain_text, tagged, shared, tpath)
    if cls is not None and plain_data is None:
        try:
            plain_data = plain_codec(cls).load(plain_text, tagged)
        except Exception:  # the class changed incompatibly since: show the data untyped
            cls = None
    if cls is None:
        raw = {} if "pf" in data else _loads(plain_text)
        if tagged:
            raw = {k: decode(v) for k, v in raw.items()}
        untyped = {**{k: v for k, v in (shared or {}).items() if not _has_slot(v)}, **raw, **tpl_data}
        plain: tuple[Any, ...] = (tpath,)
        templates: tuple[Any, ...] | None = (untyped,)
        cls = UntypedEntity
    else:
        assert plain_data is not None
        info = class_info(cls)
        fields = cls.model_fields
        plain = tuple(plain_data[n] if n in plain_data else _default(fields[n]) for n in info.plain_fields)
        templates = (
            tuple(tpl_data[n] if n in tpl_data else plain_data[n] if n in plain_data else _default(fields[n]) for n in info.entity_fields)
            if info.entity_fields
            else None
        )
    if "sf" in data:
        slots_list = list(load_base(UUID(data["sf"])).slots)
        for k, h in data["sd"].items():
            slots_list[int(k)] = UUID(h)
        slots = tuple(slots_list)
    else:
        slots = _ids(data.get("s"))
    if templates is not None and _count_slots(templates) != len(slots):
        msg = f"its fields hold {_count_slots(templates)} child entities but it references {len(slots)}"
        raise ValueError(msg)
    f = data.get("f")
    de = data.get("de")
    root_id = _uuid(root)
    if root_id is None:
        msg = "it names no root version"
        raise ValueError(msg)
    return new_record(
        ecs_id=UUID(bytes=bytes(ecs_id)),
        lineage_id=UUID(bytes=bytes(lineage_id)),
        cls=cls,
        plain=plain,
        templates=templates,
        slots=slots,
        root_ecs_id=root_id,
        previous_ecs_id=_uuid(prev),
        old_ids=_ids(data.get("o")),
        created_at=datetime.fromisoformat(data["c"]),
        forked_at=datetime.fromisoformat(f) if f else None,
        attribute_source=decode(data["A"]) if "A" in data else _ids_back(data.get("a", {})),
        derived_from_function=data.get("df"),
        derived_from_execution_id=UUID(de) if de else None,
        function_input_entities=_ids(data.get("fi")),
        sibling_output_entities=_ids(data.get("si")),
        output_index=data.get("oi"),
        from_storage=True,
    )


class SharingChains:
    """Decides, for a store, which parts of a new version are references to earlier rows (one hop each).

    Child lists are written as a delta against the last full list of the chain while the delta stays
    under a quarter of the list; plain fields identical (the same objects) to the previous version's
    point at the row that holds them. What each recent version's row references is cached; a miss
    reads the previous row's data through ``stored_data``.
    """

    LIMIT = 50_000

    def __init__(self) -> None:
        self._chain: dict[int, tuple[UUID, dict[int, UUID], UUID]] = {}

    def clear(self) -> None:
        self._chain.clear()

    def decide(self, rec: VersionRecord, cached: Mapping[int, VersionRecord], stored_data: Callable[[UUID], str | None]) -> Sharing:
        """The sharing of ``rec``; ``cached``: records by ``ecs_id.int``; ``stored_data``: a row's ``data`` text."""
        prev_id = rec.previous_ecs_id
        if prev_id is None:
            self._remember(rec.ecs_id, rec.ecs_id, {}, rec.ecs_id)
            return NO_SHARING
        state = self._chain.get(prev_id.int)
        if state is None:
            text = stored_data(prev_id)
            state = sharing_of(text, prev_id) if text is not None else (prev_id, {}, prev_id)
        full, delta, plain_from = state
        prev = cached.get(prev_id.int)
        slots_full = slots_delta = None
        if prev is not None and len(rec.slots) == len(prev.slots) > 8:
            changes = {p: x for p, (x, o) in enumerate(zip(rec.slots, prev.slots)) if x != o}
            merged = {**delta, **changes}
            if len(merged) * 4 < len(rec.slots):
                slots_full, slots_delta = full, merged
        share_plain = prev is not None and rec.plain is prev.plain and rec.cls is prev.cls and bool(rec.plain)
        self._remember(rec.ecs_id, slots_full or rec.ecs_id, slots_delta or {}, plain_from if share_plain else rec.ecs_id)
        return Sharing(slots_full, slots_delta, plain_from if share_plain else None)

    def _remember(self, ecs_id: UUID, full: UUID, delta: dict[int, UUID], plain_from: UUID) -> None:
        if len(self._chain) > self.LIMIT:
            self._chain.clear()  # a cache: rows hold the same facts
        self._chain[ecs_id.int] = (full, delta, plain_from)


def sharing_of(text: str, ecs_id: UUID) -> tuple[UUID, dict[int, UUID], UUID]:
    """From a stored row: (record with the full child list, delta, record holding the plain fields)."""
    data = _loads(text)
    full = UUID(data["sf"]) if "sf" in data else ecs_id
    delta = {int(k): UUID(v) for k, v in data.get("sd", {}).items()}
    plain_from = UUID(data["pf"]) if "pf" in data else ecs_id
    return full, delta, plain_from


def _default(field: Any) -> Any:
    if field.default_factory is not None:
        return field.default_factory()
    return None if field.is_required() else field.default
