"""Typed JSON codecs for stored values: JSON natives as they are, everything else tagged. Never pickle.

Tagged values are ``{"$t": tag, ...}`` objects. Formats:

=================  ========================================================================
tag                value
=================  ========================================================================
``uuid``           32 hex digits
``datetime``       ISO 8601 (with offset when aware); ``date``, ``time`` likewise
``timedelta``      total seconds
``decimal``        its string
``float``          ``"nan"``, ``"inf"``, ``"-inf"`` (JSON has no such numbers)
``bytes``          base64
``complex``        ``[real, imag]``
``tuple``/``set``  list of items (``frozenset`` too)
``dict``           list of ``[key, value]`` pairs (non-string keys, or a user key named ``$t``)
``enum``           class path + encoded value
``model``          class path + ``model_dump(mode="json")`` (a non-entity pydantic model)
``slots``          a count of child entities
``ndarray``        base64 of ``numpy.save(..., allow_pickle=False)`` (``.npy``)
``dataframe``      ``DataFrame.to_json(orient="table")`` (JSON Table Schema, keeps dtypes/index)
``series``         ``Series.to_json(orient="table")``
``value``          a recorded variable's value: type name, fingerprint, summary, and the header
                   of ``ecs_notebook.core.values.codecs`` naming its parts in the object area (decoded
                   only when the value is asked for)
``unstorable``     type name, ``repr`` and SHA-256 fingerprint of the repr; reloads as an
                   :class:`UnstorableValue` placeholder
=================  ========================================================================

Stored data is never trusted (a store is data, safe to open from anyone): decoding never imports a
module or calls anything a row names. A class path is looked up among the classes already defined in
this process (:func:`ecs_notebook.core.classes.resolve_class`); an enum member is looked up, never made
by calling the class; an unknown class keeps the raw value. A malformed value raises
:class:`ValueError` (the stores report it as a ``StoreError`` naming the version).
"""

from __future__ import annotations

import base64
import enum
import io
import math
import warnings
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from ..core.classes import NO_MEMBER, enum_member, resolve_class
from ..core.tree import SLOT, FrozenSetTemplate, SetTemplate
from ..core.typeinfo import UnstorableValue
from ..core.variable import StoredValue

__all__ = ["Encoder", "UnstorableValue", "decode", "type_path"]

T = "$t"


