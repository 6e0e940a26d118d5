"""Exact, pickle-free value codecs: a value <-> (a small JSON-able header, content-addressed binary parts).

``encode(value)`` returns :class:`Encoded`: a header (JSON types only) and the parts it names, each keyed
by the XXH3-128 of its bytes, so a store keeps every part once however many values refer to it (each
DataFrame column is its own part: changing one column of a wide frame makes one new part).
``decode(header, parts)`` rebuilds the value from the codecs registered here only: it never imports or
calls anything a header names, never unpickles, and checks every part against its key, so a corrupt,
truncated or hostile part raises :class:`~ecs_notebook.core.errors.StoreError`.

Formats: DataFrame / Series / Index -> one part per column (``.npy`` for numpy dtypes, Arrow IPC for
extension dtypes, JSON for object columns); numpy arrays -> ``.npy`` (``allow_pickle`` never); Python
scalars and containers -> JSON (large runs in parts); fitted scikit-learn estimators -> ``skops.io``
(only types skops trusts by default are loaded); matplotlib Figures -> PNG (decoded as :class:`PngImage`).

>>> enc = encode({"a": [1, 2.5, None]})
>>> decode(enc.header, enc.parts)
{'a': [1, 2.5, None]}
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import sys
import uuid
from array import array
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from xxhash import xxh3_128_hexdigest

from ..errors import StoreError

__all__ = ["Encoded", "NoCodecError", "PngImage", "decode", "encode", "encode_for", "has_codec", "part_key"]

FORMAT_VERSION = 1
#: Containers with at least this many items go to a part of their own (stored once, shared).
LARGE_CONTAINER = 1024
Buffer = Any  # bytes, bytearray, memoryview, pyarrow.Buffer: anything with the buffer protocol


class Encoded(NamedTuple):
    """An encoded value: ``header`` (JSON types only) and ``parts`` (key -> bytes) it refers to."""

    header: dict[str, Any]
    parts: dict[str, Buffer]


class NoCodecError(TypeError):
    """The value (or a part of it) has no exact, pickle-free codec: record it by type, repr and fingerprint."""


class PngImage:
    """A stored matplotlib Figure as read back: its PNG rendering (``.data``), shown by IPython."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _repr_png_(self) -> bytes:
        return self.data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PngImage) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)

    def __repr__(self) -> str:
        return f"PngImage({len(self.data):,} bytes)"


def part_key(data: Buffer) -> str:
    """The key of a part: XXH3-128 of its bytes, 32 hex characters."""
    return xxh3_128_hexdigest(data)


def part_size(part: Any) -> int:
    """The size in bytes of a part of ``Encoded.parts`` (a buffer, or an array's ``NpyPart``)."""
    chunks = getattr(part, "chunks", None)
    return int(part.nbytes) if callable(chunks) else memoryview(part).nbytes


def part_chunks(part: Any) -> list[Buffer]:
    """The bytes of a part as buffers to write one after the other (an ``NpyPart``: header, then the array)."""
    chunks = getattr(part, "chunks", None)
    return list(chunks()) if callable(chunks) else [part]


def part_bytes(part: Any) -> Buffer:
    """The bytes of a part in one buffer (joined, for an ``NpyPart``)."""
    chunks = getattr(part, "chunks", None)
    return b"".join(memoryview(c).cast("B") for c in chunks()) if callable(chunks) else part


def encode(value: object) -> Encoded:
    """Encode ``value`` exactly; raise :class:`NoCodecError` if it (or a member) has no codec."""
    enc = ValueEncoder()
    header = enc.value(value)
    header["format"] = FORMAT_VERSION
    return Encoded(header, enc.parts)


def encode_for(value: object, skip: Callable[[str], bool]) -> tuple[Encoded, list[str]]:
    """Encode ``value`` for a destination that already holds the parts ``skip`` accepts.

    Returns the encoding (its ``parts``: only those to store) and the keys of every part the header
    names (stored ones included), so an unchanged column of a changed frame costs a hash, not a copy.
    """
    enc = ValueEncoder(skip)
    header = enc.value(value)
    header["format"] = FORMAT_VERSION
    return Encoded(header, enc.parts), [*enc.parts, *(k for k in enc.skipped if k not in enc.parts)]


