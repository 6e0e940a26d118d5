"""The SQLite store (DESIGN A8): what a file holds, reopening, lazy loading, and bad input and faults.

Nothing here asserts a timing; sizes are asserted where the design promises them (stored bytes grow
with the changed path, not the tree).
"""

from __future__ import annotations

import json
import os
import pickletools
import sqlite3
import stat
import sys
import uuid
import warnings
from typing import Any

import pytest
from models import Bag, Holder, Item, Report, Student, make_bag, make_student, register_functions, sqlite_url
from pydantic import create_model

import ecs_notebook
from ecs_notebook import CallableRegistry, Entity, EntityRegistry, StoreError, get, put
from ecs_notebook.core.entity import ENTITY_CLASSES, UntypedEntity
from ecs_notebook.store import open_store
from ecs_notebook.store.codec import UnstorableValue
from ecs_notebook.store.sqlite import SCHEMA_VERSION
from ecs_notebook.testing import fresh_state


@pytest.fixture
def db(tmp_path):
    """Path of a fresh store file, connected as the current store."""
    path = tmp_path / "lineage.db"
    ecs_notebook.connect(sqlite_url(path))
    return path


def reconnect(path) -> None:
    ecs_notebook.connect(sqlite_url(path))
    assert not EntityRegistry._records


def rows(path, sql: str, params: tuple = ()) -> list[Any]:
    """Read the file with a plain sqlite3 connection (what another program would see)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# -- what is stored --------------------------------------------------------------------------


def stored_rows(path) -> list[dict[str, Any]]:
    """Every row of every table of the file, as ``{column: value}`` (layout-agnostic)."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = []
        for t in tables:
            cur = conn.execute(f'SELECT * FROM "{t}"')
            names = [d[0] for d in cur.description]
            out += [{"__table__": t, **dict(zip(names, r))} for r in cur.fetchall()]
        return out
    finally:
        conn.close()


def _is_pickle(data: bytes) -> bool:
    """Whether ``data`` is a whole pickle (protocol 2+ header, valid opcodes, ends at STOP).

    A first byte of 0x80 alone is no proof: one random UUID in 256 (an id column) starts with it.
    """
    if data[:1] != b"\x80":
        return False
    try:
        ops = list(pickletools.genops(data))
    except Exception:
        return False
    return bool(ops) and ops[-1][0].name == "STOP" and ops[-1][2] == len(data) - 1


def _holds(row: dict[str, Any], value: Any) -> bool:
    """Whether a stored row holds ``value`` (a UUID as bytes, hex or text; a str inside any text)."""
    for v in row.values():
        if isinstance(value, uuid.UUID):
            if isinstance(v, bytes) and v == value.bytes:
                return True
            if isinstance(v, str) and (value.hex in v or str(value) in v):
                return True
        elif isinstance(v, str) and str(value) in v:
            return True
    return False


def row_of(path, ecs_id: uuid.UUID) -> dict[str, Any]:
    """The row that records version ``ecs_id`` (its ``ecs_id`` column holds it)."""
    found = [r for r in stored_rows(path) if _holds({"ecs_id": r.get("ecs_id")}, ecs_id)]
    assert len(found) == 1, f"{len(found)} rows record {ecs_id}"
    return found[0]


def _text(row: dict[str, Any]) -> str:
    return " ".join(v for v in row.values() if isinstance(v, str))


def test_version_rows_hold_identity_fields_and_child_references(db):
    s = make_student()
    s.promote_to_root()
    v1 = s.ecs_id
    s.name = "Grace"
    EntityRegistry.version_entity(s)
    first = row_of(db, v1)
    assert _holds(first, s.lineage_id)
    assert "models:Student" in first.values(), "the class is stored by module:qualname"
    assert first["created_at"] == pytest.approx(s.created_at.timestamp()) or s.created_at.isoformat() in _text(first)
    for value in first.values():
        if isinstance(value, str) and value.startswith("{"):
            json.loads(value)  # plain JSON, never pickle
    text = _text(first)
    assert "Ada" in text and "art" in text
    assert _holds(first, s.courses[0].ecs_id), "children are stored as references to their versions"
    assert "Algebra" not in text, "a child's data lives in its own row"
    second = row_of(db, s.ecs_id)
    assert _holds(second, v1), "the new version names the previous one"
    course = row_of(db, s.courses[0].ecs_id)
    assert "models:Course" in course.values()
    assert "Algebra" in _text(course)
    assert _holds(course, v1), "a child row names the root of the tree version it was recorded in"
    versions = [r for r in stored_rows(db) if r.get("ecs_id") is not None and r["__table__"] == first["__table__"]]
    assert len(versions) == 4, "the second version shares its unchanged children"
    for r in stored_rows(db):
        for v in r.values():
            assert not (isinstance(v, bytes) and _is_pickle(v)), "nothing is pickled"


