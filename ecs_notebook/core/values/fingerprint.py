"""Content fingerprints: XXH3-128 over a canonical byte form of any Python value.

Equal content gives equal fingerprints in any process (never ``hash()`` or ``id()`` for content); any
change a user can see -- an element, a dtype, an attribute, a fitted estimator's coefficients -- gives a
different one. Values whose state cannot be read (generators, open files, connections, locks, modules,
matplotlib figures) are fingerprinted by identity, and :func:`fingerprint_info` says so.

>>> fingerprint([1, 2.5, "x"]) == fingerprint([1, 2.5, "x"])
True
>>> fingerprint([1, 2.5, "x"]) == fingerprint([1, 2.5, "y"])
False
"""

from __future__ import annotations

import io
import os
import socket
import sqlite3
import struct
import sys
import threading
import types
import uuid
from array import array
from collections.abc import Callable, Iterable
from math import isnan as _isnan
from operator import itemgetter
from typing import Any, NamedTuple

from xxhash import xxh3_128, xxh3_128_digest, xxh3_128_hexdigest

from ..entity import META_FIELDS, Entity

__all__ = ["Fingerprint", "fingerprint", "fingerprint_info", "is_identity_fingerprint"]

#: Buffers at least this large are fed to the streaming hasher directly instead of being copied.
_BIG = 1 << 14
#: Lists, tuples and sets at least this long try the one-pass path for items of one plain type.
#: (Shorter ones of exact plain scalars are hashed as their ``repr``, which is exact for these types.)
_FAST_SEQ = 64
#: Types whose ``repr`` is exact and unambiguous: floats round-trip (every NaN alike, -0.0 kept), str
#: and bytes are quoted and escaped.
_REPR_EXACT = frozenset({str, int, float, bool, type(None), bytes})
_NoneType = type(None)
_pack_d = struct.Struct("<d").pack
_pack_dd = struct.Struct("<dd").pack
#: Every Python float NaN has one form (their payloads cannot be seen); -0.0 and 0.0 stay distinct.
_CANONICAL_NAN = float("nan")
_NAN = b"f" + _pack_d(_CANONICAL_NAN)
#: Mixed into identity fingerprints so that they never equal one taken in another process.
_PROCESS_NONCE = os.urandom(16)


class Fingerprint(NamedTuple):
    """A value's fingerprint and whether any part of it was taken by identity.

    ``by_identity`` is true when some part of the value has no readable state (a generator, an open
    file, a connection ...): that part is fingerprinted by its type and ``id()``, so in-place changes to
    it cannot be seen and the fingerprint is not comparable across processes.
    """

    hex: str
    by_identity: bool


Encoder = Callable[["Walk", Any], None]


class Walk:
    """One traversal: the canonical byte stream (small pieces buffered, big buffers streamed)."""

    __slots__ = ("buf", "h", "identity", "stack")

    def __init__(self, stack: dict[int, int] | None = None) -> None:
        self.buf = bytearray()
        self.h: Any = None
        self.identity = False
        # id() of the containers and objects on the current path -> depth, to mark back references.
        self.stack: dict[int, int] = {} if stack is None else stack

    def walk(self, obj: object) -> None:
        """Append ``obj``'s canonical form."""
        t = type(obj)
        enc = _ENCODERS.get(t)
        if enc is None:
            enc = _resolve(t)
        enc(self, obj)

    def data(self, buffer: Any, nbytes: int) -> None:
        """Append a length-prefixed raw buffer (anything exposing the buffer protocol)."""
        self.buf += b"%d;" % nbytes
        if nbytes < _BIG:
            self.buf += memoryview(buffer)  # (numpy would take `+=` over as a broadcast add)
            return
        if self.h is None:
            self.h = xxh3_128()
        self.h.update(self.buf)
        self.buf.clear()
        self.h.update(buffer)

    def data_chunks(self, chunks: Iterable[Any], nbytes: int) -> None:
        """Append a length-prefixed buffer given as consecutive chunks (same bytes as :meth:`data`)."""
        self.buf += b"%d;" % nbytes
        if self.h is None:
            self.h = xxh3_128()
        self.h.update(self.buf)
        self.buf.clear()
        for chunk in chunks:
            self.h.update(chunk)

    def enter(self, obj: object) -> bool:
        """Push a container/object on the path; False (and a back-reference marker) if it is on it."""
        key = id(obj)
        depth = self.stack.get(key)
        if depth is not None:
            self.buf += b"R%d;" % (len(self.stack) - depth)
            return False
        self.stack[key] = len(self.stack)
        return True

    def leave(self, obj: object) -> None:
        del self.stack[id(obj)]

    def by_identity(self, obj: object) -> None:
        """Fingerprint ``obj`` by type and ``id()`` (no readable state)."""
        self.identity = True
        self.buf += b"@" + _type_name(type(obj)).encode() + b";%d;" % id(obj) + _PROCESS_NONCE

    def sub_digest(self, obj: object) -> bytes:
        """The 16-byte digest of ``obj`` alone (sharing the cycle path), for order-free containers."""
        sub = Walk(self.stack)
        sub.walk(obj)
        self.identity |= sub.identity
        return sub.digest()

    def digest(self) -> bytes:
        if self.h is None:
            return xxh3_128_digest(self.buf)
        self.h.update(self.buf)
        return bytes(self.h.digest())

    def hexdigest(self) -> str:
        if self.h is None:
            return xxh3_128_hexdigest(self.buf)
        self.h.update(self.buf)
        return str(self.h.hexdigest())