def has_codec(value: object) -> bool:
    """Whether :func:`encode` can store ``value`` (encodes it to find out: use on small values)."""
    try:
        encode(value)
    except NoCodecError:
        return False
    return True


def decode(header: Mapping[str, Any], parts: Mapping[str, Buffer] | Callable[[str], Buffer]) -> Any:
    """Rebuild a value from its header and parts (a mapping or a loader ``key -> bytes``)."""
    if not isinstance(header, Mapping) or header.get("format") != FORMAT_VERSION:
        msg = f"Stored value header is not a format-{FORMAT_VERSION} value header; the store may be damaged or newer than this ecs_notebook"
        raise StoreError(msg)
    dec = ValueDecoder(parts)
    try:
        return dec.value(header)
    except StoreError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError, RecursionError) as exc:
        msg = f"Stored value is malformed ({type(exc).__name__}: {str(exc)[:200]}); the store may be damaged"
        raise StoreError(msg) from exc


# -- encoding --------------------------------------------------------------------------------------


class ValueEncoder:
    """One encoding: collects the parts, dispatches on type (registered codecs only).

    ``skip(key)``: parts the destination already holds; an array part whose key it accepts is never
    built (its key is computed over the array's memory, without a copy), only listed in ``skipped``.
    """

    def __init__(self, skip: Callable[[str], bool] | None = None) -> None:
        self.parts: dict[str, Buffer] = {}
        self.skip = skip
        self.skipped: list[str] = []

    def add(self, data: Buffer) -> str:
        key = part_key(data)
        self.parts.setdefault(key, data)
        return key

    def add_npy(self, a: Any) -> str:
        """An array's ``.npy`` part; not built when ``skip`` says the destination has it already.

        For a destination (``skip`` given), a contiguous array's part is an ``NpyPart``: its header and
        the array's own memory, written without a copy.
        """
        from ._numpy_codec import npy_bytes, npy_part

        if self.skip is not None:
            found = npy_part(a)
            if found is not None:
                key, part = found
                if key in self.parts or key in self.skipped:
                    return key
                if self.skip(key):
                    self.skipped.append(key)
                else:
                    self.parts[key] = part
                return key
        return self.add(npy_bytes(a))

    def value(self, value: object) -> dict[str, Any]:
        """The header of a top-level (or nested, non-JSON) value."""
        codec = _codec_for(value)
        if codec is None:
            return {"codec": "py", "node": self.node(value)}
        return codec(self, value)

    def node(self, v: object) -> Any:
        """A JSON node for a Python value: natives where unambiguous, tagged objects otherwise."""
        t = type(v)
        if v is None or t is bool or t is str:
            return v
        if t is int:
            return v if -(2**53) <= v <= 2**53 else {"int": str(v)}  # type: ignore[operator]
        if t is float:
            return {"f": repr(v)}
        if t is list or t is tuple or t is set or t is frozenset:
            items: list[Any] = list(v) if t is list or t is tuple else _sorted_members(v)  # type: ignore[call-overload]
            kind = t.__name__
            if len(items) >= LARGE_CONTAINER:
                return {kind: self.large(items)}
            return {kind: [self.node(x) for x in items]}
        if t is dict:
            pairs = list(v.items())  # type: ignore[attr-defined]
            if len(pairs) >= LARGE_CONTAINER:
                return {"dict": self.large([list(p) for p in pairs], pairs=True)}
            return {"dict": [[self.node(k), self.node(x)] for k, x in pairs]}
        if t is bytes or t is bytearray:
            if len(v) >= 4096:  # type: ignore[arg-type]
                return {t.__name__: {"part": self.add(bytes(v))}}  # type: ignore[call-overload]
            return {t.__name__: base64.b64encode(v).decode("ascii")}  # type: ignore[arg-type]
        if t is complex:
            return {"complex": [repr(v.real), repr(v.imag)]}  # type: ignore[attr-defined]
        scalar = _SCALAR_NODES.get(t)
        if scalar is not None:
            return scalar(v)
        missing = _pandas_missing(v)
        if missing is not None:
            return {"pd": missing}
        return {"value": self.value(v)}

    def large(self, items: list[Any], pairs: bool = False) -> dict[str, Any]:
        """A long run of items as a part: packed numbers, else the JSON of its nodes."""
        if not pairs:
            kinds = set(map(type, items))
            if kinds == {float}:
                return {"f8": self.add(array("d", items).tobytes()), "n": len(items)}
            if kinds == {int}:
                try:
                    return {"i8": self.add(array("q", items).tobytes()), "n": len(items)}
                except OverflowError:
                    pass
            nodes = [self.node(x) for x in items]
        else:
            nodes = [[self.node(k), self.node(x)] for k, x in items]
        return {"json": self.add(json.dumps(nodes, separators=(",", ":"), allow_nan=False).encode())}


