"""Content fingerprints (DESIGN A11): equal content, equal fingerprint in any process; every change a
user can see changes it; values without readable state are fingerprinted by identity, and say so."""

from __future__ import annotations

import collections
import dataclasses
import enum
import io
import json
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.extra import pandas as hpd

from ecs_notebook import Entity
from ecs_notebook.core.values import Fingerprint, fingerprint, fingerprint_info, is_identity_fingerprint


class Point(Entity):
    x: float = 0.0
    tags: list[str] = []


class Shape(Entity):
    name: str = ""
    points: list[Point] = []


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Plain:
    def __init__(self, a: Any, b: Any = None) -> None:
        self.a = a
        self.b = b


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a: Any, b: Any = None) -> None:
        self.a = a
        self.b = b


@dataclasses.dataclass
class Record:
    name: str
    values: list[int]


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "f": rng.random(50),
            "i": np.arange(50, dtype=np.int64),
            "s": pd.Series([f"s{k % 7}" for k in range(50)], dtype="str"),
            "n": pd.array([None if k % 5 == 0 else k for k in range(50)], dtype="Int64"),
            "c": pd.Categorical([("a", "b", "c")[k % 3] for k in range(50)]),
            "t": pd.date_range("2024-01-01", periods=50, freq="h", tz="UTC"),
        }
    )


def _multi_frame() -> pd.DataFrame:
    idx = pd.MultiIndex.from_product([["x", "y"], [1, 2, 3]], names=["letter", "num"])
    cols = pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)])
    return pd.DataFrame(np.arange(18.0).reshape(6, 3), index=idx, columns=cols)


# Each factory builds a fresh, independent object with the same content on every call.
EQUAL_CONTENT = {
    "int": lambda: 12345678901234567890,
    "negative int": lambda: -7,
    "float": lambda: 0.1 + 0.2,
    "nan": lambda: float("nan"),
    "str": lambda: "".join(["héllo", " wörld \ud800"]),
    "bytes": lambda: bytes(range(256)),
    "bytearray": lambda: bytearray(b"abc"),
    "complex": lambda: complex(1.5, -2),
    "none": lambda: None,
    "decimal": lambda: Decimal("1.10"),
    "list of scalars": lambda: [1, 2.5, "x", None, True, b"y"],
    "long int list": lambda: list(range(1000)),
    "long float list": lambda: [k / 7 for k in range(1000)],
    "long str list": lambda: [f"item{k}" for k in range(1000)],
    "huge ints in a long list": lambda: [2**70 + k for k in range(100)],
    "nested": lambda: {"a": [1, {"b": (2, 3)}], "c": {4, 5}},
    "set": lambda: {f"k{k}" for k in range(100)},
    "set of tuples": lambda: {(k, str(k)) for k in range(50)},
    "frozenset": lambda: frozenset([1, 2, 3]),
    "ordered dict": lambda: collections.OrderedDict(a=1, b=2),
    "defaultdict": lambda: collections.defaultdict(list, {"a": [1]}),
    "namedtuple": lambda: collections.namedtuple("P", "x y")(1, 2),
    "enum": lambda: Color.GREEN,
    "plain object": lambda: Plain([1, 2], {"k": "v"}),
    "slotted object": lambda: Slotted(1, "two"),
    "dataclass": lambda: Record("r", [1, 2, 3]),
    "numpy int array": lambda: np.arange(1000, dtype=np.int32),
    "numpy 2d float": lambda: np.linspace(0, 1, 60).reshape(6, 10),
    "numpy fortran order": lambda: np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "numpy slice (non-contiguous)": lambda: np.arange(100)[::3],
    "numpy datetime": lambda: np.array(["2024-01-01", "NaT"], dtype="datetime64[us]"),
    "numpy str": lambda: np.array(["a", "bcd"]),
    "numpy structured": lambda: np.array([(1, 2.0), (3, 4.0)], dtype=[("a", "i4"), ("b", "f8")]),
    "numpy object": lambda: np.array([1, "a", None, [1, 2]], dtype=object),
    "numpy scalar": lambda: np.float32(1.5),
    "masked array": lambda: np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]),
    "numpy generator": lambda: np.random.default_rng(42),
    "frame": _frame,
    "multiindex frame": _multi_frame,
    "series": lambda: pd.Series([1.0, 2.0, None], name="s", index=["a", "b", "c"]),
    "python-backed strings": lambda: pd.Series(["a", None, "c"], dtype="string[python]"),
    "arrow-backed ints": lambda: pd.Series([1, None, 3], dtype="int64[pyarrow]"),
    "interval index": lambda: pd.Series([1, 2], index=pd.interval_range(0, 2)),
    "timestamp": lambda: pd.Timestamp("2024-05-01 12:00", tz="Europe/Paris"),
    "pandas NA": lambda: pd.NA,
    "arrow table": lambda: pa.table({"a": [1, 2, None], "b": ["x", None, "z"]}),
    "entity": lambda: Shape(name="tri", points=[Point(x=1.0), Point(x=2.0, tags=["a"])]),
}


