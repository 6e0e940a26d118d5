"""The explorer's details panel: JSON about one node (fields, provenance, versions, execution)."""

from __future__ import annotations

import base64
import enum
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from ..core._ids import short
from ..core.entity import UntypedEntity
from ..core.errors import EcsError
from ..core.records import VersionRecord, record_fields, source_ids
from ..core.registry import EntityRegistry
from ..core.typeinfo import class_info
from ..core.values.codecs import FORMAT_VERSION, part_key
from ..core.variable import StoredValue, Variable
from ..execution.model import FunctionExecution
from .graph import default_graph, stored_type_name

MAX_ITEMS = 100  # items of a list/dict field shown
MAX_TEXT = 2000  # characters of one string shown
MAX_VERSIONS = 50  # versions listed (the newest, and always the selected one)
MAX_IMAGE_BYTES = 5 * 2**20  # a stored figure's PNG larger than this is not embedded (get() still returns it)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class _Ref:
    """A child entity inside a field value: shown as a reference, never expanded."""

    ecs_id: UUID


def node_details(node_id: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the details panel shows for ``node_id`` (an ecs_id, or an aggregate id of ``payload``).

    Everything is JSON (strings, numbers, lists, dicts); entity data stays data: the front end
    renders it as text.
    """
    if not node_id:
        return {}
    if node_id.startswith("more:"):
        return _aggregate(node_id, payload)
    rec = EntityRegistry.record(node_id)
    if rec.cls is FunctionExecution:
        return _execution(rec)
    return _entity(rec)


def _aggregate(node_id: str, payload: dict[str, Any] | None) -> dict[str, Any]:
    node = next((n for n in (payload or {}).get("nodes", ()) if n["id"] == node_id), None)
    if node is None:
        msg = f"No node {node_id!r} in the current view."
        raise KeyError(msg)
    return {"id": node_id, "kind": "aggregate", "label": node["label"], "count": node["count"], "members": node["members"][:MAX_ITEMS]}


def _entity(rec: VersionRecord) -> dict[str, Any]:
    eid = str(rec.ecs_id)
    history = EntityRegistry.history(rec.lineage_id)
    shown = history[-MAX_VERSIONS:]
    if rec.ecs_id not in shown:
        shown = [rec.ecs_id, *shown[1:]]
    latest = history[-1]
    fields = fields_of(rec)
    out: dict[str, Any] = {
        "id": eid,
        "kind": "entity",
        "label": label_of(rec.ecs_id),
        "type": stored_type_name(rec),
        "type_path": f"{rec.plain[0]} (class not defined in this process)" if rec.cls is UntypedEntity else rec.type_path,
        "lineage_id": str(rec.lineage_id),
        "created_at": rec.created_at.isoformat(),
        "fields": {k: jsonable(v) for k, v in fields.items()},
        "provenance": {k: jsonable(_as_refs(v)) for k, v in rec.attribute_source.items() if source_ids(v)},
        "versions": [
            {
                "id": str(v),
                "created_at": EntityRegistry.record(v).created_at.isoformat(),
                "selected": v == rec.ecs_id,
                "latest": v == latest,
            }
            for v in shown
        ],
        "version_count": len(history),
        "derived_from_function": rec.derived_from_function,
        "execution": _made_by(rec),
    }
    if rec.cls is Variable:
        image = _image(fields.get("value"))
        if image is not None:
            out["image"] = image
    return out


def _image(value: Any) -> dict[str, Any] | None:
    """A recorded figure's PNG rendering for the panel: ``{"mime", "base64", "bytes"}``, or ``{"note"}`` saying why not.

    Only values our PNG codec wrote qualify (header ``{"format": 1, "codec": "png", "part": key}``). The
    part is read now, for this one node, and embedded only if its bytes match their key (as ``get``
    checks) and it is a PNG (by its signature) of at most ``MAX_IMAGE_BYTES``. Stored data is not
    trusted: anything else is a note, never an image.
    """
    header = value.header if isinstance(value, StoredValue) else None
    if not isinstance(header, dict) or header.get("codec") != "png" or header.get("format") != FORMAT_VERSION:
        return None
    key = header.get("part")
    if not isinstance(key, str) or key not in value.parts:
        return {"note": "figure not shown: its stored header is damaged"}
    try:
        data = EntityRegistry.store.get_part(key)
        size = memoryview(data).nbytes
        if size > MAX_IMAGE_BYTES:
            shown = MAX_IMAGE_BYTES // 2**20
            return {"note": f"figure not shown: its PNG is {size / 2**20:.1f} MiB (the panel shows up to {shown} MiB); get() returns it"}
        raw = bytes(data)
    except EcsError as exc:  # a part removed by gc, or unreadable
        return {"note": f"figure not shown: {_first_line(exc)}"}
    if part_key(raw) != key:
        return {"note": "figure not shown: its stored bytes do not match their key (changed or truncated)"}
    if not raw.startswith(PNG_SIGNATURE):
        return {"note": "figure not shown: the stored image is not a PNG"}
    return {"mime": "image/png", "base64": base64.b64encode(raw).decode("ascii"), "bytes": size}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return _cut(text.splitlines()[0]) if text else type(exc).__name__


def fields_of(rec: VersionRecord) -> dict[str, Any]:
    """A version's field values by name, in class order, child entities as references."""
    values = record_fields(rec, _Ref)
    if rec.cls is UntypedEntity:
        return values  # a class that could not be imported: its data, as addresses see it
    return {name: values[name] for name in class_info(rec.cls).data_fields if name in values}


def _as_refs(source: Any) -> Any:
    """attribute_source values (an ecs_id, or a list/dict of them) as references to those versions."""
    if isinstance(source, UUID):
        return _Ref(source)
    if isinstance(source, list):
        return [_as_refs(s) for s in source]
    if isinstance(source, dict):
        return {k: _as_refs(s) for k, s in source.items()}
    return source


def _made_by(rec: VersionRecord) -> dict[str, Any] | None:
    xid = rec.derived_from_execution_id
    if xid is None or not EntityRegistry.has(xid):
        return None
    x = EntityRegistry.record(xid).plain_dict()
    outputs = list(x["output_entity_ids"])
    semantics = list(x["semantics"] or [])
    direct = rec.ecs_id in outputs
    return {
        "id": str(xid),
        "function_name": x["function_name"],
        "succeeded": x["succeeded"],
        "started_at": x["started_at"].isoformat() if x["started_at"] else None,
        "duration_s": x["duration_s"],
        "semantics": _semantics(semantics, outputs.index(rec.ecs_id)) if direct else None,
        "direct": direct,  # False: an earlier version of this lineage was the output
        "inputs": [_ref_row(i) for i in x["input_entity_ids"]],
    }


def _execution(rec: VersionRecord) -> dict[str, Any]:
    x = rec.plain_dict()
    keys = ("function_name", "code_version", "succeeded", "started_at", "duration_s", "cached", "error_type", "error_message")
    fields = {k: jsonable(x.get(k)) for k in keys if k in x}
    if x.get("traceback"):
        fields["traceback"] = jsonable(x["traceback"][-MAX_TEXT:])
    outputs = list(x["output_entity_ids"])
    semantics = list(x["semantics"] or [])
    return {
        "id": str(rec.ecs_id),
        "kind": "execution",
        "label": f"{x['function_name']}()",
        "type": None,
        "fields": fields,
        "inputs": [_ref_row(i) for i in x["input_entity_ids"]],
        "outputs": [{**_ref_row(o), "semantics": _semantics(semantics, k)} for k, o in enumerate(outputs)],
    }


def _semantics(semantics: list[Any], k: int) -> str | None:
    return str(getattr(semantics[k], "value", semantics[k])) if k < len(semantics) else None


def _ref_row(eid: UUID) -> dict[str, Any]:
    return {"id": str(eid), "label": label_of(eid)}


def label_of(eid: UUID) -> str:
    """The graph's label of a version ("Student Ada"), or its type and short id."""
    g = default_graph()
    i = g.index_of(eid)
    if i is not None:  # the graph keeps one attribute dict per node; reading it avoids building networkx
        label = g.attrs(i).get("label")
        if label:
            return str(label)
    try:
        return f"{EntityRegistry.record(eid).cls.__name__} {short(eid)}"
    except KeyError:
        return short(eid)


def jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON the widget can sync: long containers and strings cut, unknown types as repr."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, _Ref):
        return {"entity": str(value.ecs_id), "label": label_of(value.ecs_id)}
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return jsonable(value.value, depth)
    if depth >= 6:
        return _cut(repr(value))
    if isinstance(value, dict):
        items = list(value.items())
        out = {str(k): jsonable(v, depth + 1) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            out["…"] = f"{len(items) - MAX_ITEMS} more"
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        seq = list(value)
        if isinstance(value, (set, frozenset)):
            seq.sort(key=repr)
        out_list = [jsonable(v, depth + 1) for v in seq[:MAX_ITEMS]]
        if len(seq) > MAX_ITEMS:
            out_list.append(f"… {len(seq) - MAX_ITEMS} more")
        return out_list
    if isinstance(value, BaseModel):
        try:
            return jsonable(value.model_dump(mode="json"), depth + 1)
        except Exception:
            return _cut(repr(value))
    return _cut(repr(value))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"
