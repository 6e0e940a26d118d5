"""Exact, pickle-free value codecs (DESIGN A11): bit-exact round trips for a zoo of dtypes and shapes,
one content-addressed part per column, and hostile or damaged parts refused with StoreError."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.extra import pandas as hpd

from ecs_notebook.core.errors import StoreError
from ecs_notebook.core.values.codecs import Encoded, NoCodecError, PngImage, decode, encode, part_key


def round_trip(value: Any) -> tuple[Any, Encoded]:
    """Encode, pass the header through strict JSON text and the parts through plain bytes, decode."""
    enc = encode(value)
    header = json.loads(json.dumps(enc.header, allow_nan=False))
    parts = {key: bytes(data) for key, data in enc.parts.items()}
    return decode(header, parts), enc


def assert_same_frame(a: pd.DataFrame | pd.Series, b: pd.DataFrame | pd.Series) -> None:
    assert type(a) is type(b)
    assert a.equals(b)
    pd.testing.assert_index_equal(a.index, b.index, exact=True)
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_index_equal(a.columns, b.columns, exact=True)
        assert list(map(repr, a.dtypes)) == list(map(repr, b.dtypes))
        pd.testing.assert_frame_equal(a, b, check_exact=True, check_freq=True)
    else:
        assert repr(a.dtype) == repr(b.dtype) and a.name == b.name
        pd.testing.assert_series_equal(a, b, check_exact=True)
    assert a.attrs == b.attrs


COLUMNS = {
    "int8": lambda: pd.Series(np.array([-1, 0, 127], dtype=np.int8)),
    "int32": lambda: pd.Series(np.arange(3, dtype=np.int32)),
    "uint64": lambda: pd.Series(np.array([0, 2**64 - 1, 5], dtype=np.uint64)),
    "float16": lambda: pd.Series(np.array([0.5, -0.0, np.inf], dtype=np.float16)),
    "float64 nan and -0.0": lambda: pd.Series([np.nan, -0.0, 1e-310]),
    "complex128": lambda: pd.Series([1 + 2j, 0j, -1j]),
    "bool": lambda: pd.Series([True, False, True]),
    "Int64": lambda: pd.Series([1, None, 3], dtype="Int64"),
    "UInt8": lambda: pd.Series([1, None, 255], dtype="UInt8"),
    "boolean": lambda: pd.Series([True, None, False], dtype="boolean"),
    "Float32": lambda: pd.Series([1.5, None, 2.0], dtype="Float32"),
    "category ordered": lambda: pd.Series(pd.Categorical(["a", "b", "a"], categories=["b", "a", "z"], ordered=True)),
    "category of ints": lambda: pd.Series(pd.Categorical([3, 1, None])),
    "datetime64[s]": lambda: pd.Series(pd.date_range("2020", periods=3, unit="s")),
    "datetime64[ns] with NaT": lambda: pd.Series(
        pd.to_datetime(["2020-01-01 00:00:00", None, "2021-06-01 12:00:00.000000001"], format="ISO8601").as_unit("ns")
    ),
    "datetime64[us, UTC]": lambda: pd.Series(pd.date_range("2020", periods=3, unit="us", tz="UTC")),
    "datetime64[ms, Europe/Paris]": lambda: pd.Series(pd.date_range("2020-03-29", periods=3, freq="h", unit="ms", tz="Europe/Paris")),
    "timedelta64[ms]": lambda: pd.Series(pd.to_timedelta([1, None, 3], unit="ms").as_unit("ms")),
    "str": lambda: pd.Series(["a", None, "ç"], dtype="str"),
    "string[python]": lambda: pd.Series(["a", None, "c"], dtype="string[python]"),
    "string[pyarrow]": lambda: pd.Series(["a", None, "c"], dtype="string[pyarrow]"),
    "object strings and None": lambda: pd.Series(["a", None, "c"], dtype=object),
    "object mixed": lambda: pd.Series(["a", 1, Decimal("1.50"), None, np.nan, b"x", (1, 2)], dtype=object),
    "int64[pyarrow]": lambda: pd.Series([1, None, 3], dtype="int64[pyarrow]"),
    "period[M]": lambda: pd.Series(pd.period_range("2020-01", periods=3, freq="M")),
    "interval": lambda: pd.Series(pd.interval_range(0, 3, closed="left")),
    "empty float": lambda: pd.Series([], dtype="float64"),
    "named, string index": lambda: pd.Series([1.0, 2.0], index=pd.Index(["x", "y"], name="key"), name="value"),
    "int name, datetime index with freq": lambda: pd.Series(
        [1, 2, 3], index=pd.date_range("2024-01-01", periods=3, freq="D", name="day"), name=7
    ),
    "attrs": lambda: _with_attrs(pd.Series([1, 2]), {"source": "lab", "n": 2}),
}


def _with_attrs(obj, attrs):
    obj.attrs.update(attrs)
    return obj


@pytest.mark.parametrize("make", COLUMNS.values(), ids=COLUMNS.keys())
def test_series_round_trip_is_exact(make):
    s = make()
    back, _ = round_trip(s)
    assert_same_frame(s, back)


def test_frame_of_every_column_kind_round_trips_exactly():
    n = 3
    df = pd.DataFrame({name: make().reset_index(drop=True) for name, make in COLUMNS.items() if len(make()) == n})
    df.attrs["note"] = "zoo"
    back, enc = round_trip(df)
    assert_same_frame(df, back)
    # One part per column, plus the column labels (RangeIndex rows need none).
    assert len({spec.get("part") or json.dumps(spec["items"]) for spec in enc.header["data"]}) <= df.shape[1]


FRAMES = {
    "multiindex rows and columns": lambda: pd.DataFrame(
        np.arange(18.0).reshape(6, 3),
        index=pd.MultiIndex.from_product([["x", "y"], [1, 2, 3]], names=["letter", None]),
        columns=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["top", "sub"]),
    ),
    "non-string column labels": lambda: pd.DataFrame({0: [1], 2.5: [2], ("t", 1): [3], None: [4], True: [5]}),
    "duplicate column labels": lambda: pd.DataFrame([[1, 2.0, "x"]], columns=["a", "a", "b"]),
    "datetime column labels": lambda: pd.DataFrame([[1, 2]], columns=pd.to_datetime(["2020-01-01", "2020-01-02"])),
    "categorical index": lambda: pd.DataFrame({"v": [1, 2]}, index=pd.CategoricalIndex(["a", "b"], name="c")),
    "interval index": lambda: pd.DataFrame({"v": [1, 2]}, index=pd.interval_range(0, 2)),
    "uint index, step range": lambda: pd.DataFrame({"v": [1, 2]}, index=pd.RangeIndex(10, 0, -5, name="r")),
    "no columns": lambda: pd.DataFrame(index=pd.RangeIndex(3)),
    "no rows": lambda: pd.DataFrame({"a": pd.Series([], dtype="Int32"), "b": pd.Series([], dtype="str")}),
    "wide": lambda: pd.DataFrame(np.random.default_rng(0).random((5, 200))),
}


@pytest.mark.parametrize("make", FRAMES.values(), ids=FRAMES.keys())
def test_frame_shapes_and_labels_round_trip_exactly(make):
    df = make()
    back, _ = round_trip(df)
    assert_same_frame(df, back)


def test_index_and_pandas_scalars_round_trip():
    for value in [
        pd.Index([1, 2, 3], dtype="int32", name="i"),
        pd.MultiIndex.from_tuples([(1, "a"), (2, "b")]),
        pd.DatetimeIndex(["2020-01-01"], tz="Asia/Tokyo"),
    ]:
        back, _ = round_trip(value)
        pd.testing.assert_index_equal(value, back, exact=True)
    for value in [pd.Timestamp("2024-05-01 12:00:00.123456789", tz="Europe/Paris"), pd.Timedelta("1 days 2 ns"), pd.Period("2020Q1")]:
        back, _ = round_trip(value)
        assert back == value and type(back) is type(value)
        assert getattr(back, "unit", None) == getattr(value, "unit", None)
    for arr in [pd.array([1, None], dtype="Int8"), pd.Categorical(["x", "y", "x"]), pd.array(["a", None], dtype="str")]:
        back, _ = round_trip(arr)
        assert type(back) is type(arr) and back.dtype == arr.dtype and back.equals(arr)
    assert round_trip(pd.NA)[0] is pd.NA
    assert round_trip([pd.NaT])[0][0] is pd.NaT


ARRAYS = {
    "int16": lambda: np.arange(10, dtype=np.int16),
    "float32 2d": lambda: np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4),
    "fortran order": lambda: np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "non-contiguous slice": lambda: np.arange(20)[::3],
    "bool": lambda: np.array([True, False]),
    "datetime64[us]": lambda: np.array(["2020-01-01T01:02:03.000004", "NaT"], dtype="datetime64[us]"),
    "timedelta64[D]": lambda: np.array([1, -2], dtype="timedelta64[D]"),
    "unicode": lambda: np.array(["a", "bcd", "é"]),
    "bytes": lambda: np.array([b"a", b"bc"]),
    "structured": lambda: np.array([(1, 2.0, b"x"), (3, -0.0, b"yz")], dtype=[("a", "<i4"), ("b", ">f8"), ("c", "S2")]),
    "nested structured": lambda: np.zeros(2, dtype=[("p", [("x", "f4"), ("y", "f4")]), ("n", "i2", (3,))]),
    "0-d": lambda: np.array(5),
    "empty 2d": lambda: np.zeros((0, 3)),
    "complex64": lambda: np.array([1 + 1j], dtype=np.complex64),
}


@pytest.mark.parametrize("make", ARRAYS.values(), ids=ARRAYS.keys())
def test_numpy_array_round_trip_is_exact(make):
    a = make()
    back, enc = round_trip(a)
    assert enc.header["codec"] == "npy"
    assert type(back) is np.ndarray and back.dtype == a.dtype and back.shape == a.shape
    assert back.tobytes() == a.tobytes()
    assert back.flags.writeable
    if a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous:
        assert back.flags.f_contiguous


def test_object_array_of_storable_items_round_trips():
    a = np.empty(5, dtype=object)
    a[:] = [1, "two", None, [3, {"four": 4.0}], np.arange(3)]
    back, enc = round_trip(a)
    assert enc.header["codec"] == "npy_object" and back.dtype == object and back.shape == (5,)
    assert back[:4].tolist() == a[:4].tolist()
    assert np.array_equal(back[4], a[4])
    grid = np.array([["a", 1], [None, 2.5]], dtype=object)
    assert round_trip(grid)[0].tolist() == grid.tolist()


PY_VALUES = {
    "scalars": [None, True, False, 0, -(2**70), 1.5, float("inf"), -0.0, "ç\ud800", b"\x00\xff", bytearray(b"ab"), 1 + 2j],
    "nan": float("nan"),
    "nested": {"a": [1, (2, 3)], "b": {"c": {1, 2}}, 3: frozenset({"x"}), (1, 2): None},
    "dict order kept": {"z": 1, "a": 2},
    "large float list": [k / 7 for k in range(5000)],
    "large int list": list(range(-2500, 2500)),
    "large mixed list": [k if k % 2 else str(k) for k in range(3000)],
    "large dict": {f"k{k}": [k] for k in range(2000)},
    "large bytes": bytes(range(256)) * 100,
    "datetimes": [
        dt.datetime(2020, 1, 1, 12, 30, 1, 5),
        dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
        dt.datetime(2020, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
        dt.date(2020, 2, 29),
        dt.time(23, 59, 59, 999999),
        dt.timedelta(days=-1, microseconds=3),
    ],
    "decimal and uuid": [Decimal("1.10"), Decimal("-Infinity"), uuid.UUID(int=12345)],
    "array inside a dict": {"weights": np.arange(4.0), "frame": pd.DataFrame({"a": [1, 2]})},
}


@pytest.mark.parametrize("value", PY_VALUES.values(), ids=PY_VALUES.keys())
def test_python_values_round_trip_exactly(value):
    back, _ = round_trip(value)
    assert _same(back, value)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a.hex() == b.hex() if a == a else b != b
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, pd.DataFrame):
        return a.equals(b) and list(a.dtypes) == list(b.dtypes)
    return a == b


def test_zoneinfo_datetimes_keep_their_zone():
    from zoneinfo import ZoneInfo

    value = dt.datetime(2021, 10, 31, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"), fold=1)
    back, _ = round_trip(value)
    assert back == value and back.tzinfo == value.tzinfo and back.fold == 1 and back.utcoffset() == value.utcoffset()


# -- estimators and figures ------------------------------------------------------------------------


def test_fitted_estimator_round_trips_through_skops():
    pytest.importorskip("skops")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x, y = rng.random((40, 3)), np.arange(40) % 2
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    back, enc = round_trip(model)
    assert enc.header["codec"] == "skops"
    assert type(back) is type(model)
    assert np.array_equal(back.predict_proba(x), model.predict_proba(x))
    assert back[1].coef_.tobytes() == model[1].coef_.tobytes()


class _CustomTransformer:
    """Stands for an estimator class skops does not know."""


def test_estimator_holding_untrusted_types_has_no_codec():
    pytest.importorskip("skops")
    from sklearn.preprocessing import FunctionTransformer

    model = FunctionTransformer(func=_CustomTransformer)
    with pytest.raises(NoCodecError, match="does not trust"):
        encode(model)


def test_stored_estimator_naming_an_untrusted_type_is_refused():
    sio = pytest.importorskip("skops.io")
    from sklearn.preprocessing import FunctionTransformer

    data = sio.dumps(FunctionTransformer(func=_CustomTransformer))
    header = {"format": 1, "codec": "skops", "part": part_key(data)}
    with pytest.raises(StoreError, match="does not trust"):
        decode(header, {part_key(data): data})


def test_figure_is_stored_as_png_and_read_back_as_an_image():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([1, 3, 2])
    back, enc = round_trip(fig)
    plt.close(fig)
    assert enc.header["codec"] == "png"
    assert isinstance(back, PngImage)
    assert back.data.startswith(b"\x89PNG\r\n\x1a\n") and back._repr_png_() == back.data
    assert back == PngImage(back.data)


NO_CODEC = {
    "generator": lambda: (x for x in [1]),
    "lambda": lambda: lambda x: x,
    "open file": lambda: io.StringIO("x"),
    "lock in a dict": lambda: {"lock": __import__("threading").Lock()},
    "object": object,
    "masked array": lambda: np.ma.masked_array([1, 2], mask=[0, 1]),
    "sparse column": lambda: pd.DataFrame({"s": pd.arrays.SparseArray([0, 1, 0])}),
    "structured with object field": lambda: np.zeros(2, dtype=[("a", "O")]),
}


@pytest.mark.parametrize("make", NO_CODEC.values(), ids=NO_CODEC.keys())
def test_values_without_an_exact_codec_say_so(make):
    with pytest.raises(NoCodecError):
        encode(make())


# -- content addressing ----------------------------------------------------------------------------


def test_each_column_is_its_own_part_and_equal_columns_share_it():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.random(1000), "b": np.arange(1000), "c": [f"s{k}" for k in range(1000)]})
    first = encode(df)
    assert encode(df.copy(deep=True)).parts.keys() == first.parts.keys()  # same content, same keys
    df.loc[5, "b"] = -1
    second = encode(df)
    new = set(second.parts) - set(first.parts)
    assert len(new) == 1
    (key,) = new
    assert len(second.parts[key]) < 1.2 * df["b"].nbytes  # only that column, about its raw size
    for key, data in second.parts.items():
        assert part_key(data) == key and len(key) == 32


def test_a_frame_inside_a_container_is_stored_by_reference_to_its_parts():
    df = pd.DataFrame({"a": np.arange(5000.0)})
    alone = encode(df)
    inside = encode({"x": df, "y": [df]})
    assert set(alone.parts) <= set(inside.parts)
    assert len(json.dumps(inside.header)) < 4000  # the header refers to parts, never copies data


# -- hostile and damaged data ----------------------------------------------------------------------


def _parts(enc: Encoded) -> dict[str, bytes]:
    return {k: bytes(v) for k, v in enc.parts.items()}


def _one_part(header: dict[str, Any], data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    return header, {part_key(data): data}


def test_corrupt_part_bytes_are_refused():
    enc = encode(pd.DataFrame({"a": np.arange(100.0), "s": pd.Series([f"x{k}" for k in range(100)], dtype="str")}))
    for key, data in enc.parts.items():
        broken = bytearray(data)
        broken[len(broken) // 2] ^= 0xFF
        parts = _parts(enc)
        parts[key] = bytes(broken)
        with pytest.raises(StoreError, match="corrupt"):
            decode(enc.header, parts)


def test_truncated_parts_are_refused_even_with_a_matching_key():
    a = np.arange(1000.0)
    enc = encode(a)
    (key, data) = next(iter(enc.parts.items()))
    short = bytes(data)[:-8]
    with pytest.raises(StoreError, match="corrupt"):
        decode(enc.header, {key: short})
    header = dict(enc.header, part=part_key(short))  # a key that matches the damaged bytes
    with pytest.raises(StoreError, match="truncated"):
        decode(header, {part_key(short): short})
    frame = encode(pd.DataFrame({"s": pd.Series(["a", "b"] * 100, dtype="str")}))
    (spec,) = frame.header["data"]
    cut = bytes(frame.parts[spec["part"]])[:-40]
    header = json.loads(json.dumps(frame.header))
    header["data"][0]["part"] = part_key(cut)
    with pytest.raises(StoreError):
        decode(header, {**_parts(frame), part_key(cut): cut})


def test_missing_part_is_a_store_error_naming_it():
    enc = encode(np.arange(3))
    with pytest.raises(StoreError, match=f"{enc.header['part']} is missing"):
        decode(enc.header, {})


@pytest.mark.parametrize(
    "header",
    [
        {"format": 1, "codec": "os:system", "node": "echo hacked"},
        {"format": 1, "codec": "builtins.eval", "part": "0" * 32},
        {"format": 1, "codec": "py", "node": {"os:system": "x"}},
        {"format": 1, "codec": "py", "node": {"value": {"codec": "antigravity"}}},
        {"format": 1, "codec": "py", "node": {"f": "1.0", "extra": 1}},
        {"format": 1, "codec": "frame", "columns": {"kind": "os.system"}, "index": {}, "data": []},
        {"format": 1, "codec": "npy", "part": ["not", "a", "key"]},
        {"format": 1, "codec": "py", "node": {"decimal": "not a number"}},
        {"format": 1, "codec": "py", "node": {"datetime": ["2020-01-01", 0, "../../etc/passwd"]}},
        {"format": 1, "codec": "py", "node": {"int": "9" * 100_000}},
        {"format": 1, "codec": "npy_object", "shape": [10**12], "items": {"list": []}},
        {"format": 2, "codec": "py", "node": 1},
        ["not", "a", "header"],
    ],
    ids=[
        "codec os:system",
        "codec builtins.eval",
        "node tag",
        "nested codec",
        "node with two keys",
        "index kind",
        "bad key",
        "bad decimal",
        "zone path",
        "huge int text",
        "huge shape",
        "newer format",
        "not a mapping",
    ],
)
def test_headers_naming_anything_unregistered_are_refused_without_importing_it(header):
    before = set(sys.modules)
    with pytest.raises(StoreError):
        decode(header, {})
    assert "antigravity" not in sys.modules
    assert not {m for m in set(sys.modules) - before if m.split(".")[0] in ("os", "subprocess", "antigravity", "pickle")}


def test_deeply_nested_hostile_json_is_a_store_error():
    node: Any = 1
    for _ in range(50_000):
        node = {"list": [node]}
    with pytest.raises(StoreError):
        decode({"format": 1, "codec": "py", "node": node}, {})


def test_npy_part_of_object_dtype_is_refused():
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)  # what a hostile store could hold
    data = buf.getvalue()
    with pytest.raises(StoreError, match="object dtype"):
        decode(*_one_part({"format": 1, "codec": "npy", "part": part_key(data)}, data))


def test_arrow_part_with_a_pickled_extension_type_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()  # a protocol-0 pickle calling os.system
    field = pa.field("v", pa.binary(), metadata={b"ARROW:extension:name": b"arrow.py_extension_type", b"ARROW:extension:metadata": payload})
    table = pa.table({"v": pa.array([b"x"])}, schema=pa.schema([field]))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    data = sink.getvalue().to_pybytes()
    header = {"format": 1, "codec": "series", "name": None, "index": {"kind": "range", "start": 0, "stop": 1, "step": 1, "name": None},
              "values": {"kind": "arrow", "part": part_key(data)}}  # fmt: skip
    with pytest.raises(StoreError, match="not allowed"):
        decode(header, {part_key(data): data})
    assert not marker.exists()


def test_garbage_part_in_every_binary_format_is_a_store_error():
    junk = b"\x93NUMPY\x01\x00garbage" + bytes(100)
    arrow_junk = b"\xff\xff\xff\xff" + bytes(50)
    index = {"kind": "range", "start": 0, "stop": 1, "step": 1, "name": None}
    for header, data in [
        ({"format": 1, "codec": "npy"}, junk),
        ({"format": 1, "codec": "np_scalar"}, b"not npy"),
        ({"format": 1, "codec": "png"}, b"GIF89a"),
        ({"format": 1, "codec": "skops"}, b"PK\x03\x04junk"),
        ({"format": 1, "codec": "series", "name": None, "index": index, "values": {"kind": "arrow"}}, arrow_junk),
        ({"format": 1, "codec": "py", "node": {"list": {"json": None}}}, b"{not json"),
    ]:
        key = part_key(data)
        if "values" in header:
            header["values"]["part"] = key
        elif header["codec"] == "py":
            header["node"]["list"]["json"] = key
        else:
            header["part"] = key
        if header["codec"] == "skops":
            pytest.importorskip("skops")
        with pytest.raises(StoreError):
            decode(header, {key: data})


# -- no pickle anywhere ----------------------------------------------------------------------------

NO_PICKLE = """
import _pickle, pickle, sys

