"""Hostile rows: a store is data, and reading it never runs code a row names (issue 12, item 1).

Each test writes real rows through the store, then rewrites them the way an attacker with write
access to a shared PostgreSQL table (or the sender of a store file) could, and reads them back with
everything a user reads with: ``EntityRegistry.get``, ``get(address)``, ``iter_records`` and the
``ecs-notebook`` command line in a separate process. Every payload names code that would write a
marker file if it ran (a shell command, a module whose import writes it, a pickle): the marker must
never appear, and each read gives a value or a ``StoreError``, nothing else.

Adding a codec tag is one entry in ``HOSTILE_VALUES`` (a test fails until the new tag has one).
"""

from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from models import child_env, sqlite_url
from pg_support import fresh_schema

import ecs_notebook
from ecs_notebook import Entity, EntityRegistry, StoreError, get
from ecs_notebook.core.classes import resolve_class
from ecs_notebook.store.codec import _DECODERS


class HostileHolder(Entity):
    """A typed entity whose rows get rewritten: ``value`` (Any) is decoded by the tagged codec."""

    value: Any = None
    n: int = 0


@dataclass
class Ctx:
    """What a payload may name: the marker file and a module whose import writes it."""

    marker: Path
    module: str  # importable (its folder is on sys.path): importing it writes the marker

    @property
    def shell(self) -> str:
        return f"touch {self.marker}"

    @property
    def python(self) -> str:
        return f"open({str(self.marker)!r}, 'w').close()"


class _Pickled:
    """Pickles as a call of os.system (what an unpickling reader would run)."""

    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self) -> Any:
        return (os.system, (self.cmd,))


def _npy_with_pickle(c: Ctx) -> str:
    import numpy as np

    arr = np.empty(1, dtype=object)
    arr[0] = _Pickled(c.shell)
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return base64.b64encode(buf.getvalue()).decode()


def _npy_huge_shape(c: Ctx) -> str:
    """A valid .npy header claiming 10**15 floats, followed by 16 bytes."""
    from numpy.lib import format as npy

    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**15,)})
    return base64.b64encode(buf.getvalue() + bytes(16)).decode()


def _frame_json() -> str:
    import pandas as pd

    return pd.DataFrame({"a": [1, 2]}).to_json(orient="split")


Payload = Callable[[Ctx], Any]

#: For every tag of the codec: stored values an attacker could write. Each names code to run where it can.
_VALUE = {"$t": "value", "c": "list", "fp": "0", "s": ""}  # a recorded variable's value handle
_TRAVERSAL = "../../../../etc/passwd"

