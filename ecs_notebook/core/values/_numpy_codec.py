"""numpy arrays and scalars as ``.npy`` parts (never ``allow_pickle``); object arrays item by item."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import xxhash

from .codecs import NoCodecError, corrupt

if TYPE_CHECKING:
    from .codecs import ValueDecoder, ValueEncoder

_NPY_MAGIC = b"\x93NUMPY"


def encoder_for(t: type) -> Callable[[ValueEncoder, Any], dict[str, Any]]:
    if t is np.ndarray or t is np.memmap:
        return encode_array
    if issubclass(t, np.generic):
        return _encode_scalar
    msg = f"No exact codec for numpy {t.__qualname__} values (plain ndarrays and scalars have one)"
    raise NoCodecError(msg)


def _npy_head(a: np.ndarray[Any, Any]) -> tuple[bytes, bool]:
    """The ``.npy`` header of ``a`` and whether its data is written in Fortran order."""
    fortran = bool(a.flags.f_contiguous and not a.flags.c_contiguous)
    buf = io.BytesIO()
    info = {"descr": np.lib.format.dtype_to_descr(a.dtype), "fortran_order": fortran, "shape": a.shape}
    try:
        np.lib.format.write_array_header_1_0(buf, info)
    except ValueError:  # a header over 64 KiB (a very wide structured dtype)
        buf = io.BytesIO()
        np.lib.format.write_array_header_2_0(buf, info)
    return buf.getvalue(), fortran


class NpyPart:
    """The ``.npy`` file of a contiguous array as its header and the array's own memory: written without a copy.

    A part a store needs to write; ``nbytes`` and ``chunks()`` (the header, then the data in file order)
    are all it reads (``codecs.part_size``, ``codecs.part_chunks``).
    """

    __slots__ = ("data", "head", "nbytes")

    def __init__(self, head: bytes, data: Any) -> None:
        self.head, self.data = head, data
        self.nbytes = len(head) + int(data.nbytes if data is not None else 0)

    def chunks(self) -> list[Any]:
        return [self.head] if self.data is None else [self.head, self.data]


def npy_part(a: np.ndarray[Any, Any]) -> tuple[str, NpyPart] | None:
    """The part key of ``npy_bytes(a)`` computed over the array's memory, and the part (no copy); None if not contiguous."""
    if a.dtype.hasobject or not (a.flags.c_contiguous or a.flags.f_contiguous):
        return None
    head, fortran = _npy_head(a)
    h = xxhash.xxh3_128(head)
    flat: Any = None
    if a.size:
        flat = (a.T if fortran else a).reshape(-1).view(np.uint8)  # the data in file order, not copied
        h.update(flat)
    return h.hexdigest(), NpyPart(head, flat)


def npy_key(a: np.ndarray[Any, Any]) -> str | None:
    """The part key of ``npy_bytes(a)`` computed over the array's memory (no copy); None if it is not contiguous."""
    found = npy_part(a)
    return found[0] if found is not None else None


def npy_bytes(a: np.ndarray[Any, Any]) -> bytearray:
    """The ``.npy`` file of a non-object array, built with one copy of the data (strided views too).

    Fortran-ordered arrays keep their order.
    """
    head, fortran = _npy_head(a)
    out = bytearray(len(head) + a.nbytes)
    out[: len(head)] = head
    if a.size:
        body = np.frombuffer(out, dtype=a.dtype, offset=len(head))
        np.copyto(body.reshape(a.shape[::-1]).T if fortran else body.reshape(a.shape), a)
    return out


def encode_array(enc: ValueEncoder, a: np.ndarray[Any, Any]) -> dict[str, Any]:
    if a.dtype.hasobject:
        if a.dtype.names is not None:
            msg = "No exact codec for structured numpy arrays with object fields"
            raise NoCodecError(msg)
        items = a.reshape(-1).tolist() if a.ndim else [a.item()]
        return {"codec": "npy_object", "shape": list(a.shape), "items": enc.node(items)}
    return {"codec": "npy", "part": enc.add_npy(a)}


def _encode_scalar(enc: ValueEncoder, x: np.generic) -> dict[str, Any]:
    a = np.asarray(x)
    if a.dtype.hasobject:
        msg = f"No exact codec for numpy {type(x).__qualname__} scalars"
        raise NoCodecError(msg)
    return {"codec": "np_scalar", "part": enc.add(npy_bytes(a))}


def read_npy(data: Any, what: str) -> np.ndarray[Any, Any]:
    """Parse an ``.npy`` part without copying when the buffer is writable; object dtypes refused."""
    mv = memoryview(data).cast("B")
    if bytes(mv[:6]) != _NPY_MAGIC:
        raise corrupt(what, "not an .npy file")
    head = io.BytesIO(bytes(mv[: min(len(mv), 1 << 17)]))
    try:
        version = np.lib.format.read_magic(head)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
        else:
            raise corrupt(what, f".npy version {version}")
    except ValueError as exc:
        raise corrupt(what, exc) from exc
    if dtype.hasobject:
        raise corrupt(what, "an .npy of object dtype (it would need pickle); refused")
    count = math.prod(shape)
    offset = head.tell()
    if len(mv) - offset != count * dtype.itemsize:
        raise corrupt(what, f"{len(mv) - offset} data bytes for {count} items of {dtype.itemsize} (truncated?)")
    arr = np.frombuffer(mv, dtype=dtype, count=count, offset=offset)
    if not arr.flags.writeable:
        arr = arr.copy()  # the caller gets an ordinary array it can change
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


def object_array(items: Any, shape: tuple[int, ...], what: str) -> np.ndarray[Any, Any]:
    if not isinstance(items, list) or math.prod(shape) != len(items):
        raise corrupt(what, "item count does not match the shape")
    out = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):  # (slice assignment would broadcast nested lists)
        out[i] = x
    return out.reshape(shape)


def decode(dec: ValueDecoder, header: Mapping[str, Any]) -> Any:
    codec = header["codec"]
    if codec == "npy_object":
        shape = tuple(int(n) for n in header["shape"])
        return object_array(dec.node(header["items"]), shape, "object array")
    arr = read_npy(dec.part(header["part"]), f"part {header['part']}")
    if codec == "np_scalar":
        if arr.ndim:
            raise corrupt("numpy scalar", "not 0-dimensional")
        return arr[()]
    return arr