def refuse(*args, **kwargs):
    raise AssertionError("pickle used")

class Unpickler(pickle.Unpickler):
    load = refuse

class Pickler(pickle.Pickler):
    dump = refuse

for module in (pickle, _pickle):
    module.loads = module.load = module.dumps = module.dump = refuse
    module.Unpickler, module.Pickler = Unpickler, Pickler
sys.path.insert(0, {tests!r})
import numpy as np, pandas as pd
from test_value_codecs import COLUMNS, PY_VALUES, ARRAYS, FRAMES, round_trip
from sklearn.linear_model import LogisticRegression

checked = 0
for table in (COLUMNS, ARRAYS, FRAMES):
    for make in table.values():
        round_trip(make())
        checked += 1
for value in PY_VALUES.values():
    round_trip(value)
    checked += 1
model = LogisticRegression().fit(np.random.default_rng(0).random((20, 2)), np.arange(20) % 2)
back, _ = round_trip(model)
assert back.coef_.tobytes() == model.coef_.tobytes()
print(checked + 1)
"""


def test_round_trips_never_pickle():
    pytest.importorskip("skops")
    code = NO_PICKLE.format(tests=str(Path(__file__).parent))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip().splitlines()[-1]) == len(COLUMNS) + len(ARRAYS) + len(FRAMES) + len(PY_VALUES) + 1


# -- properties ------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(dtype=hnp.floating_dtypes(endianness="="), shape=hnp.array_shapes(max_dims=2, max_side=20), elements={"allow_nan": True}))
def test_random_float_arrays_round_trip_bit_exact(a):
    back, _ = round_trip(a)
    assert back.dtype == a.dtype and back.tobytes() == a.tobytes()


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hpd.data_frames(
        columns=[
            hpd.column("f", dtype=float),
            hpd.column("i", dtype=np.int32),
            hpd.column("t", dtype="datetime64[ns]"),
            hpd.column("o", elements=st.one_of(st.none(), st.text(max_size=4), st.integers(), st.floats())),
        ],
        index=hpd.indexes(dtype=np.int64, max_size=15, unique=False),
    )
)
def test_random_frames_round_trip_bit_exact(df):
    back, _ = round_trip(df)
    assert_same_frame(df, back)
    assert back["f"].to_numpy().tobytes() == df["f"].to_numpy().tobytes()  # NaN payloads and -0.0 too