def test_executions_and_functions_are_stored(db):
    register_functions()
    s = make_student()
    out = CallableRegistry.execute("report", student=s)
    with pytest.raises(ValueError):
        CallableRegistry.execute("boom", student=s)
    ok, failed = CallableRegistry.executions()
    ok_row, failed_row = row_of(db, ok.ecs_id), row_of(db, failed.ecs_id)
    assert "report" in _text(ok_row)
    assert CallableRegistry.get_metadata("report").code_version in _text(ok_row)
    assert _holds(ok_row, out.ecs_id), "output ids are stored with the execution"
    assert _holds(ok_row, s.ecs_id), "input ids are stored with the execution"
    assert "no report for Ada" in _text(failed_row), "a failure's message is stored"
    out_row = row_of(db, out.ecs_id)
    assert _holds(out_row, ok.ecs_id), "derived_from_execution_id is stored"
    assert "report" in _text(out_row), "derived_from_function is stored"
    sources = [r for r in stored_rows(db) if "def report(" in _text(r)]
    assert sources, "the function's source is stored with its code version"
    assert CallableRegistry.get_metadata("report").code_version in _text(sources[0])


def test_attribute_source_and_provenance_survive_reopening(db):
    register_functions()
    s = make_student()
    s.promote_to_root()
    target = Report(student_name="x")
    target.borrow_attribute_from(s, "name", "student_name")
    target.promote_to_root()
    out = CallableRegistry.execute("report", student=s)
    reconnect(db)
    copy = EntityRegistry.get(target.ecs_id)
    assert copy.attribute_source["student_name"] == s.ecs_id
    assert copy.student_name == "Ada"
    stored = EntityRegistry.get(out.ecs_id)
    assert stored.derived_from_function == "report"
    assert stored.derived_from_execution_id == CallableRegistry.executions()[0].ecs_id
    assert stored.function_input_entities == [s.ecs_id]
    assert stored.from_storage


def test_live_objects_keep_versioning_after_reconnecting(db):
    s = make_student()
    s.promote_to_root()
    v1 = s.ecs_id
    reconnect(db)
    s.gpa = 4.0
    assert EntityRegistry.version_entity(s) is True
    assert EntityRegistry.version_entity(s) is False
    reconnect(db)
    assert EntityRegistry.history(s.lineage_id) == [v1, s.ecs_id]
    assert get(f"@{s.ecs_id}.gpa") == 4.0
    assert get(f"@{v1}.gpa") == 3.2


# -- lazy loading and structural sharing ----------------------------------------------------


def test_reopening_reads_only_what_is_touched(db):
    bag = make_bag(3000)
    bag.promote_to_root()
    bag.items[1500].value = -1
    EntityRegistry.version_entity(bag)
    assert EntityRegistry.store.counts()["versions"] == 3003
    reconnect(db)
    assert get(f"@{bag.ecs_id}.items.1500.value") == -1
    assert get(f"@{bag.ecs_id}.items.1499.name") == "item1499"
    assert len(EntityRegistry._records) <= 4, "an address loads the records on its path, not the store"
    assert len(EntityRegistry) == 3003


def test_stored_bytes_grow_with_the_changed_path_not_the_tree(db):
    bag = make_bag(2000)
    bag.promote_to_root()
    n0 = rows(db, "SELECT COUNT(*) FROM versions")[0][0]
    first_root = rows(db, "SELECT length(data) FROM versions WHERE ecs_id = ?", (bag.ecs_id.bytes,))[0][0]
    bag.items[1000].name = "edited"
    EntityRegistry.version_entity(bag)
    assert rows(db, "SELECT COUNT(*) FROM versions")[0][0] == n0 + 2, "only the item and the root are new"
    new_root = rows(db, "SELECT length(data) FROM versions WHERE ecs_id = ?", (bag.ecs_id.bytes,))[0][0]
    assert new_root * 20 < first_root, (new_root, first_root)