def type_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class Encoder:
    """Encodes values to JSON-able data; collects warnings about unstorable values by field."""

    __slots__ = ("field",)

    def __init__(self) -> None:
        self.field = ""

    def encode(self, v: Any) -> Any:
        t = type(v)
        if t is int or t is bool or v is None:
            return v
        if t is str:
            if v.isascii() or not _has_surrogate(v):
                return v
            return self._special(v, t)
        if t is float:
            return v if math.isfinite(v) else {T: "float", "v": repr(v)}
        if t is list:
            if len(v) > 8 and _all_slots(v):
                return {T: "slots", "n": len(v)}  # a list of child entities: a count is enough
            return [self.encode(x) for x in v]
        if t is dict:
            if all(type(k) is str for k in v) and T not in v:
                return {k: self.encode(x) for k, x in v.items()}
            return {T: "dict", "v": [[self.encode(k), self.encode(x)] for k, x in v.items()]}
        if t is UUID:
            return {T: "uuid", "v": v.hex}
        if v is SLOT:
            return {T: "slot"}
        if t is SetTemplate or t is FrozenSetTemplate:
            return {T: "settpl" if t is SetTemplate else "fsettpl", "v": [self.encode(x) for x in v]}
        if t is tuple:
            return {T: "tuple", "v": [self.encode(x) for x in v]}
        if t is set or t is frozenset:
            return {T: t.__name__, "v": [self.encode(x) for x in v]}
        if t is datetime:
            return {T: "datetime", "v": v.isoformat()}
        if t is date:
            return {T: "date", "v": v.isoformat()}
        if t is time:
            return {T: "time", "v": v.isoformat()}
        if t is timedelta:
            return {T: "timedelta", "v": [v.days, v.seconds, v.microseconds]}
        if t is Decimal:
            return {T: "decimal", "v": str(v)}
        if t is bytes or t is bytearray:
            return {T: "bytes", "v": base64.b64encode(v).decode()}
        if t is complex:
            return {T: "complex", "v": [v.real, v.imag]}
        if t is StoredValue:  # a recorded variable's value: its header names parts in the object area
            return {
                T: "value",
                "c": v.type_name,
                "fp": v.fingerprint,
                "s": v.summary,
                "h": v.header,
                "p": list(v.parts),
                "n": v.nbytes,
                "i": v.by_identity,
                "r": v.reason,
                "x": v.sample,
            }
        if t is UnstorableValue:  # a placeholder read back: store it as it was
            return {T: "unstorable", "c": v.type_name, "r": v.repr_text, "fp": v.fingerprint}
        try:
            return self._special(v, t)
        except Exception:  # a codec that cannot handle this value: keep a placeholder, never lose the version
            return self._unstorable(v)

    def _special(self, v: Any, t: type) -> Any:
        if isinstance(v, enum.Enum):
            return {T: "enum", "c": type_path(t), "v": self.encode(v.value)}
        if isinstance(v, BaseModel):
            return {T: "model", "c": type_path(t), "v": v.model_dump(mode="json")}
        if isinstance(v, str):  # a str subclass, or a string with lone surrogates
            return {T: "str", "v": base64.b64encode(str(v).encode("utf-8", "surrogatepass")).decode()}
        mod = t.__module__.split(".")[0]
        if mod == "numpy":
            return self._numpy(v)
        if mod == "pandas":
            return self._pandas(v)
        return self._unstorable(v)

    def _numpy(self, v: Any) -> Any:
        import numpy as np

        if isinstance(v, np.ndarray):
            if v.dtype.hasobject:
                return self._unstorable(v)
            buf = io.BytesIO()
            np.save(buf, v, allow_pickle=False)
            return {T: "ndarray", "v": base64.b64encode(buf.getvalue()).decode()}
        if isinstance(v, np.generic):
            return self.encode(v.item())
        return self._unstorable(v)

    def _pandas(self, v: Any) -> Any:
        import pandas as pd

        if isinstance(v, pd.DataFrame):
            if isinstance(v.columns, pd.MultiIndex) or isinstance(v.index, pd.MultiIndex):
                msg = "MultiIndex frames have no lossless JSON form here"
                raise NotImplementedError(msg)
            if all(isinstance(c, str) for c in v.columns) and not isinstance(v.columns, pd.MultiIndex):
                return {T: "dataframe", "v": v.to_json(orient="table")}
            # non-string column labels: the split layout keeps them (Table Schema needs strings)
            return {T: "dataframe", "o": "split", "v": v.to_json(orient="split"), "dt": [str(x) for x in v.dtypes]}
        if isinstance(v, pd.Series):
            return {
                T: "series",
                "v": v.to_frame(name="values" if v.name is None else v.name).to_json(orient="table"),
                "unnamed": v.name is None,
            }
        if isinstance(v, pd.Timestamp):
            return {T: "datetime", "v": v.isoformat()}
        return self._unstorable(v)

    def _unstorable(self, v: Any) -> Any:
        placeholder = UnstorableValue.of(v)
        text = placeholder.repr_text
        tname = placeholder.type_name
        where = f" in field {self.field!r}" if self.field else ""
        warnings.warn(
            f"A value of type {tname}{where} cannot be stored (no codec; pickle is never used). "
            "It is recorded as a placeholder with its repr and fingerprint.",
            UserWarning,
            stacklevel=6,
        )
        return {T: "unstorable", "c": tname, "r": text, "fp": placeholder.fingerprint}


def _all_slots(items: list[Any]) -> bool:
    """Whether every item is SLOT (C speed; by identity when an item's == gives no bool, as a DataFrame's)."""
    try:
        return items.count(SLOT) == len(items)
    except (ValueError, TypeError):
        return all(x is SLOT for x in items)


def _has_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


#: Most child entities one stored list may count (a bound, so a hostile count cannot exhaust memory).
MAX_SLOTS = 1 << 24


def decode(v: Any) -> Any:
    """Inverse of Encoder.encode. Raises ValueError (or TypeError) on a malformed value; never runs stored code."""
    t = type(v)
    if t is list:
        return [decode(x) for x in v]
    if t is not dict:
        return v
    tag = v.get(T)
    if tag is None:
        return {k: decode(x) for k, x in v.items()}
    decoder = _DECODERS.get(tag) if type(tag) is str else None
    if decoder is None:
        msg = f"unknown value tag {str(tag)[:40]!r}"
        raise ValueError(msg)
    return decoder(v)


def _decode_model(v: dict[str, Any]) -> Any:
    data = v.get("v")
    cls = resolve_class(v.get("c"), "model")
    if cls is None:  # no such model defined in this process: keep the data
        return data
    try:
        return cls.model_validate(data)  # type: ignore[attr-defined]
    except Exception:  # the class changed since: keep the data
        return data


def _decode_enum(v: dict[str, Any]) -> Any:
    value = decode(v["v"])
    cls = resolve_class(v["c"], "enum")
    if cls is None:  # no such enum defined in this process (or the path names something else)
        return value
    member = enum_member(cls, value)  # type: ignore[arg-type]
    return value if member is NO_MEMBER else member


def _decode_slots(v: dict[str, Any]) -> list[Any]:
    n = v["n"]
    if type(n) is not int or not 0 <= n <= MAX_SLOTS:
        msg = f"bad child count {str(n)[:40]!r}"
        raise ValueError(msg)
    return [SLOT] * n