@pytest.mark.parametrize("make", EQUAL_CONTENT.values(), ids=EQUAL_CONTENT.keys())
def test_equal_content_gives_equal_fingerprint(make):
    a, b = make(), make()
    info = fingerprint_info(a)
    assert info == fingerprint_info(b)
    assert not info.by_identity
    assert re.fullmatch(r"[0-9a-f]{32}", info.hex)
    assert fingerprint(a) == info.hex


def _mutate_frame_loc(df):
    df.loc[3, "f"] = -1.0


def _set_string_cell(df):
    df.loc[0, "s"] = "changed"


def _fit(estimator):
    rng = np.random.default_rng(0)
    estimator.fit(rng.random((30, 3)), np.arange(30) % 2)


def _sklearn(name):
    def make():
        pytest.importorskip("sklearn")
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        return {"StandardScaler": StandardScaler, "LogisticRegression": LogisticRegression}[name]()

    return make


def _refit(estimator):
    rng = np.random.default_rng(1)
    estimator.fit(rng.random((30, 3)), np.arange(30) % 2)


# (make, change in place)
IN_PLACE = {
    "list append": (lambda: [1, 2], lambda v: v.append(3)),
    "list item": (lambda: list(range(100)), lambda v: v.__setitem__(50, -1)),
    "long list int -> float": (lambda: list(range(100)), lambda v: v.__setitem__(50, 50.0)),
    "dict setitem": (lambda: {"a": 1}, lambda v: v.__setitem__("b", 2)),
    "dict value": (lambda: {"a": 1}, lambda v: v.__setitem__("a", 2)),
    "set add": (lambda: {1, 2}, lambda v: v.add(3)),
    "bytearray": (lambda: bytearray(b"abc"), lambda v: v.__setitem__(0, 0)),
    "numpy arr[0] = 5": (lambda: np.zeros(10), lambda v: v.__setitem__(0, 5)),
    "numpy shuffle": (lambda: np.arange(1000), lambda v: np.random.default_rng(3).shuffle(v)),
    "numpy object item": (lambda: _object_array([1], [2]), lambda v: v[0].append(9)),
    "numpy 2d column": (lambda: np.zeros((4, 4)), lambda v: v.__setitem__((slice(None), 2), 1)),
    "numpy reshape in place": (lambda: np.zeros(12), lambda v: setattr(v, "shape", (3, 4))),
    "df new column": (_frame, lambda df: df.__setitem__("new", 1)),
    "df replace column": (_frame, lambda df: df.__setitem__("i", df["i"] * 2)),
    "df.loc cell": (_frame, _mutate_frame_loc),
    "df string cell": (_frame, _set_string_cell),
    "df.dropna(inplace=True)": (_frame, lambda df: df.dropna(inplace=True)),
    "df rename column": (_frame, lambda df: df.rename(columns={"f": "g"}, inplace=True)),
    "df index name": (_frame, lambda df: setattr(df.index, "name", "row")),
    "series index freq": (lambda: pd.Series([1, 2], index=pd.date_range("2024", periods=2)), lambda s: setattr(s.index, "freq", None)),
    "df attrs": (_frame, lambda df: df.attrs.update(source="x")),
    "df nullable cell to NA": (_frame, lambda df: df.loc.__setitem__((1, "n"), pd.NA)),
    "df category added": (_frame, lambda df: df.__setitem__("c", df["c"].cat.add_categories(["z"]))),
    "multiindex frame cell": (_multi_frame, lambda df: df.__setitem__(("a", 1), 0.5)),
    "series name": (lambda: pd.Series([1, 2]), lambda s: setattr(s, "name", "n")),
    "series value": (lambda: pd.Series([1, 2]), lambda s: s.__setitem__(0, 9)),
    "attribute assignment": (lambda: Plain(1), lambda o: setattr(o, "a", 2)),
    "new attribute": (lambda: Plain(1), lambda o: setattr(o, "c", 3)),
    "slot assignment": (lambda: Slotted(1), lambda o: setattr(o, "b", 2)),
    "dataclass field": (lambda: Record("r", [1]), lambda o: o.values.append(2)),
    "nested in container": (lambda: {"k": [Plain([1])]}, lambda v: v["k"][0].a.append(2)),
    "deeply nested array": (lambda: [{"a": np.zeros(3)}], lambda v: v[0]["a"].__setitem__(1, 1.0)),
    "entity field": (lambda: Shape(name="a"), lambda e: setattr(e, "name", "b")),
    "entity key set behind pydantic": (lambda: Shape(name="a"), lambda e: e.__dict__.__setitem__("note", 1)),
    "nested entity field": (lambda: Shape(points=[Point(x=1)]), lambda e: setattr(e.points[0], "x", 2.0)),
    "generator draw": (lambda: np.random.default_rng(1), lambda g: g.random()),
    "StandardScaler fit": (_sklearn("StandardScaler"), _fit),
    "LogisticRegression fit": (_sklearn("LogisticRegression"), _fit),
    "LogisticRegression refit": (lambda: _fitted(_sklearn("LogisticRegression")()), _refit),
    "estimator set_params": (_sklearn("LogisticRegression"), lambda m: m.set_params(C=0.5)),
}