def _sorted_members(s: Any) -> list[Any]:
    # Sets in a canonical order so equal sets give equal bytes (and dedup); mixed types by type name.
    try:
        return sorted(s)
    except TypeError:
        return sorted(s, key=lambda x: (type(x).__name__, repr(x)))


def _time_node(v: Any) -> Any:
    tz = v.tzinfo
    if tz is not None and tz is not dt.timezone.utc and not isinstance(tz, dt.timezone):
        zone = getattr(tz, "key", None)  # zoneinfo.ZoneInfo
        if not isinstance(zone, str):
            msg = f"{type(tz).__name__} time zones have no exact codec"
            raise NoCodecError(msg)
        return {type(v).__name__: [v.replace(tzinfo=None).isoformat(), v.fold, zone]}
    return {type(v).__name__: [v.isoformat(), v.fold, None]}


_SCALAR_NODES: dict[type, Callable[[Any], Any]] = {
    dt.datetime: _time_node,
    dt.time: _time_node,
    dt.date: lambda v: {"date": v.isoformat()},
    dt.timedelta: lambda v: {"timedelta": [v.days, v.seconds, v.microseconds]},
    Decimal: lambda v: {"decimal": str(v)},
    uuid.UUID: lambda v: {"uuid": str(v)},
}


def _pandas_missing(v: object) -> str | None:
    """ "NA" / "NaT" for pandas' missing-value singletons, else None."""
    t = type(v)
    if t.__name__ in ("NAType", "NaTType") and t.__module__.startswith("pandas"):
        return "NA" if t.__name__ == "NAType" else "NaT"
    return None


def _codec_for(value: object) -> Callable[[ValueEncoder, Any], dict[str, Any]] | None:
    """The registered codec of a non-JSON value, None for Python scalars/containers."""
    t = type(value)
    if t in _SCALAR_NODES or t in (list, tuple, dict, set, frozenset, str, int, float, bool, bytes, bytearray, complex, type(None)):
        return None
    if _pandas_missing(value) is not None:
        return None
    module = t.__module__
    if module.startswith("numpy"):
        from . import _numpy_codec

        return _numpy_codec.encoder_for(t)
    if module.startswith("pandas"):
        try:
            from . import _frame_codec
        except ImportError as exc:  # pyarrow is what stores pandas columns exactly
            msg = f"Storing pandas values needs pyarrow ({exc}): pip install pyarrow"
            raise NoCodecError(msg) from exc
        codec = _frame_codec.encoder_for(t)
        if codec is not None:
            return codec
    if module.startswith("matplotlib.figure") and t.__name__ in ("Figure", "SubFigure"):
        return _encode_figure
    if "sklearn" in sys.modules:
        from sklearn.base import BaseEstimator

        if isinstance(value, BaseEstimator):
            return _encode_estimator
    msg = f"No exact codec for {module}.{t.__qualname__} values"
    raise NoCodecError(msg)