def _decode_ndarray(v: dict[str, Any]) -> Any:
    import numpy as np
    from numpy.lib import format as npy

    raw = base64.b64decode(v["v"], validate=True)
    buf = io.BytesIO(raw)
    # The header says how many bytes follow: check it before numpy allocates the array.
    major, _minor = npy.read_magic(buf)
    reader = npy.read_array_header_1_0 if major == 1 else npy.read_array_header_2_0
    shape, _fortran, dtype = reader(buf)
    if dtype.hasobject:
        msg = "an object array (it would need unpickling)"
        raise ValueError(msg)
    if math.prod(shape) * dtype.itemsize != len(raw) - buf.tell():
        msg = f"an array of shape {shape} does not fit its {len(raw) - buf.tell()} stored bytes"
        raise ValueError(msg)
    return np.load(io.BytesIO(raw), allow_pickle=False)


def _decode_unstorable(v: dict[str, Any]) -> UnstorableValue:
    c, r, fp = v["c"], v["r"], v["fp"]
    if not (type(c) is str and type(r) is str and type(fp) is str):
        msg = "a placeholder of an unstorable value whose fields are not text"
        raise ValueError(msg)
    return UnstorableValue(c, r, fp)


def _decode_stored_value(v: dict[str, Any]) -> StoredValue:
    """A recorded variable's value handle; its header is decoded (by the value codecs) only when asked for."""
    c, fp, summary, by_identity = v["c"], v["fp"], v["s"], v.get("i", False)
    header, parts, nbytes, reason, sample = v.get("h"), v.get("p", []), v.get("n", 0), v.get("r", ""), v.get("x", "")
    if not (
        type(c) is str
        and type(fp) is str
        and type(summary) is str
        and type(by_identity) is bool
        and (header is None or type(header) is dict)
        and type(parts) is list
        and all(type(p) is str for p in parts)
        and type(nbytes) is int
        and type(reason) is str
        and type(sample) is str
    ):
        msg = "a stored variable value whose fields are not of the expected types"
        raise ValueError(msg)
    return StoredValue(c, fp, summary, header, tuple(parts), nbytes, by_identity, reason, sample)


def _pairs(v: Any) -> list[Any]:
    if type(v) is not list:
        msg = f"expected a list, got {type(v).__name__}"
        raise ValueError(msg)
    return v


def _hashable(v: Any) -> Any:
    hash(v)  # a set item: TypeError now rather than when the set is filled
    return v


def _text(v: Any) -> str:
    if type(v) is not str:
        msg = f"expected text, got {type(v).__name__}"
        raise ValueError(msg)
    return v


def _decode_frame(v: dict[str, Any], series: bool) -> Any:
    import pandas as pd

    text = _text(v["v"])  # read from memory only: pandas would open a path or URL given as a string
    if v.get("o") == "split":
        frame = pd.read_json(io.StringIO(text), orient="split")
        for col, dtype in zip(frame.columns, _pairs(v.get("dt", []))):
            if type(dtype) is not str:
                continue
            try:
                frame[col] = frame[col].astype(dtype)
            except (TypeError, ValueError):
                pass
        return frame
    frame = pd.read_json(io.StringIO(text), orient="table")
    if not series:
        return frame
    out = frame.iloc[:, 0]
    if v.get("unnamed"):
        out.name = None
    return out


_DECODERS: dict[str, Any] = {
    "uuid": lambda v: UUID(hex=_text(v["v"])),
    "slot": lambda v: SLOT,
    "slots": _decode_slots,
    "settpl": lambda v: SetTemplate(_hashable(decode(x)) for x in _pairs(v["v"])),
    "fsettpl": lambda v: FrozenSetTemplate(_hashable(decode(x)) for x in _pairs(v["v"])),
    "tuple": lambda v: tuple(decode(x) for x in _pairs(v["v"])),
    "set": lambda v: {decode(x) for x in _pairs(v["v"])},
    "frozenset": lambda v: frozenset(decode(x) for x in _pairs(v["v"])),
    "dict": lambda v: {decode(k): decode(x) for k, x in _pairs(v["v"])},
    "float": lambda v: float(_text(v["v"])),
    "datetime": lambda v: datetime.fromisoformat(_text(v["v"])),
    "date": lambda v: date.fromisoformat(_text(v["v"])),
    "time": lambda v: time.fromisoformat(_text(v["v"])),
    "timedelta": lambda v: timedelta(*_pairs(v["v"])) if isinstance(v["v"], list) else timedelta(seconds=v["v"]),
    "decimal": lambda v: Decimal(_text(v["v"])),
    "bytes": lambda v: base64.b64decode(_text(v["v"]), validate=True),
    "complex": lambda v: complex(*(float(x) for x in _pairs(v["v"]))),
    "enum": _decode_enum,
    "model": _decode_model,
    "ndarray": _decode_ndarray,
    "dataframe": lambda v: _decode_frame(v, False),
    "series": lambda v: _decode_frame(v, True),
    "unstorable": _decode_unstorable,
    "value": _decode_stored_value,
    "str": lambda v: base64.b64decode(_text(v["v"]), validate=True).decode("utf-8", "surrogatepass"),
}