def _object_array(*items):
    a = np.empty(len(items), dtype=object)
    a[:] = list(items)
    return a


def _fitted(estimator):
    _fit(estimator)
    return estimator


# pandas 3.1 deprecates ``inplace=``; notebooks still use it, so it stays in the table.
@pytest.mark.filterwarnings("ignore:The inplace keyword")
@pytest.mark.parametrize(("make", "change"), IN_PLACE.values(), ids=IN_PLACE.keys())
def test_every_in_place_change_changes_the_fingerprint(make, change):
    value = make()
    before = fingerprint_info(value)
    change(value)
    after = fingerprint_info(value)
    assert not before.by_identity and not after.by_identity
    assert before.hex != after.hex


# Values that compare (or print) alike except for their type or dtype.
DIFFERENT = {
    "int32 vs int64 array": (lambda: np.arange(5, dtype=np.int32), lambda: np.arange(5, dtype=np.int64)),
    "int32 vs int64 column": (
        lambda: pd.DataFrame({"a": np.arange(5, dtype=np.int32)}),
        lambda: pd.DataFrame({"a": np.arange(5, dtype=np.int64)}),
    ),
    "int64 vs Int64": (lambda: pd.Series([1, 2]), lambda: pd.Series([1, 2], dtype="Int64")),
    "datetime unit": (
        lambda: pd.Series(pd.to_datetime(["2024-01-01"]).as_unit("ns")),
        lambda: pd.Series(pd.to_datetime(["2024-01-01"]).as_unit("us")),
    ),
    "datetime tz": (
        lambda: pd.Series(pd.to_datetime(["2024-01-01"]).tz_localize("UTC")),
        lambda: pd.Series(pd.to_datetime(["2024-01-01"]).tz_localize("Europe/Paris").tz_convert("UTC").tz_convert("Asia/Tokyo")),
    ),
    "datetime naive vs UTC": (
        lambda: pd.Series(pd.to_datetime(["2024-01-01"])),
        lambda: pd.Series(pd.to_datetime(["2024-01-01"]).tz_localize("UTC")),
    ),
    "category vs object": (lambda: pd.Series(["a", "b"], dtype="category"), lambda: pd.Series(["a", "b"], dtype=object)),
    "category vs str": (lambda: pd.Series(["a", "b"], dtype="category"), lambda: pd.Series(["a", "b"], dtype="str")),
    "ordered category": (
        lambda: pd.Series(pd.Categorical(["a", "b"], ordered=True)),
        lambda: pd.Series(pd.Categorical(["a", "b"], ordered=False)),
    ),
    "str vs object strings": (lambda: pd.Series(["a", "b"], dtype="str"), lambda: pd.Series(["a", "b"], dtype=object)),
    "float32 vs float64": (lambda: np.zeros(3, np.float32), lambda: np.zeros(3, np.float64)),
    "shape": (lambda: np.zeros((2, 3)), lambda: np.zeros((3, 2))),
    "big vs little endian": (lambda: np.arange(3, dtype="<i4"), lambda: np.arange(3, dtype=">i4")),
    "range vs int index": (lambda: pd.Series([1, 2]), lambda: pd.Series([1, 2], index=pd.Index([0, 1]))),
    "int vs float": (lambda: 1, lambda: 1.0),
    "int vs bool": (lambda: 1, lambda: True),
    "-0.0 vs 0.0": (lambda: -0.0, lambda: 0.0),
    "-0.0 vs 0.0 in array": (lambda: np.array([-0.0]), lambda: np.array([0.0])),
    "list vs tuple": (lambda: [1, 2], lambda: (1, 2)),
    "set vs frozenset": (lambda: {1, 2}, lambda: frozenset({1, 2})),
    "str vs bytes": (lambda: "ab", lambda: b"ab"),
    "dict order": (lambda: {"a": 1, "b": 2}, lambda: {"b": 2, "a": 1}),
    "string split": (lambda: [f"{k}" for k in range(20)] + ["ab", "c"], lambda: [f"{k}" for k in range(20)] + ["a", "bc"]),
    "quote inside a string": (lambda: ["a', 'b"], lambda: ["a", "b"]),
    "short list int vs bool": (lambda: [1, 0], lambda: [True, False]),
    "short list int vs float": (lambda: [1, 2], lambda: [1.0, 2]),
    "short list str vs bytes": (lambda: ["a"], lambda: [b"a"]),
    "short list int vs str": (lambda: [1], lambda: ["1"]),
    "dict key int vs str": (lambda: {1: 1}, lambda: {"1": 1}),
    "long dict values": (lambda: {f"k{k}": k for k in range(100)}, lambda: {f"k{k}": k + (k == 50) for k in range(100)}),
    "long dict keys": (lambda: {f"k{k}": k for k in range(100)}, lambda: {f"k{k + (k == 50)}": k for k in range(100)}),
    "nested vs flat": (lambda: [[1, 2], 3], lambda: [[1], 2, 3]),
    "long list int vs float": (lambda: [1] * 100, lambda: [1] * 99 + [1.0]),
    "list vs subclass": (lambda: [1], lambda: collections.UserList([1])),
    "two classes, same fields": (lambda: Point(x=1.0), lambda: Shape(name="1.0")),
    "nan payloads are bits": (lambda: np.array([np.nan]), lambda: np.array([-np.nan])),
}