def _encode_figure(enc: ValueEncoder, fig: Any) -> dict[str, Any]:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return {"codec": "png", "part": enc.add(buf.getvalue())}


def _encode_estimator(enc: ValueEncoder, est: Any) -> dict[str, Any]:
    try:
        import skops.io as sio
    except ImportError as exc:
        msg = "Storing scikit-learn estimators needs skops: pip install 'ecs-notebook[sklearn]'"
        raise NoCodecError(msg) from exc
    try:
        data = sio.dumps(est)
    except Exception as exc:
        msg = f"skops cannot store this {type(est).__name__}: {exc}"
        raise NoCodecError(msg) from exc
    untrusted = sio.get_untrusted_types(data=data)
    if untrusted:
        # It could be stored but never loaded back: treat it as having no codec.
        msg = f"{type(est).__name__} holds types skops does not trust by default ({', '.join(untrusted[:3])})"
        raise NoCodecError(msg)
    return {"codec": "skops", "part": enc.add(data)}


# -- decoding --------------------------------------------------------------------------------------


def corrupt(what: str, detail: object = "") -> StoreError:
    """The one error for any stored value that does not decode."""
    tail = f": {str(detail)[:200]}" if detail else ""
    return StoreError(f"Stored value {what} is corrupt or not what its header says{tail}; the store may be damaged")


class ValueDecoder:
    """One decoding: fetches parts (checked against their keys), dispatches on registered codec names."""

    def __init__(self, parts: Mapping[str, Buffer] | Callable[[str], Buffer]) -> None:
        self._parts = parts

    def part(self, key: object) -> Buffer:
        if not isinstance(key, str) or len(key) != 32:
            raise corrupt("part key", repr(key)[:40])
        try:
            data = part_bytes(self._parts[key]) if isinstance(self._parts, Mapping) else self._parts(key)
        except (KeyError, FileNotFoundError) as exc:
            msg = f"Stored value part {key} is missing from the store (deleted by gc, or the object area was not copied)"
            raise StoreError(msg) from exc
        if part_key(data) != key:
            raise corrupt(f"part {key}", "its bytes do not match its key (truncated or changed)")
        return data

    def value(self, header: Mapping[str, Any]) -> Any:
        if not isinstance(header, Mapping):
            raise corrupt("header", type(header).__name__)
        name = header.get("codec")
        codec = _DECODERS.get(name) if isinstance(name, str) else None
        if codec is None:
            raise corrupt("header", f"unknown codec {str(name)[:60]!r}")
        return codec(self, header)

    def node(self, n: Any) -> Any:
        if n is None or isinstance(n, (bool, str)):
            return n
        if isinstance(n, int):
            return n
        if not isinstance(n, dict) or not n:
            raise corrupt("node", type(n).__name__)
        if len(n) != 1:
            raise corrupt("node", f"{len(n)} keys")
        ((tag, body),) = n.items()
        if tag == "f":
            return float(body)
        if tag in ("list", "tuple", "set", "frozenset"):
            items = self.large(body) if isinstance(body, dict) else [self.node(x) for x in body]
            return items if tag == "list" else _CONTAINERS[tag](items)
        if tag == "dict":
            pairs = self.large(body, pairs=True) if isinstance(body, dict) else [(self.node(k), self.node(v)) for k, v in body]
            return dict(pairs)
        if tag == "int":
            return int(body)
        if tag in ("bytes", "bytearray"):
            raw = bytes(self.part(body["part"])) if isinstance(body, dict) else base64.b64decode(body, validate=True)
            return raw if tag == "bytes" else bytearray(raw)
        if tag == "complex":
            return complex(float(body[0]), float(body[1]))
        if tag == "value":
            return self.value(body)
        if tag == "pd" and body in ("NA", "NaT"):
            import pandas as pd

            return pd.NA if body == "NA" else pd.NaT
        scalar = _SCALAR_DECODERS.get(tag)
        if scalar is None:
            raise corrupt("node", f"unknown tag {tag[:40]!r}")
        return scalar(body)

    def large(self, body: Mapping[str, Any], pairs: bool = False) -> list[Any]:
        if "f8" in body or "i8" in body:
            code = "d" if "f8" in body else "q"
            raw = self.part(body["f8" if code == "d" else "i8"])
            if len(raw) != 8 * int(body["n"]):
                raise corrupt("packed numbers", "length does not match")
            return array(code, bytes(raw)).tolist()
        try:
            nodes = json.loads(bytes(self.part(body["json"])))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise corrupt(f"part {body['json']}", exc) from exc
        if pairs:
            return [(self.node(k), self.node(v)) for k, v in nodes]
        return [self.node(x) for x in nodes]