def _stored_bytes(path) -> int:
    return sum(len(v) for r in stored_rows(path) for v in r.values() if isinstance(v, (str, bytes)))


def _bytes_per_edit(path, n_children: int, edits: int) -> float:
    bag = make_bag(n_children)
    bag.promote_to_root()
    before = _stored_bytes(path)
    for k in range(edits):
        bag.items[(k * 7) % n_children].value += 1
        EntityRegistry.version_entity(bag)
    return (_stored_bytes(path) - before) / edits


def test_bytes_per_edit_averaged_over_many_edits_do_not_grow_with_the_tree(tmp_path):
    ecs_notebook.connect(sqlite_url(tmp_path / "small.db"))
    small = _bytes_per_edit(tmp_path / "small.db", 12, 40)
    ecs_notebook.connect(sqlite_url(tmp_path / "big.db"))
    big = _bytes_per_edit(tmp_path / "big.db", 3000, 40)
    assert big <= 2 * small, f"{big:.0f} B per edit with 3,000 children vs {small:.0f} B with 12"


def test_long_chains_of_small_edits_read_back_exactly(db):
    bag = make_bag(60)
    bag.promote_to_root()
    expected: dict[uuid.UUID, list[int]] = {bag.ecs_id: [i.value for i in bag.items]}
    for k in range(45):  # longer than any delta chain a store might keep
        bag.items[k % 60].value += 100
        EntityRegistry.version_entity(bag)
        expected[bag.ecs_id] = [i.value for i in bag.items]
    reconnect(db)
    assert EntityRegistry.history(bag.lineage_id) == list(expected)
    for vid, values in expected.items():
        assert [i.value for i in EntityRegistry.get(vid).items] == values


# -- values no codec can store ----------------------------------------------------------------


class Opaque:
    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Opaque({self.n})"


def test_unstorable_value_is_recorded_as_a_placeholder_with_a_warning(db):
    h = Holder(value=Opaque(42), note="kept")
    with pytest.warns(UserWarning, match="'value'"):
        h.promote_to_root()
    assert EntityRegistry.history(h.lineage_id) == [h.ecs_id], "the version is still recorded"
    reconnect(db)
    copy = EntityRegistry.get(h.ecs_id)
    assert copy.note == "kept"
    assert isinstance(copy.value, UnstorableValue)
    assert "Opaque" in copy.value.type_name
    assert "Opaque(42)" in copy.value.repr_text
    assert "Opaque(42)" in repr(copy.value)
    assert isinstance(get(f"@{h.ecs_id}.value"), UnstorableValue)


def test_unstorable_value_nested_in_a_container_names_its_field(db):
    h = Holder(value={"a": [1, Opaque(1)]})
    with pytest.warns(UserWarning, match="'value'"):
        h.promote_to_root()
    reconnect(db)
    stored = EntityRegistry.get(h.ecs_id).value
    assert stored["a"][0] == 1
    assert isinstance(stored["a"][1], UnstorableValue)


@pytest.mark.filterwarnings("error::UserWarning")
def test_reloaded_placeholder_is_stored_again_unchanged(db):
    """Re-versioning an entity that holds a placeholder keeps the placeholder as it was, silently."""
    h = Holder(value=Opaque(7), note="a")
    with pytest.warns(UserWarning):
        h.promote_to_root()
    reconnect(db)
    new_id = put(f"@{h.ecs_id}.note", "b")  # a new version of an entity holding a placeholder
    reconnect(db)
    original = EntityRegistry.get(h.ecs_id).value
    again = EntityRegistry.get(new_id).value
    assert again.type_name == original.type_name
    assert again == original


# -- entities whose class cannot be imported ---------------------------------------------------


def _ghost_class() -> type[Entity]:
    """A class whose module does not exist (once dropped from the defined classes, it is unknown)."""
    return create_model("Ghost", __base__=Entity, __module__="ghost_module_not_importable", label=(str, ...), n=(int, 0))


def _ghost_with_any() -> type[Entity]:
    return create_model("GhostAny", __base__=Entity, __module__="ghost_module_not_importable", name=(str, ...), meta=(Any, None))