@pytest.mark.parametrize(("a", "b"), DIFFERENT.values(), ids=DIFFERENT.keys())
def test_type_and_dtype_differences_change_the_fingerprint(a, b):
    assert fingerprint(a()) != fingerprint(b())


def test_nan_is_deterministic():
    # Python floats: every NaN alike (a payload cannot be seen). Arrays: their bits, as stored.
    inf = float("inf")
    assert fingerprint(float("nan")) == fingerprint(np.nan) == fingerprint(inf - inf)
    assert fingerprint([float("nan")]) == fingerprint([inf - inf])
    assert fingerprint([float("nan")] * 50) == fingerprint([inf - inf] * 50)
    assert fingerprint([float("nan")] * 50) != fingerprint([0.0] * 50)
    assert fingerprint(np.array([np.nan])) == fingerprint(np.array([float("nan")]))
    assert fingerprint(pd.Series([np.nan, 1.0])) == fingerprint(pd.Series([None, 1.0]))


def test_sets_do_not_depend_on_insertion_order():
    forward = set()
    backward = set()
    for k in range(200):
        forward.add(f"k{k}")
        backward.add(f"k{199 - k}")
    assert fingerprint(forward) == fingerprint(backward)
    p = Plain(2)
    assert fingerprint({(1, "a"), p, 3.5}) == fingerprint({3.5, (1, "a"), Plain(2)})
    assert fingerprint(frozenset([(1, 2), (3, 4)])) == fingerprint(frozenset([(3, 4), (1, 2)]))