def fingerprint(obj: object) -> str:
    """Return the 128-bit content fingerprint of ``obj`` as 32 lowercase hex characters."""
    scalar = _SCALARS.get(type(obj))
    if scalar is not None:
        return xxh3_128_hexdigest(scalar(obj))
    return fingerprint_info(obj).hex


def fingerprint_info(obj: object) -> Fingerprint:
    """Return :class:`Fingerprint` ``(hex, by_identity)`` for ``obj``."""
    scalar = _SCALARS.get(type(obj))
    if scalar is not None:
        return Fingerprint(xxh3_128_hexdigest(scalar(obj)), False)
    w = Walk()
    try:
        w.walk(obj)
    except Exception:
        # Nested deeper than the interpreter lets us walk (RecursionError), or a library object
        # whose accessors fail: fall back to identity, and say so.
        w = Walk()
        w.by_identity(obj)
    return Fingerprint(w.hexdigest(), w.identity)


def is_identity_fingerprint(obj: object) -> bool:
    """Whether ``obj`` (or a part of it) can only be fingerprinted by identity."""
    return fingerprint_info(obj).by_identity


# -- scalars ---------------------------------------------------------------------------------------


def str_bytes(s: str) -> bytes:
    b = s.encode("utf-8", "surrogatepass")
    return b"s%d;" % len(b) + b


def _bytes_bytes(b: bytes) -> bytes:
    return b"b%d;" % len(b) + b


_SCALARS: dict[type, Callable[[Any], bytes]] = {
    int: lambda x: b"i%x;" % x,  # hex: not limited like decimal text of huge ints
    bool: lambda x: b"T" if x else b"F",
    float: lambda x: _NAN if _isnan(x) else b"f" + _pack_d(x),
    str: str_bytes,
    bytes: _bytes_bytes,
    _NoneType: lambda x: b"N",
    complex: lambda x: b"c" + _pack_dd(x.real, x.imag),
    uuid.UUID: lambda x: b"u" + x.bytes,
    type(Ellipsis): lambda x: b"E",
    type(NotImplemented): lambda x: b"!",
}


def _scalar_encoder(to_bytes: Callable[[Any], bytes]) -> Encoder:
    def enc(w: Walk, x: Any) -> None:
        w.buf += to_bytes(x)

    return enc


# -- containers ------------------------------------------------------------------------------------


def _plain_items(items: Any, n: int) -> bytes | None:
    """One-pass canonical bytes for a sequence whose items are all one plain type, else None."""
    kinds = set(map(type, items))
    if len(kinds) != 1:
        return None
    kind = kinds.pop()
    if kind is float:
        if any(map(_isnan, items)):
            items = [_CANONICAL_NAN if _isnan(x) else x for x in items]
        return b"f%d;" % n + array("d", items).tobytes()
    if kind is int:
        try:
            return b"i%d;" % n + array("q", items).tobytes()
        except OverflowError:
            return None
    if kind is str:
        # Code-point lengths plus the concatenation are unambiguous.
        return b"s%d;" % n + array("q", map(len, items)).tobytes() + "".join(items).encode("utf-8", "surrogatepass")
    if kind is bool:
        return b"t%d;" % n + bytes(items)
    if kind is _NoneType:
        return b"n%d;" % n
    return None


