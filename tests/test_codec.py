"""Stored values (DESIGN A8): JSON and typed binary codecs, never pickle.

Two levels: the tagged codec itself (``Encoder`` → strict JSON text → ``decode``), with hypothesis
for nested JSON-ish values; and what a user sees, a value held by an entity field (typed, or ``Any``)
written to a SQLite store and read back after reconnecting.
"""

from __future__ import annotations

import base64
import enum
import json
import math
import warnings
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from models import Holder, sqlite_url
from pydantic import BaseModel, ConfigDict, create_model

import ecs_notebook
from ecs_notebook import Entity, EntityRegistry, get
from ecs_notebook.store.codec import Encoder, UnstorableValue, decode


class Color(enum.Enum):
    RED = "red"
    GREEN = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Point(BaseModel):
    """A plain (non-entity) pydantic model."""

    x: float
    y: float = 0.0
    tags: list[str] = []
    when: datetime | None = None


class WithArbitrary(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    thing: object


def roundtrip(value: Any) -> Any:
    """Encode, write as strict JSON text (no NaN tokens), read back, decode."""
    data = Encoder().encode(value)
    text = json.dumps(data, allow_nan=False)
    return decode(json.loads(text))


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types, all the way down (nan equals nan; offsets of times compared)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, Decimal):
        return str(a) == str(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (datetime, time)):
        return a == b and a.utcoffset() == b.utcoffset() and (a.tzinfo is None) == (b.tzinfo is None)
    if isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.names is not None:
            return bool((a == b).all())
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    return bool(a == b)


# -- hypothesis: nested JSON-ish values --------------------------------------------------------

offsets = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))
tzinfos = st.none() | st.just(timezone.utc) | offsets
hashable_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=8),
    st.uuids(),
    st.dates(),
    st.sampled_from(list(Color)),
)
leaves = st.one_of(
    hashable_leaves,
    st.floats(),  # nan and ±inf included
    st.integers(min_value=-(2**80), max_value=2**80),
    st.binary(max_size=16),
    st.datetimes(timezones=tzinfos),
    st.times(timezones=tzinfos),
    st.timedeltas(min_value=timedelta(days=-10_000), max_value=timedelta(days=10_000)),
    st.decimals(),
    st.complex_numbers(allow_nan=False, allow_infinity=False),
    st.sampled_from(list(Level)),
)
keys = st.one_of(st.text(max_size=6), st.integers(), st.just("$t"), st.tuples(st.integers(), st.text(max_size=3)))


def _containers(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
        st.frozensets(hashable_leaves, max_size=4),
        st.sets(hashable_leaves, max_size=4),
    )


values = st.recursive(leaves, _containers, max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(values)
def test_tagged_codec_round_trips_nested_values(value):
    assert same(roundtrip(value), value)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=6), values, max_size=4))
def test_encoded_form_is_json_and_user_dicts_with_tag_keys_stay_dicts(value):
    wrapped = {"$t": "uuid", "v": "not a uuid", "data": value}  # a user dict that looks like a tag
    assert same(roundtrip(wrapped), wrapped)
    json.dumps(Encoder().encode(value), allow_nan=False)


# -- a table of the values the design names ------------------------------------------------------

NAMED_VALUES = [
    ("datetime-aware", datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)),
    ("datetime-offset", datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))),
    ("datetime-naive", datetime(2024, 5, 6, 7, 8, 9, 10)),
    ("date", date(1999, 12, 31)),
    ("time", time(23, 59, 58, 999999)),
    ("time-aware", time(1, 2, 3, tzinfo=timezone(timedelta(hours=2)))),
    ("timedelta", timedelta(days=3, seconds=5, microseconds=7)),
    ("timedelta-negative", timedelta(days=-1, microseconds=1)),
    ("uuid", UUID("12345678-1234-5678-1234-567812345678")),
    ("decimal", Decimal("3.14159265358979323846264338327950288")),
    ("decimal-nan", Decimal("NaN")),
    ("enum", Color.RED),
    ("int-enum", Level.HIGH),
    ("bytes", bytes(range(256))),
    ("tuple", (1, "a", (2.5, None))),
    ("set", {1, 2, 3}),
    ("frozenset", frozenset({"a", "b"})),
    ("dict-int-keys", {1: "one", 2: "two", -3: [3]}),
    ("dict-mixed-keys", {1: "one", "two": 2, (3, "x"): 3}),
    ("dict-tag-key", {"$t": "datetime", "v": "not a date"}),
    ("nan", float("nan")),
    ("inf", float("inf")),
    ("-inf", float("-inf")),
    ("nested", {"a": [1, {"b": (Decimal("1.5"), {4, 5})}], "when": date(2020, 1, 1)}),
    ("big-int", 2**100),
    ("unicode", "héllo ✓ \x00 \u2028"),
]