def test_class_that_cannot_be_imported_comes_back_untyped_then_retyped(db, monkeypatch):
    ghost = _ghost_class()
    bag = Bag(label="b", items=[Item(name="x")])
    g = ghost(label="hello", n=3)
    g.promote_to_root()
    bag.promote_to_root()
    monkeypatch.delitem(ENTITY_CLASSES, ghost.__ecs_type__)
    reconnect(db)

    back = EntityRegistry.get(g.ecs_id)
    assert isinstance(back, UntypedEntity)
    assert back.untyped_data == {"label": "hello", "n": 3}
    assert back.type_path == "ghost_module_not_importable:Ghost"
    assert back.from_storage
    assert get(f"@{g.ecs_id}.label") == "hello"
    assert get(f"@{g.ecs_id}.n") == 3
    with pytest.raises(ecs_notebook.AddressError, match="nope"):
        get(f"@{g.ecs_id}.nope")
    assert EntityRegistry.ids_by_type("ghost_module_not_importable:Ghost") == [g.ecs_id]
    assert isinstance(EntityRegistry.get(bag.ecs_id), Bag), "importable classes are unaffected"

    again = _ghost_class()  # the class is defined again: same module:qualname
    retyped = EntityRegistry.get(g.ecs_id)
    assert type(retyped) is again
    assert (retyped.label, retyped.n) == ("hello", 3)


def test_version_recorded_while_untyped_keeps_its_data_when_retyped(db, monkeypatch):
    """put() on an UntypedEntity records a version that reads back whole once the class is back."""
    ghost = _ghost_with_any()
    g = ghost(name="a", meta=5)
    g.promote_to_root()
    monkeypatch.delitem(ENTITY_CLASSES, ghost.__ecs_type__)
    reconnect(db)
    assert isinstance(EntityRegistry.get(g.ecs_id), UntypedEntity)
    new_id = put(f"@{g.ecs_id}.name", "b")
    _ghost_with_any()
    reconnect(db)
    retyped = EntityRegistry.get(new_id)
    assert retyped.name == "b"
    assert retyped.meta == 5


def _ghost_shelf() -> type[Entity]:
    return create_model("GhostShelf", __base__=Entity, __module__="ghost_module_not_importable", label=(str, ""), items=(list[Item], []))


def _record_shelf_versions() -> tuple[Entity, uuid.UUID, uuid.UUID]:
    """A one-item edit in a 20-item tree: the new root version shares its unchanged fields."""
    shelf = _ghost_shelf()(label="L", items=[Item(name=f"i{k}") for k in range(20)])
    shelf.promote_to_root()
    v1 = shelf.ecs_id
    shelf.items[3].value = 99
    EntityRegistry.version_entity(shelf)
    return shelf, v1, shelf.ecs_id


def test_untyped_edited_version_keeps_its_fields(db, monkeypatch):
    shelf, v1, v2 = _record_shelf_versions()
    monkeypatch.delitem(ENTITY_CLASSES, type(shelf).__ecs_type__)
    reconnect(db)
    assert sorted(EntityRegistry.get(v1).untyped_data) == ["items", "label"]
    back = EntityRegistry.get(v2)
    assert isinstance(back, UntypedEntity)
    assert sorted(back.untyped_data) == ["items", "label"]
    assert get(f"@{v2}.label") == "L"
    assert get(f"@{v2}.items.3.value") == 99


def test_retyping_an_edited_version_gives_its_data(db, monkeypatch):
    shelf, v1, v2 = _record_shelf_versions()
    monkeypatch.delitem(ENTITY_CLASSES, type(shelf).__ecs_type__)
    reconnect(db)
    EntityRegistry.get(v1)  # read while the class is missing: cached untyped
    EntityRegistry.get(v2)
    again = _ghost_shelf()
    retyped = EntityRegistry.get(v2)
    assert type(retyped) is again
    assert retyped.label == "L"
    assert [i.value for i in retyped.items][:5] == [0, 0, 0, 99, 0]


# -- fields the typed (pydantic) plain codec stores ------------------------------------------


class IntKeys(Entity):
    by_number: dict[int, str] = {}
    label: str = ""


class Counter(Entity):
    n: int = 0
    label: str = ""


def test_int_keyed_dict_field_reopens_without_a_spurious_version(db):
    """Int keys of a dict field survive (data and attribute_source): no spurious version after reopening."""
    e = IntKeys(by_number={1: "a", 2: "b"})
    e.promote_to_root()
    reconnect(db)
    copy = EntityRegistry.get(e.ecs_id)
    assert copy.by_number == {1: "a", 2: "b"}
    assert copy.attribute_source["by_number"] == {1: None, 2: None}
    assert EntityRegistry.version_entity(e) is False, "nothing changed"
    assert EntityRegistry.history(e.lineage_id) == [e.ecs_id]