def _plain_repr(w: Walk, obj: Any) -> bool:
    """Append ``repr(obj)`` of a short flat container of exact plain scalars (exact and unambiguous)."""
    try:
        r = repr(obj).encode("utf-8", "surrogatepass")
    except ValueError:  # an int too long for decimal text
        return False
    n = len(r)
    if n < _BIG:
        w.buf += b"r%d;" % n + r
    else:
        w.buf += b"r"
        w.data(r, n)
    return True


def walk_items(w: Walk, items: Any, n: int) -> None:
    """Append ``n`` items in order (one-pass paths for short flat runs and long runs of one plain type)."""
    if n < _FAST_SEQ:
        if n and _REPR_EXACT.issuperset(map(type, items)) and _plain_repr(w, items):
            return
    else:
        plain = _plain_items(items, n)
        if plain is not None:
            w.buf += b"*"
            w.data(plain, len(plain))
            return
    buf = w.buf
    buf += b"%d;" % n
    scalars = _SCALARS
    for x in items:
        f = scalars.get(type(x))
        if f is not None:
            buf += f(x)
        else:
            w.walk(x)


def _list_body(w: Walk, obj: Any) -> None:
    w.buf += b"L"
    walk_items(w, obj, len(obj))


def _tuple_body(w: Walk, obj: Any) -> None:
    w.buf += b"U"
    walk_items(w, obj, len(obj))


def _dict_body(w: Walk, obj: Any) -> None:
    buf = w.buf
    n = len(obj)
    buf += b"D%d;" % n
    if n < _FAST_SEQ:
        if n and _REPR_EXACT.issuperset(map(type, obj)) and _REPR_EXACT.issuperset(map(type, obj.values())) and _plain_repr(w, obj):
            return
    else:
        keys = _plain_items(list(obj), n)
        values = _plain_items(list(obj.values()), n) if keys is not None else None
        if keys is not None and values is not None:
            joined = keys + values
            buf += b"*%d;" % len(keys)
            w.data(joined, len(joined))
            return
    scalars = _SCALARS
    for k, v in obj.items():
        f = scalars.get(type(k))
        if f is not None:
            buf += f(k)
        else:
            w.walk(k)
        f = scalars.get(type(v))
        if f is not None:
            buf += f(v)
        else:
            w.walk(v)


def _set_body(w: Walk, obj: Any) -> None:
    # Order-free: sorted canonical bytes of plain items, else sorted per-item digests.
    w.buf += b"Z" if isinstance(obj, frozenset) else b"S"
    kinds = set(map(type, obj))
    if all(k in _SCALARS for k in kinds):
        parts = sorted(_SCALARS[type(x)](x) for x in obj)
    else:
        parts = sorted(w.sub_digest(x) for x in obj)
    joined = b"".join(parts)
    w.buf += b"%d;" % len(obj)
    w.data(joined, len(joined))


def _cyclic(body: Encoder) -> Encoder:
    """Wrap a container body with the back-reference check (mutable containers can hold themselves)."""

    def enc(w: Walk, obj: Any) -> None:
        if w.enter(obj):
            body(w, obj)
            w.leave(obj)

    return enc


_enc_list = _cyclic(_list_body)
_enc_dict = _cyclic(_dict_body)
_enc_set = _cyclic(_set_body)
_enc_tuple = _tuple_body  # a tuple can only reach itself through a mutable member, which is checked


def _enc_bytearray(w: Walk, obj: bytearray | memoryview) -> None:
    w.buf += b"B" if type(obj) is bytearray else b"M"
    mv = memoryview(obj).cast("B") if type(obj) is memoryview else obj
    w.data(mv, len(mv))


# -- objects ---------------------------------------------------------------------------------------


def _type_name(t: type) -> str:
    return f"{getattr(t, '__module__', '?')}:{getattr(t, '__qualname__', t.__name__)}"


def name_bytes(obj: Any) -> bytes:
    """``module:qualname`` of a class, function or other named callable (its name, not its content)."""
    module = getattr(obj, "__module__", None) or "?"
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__qualname__
    b = f"{module}:{qualname}".encode("utf-8", "surrogatepass")
    return b"%d;" % len(b) + b


_SLOTS: dict[type, tuple[str, ...]] = {}