HOSTILE_VALUES: dict[str, list[tuple[str, Payload]]] = {
    "enum": [
        ("os-system", lambda c: {"$t": "enum", "c": "os:system", "v": c.shell}),
        ("importing-module", lambda c: {"$t": "enum", "c": f"{c.module}:Color", "v": 1}),
        ("builtins-exec", lambda c: {"$t": "enum", "c": "builtins:exec", "v": c.python}),
        ("subprocess", lambda c: {"$t": "enum", "c": "subprocess:getoutput", "v": c.shell}),
        ("not-a-string", lambda c: {"$t": "enum", "c": ["os", "system"], "v": c.shell}),
        ("missing-keys", lambda c: {"$t": "enum"}),
    ],
    "model": [
        ("os-system", lambda c: {"$t": "model", "c": "os:system", "v": c.shell}),
        ("importing-module", lambda c: {"$t": "model", "c": f"{c.module}:Model", "v": {}}),
        ("builtins-eval", lambda c: {"$t": "model", "c": "builtins:eval", "v": c.python}),
        ("entity-class-by-module", lambda c: {"$t": "model", "c": f"{c.module}:Thing", "v": {"x": 1}}),
    ],
    "uuid": [("bad-hex", lambda c: {"$t": "uuid", "v": "zz"}), ("not-a-string", lambda c: {"$t": "uuid", "v": 5})],
    "slot": [("extra-keys", lambda c: {"$t": "slot", "c": "os:system", "v": c.shell})],
    "slots": [
        ("huge-count", lambda c: {"$t": "slots", "n": 10**15}),
        ("negative", lambda c: {"$t": "slots", "n": -1}),
        ("not-a-number", lambda c: {"$t": "slots", "n": c.python}),
    ],
    "settpl": [("unhashable", lambda c: {"$t": "settpl", "v": [[1]]}), ("not-a-list", lambda c: {"$t": "settpl", "v": 5})],
    "fsettpl": [("unhashable", lambda c: {"$t": "fsettpl", "v": [{"a": 1}]})],
    "tuple": [("not-a-list", lambda c: {"$t": "tuple", "v": 3})],
    "set": [("unhashable", lambda c: {"$t": "set", "v": [[1, 2]]})],
    "frozenset": [("unhashable", lambda c: {"$t": "frozenset", "v": [{"a": 1}]})],
    "dict": [
        ("unhashable-key", lambda c: {"$t": "dict", "v": [[["k"], 1]]}),
        ("not-pairs", lambda c: {"$t": "dict", "v": [1]}),
        ("enum-key", lambda c: {"$t": "dict", "v": [[{"$t": "enum", "c": "os:system", "v": c.shell}, 1]]}),
    ],
    "float": [("code", lambda c: {"$t": "float", "v": c.python}), ("list", lambda c: {"$t": "float", "v": [1]})],
    "datetime": [("code", lambda c: {"$t": "datetime", "v": c.python})],
    "date": [("code", lambda c: {"$t": "date", "v": c.python})],
    "time": [("code", lambda c: {"$t": "time", "v": 12})],
    "timedelta": [("overflow", lambda c: {"$t": "timedelta", "v": [10**12]}), ("string", lambda c: {"$t": "timedelta", "v": c.shell})],
    "decimal": [("code", lambda c: {"$t": "decimal", "v": c.python})],
    "bytes": [("bad-base64", lambda c: {"$t": "bytes", "v": "!!"}), ("not-a-string", lambda c: {"$t": "bytes", "v": {}})],
    "complex": [("code", lambda c: {"$t": "complex", "v": c.python}), ("too-many", lambda c: {"$t": "complex", "v": [1, 2, 3]})],
    "ndarray": [
        ("pickled-object-array", lambda c: {"$t": "ndarray", "v": _npy_with_pickle(c)}),
        ("huge-shape", lambda c: {"$t": "ndarray", "v": _npy_huge_shape(c)}),
        ("bad-base64", lambda c: {"$t": "ndarray", "v": "!!"}),
    ],
    "dataframe": [
        ("not-json", lambda c: {"$t": "dataframe", "v": c.python}),
        ("dtype-names-code", lambda c: {"$t": "dataframe", "o": "split", "v": _frame_json(), "dt": ["os:system"]}),
        ("path-not-data", lambda c: {"$t": "dataframe", "v": str(c.marker)}),
    ],
    "series": [("not-json", lambda c: {"$t": "series", "v": c.python}), ("url-not-data", lambda c: {"$t": "series", "v": "http://127.0.0.1:9/x"})],
    "unstorable": [
        ("class-path", lambda c: {"$t": "unstorable", "c": "os:system", "r": c.shell, "fp": "0"}),
        ("not-strings", lambda c: {"$t": "unstorable", "c": 1, "r": {"x": 1}, "fp": None}),
    ],
    "value": [
        ("header-names-code", lambda c: {**_VALUE, "c": "os:system", "s": c.shell, "h": {"codec": "os:system", "args": [c.shell]}}),
        ("header-importing-module", lambda c: {**_VALUE, "h": {"codec": f"{c.module}:load", "v": 1}}),
        ("part-key-path-traversal", lambda c: {**_VALUE, "h": {"codec": "npy", "part": _TRAVERSAL}, "p": [_TRAVERSAL]}),
        ("not-strings", lambda c: {"$t": "value", "c": ["os", "system"], "fp": 1, "s": None}),
        ("header-not-a-dict", lambda c: {**_VALUE, "h": c.python}),
        ("missing-keys", lambda c: {"$t": "value"}),
    ],
    "str": [
        ("bad-base64", lambda c: {"$t": "str", "v": "!!"}),
        ("bad-utf8", lambda c: {"$t": "str", "v": base64.b64encode(b"\xff").decode()}),
    ],
    # not a tag of the codec: a row naming a decoder that does not exist
    "$unknown": [("pickle-tag", lambda c: {"$t": "pickle", "v": base64.b64encode(b"cos\nsystem\n").decode()})],
}


def _with_type_path(path: Callable[[Ctx], str]) -> Callable[[Ctx, dict[str, Any]], None]:
    def change(c: Ctx, row: dict[str, Any]) -> None:
        row["type_path"] = path(c)

    return change


def _set_data(key: str, value: Callable[[Ctx], Any]) -> Callable[[Ctx, dict[str, Any]], None]:
    def change(c: Ctx, row: dict[str, Any]) -> None:
        row["data"][key] = value(c)

    return change