@pytest.mark.parametrize(("name", "value"), NAMED_VALUES, ids=[n for n, _ in NAMED_VALUES])
def test_named_values_round_trip(name, value):
    assert same(roundtrip(value), value)


def test_pydantic_model_round_trips_as_its_class():
    p = Point(x=1.5, tags=["a"], when=datetime(2024, 1, 1, tzinfo=timezone.utc))
    back = roundtrip(p)
    assert type(back) is Point
    assert back == p


def test_pydantic_model_defined_in_this_process_is_found_without_importing_its_module():
    Ghost = create_model("GhostModel", __module__="no_such_module_here", a=(int, ...))
    back = roundtrip(Ghost(a=3))
    assert back == Ghost(a=3)


def test_pydantic_model_whose_class_is_gone_keeps_its_data():
    Ghost = create_model("GhostModel", __module__="no_such_module_here", a=(int, ...))
    stored = Encoder().encode(Ghost(a=3))
    stored["c"] = "no_such_module_here:NeverDefinedModel"
    assert decode(stored) == {"a": 3}


# -- numpy ------------------------------------------------------------------------------------

ARRAYS = [
    ("int8", np.array([-128, 0, 127], dtype=np.int8)),
    ("int64-2d", np.arange(12, dtype=np.int64).reshape(3, 4)),
    ("uint16", np.array([0, 65535], dtype=np.uint16)),
    ("float32", np.array([1.5, -2.25, np.nan], dtype=np.float32)),
    ("float64-2d", np.array([[np.inf, -np.inf], [np.nan, 0.1]])),
    ("bool", np.array([True, False, True])),
    ("complex128", np.array([1 + 2j, -3j])),
    ("big-endian", np.arange(6, dtype=">i4").reshape(2, 3)),
    ("fortran-order", np.asfortranarray(np.arange(6.0).reshape(2, 3))),
    ("0-d", np.array(3.5)),
    ("empty-2d", np.zeros((0, 3))),
    ("datetime64", np.array(["2020-01-01", "2021-06-30"], dtype="datetime64[D]")),
    ("unicode", np.array(["a", "héllo"])),
    ("structured", np.array([(1, 2.0), (3, 4.5)], dtype=[("a", "i4"), ("b", "f8")])),
]


@pytest.mark.parametrize(("name", "arr"), ARRAYS, ids=[n for n, _ in ARRAYS])
def test_numpy_arrays_round_trip_as_npy_without_pickle(name, arr):
    data = Encoder().encode(arr)
    assert data["$t"] == "ndarray"
    payload = base64.b64decode(data["v"])
    assert payload.startswith(b"\x93NUMPY"), "stored in the .npy format"
    np.load(__import__("io").BytesIO(payload), allow_pickle=False)  # loads without pickle
    back = roundtrip(arr)
    assert same(back, arr)


def test_object_dtype_array_is_never_pickled_but_becomes_a_placeholder():
    arr = np.array([{"a": 1}, None], dtype=object)
    enc = Encoder()
    enc.field = "table"
    with pytest.warns(UserWarning, match="'table'"):
        data = enc.encode(arr)
    assert data["$t"] == "unstorable"
    text = json.dumps(data)
    assert "NUMPY" not in text and "\\x80" not in text
    back = decode(json.loads(text))
    assert isinstance(back, UnstorableValue)
    assert "ndarray" in back.type_name
    assert "{'a': 1}" in back.repr_text