def _slot_names(t: type) -> tuple[str, ...]:
    names = _SLOTS.get(t)
    if names is None:
        seen: list[str] = []
        for klass in t.__mro__:
            slots = klass.__dict__.get("__slots__", ())
            for s in (slots,) if isinstance(slots, str) else slots:
                if s not in ("__dict__", "__weakref__") and s not in seen:
                    seen.append(s)
        names = _SLOTS[t] = tuple(seen)
    return names


def _custom_getstate(t: type) -> bool:
    gs = getattr(t, "__getstate__", None)
    return gs is not None and gs is not getattr(object, "__getstate__", None)


def _enc_object(w: Walk, obj: Any) -> None:
    """A generic object by its state: ``__getstate__``, else ``__dict__``/``__slots__``, else ``__reduce_ex__``."""
    if not w.enter(obj):
        return
    t = type(obj)
    depth = len(w.stack)
    w.buf += b"O" + name_bytes(t)
    try:
        d = getattr(obj, "__dict__", None)
        slots = _slot_names(t)
        if d is None and not slots:
            _reduce(w, obj)  # state held in C (datetime, Decimal, numpy Generator, ...)
        elif _custom_getstate(t):
            w.buf += b"g"
            w.walk(obj.__getstate__())
        else:
            w.buf += b"d"
            w.walk(d)
            w.buf += b"%d;" % len(slots)
            for name in slots:
                value = getattr(obj, name, _MISSING)
                if value is _MISSING:
                    w.buf += b"_"  # an unset slot
                else:
                    w.walk(value)
    except RecursionError:
        raise
    except Exception:
        # Its own state accessors failed (e.g. "cannot pickle"): no readable state, so by identity.
        while len(w.stack) > depth:
            w.stack.popitem()
        w.by_identity(obj)
    finally:
        w.leave(obj)


_MISSING = object()


def _reduce(w: Walk, obj: Any) -> None:
    """Objects with C-level state (datetime, Decimal, numpy Generator ...): their pickle reduction, never pickled."""
    r = obj.__reduce_ex__(4)
    if isinstance(r, str):
        w.buf += b"r" + str_bytes(r)
        return
    w.buf += b"r%d;" % len(r) + name_bytes(r[0])
    for i, part in enumerate(r[1:], 1):
        # 3 and 4 are iterators over list items and dict items.
        w.walk(list(part) if i in (3, 4) and part is not None else part)


#: Per model class: (number of fields, data field names, getter of their values, header bytes).
_MODEL_LAYOUT: dict[type, tuple[int, tuple[str, ...], Callable[[dict[str, Any]], Any], bytes]] = {}


def _model_header(t: type, names: tuple[str, ...]) -> bytes:
    text = repr(names).encode("utf-8", "surrogatepass")
    return b"P" + name_bytes(t) + b"%d;" % len(text) + text


def _model_layout(t: type) -> tuple[int, tuple[str, ...], Callable[[dict[str, Any]], Any], bytes]:
    layout = _MODEL_LAYOUT.get(t)
    if layout is None:
        fields = tuple(t.model_fields)  # type: ignore[attr-defined]
        skip = META_FIELDS if issubclass(t, Entity) else frozenset()
        names = tuple(k for k in fields if k not in skip)
        getter = itemgetter(*names) if len(names) > 1 else (lambda d, n=names: tuple(d[k] for k in n))
        if len(_MODEL_LAYOUT) > _MAX_CACHED:
            _MODEL_LAYOUT.clear()
        layout = _MODEL_LAYOUT[t] = (len(fields), names, getter, _model_header(t, names))
    return layout


def _enc_pydantic(w: Walk, obj: Any) -> None:
    """A pydantic model (an Entity without its identity and provenance fields) by its fields."""
    if not w.enter(obj):
        return
    t = type(obj)
    d = obj.__dict__
    size, names, getter, header = _model_layout(t)
    try:
        values = getter(d) if len(d) == size else None
    except KeyError:
        values = None
    if values is None:  # fields set or deleted behind pydantic's back: what __dict__ holds
        skip = META_FIELDS if isinstance(obj, Entity) else frozenset()
        names = tuple(k for k in d if k not in skip)
        values = tuple(d[k] for k in names)
        header = _model_header(t, names)
    w.buf += header
    walk_items(w, values, len(values))
    extra = getattr(obj, "__pydantic_extra__", None)
    private = getattr(obj, "__pydantic_private__", None)
    if extra or private:
        w.buf += b"+"
        w.walk(extra)
        w.walk(private)
    else:
        w.buf += b"-"
    w.leave(obj)