def test_entity_identity_and_provenance_fields_are_ignored():
    a = Shape(name="tri", points=[Point(x=1.0)])
    b = Shape(name="tri", points=[Point(x=1.0)])
    assert a.ecs_id != b.ecs_id and a.live_id != b.live_id
    b.update_ecs_ids()
    b.__dict__["derived_from_function"] = "f"
    b.__dict__["attribute_source"]["name"] = a.ecs_id
    assert fingerprint(a) == fingerprint(b)


def test_pydantic_model_by_fields():
    from pydantic import BaseModel

    class M(BaseModel):
        a: int
        b: list[int] = []

    assert fingerprint(M(a=1, b=[2])) == fingerprint(M(a=1, b=[2]))
    assert fingerprint(M(a=1, b=[2])) != fingerprint(M(a=1, b=[3]))


def test_masked_values_hidden_under_na_are_not_content():
    a = pd.array([1, 2, 3], dtype="Int64")
    a[1] = pd.NA  # the hidden data slot keeps 2
    b = pd.array([1, None, 3], dtype="Int64")
    assert fingerprint(a) == fingerprint(b)
    m = np.ma.masked_array([1, 7, 3], mask=[0, 1, 0])
    assert fingerprint(m) == fingerprint(np.ma.masked_array([1, 8, 3], mask=[0, 1, 0]))


def test_arrow_data_does_not_depend_on_chunking_or_slicing():
    values = [f"v{k}" if k % 4 else None for k in range(100)]
    one = pa.chunked_array([pa.array(values)])
    many = pa.chunked_array([pa.array(values[:30]), pa.array(values[30:31]), pa.array(values[31:])])
    sliced = pa.array(["pad"] * 5 + values)[5:]
    assert fingerprint(one) == fingerprint(many) == fingerprint(sliced)
    nums = [k if k % 3 else None for k in range(50)]
    assert fingerprint(pa.chunked_array([pa.array(nums)])) == fingerprint(pa.chunked_array([pa.array(nums[:7]), pa.array(nums[7:])]))
    s1 = pd.Series(values, dtype="str")
    s2 = pd.concat([pd.Series(values[:50], dtype="str"), pd.Series(values[50:], dtype="str")], ignore_index=True)
    assert fingerprint(s1) == fingerprint(s2)


def test_non_contiguous_and_contiguous_arrays_with_equal_content_are_equal():
    a = np.arange(24.0).reshape(4, 6)
    assert fingerprint(a[:, ::2]) == fingerprint(np.ascontiguousarray(a[:, ::2]))
    assert fingerprint(np.asfortranarray(a)) == fingerprint(a)
    # Large strided views are hashed through a small buffer: still the same bytes as a copy.
    big = np.arange(3_000_000.0)[::3]
    assert fingerprint(big) == fingerprint(big.copy())
    grid = np.random.default_rng(0).random((700, 700))
    assert fingerprint(grid.T) == fingerprint(np.ascontiguousarray(grid.T))
    assert fingerprint(pd.DataFrame(grid.T)) == fingerprint(pd.DataFrame(np.ascontiguousarray(grid.T)))


def test_cycles_are_handled_deterministically():
    a: list[Any] = [1]
    a.append(a)
    b: list[Any] = [1]
    b.append(b)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint([1, [1]])
    o = Plain(1)
    o.b = o
    d: dict[str, Any] = {"self": None}
    d["self"] = d
    assert not fingerprint_info(o).by_identity
    assert fingerprint(d) == fingerprint(d)
    shared = [1, 2]
    assert fingerprint([shared, shared]) == fingerprint([[1, 2], [1, 2]])  # sharing is not a cycle


def test_very_deep_nesting_falls_back_to_identity():
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    info = fingerprint_info(deep)
    assert info.by_identity


# -- code ------------------------------------------------------------------------------------------


def _define(source: str, cell: int) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__main__"}
    # A different file name and first line per "cell", as IPython compiles them.
    exec(compile("\n" * cell + source, f"<ipython-input-{cell}>", "exec"), ns)
    return ns


FUNC = "def f(x, y=2):\n    z = x + y\n    return [z for _ in range(3)]\n"
CLASS = (
    "class K:\n    '''doc'''\n    scale = 2\n    def m(self, x):\n        return x * self.scale\n"
    "    @property\n    def p(self):\n        return 1\n"
)