def test_numpy_scalars_are_stored_as_python_numbers():
    assert roundtrip(np.float64(2.5)) == 2.5
    assert roundtrip(np.int32(-7)) == -7
    assert roundtrip(np.bool_(True)) is True


# -- pandas -----------------------------------------------------------------------------------


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [1.5, float("nan"), 3.0],
            "s": ["a", "b", "c"],
            "b": [True, False, True],
            "c": pd.Categorical(["x", "y", "x"]),
            "d": pd.to_datetime(["2020-01-01", "2021-02-03", "2022-03-04"]),
        },
        index=pd.Index([10, 20, 30], name="key"),
    )


def test_dataframe_round_trips_with_dtypes_and_index():
    df = _frame()
    assert Encoder().encode(df)["$t"] == "dataframe"
    back = roundtrip(df)
    assert isinstance(back, pd.DataFrame)
    # orient="table" keeps dtypes except the datetime unit (pandas reads datetimes back as ns).
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    assert list(back.dtypes.map(lambda t: t.kind)) == list(df.dtypes.map(lambda t: t.kind))
    assert back.index.name == "key"


def test_series_round_trips_with_its_name_and_index():
    s = pd.Series([1.0, 2.5, float("nan")], index=pd.Index(["a", "b", "c"], name="letter"), name="val")
    back = roundtrip(s)
    assert isinstance(back, pd.Series)
    pd.testing.assert_series_equal(back, s)


def test_dataframe_with_integer_column_labels_round_trips():
    df = pd.DataFrame(np.arange(6).reshape(3, 2))
    back = roundtrip(df)
    pd.testing.assert_frame_equal(back, df)


def test_unnamed_series_stays_unnamed():
    back = roundtrip(pd.Series([1, 2, 3]))
    assert back.name is None


# -- values a codec cannot store: placeholder + warning, never an exception ------------------


class Opaque:
    def __repr__(self) -> str:
        return "Opaque<7>"


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr is broken")


def test_unstorable_value_becomes_a_placeholder_naming_type_and_repr():
    enc = Encoder()
    enc.field = "blob"
    with pytest.warns(UserWarning, match="'blob'") as record:
        data = enc.encode({"k": [Opaque()]})
    assert "Opaque" in str(record[0].message)
    back = decode(json.loads(json.dumps(data)))
    placeholder = back["k"][0]
    assert isinstance(placeholder, UnstorableValue)
    assert placeholder.type_name.endswith("Opaque")
    assert placeholder.repr_text == "Opaque<7>"
    assert "Opaque<7>" in repr(placeholder)
    assert placeholder == decode(json.loads(json.dumps(data)))["k"][0], "same value, same placeholder"


def test_placeholder_encodes_to_itself_without_warning():
    with pytest.warns(UserWarning):
        first = decode(Encoder().encode(Opaque()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = roundtrip(first)
    assert again == first
    assert again.type_name == first.type_name and again.repr_text == first.repr_text


UNSTORABLE_BY_ENCODER_ERROR = [
    ("dataframe-multiindex-columns", lambda: pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "b"), ("a", "c")]))),
    ("pydantic-arbitrary-type", lambda: WithArbitrary(thing=Opaque())),
    ("broken-repr", BadRepr),
]


@pytest.mark.parametrize(("name", "make"), UNSTORABLE_BY_ENCODER_ERROR, ids=[n for n, _ in UNSTORABLE_BY_ENCODER_ERROR])
def test_a_codec_that_fails_falls_back_to_a_placeholder(name, make):
    enc = Encoder()
    enc.field = "value"
    with pytest.warns(UserWarning, match="'value'"):
        data = enc.encode(make())
    assert isinstance(decode(json.loads(json.dumps(data))), UnstorableValue)


@pytest.mark.parametrize(
    "td",
    [timedelta(days=10**8, microseconds=1), timedelta.max],
    ids=["1e8-days-plus-1us", "max"],
)
def test_large_timedeltas_round_trip_exactly(td):
    assert roundtrip(td) == td


# -- through an entity and a SQLite store ------------------------------------------------------


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "codec.db"
    ecs_notebook.connect(sqlite_url(path))
    return path


