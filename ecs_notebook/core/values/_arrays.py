"""Canonical byte forms of numpy arrays, pandas objects and Arrow data, for :mod:`.fingerprint`.

Buffers are hashed where they lie (no copies on the fast path): a numpy array by dtype, shape and its
contiguous buffer; a DataFrame per column (dtype + values) plus its index and column labels; pandas
extension arrays by their parts (masked: data + mask; categorical: codes + categories; Arrow-backed:
the Arrow buffers). Only imported once a numpy, pandas or pyarrow object is met.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from xxhash import xxh3_128

from .fingerprint import Encoder, Walk, name_bytes, str_bytes, walk_items

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: Non-contiguous arrays larger than this are hashed through a buffer of this size.
_STREAM = 1 << 20


def array_encoder(t: type) -> Encoder | None:
    """The encoder for a numpy/pandas/pyarrow type, or None to treat it as a generic object."""
    module = t.__module__
    if module.startswith("numpy"):
        if issubclass(t, np.ma.MaskedArray):
            return _enc_masked
        if issubclass(t, np.ndarray):
            return _enc_ndarray
        if issubclass(t, np.generic):
            return _enc_npscalar
        if issubclass(t, np.dtype):
            return _enc_dtype
        if issubclass(t, np.ufunc):
            return _enc_named
        return None
    if module.startswith("pandas"):
        import pandas as pd

        if issubclass(t, pd.DataFrame):
            return _enc_frame
        if issubclass(t, pd.Series):
            return _enc_series
        if issubclass(t, pd.Index):
            return _enc_index
        if issubclass(t, pd.api.extensions.ExtensionArray):
            return _enc_extension
        return None
    if module.startswith("pyarrow"):
        import pyarrow as pa

        if issubclass(t, (pa.Array, pa.ChunkedArray)):
            return _enc_arrow_array
        if issubclass(t, (pa.Table, pa.RecordBatch)):
            return _enc_arrow_table
    return None


# -- numpy -----------------------------------------------------------------------------------------


def _dtype_bytes(dt: np.dtype[Any]) -> bytes:
    text = repr(dt.descr) if dt.names is not None else dt.str
    return str_bytes(text)


def _enc_ndarray(w: Walk, a: np.ndarray[Any, Any]) -> None:
    dt = a.dtype
    w.buf += b"A" + _dtype_bytes(dt) + b"%d;" % a.ndim + b"".join(b"%d," % n for n in a.shape)
    if dt.names is not None:
        # Field by field: padding bytes between fields are not content.
        for name in dt.names:
            _enc_ndarray(w, a[name])
        return
    if dt.hasobject:
        if w.enter(a):
            items = a.reshape(-1).tolist() if a.ndim else [a.item()]
            walk_items(w, items, len(items))
            w.leave(a)
        return
    if a.flags.c_contiguous:
        flat = a.reshape(-1).view(np.uint8)
        w.data(flat, flat.nbytes)
    elif a.nbytes < _STREAM:
        flat = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
        w.data(flat, flat.nbytes)
    else:
        # A large strided view (a column of an F-ordered block, a[::2]): the same C-order bytes, copied
        # through a small buffer rather than as a whole second array.
        chunks = np.nditer(a, flags=["external_loop", "buffered", "zerosize_ok"], buffersize=_STREAM // a.itemsize, order="C")
        w.data_chunks((_u8(np.ascontiguousarray(c)) for c in chunks), a.nbytes)


def _enc_masked(w: Walk, a: np.ma.MaskedArray[Any, Any]) -> None:
    mask = np.ma.getmaskarray(a)
    data = np.ma.getdata(a)
    if mask.any():
        data = data.copy()
        data[mask] = 0  # what lies under the mask is not content
    w.buf += b"V"
    _enc_ndarray(w, data)
    _enc_ndarray(w, mask)
    w.walk(a.fill_value)


def _enc_npscalar(w: Walk, x: np.generic) -> None:
    w.buf += b"G"
    _enc_ndarray(w, np.asarray(x))


def _enc_dtype(w: Walk, dt: np.dtype[Any]) -> None:
    w.buf += b"t" + _dtype_bytes(dt)


def _enc_named(w: Walk, f: Any) -> None:
    w.buf += b"Q" + name_bytes(f)


# -- pandas ----------------------------------------------------------------------------------------


def frame_columns(df: pd.DataFrame) -> list[Any]:
    """The column arrays (1-D ndarray or ExtensionArray) of a frame, in column order, without copies.

    Read from the frame's blocks: building a Series per column costs ~20 µs, which a 10,000-column
    frame would pay on every fingerprint. Falls back to ``df.iloc`` if pandas changes its internals.
    """
    columns: list[Any] = [None] * df.shape[1]
    try:
        for block in df._mgr.blocks:
            values = block.values
            for j, position in enumerate(block.mgr_locs.as_array):
                columns[position] = values[j] if values.ndim == 2 else values
    except (AttributeError, TypeError, IndexError):
        columns = [None]
    if any(c is None or len(c) != len(df) for c in columns):
        return [df.iloc[:, i].array for i in range(df.shape[1])]
    return columns


def _enc_frame(w: Walk, df: pd.DataFrame) -> None:
    w.buf += b"W%d;%d;" % df.shape
    _enc_index(w, df.columns)
    for column in frame_columns(df):
        _enc_extension(w, column)
    _enc_index(w, df.index)
    _enc_attrs(w, df)


def _enc_series(w: Walk, s: pd.Series[Any]) -> None:
    w.buf += b"J"
    w.walk(s.name)
    _enc_extension(w, s.array)
    _enc_index(w, s.index)
    _enc_attrs(w, s)


def _enc_attrs(w: Walk, obj: Any) -> None:
    attrs = obj.attrs
    if attrs:
        w.buf += b"+"
        w.walk(attrs)
    else:
        w.buf += b"-"


def _enc_index(w: Walk, idx: pd.Index[Any]) -> None:
    import pandas as pd

    if isinstance(idx, pd.RangeIndex):
        w.buf += b"IR%d;%d;%d;" % (idx.start, idx.stop, idx.step)
        w.walk(idx.name)
    elif isinstance(idx, pd.MultiIndex):
        w.buf += b"IM%d;" % idx.nlevels
        w.walk(list(idx.names))
        for level in idx.levels:
            _enc_index(w, level)
        for codes in idx.codes:
            _enc_ndarray(w, np.asarray(codes))
    else:
        w.buf += b"IX" + name_bytes(type(idx))
        w.walk(idx.name)
        _enc_extension(w, idx.array)
        freq = getattr(idx, "freqstr", None)  # DatetimeIndex / TimedeltaIndex / PeriodIndex
        w.walk(freq)


def _enc_extension(w: Walk, arr: Any) -> None:
    """A pandas array by its parts, tagged with its dtype (so ``int32``/``Int32``/``category`` differ)."""
    import pandas as pd
    from pandas.core.arrays.masked import BaseMaskedArray

    if isinstance(arr, np.ndarray):
        _enc_ndarray(w, arr)
        return
    w.buf += b"x" + str_bytes(str(arr.dtype)) + name_bytes(type(arr))
    if isinstance(arr, (pd.arrays.DatetimeArray, pd.arrays.TimedeltaArray, pd.arrays.PeriodArray)):
        _enc_ndarray(w, arr.view("i8"))  # unit and tz are in the dtype text
    elif isinstance(arr, pd.arrays.StringArray):
        _enc_ndarray(w, arr.to_numpy(dtype=object))  # python-backed strings: str and NA items
    elif isinstance(arr, pd.arrays.NumpyExtensionArray):
        _enc_ndarray(w, arr.to_numpy())
    elif isinstance(arr, pd.Categorical):
        w.buf += b"o" if arr.ordered else b"u"
        _enc_ndarray(w, arr.codes)
        _enc_index(w, arr.categories)
    elif isinstance(arr, BaseMaskedArray):
        data, mask = arr._data, arr._mask
        if mask.any():
            data = data.copy()
            data[mask] = 0  # hidden values under NA are not content
        _enc_ndarray(w, data)
        _enc_ndarray(w, mask)
    elif isinstance(arr, pd.arrays.ArrowExtensionArray):
        _enc_arrow_array(w, arr.__arrow_array__())
    else:  # sparse, interval and third-party arrays: item by item
        _enc_ndarray(w, np.asarray(arr, dtype=object))


# -- arrow -----------------------------------------------------------------------------------------


def _enc_arrow_array(w: Walk, arr: pa.Array | pa.ChunkedArray) -> None:
    """Arrow data independent of its chunking and slicing (equal values, equal bytes)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    typ = arr.type
    nulls = arr.null_count
    w.buf += b"y" + str_bytes(str(typ)) + b"%d;%d;" % (len(arr), nulls)
    if nulls:
        hm = xxh3_128()
        for c in chunks:
            hm.update(_u8(np.asarray(c.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)))
        w.buf += hm.digest()
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        _arrow_varwidth(w, chunks, np.int64 if pa.types.is_large_string(typ) or pa.types.is_large_binary(typ) else np.int32)
    elif (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_temporal(typ)) and typ.bit_width % 8 == 0:
        width = typ.bit_width // 8
        hd = xxh3_128()
        for c in chunks:
            raw = c.buffers()[1]
            if raw is None or len(c) == 0:
                continue
            values = np.frombuffer(raw, dtype=f"u{width}")[c.offset : c.offset + len(c)]
            if c.null_count:
                values = values.copy()
                values[np.asarray(c.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)] = 0
            hd.update(_u8(values))
        w.buf += hd.digest()
    elif pa.types.is_boolean(typ):
        hd = xxh3_128()
        for c in chunks:
            hd.update(_u8(np.asarray(pc.fill_null(c, False).to_numpy(zero_copy_only=False), dtype=np.bool_)))
        w.buf += hd.digest()
    else:  # nested, dictionary, decimal ...: as Python values
        items: list[Any] = []
        for c in chunks:
            items.extend(c.to_pylist())
        walk_items(w, items, len(items))