def _enc_enum(w: Walk, obj: Any) -> None:
    w.buf += b"e" + name_bytes(type(obj)) + str_bytes(obj.name)


def _enc_identity(w: Walk, obj: Any) -> None:
    w.by_identity(obj)


def _enc_subclass(body: Encoder) -> Encoder:
    """A subclass of a builtin type: its class name, the builtin content, then its own attributes."""

    def enc(w: Walk, obj: Any) -> None:
        if not w.enter(obj):
            return
        w.buf += b"X" + name_bytes(type(obj))
        body(w, obj)
        factory = getattr(obj, "default_factory", None)  # defaultdict
        d = getattr(obj, "__dict__", None)
        if factory is not None or d:
            w.buf += b"+"
            w.walk(factory)
            w.walk(d)
        else:
            w.buf += b"-"
        w.leave(obj)

    return enc


# -- code ------------------------------------------------------------------------------------------


def _enc_code(w: Walk, code: types.CodeType) -> None:
    # Everything that defines behaviour and source, nothing about where it was defined (file, line).
    w.buf += b"K" + str_bytes(code.co_name) + str_bytes(getattr(code, "co_qualname", code.co_name))
    w.buf += b"%d;%d;%d;%d;" % (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)
    w.data(code.co_code, len(code.co_code))
    table = getattr(code, "co_exceptiontable", b"")
    w.data(table, len(table))
    for names in (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars):
        w.walk(names)
    w.buf += b"%d;" % len(code.co_consts)
    for c in code.co_consts:
        w.walk(c)


def _enc_function(w: Walk, f: types.FunctionType) -> None:
    """A Python function by its code, defaults, closure contents and attributes."""
    if not w.enter(f):
        return
    w.buf += b"Y" + name_bytes(f)
    _enc_code(w, f.__code__)
    w.walk(f.__defaults__)
    w.walk(f.__kwdefaults__)
    cells = f.__closure__ or ()
    w.buf += b"%d;" % len(cells)
    for cell in cells:
        try:
            w.walk(cell.cell_contents)
        except ValueError:  # an empty cell (name assigned later)
            w.buf += b"_"
    w.walk(f.__dict__ or None)
    w.walk(getattr(f, "__annotations__", None) or None)
    w.leave(f)


def _enc_method(w: Walk, m: types.MethodType) -> None:
    w.buf += b"m"
    w.walk(m.__func__)
    w.walk(m.__self__)