def _store_and_reload(db, cls: type[Entity], **fields: Any) -> Entity:
    e = cls(**fields)
    e.promote_to_root()
    ecs_notebook.connect(sqlite_url(db))
    assert not EntityRegistry._records
    back = EntityRegistry.get(e.ecs_id)
    assert type(back) is cls
    assert back.from_storage
    return back


ENTITY_VALUES = [
    *[(n, v) for n, v in NAMED_VALUES],
    ("model", Point(x=2.0, y=-1.0, tags=["t"])),
    ("ndarray", np.arange(6, dtype=np.float32).reshape(2, 3)),
]


@pytest.mark.parametrize(("name", "value"), ENTITY_VALUES, ids=[n for n, _ in ENTITY_VALUES])
def test_any_field_values_round_trip_through_the_store(db, name, value):
    back = _store_and_reload(db, Holder, value=value, note=name)
    assert same(back.value, value)
    assert same(get(f"@{back.ecs_id}.value"), value)


def test_dataframe_and_series_in_entity_fields_round_trip(db):
    df, s = _frame(), pd.Series([1.5, 2.5], index=pd.Index(["a", "b"], name="k"), name="v")
    back = _store_and_reload(db, Holder, value={"frame": df, "series": s})
    pd.testing.assert_frame_equal(back.value["frame"], df, check_dtype=False)
    pd.testing.assert_series_equal(back.value["series"], s)


TYPED_FIELDS = [
    ("aware", datetime, datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=5, minutes=45)))),
    ("naive", datetime, datetime(2024, 5, 6, 7, 8, 9, 10)),
    ("day", date, date(2000, 2, 29)),
    ("clock", time, time(12, 0, 0, 1)),
    ("span", timedelta, timedelta(days=2, microseconds=3)),
    ("ident", UUID, uuid4()),
    ("money", Decimal, Decimal("10.000000000000000000001")),
    ("color", Color, Color.GREEN),
    ("level", Level, Level.LOW),
    ("raw", bytes, b"\x00\xffbinary"),
    ("pair", tuple[int, str], (1, "x")),
    ("seq", tuple[float, ...], (1.5, float("inf"), float("-inf"))),
    ("bag", set[int], {3, 1, 2}),
    ("frozen", frozenset[str], frozenset({"a"})),
    ("numbered", dict[int, str], {1: "a", 20: "b"}),
    ("tagged", dict[str, str], {"$t": "uuid", "v": "x"}),
    ("ratio", float, float("nan")),
    ("top", float, float("inf")),
    ("point", Point, Point(x=1.0, tags=["a", "b"])),
    ("matrix", list[list[float]], [[1.0, float("nan")], []]),
    ("optional", int | None, None),
    ("array", np.ndarray, np.eye(3, dtype=np.int16)),
    ("frame", pd.DataFrame, pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})),
]


@pytest.mark.parametrize(
    ("name", "annotation", "value"), TYPED_FIELDS, ids=[p.values[0] if hasattr(p, "values") else p[0] for p in TYPED_FIELDS]
)
def test_typed_fields_round_trip_through_the_store(db, name, annotation, value):
    cls = create_model(f"Typed_{name}", __base__=Entity, __module__=__name__, field=(annotation, ...))
    back = _store_and_reload(db, cls, field=value)
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back.field, value)
    else:
        assert same(back.field, value)


def test_unstorable_value_in_an_entity_reloads_as_a_placeholder(db):
    with pytest.warns(UserWarning, match="'value'"):
        back = _store_and_reload(db, Holder, value=np.array([object(), 1], dtype=object), note="n")
    assert isinstance(back.value, UnstorableValue)
    assert "ndarray" in back.value.type_name
    assert back.note == "n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values)
def test_entity_values_round_trip_through_the_store(db, value):
    back = _store_and_reload(db, Holder, value=value)
    assert same(back.value, value)


@pytest.mark.parametrize("field", ["value", "note"])
def test_string_with_a_lone_surrogate_is_still_recorded(db, field):
    h = Holder(**{field: "file-\udcff.csv"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h.promote_to_root()
    ecs_notebook.connect(sqlite_url(db))
    back = getattr(EntityRegistry.get(h.ecs_id), field)
    assert back == "file-\udcff.csv" or isinstance(back, UnstorableValue)