def _raw_data(text: str) -> Callable[[Ctx, dict[str, Any]], None]:
    def change(c: Ctx, row: dict[str, Any]) -> None:
        row["data"] = text

    return change


def _plain(text: Callable[[Ctx], str], tagged: bool) -> Callable[[Ctx, dict[str, Any]], None]:
    def change(c: Ctx, row: dict[str, Any]) -> None:
        row["plain"] = text(c)
        if tagged:
            row["data"]["pt"] = 1

    return change


#: Changes to a row's other columns and keys: its class path, ids, times, references.
HOSTILE_ROWS: list[tuple[str, Callable[[Ctx, dict[str, Any]], None]]] = [
    ("type-path-os-system", _with_type_path(lambda c: "os:system")),
    ("type-path-importing-module", _with_type_path(lambda c: f"{c.module}:Thing")),
    ("type-path-this", _with_type_path(lambda c: "this:Anything")),
    ("type-path-no-colon", _with_type_path(lambda c: c.module)),
    ("plain-tagged-enum", _plain(lambda c: json.dumps({"n": {"$t": "enum", "c": "os:system", "v": c.shell}}), True)),
    ("plain-not-json", _plain(lambda c: c.python, False)),
    ("plain-not-an-object", _plain(lambda c: "[1, 2]", True)),
    ("attribute-sources-tagged", _set_data("A", lambda c: {"value": {"$t": "enum", "c": "os:system", "v": c.shell}})),
    ("data-not-json", _raw_data("{not json")),
    ("data-not-an-object", _raw_data("[]")),
    ("created-at-bad", _set_data("c", lambda c: c.python)),
    ("slots-bad-ids", _set_data("s", lambda c: ["os:system"])),
    ("slots-not-a-list", _set_data("s", lambda c: 5)),
    ("plain-from-missing", _set_data("pf", lambda c: str(uuid.uuid4()))),
    ("plain-from-garbage", _set_data("pf", lambda c: c.shell)),
    ("slots-from-itself-loop", lambda c, row: row["data"].update(sf=row["id"], sd={"0": row["id"]})),
    ("execution-id-bad", _set_data("de", lambda c: c.shell)),
    ("old-ids-bad", _set_data("o", lambda c: [c.shell])),
]


def _value_cases() -> list[Any]:
    return [pytest.param(tag, payload, id=f"{tag}-{name}") for tag, cases in HOSTILE_VALUES.items() for name, payload in cases]


# -- stores -----------------------------------------------------------------------------------


class Backend:
    """A store under test, and raw write access to its rows (what an attacker has)."""

    def __init__(self, kind: str, url: str, path: Path | None = None) -> None:
        self.kind, self.url, self.path = kind, url, path

    def read_row(self, ecs_id: uuid.UUID) -> dict[str, Any]:
        sql = "SELECT type_path, plain, data FROM versions WHERE ecs_id = {p}"
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as conn:
                tp, plain, data = conn.execute(sql.format(p="?"), (ecs_id.bytes,)).fetchone()
        else:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                tp, plain, data = conn.execute(sql.format(p="%s"), (ecs_id,)).fetchone()  # type: ignore[misc]
        return {"id": str(ecs_id), "type_path": tp, "plain": plain, "data": json.loads(data)}

    def write_row(self, ecs_id: uuid.UUID, row: dict[str, Any]) -> None:
        data = row["data"] if isinstance(row["data"], str) else json.dumps(row["data"])
        sql = "UPDATE versions SET type_path = {p}, plain = {p}, data = {p} WHERE ecs_id = {p}"
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as conn:
                conn.execute(sql.format(p="?"), (row["type_path"], row["plain"], data, ecs_id.bytes))
        else:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(sql.format(p="%s"), (row["type_path"], row["plain"], data, ecs_id))  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path) -> Iterator[Backend]:
    if request.param == "postgres":
        with fresh_schema("hostile") as url:
            ecs_notebook.connect(url)
            yield Backend("postgres", url)
        return
    path = tmp_path / "lineage.db"
    url = sqlite_url(path)
    ecs_notebook.connect(url)
    yield Backend("sqlite", url, path)


