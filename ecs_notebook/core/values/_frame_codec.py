"""pandas DataFrame / Series / Index: one part per column, every dtype exact.

numpy-dtype columns are ``.npy`` parts; extension dtypes (nullable, category, tz-aware datetimes,
strings, Arrow-backed, period, interval) single-column Arrow IPC streams; object columns JSON items.
Row and column labels (RangeIndex, Index, MultiIndex, names, datetime freq) are described the same way,
so non-string column labels and MultiIndex columns round-trip. Arrow parts are validated in full and
may carry only the extension types pandas registers (a pickled ``arrow.py_extension_type`` is refused).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ._arrays import frame_columns
from ._numpy_codec import object_array, read_npy
from .codecs import NoCodecError, corrupt

if TYPE_CHECKING:
    from .codecs import ValueDecoder, ValueEncoder

#: Arrow extension types a stored column may use (both registered by pandas, JSON-serialized).
_ALLOWED_EXTENSIONS = frozenset({"pandas.period", "pandas.interval"})
_NA_VALUES = {"NA": pd.NA, "nan": np.nan}


def encoder_for(t: type) -> Callable[[ValueEncoder, Any], dict[str, Any]] | None:
    if issubclass(t, pd.DataFrame):
        return _encode_frame
    if issubclass(t, pd.Series):
        return _encode_series
    if issubclass(t, pd.Index):
        return lambda enc, idx: {"codec": "index", "index": _index(enc, idx)}
    if issubclass(t, pd.api.extensions.ExtensionArray):
        return lambda enc, arr: {"codec": "series", "array": True, **_series_spec(enc, pd.Series(arr, copy=False))}
    if issubclass(t, (pd.Timestamp, pd.Timedelta, pd.Period, pd.Interval)):
        return lambda enc, x: {"codec": "series", "scalar": True, **_series_spec(enc, pd.Series([x]))}
    return None


# -- encoding --------------------------------------------------------------------------------------


def _encode_frame(enc: ValueEncoder, df: pd.DataFrame) -> dict[str, Any]:
    header: dict[str, Any] = {
        "codec": "frame",
        "columns": _index(enc, df.columns),
        "index": _index(enc, df.index),
        "data": [_column(enc, column) for column in frame_columns(df)],
    }
    if df.attrs:
        header["attrs"] = enc.node(dict(df.attrs))
    return header


def _encode_series(enc: ValueEncoder, s: pd.Series[Any]) -> dict[str, Any]:
    return {"codec": "series", **_series_spec(enc, s)}


def _series_spec(enc: ValueEncoder, s: pd.Series[Any]) -> dict[str, Any]:
    spec = {"name": enc.node(s.name), "values": _column(enc, s.array), "index": _index(enc, s.index)}
    if s.attrs:
        spec["attrs"] = enc.node(dict(s.attrs))
    return spec


def _index(enc: ValueEncoder, idx: pd.Index[Any]) -> dict[str, Any]:
    if type(idx) is pd.RangeIndex:
        return {"kind": "range", "start": idx.start, "stop": idx.stop, "step": idx.step, "name": enc.node(idx.name)}
    if isinstance(idx, pd.MultiIndex):
        levels = [_column(enc, idx.get_level_values(i).array) for i in range(idx.nlevels)]
        return {"kind": "multi", "levels": levels, "names": [enc.node(n) for n in idx.names]}
    spec = {"kind": "index", "values": _column(enc, idx.array), "name": enc.node(idx.name)}
    freq = getattr(idx, "freqstr", None)
    if freq is not None:
        spec["freq"] = freq
    return spec


def _column(enc: ValueEncoder, arr: Any) -> dict[str, Any]:
    """One column (or index level) as one part."""
    if type(arr) is pd.arrays.NumpyExtensionArray or (  # (not its StringArray subclass)
        isinstance(arr, (pd.arrays.DatetimeArray, pd.arrays.TimedeltaArray)) and getattr(arr.dtype, "tz", None) is None
    ):
        arr = arr.to_numpy()
    if isinstance(arr, np.ndarray):
        if arr.dtype.hasobject:
            return {"kind": "objects", "n": len(arr), "items": enc.node(arr.tolist())}
        return {"kind": "npy", "part": enc.add_npy(arr)}
    try:
        table = pa.Table.from_pandas(pd.DataFrame({"v": arr}, copy=False), preserve_index=False)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    except (pa.ArrowException, TypeError, ValueError, NotImplementedError) as exc:
        msg = f"No exact codec for pandas {arr.dtype} columns ({exc})"
        raise NoCodecError(msg) from exc
    spec: dict[str, Any] = {"kind": "arrow", "part": enc.add(sink.getvalue())}
    if isinstance(arr.dtype, pd.StringDtype):
        # Arrow does not say which pandas string storage the column had.
        spec["string"] = [arr.dtype.storage, "NA" if arr.dtype.na_value is pd.NA else "nan"]
    return spec


# -- decoding --------------------------------------------------------------------------------------


def decode(dec: ValueDecoder, header: Mapping[str, Any]) -> Any:
    codec = header["codec"]
    if codec == "frame":
        return _decode_frame(dec, header)
    if codec == "series":
        s = _decode_series(dec, header)
        if header.get("scalar"):
            if len(s) != 1:
                raise corrupt("pandas scalar", "not one value")
            return s.iloc[0]
        return s.array if header.get("array") else s
    return _read_index(dec, header["index"])


def _decode_frame(dec: ValueDecoder, header: Mapping[str, Any]) -> pd.DataFrame:
    columns = _read_index(dec, header["columns"])
    index = _read_index(dec, header["index"])
    data = [_read_column(dec, spec) for spec in header["data"]]
    if len(data) != len(columns) or any(len(a) != len(index) for a in data):
        raise corrupt("DataFrame", "column count or lengths do not match its labels")
    df = pd.DataFrame({i: _as_series(a, index) for i, a in enumerate(data)}, index=index, copy=False)
    df.columns = columns
    if "attrs" in header:
        df.attrs = _attrs(dec, header["attrs"])
    return df


def _decode_series(dec: ValueDecoder, header: Mapping[str, Any]) -> pd.Series[Any]:
    index = _read_index(dec, header["index"])
    s = _as_series(_read_column(dec, header["values"]), index)
    if len(s) != len(index):
        raise corrupt("Series", "length does not match its index")
    s.name = dec.node(header["name"])
    if "attrs" in header:
        s.attrs = _attrs(dec, header["attrs"])
    return s


def _attrs(dec: ValueDecoder, node: Any) -> dict[Any, Any]:
    attrs = dec.node(node)
    if not isinstance(attrs, dict):
        raise corrupt("attrs", type(attrs).__name__)
    return attrs


def _as_series(arr: Any, index: pd.Index[Any]) -> pd.Series[Any]:
    # An explicit dtype keeps object columns object (pandas 3 would infer ``str`` from strings).
    return pd.Series(arr, index=index, dtype=arr.dtype, copy=False)


def _read_index(dec: ValueDecoder, spec: Mapping[str, Any]) -> pd.Index[Any]:
    kind = spec["kind"]
    if kind == "range":
        return pd.RangeIndex(int(spec["start"]), int(spec["stop"]), int(spec["step"]), name=dec.node(spec["name"]))
    if kind == "multi":
        levels = [_index_of(_read_column(dec, s)) for s in spec["levels"]]
        names = [dec.node(n) for n in spec["names"]]
        if not levels or len(names) != len(levels) or len({len(lv) for lv in levels}) != 1:
            raise corrupt("MultiIndex", "levels and names do not match")
        return pd.MultiIndex.from_arrays(levels, names=names)
    if kind != "index":
        raise corrupt("index", f"unknown kind {str(kind)[:40]!r}")
    idx = _index_of(_read_column(dec, spec["values"]), dec.node(spec["name"]))
    freq = spec.get("freq")
    if freq is not None:
        if not isinstance(idx, (pd.DatetimeIndex, pd.TimedeltaIndex)):
            raise corrupt("index", "a frequency on an index that cannot have one")
        idx = type(idx)(idx, freq=str(freq))
    return idx


def _index_of(arr: Any, name: Any = None) -> pd.Index[Any]:
    return pd.Index(arr, dtype=arr.dtype, name=name, copy=False, tupleize_cols=False)


def _read_column(dec: ValueDecoder, spec: Mapping[str, Any]) -> Any:
    kind = spec["kind"]
    if kind == "npy":
        return read_npy(dec.part(spec["part"]), f"part {spec['part']}")
    if kind == "objects":
        n = int(spec["n"])
        return object_array(dec.node(spec["items"]), (n,), "object column")
    if kind != "arrow":
        raise corrupt("column", f"unknown kind {str(kind)[:40]!r}")
    key = spec["part"]
    try:
        reader = pa.ipc.open_stream(pa.py_buffer(dec.part(key)))
        _check_schema(reader.schema, key)
        table = reader.read_all()
        table.validate(full=True)  # offsets and lengths checked before pandas reads them
        if table.num_columns != 1:
            raise corrupt(f"part {key}", "not one column")
        arr = table.to_pandas().iloc[:, 0].array
    except (pa.ArrowException, OSError, ValueError, TypeError, KeyError) as exc:
        raise corrupt(f"part {key}", exc) from exc
    string = spec.get("string")
    if string is not None:
        storage, na = str(string[0]), str(string[1])
        if storage not in ("python", "pyarrow") or na not in _NA_VALUES:
            raise corrupt("column", "unknown string storage")
        dtype = pd.StringDtype(storage=storage, na_value=_NA_VALUES[na])
        if arr.dtype != dtype or type(arr.dtype) is not type(dtype):
            arr = arr.astype(dtype)
    return arr


def _check_schema(schema: pa.Schema, key: str) -> None:
    for field in schema:
        _check_field(field, key)


def _check_field(field: pa.Field, key: str) -> None:
    meta = field.metadata or {}
    name = meta.get(b"ARROW:extension:name")
    if name is not None and name.decode("utf-8", "replace") not in _ALLOWED_EXTENSIONS:
        raise corrupt(f"part {key}", f"Arrow extension type {name.decode('utf-8', 'replace')[:60]!r} is not allowed; refused")
    t = field.type
    if isinstance(t, pa.ExtensionType) and t.extension_name not in _ALLOWED_EXTENSIONS:
        raise corrupt(f"part {key}", f"Arrow extension type {t.extension_name[:60]!r} is not allowed; refused")
    for i in range(t.num_fields):
        _check_field(t.field(i), key)