def test_identical_function_redefinition_keeps_the_fingerprint():
    assert fingerprint(_define(FUNC, 1)["f"]) == fingerprint(_define(FUNC, 7)["f"])


@pytest.mark.parametrize(
    "changed",
    [
        FUNC.replace("x + y", "x - y"),
        FUNC.replace("y=2", "y=3"),
        FUNC.replace("z = x + y", "w = x + y").replace("[z", "[w"),
        FUNC.replace("range(3)", "range(4)"),
        FUNC.replace("def f(x, y=2)", "def f(x, *, y=2)"),
    ],
    ids=["operator", "default", "local name", "nested code constant", "keyword-only"],
)
def test_changed_function_source_changes_the_fingerprint(changed):
    assert fingerprint(_define(FUNC, 1)["f"]) != fingerprint(_define(changed, 1)["f"])


def test_closure_contents_and_function_attributes_are_content():
    def make(k):
        def g():
            return k

        return g

    assert fingerprint(make([1])) == fingerprint(make([1]))
    assert fingerprint(make([1])) != fingerprint(make([2]))
    g = make(1)
    before = fingerprint(g)
    g.note = "x"
    assert fingerprint(g) != before


def test_recursive_function_and_lambda():
    ns = _define("def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)\nlam = lambda x: x + 1\n", 1)
    assert not fingerprint_info(ns["fact"]).by_identity
    assert fingerprint(ns["lam"]) == fingerprint(_define("lam = lambda x: x + 1\n", 3)["lam"])
    assert fingerprint(ns["lam"]) != fingerprint(_define("lam = lambda x: x + 2\n", 3)["lam"])


def test_class_redefinition():
    same = _define(CLASS, 9)["K"]
    k = _define(CLASS, 1)["K"]
    assert fingerprint(k) == fingerprint(same)
    assert fingerprint(k) != fingerprint(_define(CLASS.replace("x * self.scale", "x + self.scale"), 1)["K"])
    assert fingerprint(k) != fingerprint(_define(CLASS.replace("scale = 2", "scale = 3"), 1)["K"])
    assert fingerprint(k) != fingerprint(_define(CLASS.replace("return 1", "return 2"), 1)["K"])
    assert not fingerprint_info(k).by_identity
    # Library classes by name: cheap and stable.
    assert fingerprint(pd.DataFrame) == fingerprint(pd.DataFrame)
    assert fingerprint(pd.DataFrame) != fingerprint(pd.Series)


def test_bound_methods_include_their_object():
    a, b = Plain(1), Plain(2)
    assert fingerprint(Plain.__init__.__get__(a)) != fingerprint(Plain.__init__.__get__(b))
    assert fingerprint([1].append) != fingerprint([2].append)
    assert fingerprint(len) == fingerprint(len)


# -- identity --------------------------------------------------------------------------------------


def _gen():
    yield 1


async def _coro():
    return 1


def _figure():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    plt.close(fig)
    return fig


IDENTITY = {
    "generator": _gen,
    "coroutine": _coro,
    "async generator": lambda: (x async for x in _agen()),
    "open file": lambda: open(__file__),  # noqa: SIM115
    "bytes io": lambda: io.BytesIO(b"x"),
    "socket": socket.socket,
    "sqlite3 connection": lambda: sqlite3.connect(":memory:"),
    "lock": threading.Lock,
    "thread": lambda: threading.Thread(target=print),
    "module": lambda: json,
    "matplotlib figure": _figure,
}


async def _agen():
    yield 1


@pytest.mark.parametrize("make", IDENTITY.values(), ids=IDENTITY.keys())
def test_values_without_readable_state_are_fingerprinted_by_identity(make):
    a, b = make(), make()
    try:
        info = fingerprint_info(a)
        assert info.by_identity and is_identity_fingerprint(a)
        assert fingerprint_info(a) == info  # stable for the same object
        if a is not b:
            assert fingerprint(a) != fingerprint(b)
        # Inside a container, the container says so too.
        assert fingerprint_info({"v": [a]}).by_identity
    finally:
        for obj in (a, b):
            close = getattr(obj, "close", None)
            if callable(close) and not isinstance(obj, type(_gen())):
                close()


def test_content_values_are_not_identity():
    assert fingerprint_info([1, {"a": np.zeros(3)}]) == Fingerprint(fingerprint([1, {"a": np.zeros(3)}]), False)
    assert not is_identity_fingerprint(_frame())