_CONTAINERS: dict[str, Callable[[list[Any]], Any]] = {"tuple": tuple, "set": set, "frozenset": frozenset}


def _decode_time(kind: str) -> Callable[[Any], Any]:
    parse: Callable[[str], Any] = dt.datetime.fromisoformat if kind == "datetime" else dt.time.fromisoformat

    def dec(body: Any) -> Any:
        text, fold, zone = body
        v = parse(str(text))
        if zone is not None:
            from zoneinfo import ZoneInfo

            v = v.replace(tzinfo=ZoneInfo(str(zone)))  # a time zone key, never a module or callable
        return v.replace(fold=int(fold))

    return dec


_SCALAR_DECODERS: dict[str, Callable[[Any], Any]] = {
    "datetime": _decode_time("datetime"),
    "time": _decode_time("time"),
    "date": lambda b: dt.date.fromisoformat(str(b)),
    "timedelta": lambda b: dt.timedelta(days=int(b[0]), seconds=int(b[1]), microseconds=int(b[2])),
    "decimal": lambda b: Decimal(str(b)),
    "uuid": lambda b: uuid.UUID(str(b)),
}


def _decode_py(dec: ValueDecoder, header: Mapping[str, Any]) -> Any:
    return dec.node(header["node"])


def _decode_png(dec: ValueDecoder, header: Mapping[str, Any]) -> PngImage:
    data = bytes(dec.part(header["part"]))
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise corrupt(f"part {header['part']}", "not a PNG image")
    return PngImage(data)


def _decode_skops(dec: ValueDecoder, header: Mapping[str, Any]) -> Any:
    try:
        import skops.io as sio
    except ImportError as exc:
        msg = "This stored value is a scikit-learn estimator: reading it needs skops (pip install 'ecs-notebook[sklearn]')"
        raise StoreError(msg) from exc
    data = bytes(dec.part(header["part"]))
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise corrupt(f"part {header['part']}", exc) from exc
    if untrusted:
        msg = f"Stored estimator names types skops does not trust by default ({', '.join(map(str, untrusted[:3]))}); not loaded"
        raise StoreError(msg)
    try:
        return sio.loads(data)  # trusted=None: only the types skops trusts by default
    except Exception as exc:
        raise corrupt(f"part {header['part']}", exc) from exc


def _decode_numpy(dec: ValueDecoder, header: Mapping[str, Any]) -> Any:
    try:
        from . import _numpy_codec
    except ImportError as exc:
        msg = f"This stored value is a numpy array: reading it needs numpy ({exc})"
        raise StoreError(msg) from exc

    return _numpy_codec.decode(dec, header)


def _decode_pandas(dec: ValueDecoder, header: Mapping[str, Any]) -> Any:
    try:
        from . import _frame_codec
    except ImportError as exc:
        msg = f"This stored value is a pandas object: reading it needs pandas and pyarrow ({exc})"
        raise StoreError(msg) from exc

    return _frame_codec.decode(dec, header)


#: The only things a header can name: these codec names.
_DECODERS: dict[str, Callable[[ValueDecoder, Mapping[str, Any]], Any]] = {
    "py": _decode_py,
    "png": _decode_png,
    "skops": _decode_skops,
    "npy": _decode_numpy,
    "npy_object": _decode_numpy,
    "np_scalar": _decode_numpy,
    "frame": _decode_pandas,
    "series": _decode_pandas,
    "index": _decode_pandas,
}