@pytest.fixture
def ctx(tmp_path, monkeypatch) -> Ctx:
    """A marker path, and a fresh importable module (never imported yet) that writes it when imported."""
    marker = tmp_path / "PWNED"
    folder = tmp_path / "evil"
    folder.mkdir()
    module = f"ecs_evil_{uuid.uuid4().hex[:10]}"
    (folder / f"{module}.py").write_text(
        f"import enum\nopen({str(marker)!r}, 'w').close()\n\nclass Color(enum.Enum):\n    RED = 1\n\nclass Model:\n    pass\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(folder))
    return Ctx(marker, module)


def _hostile_version(backend: Backend, change: Callable[[dict[str, Any]], None]) -> uuid.UUID:
    """Record a HostileHolder, rewrite its row with ``change``, and reconnect (nothing cached)."""
    e = HostileHolder(value=[1, 2], n=3)
    e.promote_to_root()
    row = backend.read_row(e.ecs_id)
    change(row)
    backend.write_row(e.ecs_id, row)
    ecs_notebook.connect(backend.url)
    assert not EntityRegistry._records
    return e.ecs_id


def _read_everything(eid: uuid.UUID) -> list[str]:
    """Read a version every way a user can; return what each read gave (a value's repr or a StoreError)."""
    outcomes = []
    for read in (
        lambda: EntityRegistry.get(eid),
        lambda: get(f"@{eid}.value"),
        lambda: get(f"@{eid}"),
        lambda: list(EntityRegistry.store.iter_records()),
    ):
        try:
            outcomes.append(repr(read())[:200])
        except StoreError as exc:
            text = str(exc)
            assert "\n" not in text.strip(), f"a StoreError says what went wrong on one line: {text!r}"
            outcomes.append(f"StoreError: {text}")
    return outcomes


def test_every_codec_tag_has_hostile_rows():
    assert set(_DECODERS) <= set(HOSTILE_VALUES), f"add hostile rows for: {sorted(set(_DECODERS) - set(HOSTILE_VALUES))}"


@pytest.mark.parametrize(("tag", "payload"), _value_cases())
def test_hostile_value_runs_nothing(backend, ctx, tag, payload):
    eid = _hostile_version(backend, lambda row: row["data"].setdefault("t", {}).__setitem__("value", payload(ctx)))
    outcomes = _read_everything(eid)
    assert not ctx.marker.exists(), f"reading the {tag} row ran code: {outcomes}"
    assert ctx.module not in sys.modules, "reading a row imported the module it names"


@pytest.mark.parametrize(("name", "change"), [pytest.param(n, ch, id=n) for n, ch in HOSTILE_ROWS])
def test_hostile_row_fields_run_nothing(backend, ctx, name, change):
    eid = _hostile_version(backend, lambda row: change(ctx, row))
    outcomes = _read_everything(eid)
    assert not ctx.marker.exists(), f"reading the row ({name}) ran code: {outcomes}"
    assert ctx.module not in sys.modules, "reading a row imported the module it names"


def test_type_path_of_an_undefined_class_reads_untyped_and_is_not_imported(backend, ctx):
    """A class path nobody defined in this process: the data comes back untyped, the module is not imported."""
    eid = _hostile_version(backend, lambda row: row.update(type_path=f"{ctx.module}:Thing"))
    e = EntityRegistry.get(eid)
    assert type(e).__name__ == "UntypedEntity"
    assert e.type_path == f"{ctx.module}:Thing"
    assert e.untyped_data["n"] == 3
    assert not ctx.marker.exists()
    assert ctx.module not in sys.modules


def test_enum_of_a_callable_reads_as_its_raw_value(backend, ctx):
    eid = _hostile_version(backend, lambda row: row["data"]["t"].__setitem__("value", {"$t": "enum", "c": "os:system", "v": ctx.shell}))
    assert get(f"@{eid}.value") == ctx.shell, "an enum whose class is no enum of this process keeps its raw value"
    assert not ctx.marker.exists()


def test_enums_and_models_defined_in_this_process_still_decode(backend):
    """The lookup finds classes already defined here: legitimate values keep their types."""
    import enum

    from pydantic import BaseModel

    class Mood(enum.Enum):
        HAPPY = "happy"

    class Perm(enum.Flag):
        R = 1
        W = 2

    class Address(BaseModel):
        city: str

    for value in (Mood.HAPPY, Perm.R | Perm.W, Address(city="Oslo"), {"k": (Mood.HAPPY, Address(city="Rome"))}):
        e = HostileHolder(value=value)
        e.promote_to_root()
        ecs_notebook.connect(backend.url)
        assert get(f"@{e.ecs_id}.value") == value


# -- the command line, in a process of its own (a cloned folder that ships its store) -----------------


def test_cli_on_a_hostile_store_runs_nothing(backend, ctx, tmp_path):
    ids = []
    for tag, cases in HOSTILE_VALUES.items():
        for _name, payload in cases[:2]:
            ids.append(_hostile_version(backend, lambda row, p=payload: row["data"]["t"].__setitem__("value", p(ctx))))
    for _name, change in HOSTILE_ROWS[:4]:
        ids.append(_hostile_version(backend, lambda row, ch=change: ch(ctx, row)))
    ecs_notebook.connect("memory://")
    env = child_env(extra_path=ctx.marker.parent / "evil")
    runs = [["summary"], ["executions"], ["export", "json", str(tmp_path / "out.json")]]
    runs += [["export", "openlineage", str(tmp_path / "ol.jsonl")]]
    runs += [["show", f"@{eid}"] for eid in ids[:6]] + [["history", f"@{ids[0]}"]]
    for args in runs:
        proc = subprocess.run(
            [sys.executable, "-m", "ecs_notebook.notebook.cli", "--store", backend.url, *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        assert "Traceback" not in proc.stderr, f"{args}: {proc.stderr[-2000:]}"
        assert proc.returncode in (0, 1), f"{args}: {proc.stderr[-2000:]}"
        assert not ctx.marker.exists(), f"ecs-notebook {' '.join(args)} ran code a row names"


def test_a_redefined_enum_or_model_decodes_to_the_newest_definition():
    """Re-running a notebook cell defines a class again under the same path: the newest one is found."""
    import enum

    from pydantic import BaseModel

    from ecs_notebook.store.codec import Encoder, decode

    def define() -> tuple[type, type]:
        class Mood(enum.Enum):
            HAPPY = "happy"

        class Spot(BaseModel):
            x: int

        return Mood, Spot

    old_mood, old_spot = define()
    mood, spot = define()
    assert decode(Encoder().encode(old_mood.HAPPY)) is mood.HAPPY
    assert type(decode(Encoder().encode(old_spot(x=1)))) is spot
    assert resolve_class("builtins:print", "enum") is None and resolve_class("os:system", "model") is None


# -- execution rows: read field by field by the registries, the queries and the command line ------------


def _plain_field(name: str, value: Callable[[Ctx], Any]) -> Callable[[Ctx, dict[str, Any]], None]:
    def change(c: Ctx, row: dict[str, Any]) -> None:
        plain = json.loads(row["plain"])
        plain[name] = value(c)
        row["plain"] = json.dumps(plain)
        row["data"]["pt"] = 1

    return change


def _drop_plain_field(name: str) -> Callable[[Ctx, dict[str, Any]], None]:
    def change(c: Ctx, row: dict[str, Any]) -> None:
        plain = json.loads(row["plain"])
        del plain[name]
        row["plain"] = json.dumps(plain)

    return change


HOSTILE_EXECUTIONS: list[tuple[str, Callable[[Ctx, dict[str, Any]], None]]] = [
    ("started-at-enum", _plain_field("started_at", lambda c: {"$t": "enum", "c": "os:system", "v": c.shell})),
    ("succeeded-not-a-bool", _plain_field("succeeded", lambda c: c.shell)),
    ("input-ids-not-ids", _plain_field("input_entity_ids", lambda c: [c.shell])),
    ("function-name-missing", _drop_plain_field("function_name")),
    ("type-path-of-another-class", _with_type_path(lambda c: HostileHolder.__ecs_type__)),
    ("type-path-importing-module", _with_type_path(lambda c: f"{c.module}:FunctionExecution")),
]


@pytest.mark.parametrize(("name", "change"), [pytest.param(n, ch, id=n) for n, ch in HOSTILE_EXECUTIONS])
def test_hostile_execution_rows_run_nothing_and_read_as_store_errors(backend, ctx, tmp_path, name, change):
    from ecs_notebook import CallableRegistry

    @CallableRegistry.register("touch")
    def touch(h: HostileHolder) -> HostileHolder:
        return HostileHolder(n=h.n + 1)

    out = CallableRegistry.execute("touch", h=HostileHolder(n=1))
    eid = out.derived_from_execution_id
    row = backend.read_row(eid)
    change(ctx, row)
    backend.write_row(eid, row)
    ecs_notebook.connect(backend.url)
    for read in (CallableRegistry.executions, lambda: EntityRegistry.get(eid), lambda: get(f"@{eid}.function_name")):
        with pytest.raises(StoreError, match=str(eid)):
            read()
    ecs_notebook.connect("memory://")
    proc = subprocess.run(
        [sys.executable, "-m", "ecs_notebook.notebook.cli", "--store", backend.url, "executions"],
        capture_output=True,
        text=True,
        env=child_env(extra_path=ctx.marker.parent / "evil"),
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and str(eid) in proc.stderr, proc.stderr
    assert not ctx.marker.exists()
    assert ctx.module not in sys.modules