# -- across processes ------------------------------------------------------------------------------

CROSS_PROCESS = """
import json, sys
sys.path.insert(0, {tests!r})
import test_fingerprint as t
from ecs_notebook.core.values import fingerprint
names = {names!r}
print(json.dumps({{n: fingerprint(t.EQUAL_CONTENT[n]()) for n in names}}))
"""


def test_fingerprints_are_equal_in_another_process():
    from pathlib import Path

    names = [n for n in EQUAL_CONTENT if n != "numpy generator"] + ["numpy generator"]
    code = CROSS_PROCESS.format(tests=str(Path(__file__).parent), names=names)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    theirs = json.loads(out.stdout.strip().splitlines()[-1])
    ours = {n: fingerprint(EQUAL_CONTENT[n]()) for n in names}
    assert theirs == ours


# -- properties ------------------------------------------------------------------------------------

ARRAYS = hnp.arrays(
    dtype=st.one_of(
        hnp.integer_dtypes(), hnp.floating_dtypes(), hnp.datetime64_dtypes(), hnp.unicode_string_dtypes(), hnp.boolean_dtypes()
    ),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ARRAYS, st.data())
def test_array_copy_has_the_same_fingerprint_and_a_changed_element_changes_it(a, data):
    assert fingerprint(a.copy()) == fingerprint(a)
    flat_index = data.draw(st.integers(0, a.size - 1))
    changed = a.copy()
    flat = changed.reshape(-1)
    new = data.draw(hnp.from_dtype(a.dtype))
    old_bytes = flat[flat_index : flat_index + 1].tobytes()
    flat[flat_index] = new
    if flat[flat_index : flat_index + 1].tobytes() != old_bytes:
        assert fingerprint(changed) != fingerprint(a)
    else:
        assert fingerprint(changed) == fingerprint(a)


FRAMES = hpd.data_frames(
    columns=[
        hpd.column("f", dtype=float),
        hpd.column("i", dtype=np.int32),
        hpd.column("s", elements=st.text(max_size=5)),
        hpd.column("t", dtype="datetime64[ns]"),
    ],
    index=hpd.range_indexes(min_size=1, max_size=20),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FRAMES, st.data())
def test_frame_copy_has_the_same_fingerprint_and_a_changed_cell_changes_it(df, data):
    assert fingerprint(df.copy(deep=True)) == fingerprint(df)
    row = data.draw(st.integers(0, len(df) - 1))
    column = data.draw(st.sampled_from(["f", "i", "s"]))
    before = df[column].iloc[row]
    draws = {"f": st.floats(allow_nan=False), "i": st.integers(-(2**31), 2**31 - 1), "s": st.text(max_size=5)}
    new = data.draw(draws[column])
    changed = df.copy(deep=True)
    changed.loc[changed.index[row], column] = new
    same = new == before and (column != "f" or np.signbit(new) == np.signbit(before))
    assert (fingerprint(changed) == fingerprint(df)) == same


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
        lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids) | st.tuples(kids, kids),
        max_leaves=30,
    )
)
@settings(max_examples=200, deadline=None)
def test_nested_python_values_copy_equal(value):
    import copy

    assert fingerprint(copy.deepcopy(value)) == fingerprint(value)


def test_frame_columns_read_from_blocks_match_the_public_columns():
    from ecs_notebook.core.values._arrays import frame_columns

    df = _frame()
    df.insert(2, "ins", np.arange(50.0))  # a block of its own, out of column order
    df["f2"] = df["f"] * 2
    del df["i"]
    df = df[["t", "f2", "s", "ins", "f", "n", "c"]]
    mixed = pd.concat([df, pd.DataFrame(np.ones((50, 3)), columns=["x", "y", "z"])], axis=1)
    for frame in (df, mixed, pd.DataFrame(np.arange(12.0).reshape(3, 4).T), pd.DataFrame(index=range(3))):
        public = [frame.iloc[:, i].array for i in range(frame.shape[1])]
        ours = frame_columns(frame)
        assert len(ours) == len(public)
        for a, b in zip(ours, public):
            if type(b) is pd.arrays.NumpyExtensionArray:  # the block holds the ndarray it wraps
                b = b.to_numpy()
            assert type(a) is type(b)
            assert fingerprint(a) == fingerprint(b)