def _u8(a: Any) -> Any:
    """The bytes of a contiguous array, as a buffer the hasher takes."""
    return a.view(np.uint8)


def _arrow_varwidth(w: Walk, chunks: list[Any], offset_type: type) -> None:
    # End offsets relative to the whole array (so chunking and slicing do not matter), then the bytes.
    # Null slots are assumed empty, as Arrow and pandas write them.
    ho, hd = xxh3_128(), xxh3_128()
    running = 0
    for c in chunks:
        if len(c) == 0:
            continue
        bufs = c.buffers()
        offsets: np.ndarray[Any, Any] = np.frombuffer(bufs[1], dtype=offset_type)[c.offset : c.offset + len(c) + 1]
        start, end = int(offsets[0]), int(offsets[-1])
        ends = offsets[1:]
        if start != running:
            ends = ends - (start - running)
        ho.update(_u8(ends))
        if bufs[2] is not None and end > start:
            hd.update(memoryview(bufs[2])[start:end])
        running += end - start
    w.buf += ho.digest() + hd.digest()


def _enc_arrow_table(w: Walk, table: pa.Table | pa.RecordBatch) -> None:
    w.buf += b"z%d;%d;" % (table.num_rows, table.num_columns)
    w.walk(list(table.schema.names))
    w.walk(dict(table.schema.metadata or {}))
    for column in table.columns:
        _enc_arrow_array(w, column)