def _enc_builtin(w: Walk, f: Any) -> None:
    """A C function: by name, plus the object it is bound to (``[].append``), if any but a module."""
    w.buf += b"Q" + name_bytes(f)
    owner = getattr(f, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        w.buf += b"+"
        w.walk(owner)
    else:
        w.buf += b"-"


#: Class attributes a class statement or a library adds by itself: not what the user wrote.
_GENERATED = ("__dict__", "__weakref__", "__module__", "__qualname__", "__abstractmethods__", "_abc_impl", "__slots__")


def _user_class(cls: type) -> bool:
    """Defined interactively (a notebook's ``__main__``, or a module without a file)."""
    module = sys.modules.get(cls.__module__)
    return module is None or cls.__module__ == "__main__" or getattr(module, "__file__", None) is None


def _enc_class(w: Walk, cls: type) -> None:
    """A class: library classes by ``module:qualname``; notebook classes by name, bases and members."""
    if cls.__module__ == "builtins" or not _user_class(cls):
        w.buf += b"C" + name_bytes(cls)
        return
    if not w.enter(cls):
        return
    w.buf += b"H" + name_bytes(cls)
    w.buf += b"%d;" % len(cls.__bases__)
    for base in cls.__bases__:
        w.buf += name_bytes(base)
    members = [
        (k, v)
        for k, v in vars(cls).items()
        if k not in _GENERATED
        and not k.startswith("__pydantic")
        and (k == "__doc__" or not (k.startswith("__") and k.endswith("__")) or _is_code(v))
    ]
    members.append(("__annotations__", vars(cls).get("__annotations__")))
    w.buf += b"%d;" % len(members)
    for k, v in members:
        w.buf += str_bytes(k)
        if isinstance(v, (staticmethod, classmethod)):
            w.buf += b"~s" if isinstance(v, staticmethod) else b"~c"
            v = v.__func__
        if isinstance(v, property):
            w.buf += b"~p"
            for f in (v.fget, v.fset, v.fdel):
                w.walk(f)
        else:
            w.walk(v)
    w.leave(cls)


def _is_code(v: object) -> bool:
    return isinstance(v, (types.FunctionType, staticmethod, classmethod, property))


# -- dispatch --------------------------------------------------------------------------------------

_ENCODERS: dict[type, Encoder] = {t: _scalar_encoder(f) for t, f in _SCALARS.items()}
_ENCODERS.update(
    {
        list: _enc_list,
        tuple: _enc_tuple,
        dict: _enc_dict,
        set: _enc_set,
        frozenset: _enc_set,
        bytearray: _enc_bytearray,
        memoryview: _enc_bytearray,
        types.FunctionType: _enc_function,
        types.CodeType: _enc_code,
        types.MethodType: _enc_method,
        types.BuiltinFunctionType: _enc_builtin,
        types.MethodWrapperType: _enc_builtin,
        types.WrapperDescriptorType: _enc_builtin,
        types.MethodDescriptorType: _enc_builtin,
        types.ClassMethodDescriptorType: _enc_builtin,
    }
)
# Types that cannot be walked (cleared when a process defines too many classes, e.g. in a long session).
_MAX_CACHED = 20_000

#: Values with no readable state (or state not worth walking): by identity.
_IDENTITY_TYPES: tuple[type, ...] = (
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    types.ModuleType,
    types.FrameType,
    types.TracebackType,
    io.IOBase,
    socket.socket,
    sqlite3.Connection,
    sqlite3.Cursor,
    threading.Thread,
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Condition,
    threading.Event,
    threading.Semaphore,
)
#: Modules whose objects are connections, kernels, widgets or figures: by identity.
_IDENTITY_MODULES = (
    "matplotlib.",
    "psycopg.",
    "psycopg2.",
    "IPython.",
    "ipykernel.",
    "ipywidgets.",
    "anywidget.",
    "traitlets.",
    "zmq.",
    "tornado.",
    "asyncio.",
    "concurrent.",
    "multiprocessing.",
    "ssl.",
    "selectors.",
    "sqlalchemy.engine.",
    "sqlalchemy.orm.",
)


def _resolve(t: type) -> Encoder:
    """Pick (and cache) the encoder for a type met for the first time."""
    enc = _choose(t)
    if len(_ENCODERS) > _MAX_CACHED:
        base = {k: v for k, v in list(_ENCODERS.items())[:64]}
        _ENCODERS.clear()
        _ENCODERS.update(base)
    _ENCODERS[t] = enc
    return enc


def _choose(t: type) -> Encoder:
    module = getattr(t, "__module__", "") or ""
    if module.startswith(("numpy", "pandas", "pyarrow")):
        from ._arrays import array_encoder

        enc = array_encoder(t)
        if enc is not None:
            return enc
    if issubclass(t, type):
        return _enc_class  # type: ignore[return-value]
    if issubclass(t, _IDENTITY_TYPES) or (module + ".").startswith(_IDENTITY_MODULES):
        return _enc_identity
    if module.startswith("ecs_notebook.") and not _is_pydantic(t):
        return _enc_identity  # registries, stores, widgets: the session's machinery, not data
    if _is_pydantic(t):
        return _enc_pydantic
    import enum

    if issubclass(t, enum.Enum):
        return _enc_enum
    for base, body in ((dict, _dict_body), (list, _list_body), (tuple, _tuple_body), (set, _set_body), (frozenset, _set_body)):
        if issubclass(t, base):
            return _enc_subclass(body)
    for scalar in (int, float, str, bytes, complex):
        if issubclass(t, scalar):
            return _enc_subclass(_scalar_body(scalar))
    if issubclass(t, (types.FunctionType, types.BuiltinFunctionType)):
        return _enc_function if issubclass(t, types.FunctionType) else _enc_builtin
    return _enc_object


def _scalar_body(base: type) -> Encoder:
    to_bytes = _SCALARS[base]

    def body(w: Walk, x: Any) -> None:
        w.buf += to_bytes(base(x))

    return body


def _is_pydantic(t: type) -> bool:
    if "pydantic" not in sys.modules:
        return False
    from pydantic import BaseModel

    return issubclass(t, BaseModel)