def test_a_value_not_matching_its_annotation_keeps_the_version_typed(db):
    """A value assigned without validation still reads back, in its own class."""
    e = Counter(n=1, label="x")
    e.promote_to_root()
    e.n = "lots"  # no validation on assignment
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        EntityRegistry.version_entity(e)
    reconnect(db)
    back = EntityRegistry.get(e.ecs_id)
    assert type(back) is Counter
    assert (back.n, back.label) == ("lots", "x")


# -- bad input and faults --------------------------------------------------------------------


def _record_something() -> Student:
    s = make_student()
    s.promote_to_root()
    return s


def _still_intact(s: Student) -> None:
    assert EntityRegistry.get(s.ecs_id).name == s.name
    assert EntityRegistry.history(s.lineage_id)[-1] == s.ecs_id


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all\n" * 50, b"SQLite format 3\x00" + os.urandom(4000), b"\x00" * 16 + b"x" * 2000],
    ids=["text", "header-then-garbage", "zeros-then-garbage"],
)
def test_corrupt_file_raises_store_error_and_is_left_untouched(db, tmp_path, content):
    s = _record_something()
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    with pytest.raises(StoreError, match="bad.db"):
        ecs_notebook.connect(sqlite_url(bad))
    assert bad.read_bytes() == content
    assert EntityRegistry.store.path == db, "a failed connect keeps the current store"
    _still_intact(s)


def test_foreign_sqlite_database_raises_and_is_left_untouched(db, tmp_path):
    s = _record_something()
    foreign = tmp_path / "app.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('x')")
    conn.commit()
    conn.close()
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match="another application"):
        ecs_notebook.connect(sqlite_url(foreign))
    assert foreign.read_bytes() == before
    assert rows(foreign, "SELECT name FROM sqlite_master WHERE type = 'table'") == [("users",)]
    _still_intact(s)


def test_store_from_a_newer_schema_raises_and_is_left_untouched(tmp_path):
    path = tmp_path / "newer.db"
    ecs_notebook.connect(sqlite_url(path))
    s = _record_something()
    ecs_notebook.connect("memory://")  # closes the file
    conn = sqlite3.connect(path)
    conn.execute("UPDATE ecs_meta SET value = '999' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer"):
        ecs_notebook.connect(sqlite_url(path))
    assert path.read_bytes() == before
    conn = sqlite3.connect(path)
    conn.execute("UPDATE ecs_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
    conn.commit()
    conn.close()
    ecs_notebook.connect(sqlite_url(path))
    _still_intact(s)


def test_a_directory_is_not_a_store(tmp_path):
    (tmp_path / "adir.db").mkdir()
    with pytest.raises(StoreError, match="directory"):
        ecs_notebook.connect(sqlite_url(tmp_path / "adir.db"))


def test_read_only_directory_raises_store_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    try:
        if os.geteuid() == 0:
            probe = ro / "probe"
            try:
                probe.write_bytes(b"")
            except OSError:
                pass
            else:
                probe.unlink()
                pytest.skip("running as root: chmod 0o555 does not stop writes, so a read-only folder cannot be made")
        with pytest.raises(StoreError, match="writable|Cannot"):
            ecs_notebook.connect(sqlite_url(ro / "lineage.db"))
        assert not (ro / "lineage.db").exists()
    finally:
        ro.chmod(0o755)


def _fill_disk(store) -> None:
    """Simulate a full disk: the file may not grow by a single page."""
    conn = store._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def _free_disk(store) -> None:
    store._conn.execute("PRAGMA max_page_count = 1073741823")


def test_disk_full_raises_store_error_and_changes_nothing(db):
    register_functions()
    s = _record_something()
    CallableRegistry.execute("report", student=s)
    store = EntityRegistry.store
    counts = store.counts()
    n_versions = len(EntityRegistry)
    student_state = dict(s.__dict__)
    _fill_disk(store)
    try:
        with pytest.raises(StoreError):
            CallableRegistry.execute("report", student=s, bonus=float("1" * 300))  # no room for even one row
        big = Student(name="x" * 200_000)
        with pytest.raises(StoreError):
            big.promote_to_root()
        s.name = "y" * 200_000
        with pytest.raises(StoreError):
            EntityRegistry.version_entity(s)
    finally:
        _free_disk(store)
    assert s.ecs_id == student_state["ecs_id"], "a failed version keeps the live object's ids"
    assert s.old_ids == student_state["old_ids"]
    assert big.ecs_id not in EntityRegistry
    assert big.root_ecs_id is None
    assert store.counts()["versions"] == counts["versions"]
    assert store.counts()["executions"] == counts["executions"] == len(CallableRegistry.executions())
    assert len(EntityRegistry) == n_versions
    assert get(f"@{student_state['ecs_id']}.name") == "Ada"
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    # Room again: the pending edit is recorded and everything earlier is intact.
    assert EntityRegistry.version_entity(s) is True
    reconnect(db)
    assert EntityRegistry.history(s.lineage_id) == [student_state["ecs_id"], s.ecs_id]
    assert len(CallableRegistry.executions()) == counts["executions"]


def test_failing_function_on_a_full_disk_raises_its_own_error(db):
    """The function's error is what the user has to fix; the store's failure to record it is a note."""

    @CallableRegistry.register
    def explode(student: Student, note: str) -> Student:
        raise ValueError("bad student")

    s = _record_something()
    counts = EntityRegistry.store.counts()
    _fill_disk(EntityRegistry.store)
    try:
        with pytest.raises(ValueError, match="bad student") as info:
            CallableRegistry.execute("explode", student=s, note="x" * 200_000)  # no room for its row
    finally:
        _free_disk(EntityRegistry.store)
    if sys.version_info >= (3, 11):
        assert any("could not be recorded" in note for note in info.value.__notes__)
    assert EntityRegistry.store.counts() == counts
    assert len(CallableRegistry.executions()) == counts["executions"]


def test_disk_full_error_names_the_cause(db):
    """SQLite may roll a failed transaction back itself: the message still names the real cause."""
    _record_something()
    _fill_disk(EntityRegistry.store)
    try:
        with pytest.raises(StoreError, match="disk is full"):
            Student(name="x" * 200_000).promote_to_root()
    finally:
        _free_disk(EntityRegistry.store)


# -- URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["mysql://localhost/db", "sqlite://relative.db", "sqlite:///", "file:///tmp/x.db", "", "lineage.db"],
    ids=["mysql", "two-slashes", "no-path", "file", "empty", "bare-path"],
)
def test_bad_urls_raise_store_error(url):
    with pytest.raises(StoreError):
        ecs_notebook.connect(url)
    assert EntityRegistry.store.url == "memory://"


def test_non_string_url_raises_store_error(tmp_path):
    with pytest.raises(StoreError):
        ecs_notebook.connect(tmp_path / "x.db")  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["postgresql://alice:s3cret@db.example/lineage", "postgres://db.example/lineage"])
def test_unreachable_postgresql_fails_clearly_without_credentials(url):
    with pytest.raises(StoreError, match="PostgreSQL") as info:
        ecs_notebook.connect(url)
    assert "s3cret" not in str(info.value), "credentials never appear in messages"
    assert "sqlite" in str(info.value), "the message names the alternative"


def test_relative_sqlite_url_is_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = ecs_notebook.connect("sqlite:///sub/lineage.db")
    assert store.path == (tmp_path / "sub" / "lineage.db").resolve()
    assert (tmp_path / "sub" / "lineage.db").exists()


def test_environment_variable_chooses_the_default_store(tmp_path, monkeypatch):
    url = sqlite_url(tmp_path / "env.db")
    monkeypatch.setenv("ECS_NOTEBOOK_STORE", url)
    with fresh_state():
        assert EntityRegistry.store.url == url
        _record_something()
    monkeypatch.delenv("ECS_NOTEBOOK_STORE")
    with fresh_state():
        assert EntityRegistry.store.url == "memory://"
        ecs_notebook.connect(url)
        assert len(EntityRegistry) == 3


def test_open_store_validates_without_switching(db, tmp_path):
    s = _record_something()
    other = open_store(sqlite_url(tmp_path / "other.db"))
    try:
        assert other.counts()["versions"] == 0
        assert EntityRegistry.store.path == db
    finally:
        other.close()
    _still_intact(s)


def test_warning_free_roundtrip_of_ordinary_values(db):
    """Ordinary values never warn (warnings are for values no codec can store)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = make_student()
        s.promote_to_root()
        register_functions()
        CallableRegistry.execute("report", student=s)
        reconnect(db)
        assert [e.function_name for e in CallableRegistry.executions()] == ["report"]
