"""The store contract (DESIGN A8), seen through the registries, for every store kind.

Each test runs against ``memory://``, a SQLite file, and the same SQLite file reopened (a fresh
``connect`` that drops every cached record) right before the reads; likewise against a PostgreSQL
schema of its own when ``ECS_TEST_POSTGRES_URL`` names a server (skipped otherwise): what a user
reads back never depends on which store holds it or on whether it was cached.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from models import Course, Report, Student, make_student, register_functions, sqlite_url
from pg_support import fresh_schema

import ecs_notebook
from ecs_notebook import CallableRegistry, EntityNotFoundError, EntityRegistry, FunctionExecution, get, put
from ecs_notebook.store import open_store


class Backend:
    """One store under test: its URL, and ``reopen()`` (a fresh connection for 'reopened')."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind, self.url = kind, url
        self.persistent = kind != "memory"

    def reopen(self) -> None:
        if self.kind.endswith("-reopened"):
            ecs_notebook.connect(self.url)
            assert not EntityRegistry._records, "a fresh connection starts with nothing cached"


@pytest.fixture(params=["memory", "sqlite", "sqlite-reopened", "postgres", "postgres-reopened"])
def backend(request, tmp_path) -> Iterator[Backend]:
    kind = request.param
    if kind.startswith("postgres"):
        with fresh_schema() as url:
            ecs_notebook.connect(url)
            yield Backend(kind, url)
        return
    url = "memory://" if kind == "memory" else sqlite_url(tmp_path / "lineage.db")
    ecs_notebook.connect(url)
    yield Backend(kind, url)


# -- versions, history, addresses ------------------------------------------------------------


def test_versions_history_and_old_addresses(backend):
    s = make_student()
    s.promote_to_root()
    v1, c0_v1, c1_v1 = s.ecs_id, s.courses[0].ecs_id, s.courses[1].ecs_id
    s.name = "Grace"
    s.courses[0].credits = 5
    s.scores["math"] = 0.25
    assert EntityRegistry.version_entity(s) is True
    v2 = s.ecs_id
    backend.reopen()

    assert EntityRegistry.history(s.lineage_id) == [v1, v2]
    assert EntityRegistry.latest(s.lineage_id) == v2
    assert EntityRegistry.history(s.courses[0].lineage_id) == [c0_v1, s.courses[0].ecs_id]
    assert EntityRegistry.history(s.courses[1].lineage_id) == [c1_v1], "an untouched child keeps its one version"
    old, new = EntityRegistry.get(v1), EntityRegistry.get(v2)
    assert (old.name, old.courses[0].credits, old.scores) == ("Ada", 3, {"math": 1.0, "art": 0.5})
    assert (new.name, new.courses[0].credits, new.scores) == ("Grace", 5, {"math": 0.25, "art": 0.5})
    assert get(f"@{v1}.name") == "Ada"
    assert get(f"@{v1}.courses.0.credits") == 3
    assert get(f"@{str(v1).upper()}.scores.math") == 1.0
    assert get(f"@{v2}.courses.0.credits") == 5
    assert get(f"@{v2}.courses.1.name") == "Biology"
    assert new.courses[1].ecs_id == c1_v1, "unchanged subtrees are shared between versions"
    assert new.previous_ecs_id == v1
    assert v1 in new.old_ids
    assert EntityRegistry.lineage_of(v1) == s.lineage_id


def test_get_returns_copies_and_never_changes_what_is_stored(backend):
    s = make_student()
    s.promote_to_root()
    backend.reopen()
    copy = EntityRegistry.get(s.ecs_id)
    copy.name = "changed"
    copy.courses[0].name = "changed"
    again = EntityRegistry.get(s.ecs_id)
    assert again.name == "Ada"
    assert again.courses[0].name == "Algebra"
    assert again.live_id != copy.live_id
    course = get(f"@{s.ecs_id}.courses.0")
    assert isinstance(course, Course)
    assert course.name == "Algebra"


def test_stored_tree_and_entity_of_an_old_tree_version(backend):
    s = make_student()
    s.promote_to_root()
    v1, c1 = s.ecs_id, s.courses[1].ecs_id
    s.courses[1].name = "Chemistry"
    EntityRegistry.version_entity(s)
    backend.reopen()
    assert EntityRegistry.is_root_version(v1)
    assert EntityRegistry.is_root_version(s.ecs_id)
    assert not EntityRegistry.is_root_version(c1)
    tree = EntityRegistry.get_stored_tree(v1)
    assert {type(e).__name__ for e in tree.nodes.values()} == {"Student", "Course"}
    assert len(tree.nodes) == 3
    assert EntityRegistry.get_stored_entity(v1, c1).name == "Biology"
    assert EntityRegistry.get_stored_entity(s.ecs_id, s.courses[1].ecs_id).name == "Chemistry"


def test_put_records_a_new_version_readable_from_the_store(backend):
    s = make_student()
    s.promote_to_root()
    v1 = s.ecs_id
    backend.reopen()
    v2 = put(f"@{v1}.courses.1.credits", 9)
    backend.reopen()
    assert EntityRegistry.history(s.lineage_id) == [v1, v2]
    assert get(f"@{v2}.courses.1.credits") == 9
    assert get(f"@{v1}.courses.1.credits") == 4
    assert s.courses[1].credits == 4, "put() leaves live objects alone"


def test_unknown_ids_raise_entity_not_found(backend):
    backend.reopen()
    missing = uuid.uuid4()
    with pytest.raises(EntityNotFoundError):
        EntityRegistry.get(missing)
    with pytest.raises(EntityNotFoundError):
        EntityRegistry.history(missing)
    with pytest.raises(EntityNotFoundError):
        get(f"@{missing}.name")
    assert missing not in EntityRegistry


# -- executions ------------------------------------------------------------------------------


def _run_calls() -> dict:
    register_functions()
    s = make_student()
    s.promote_to_root()
    r1 = CallableRegistry.execute("report", student=s, bonus=0.5)
    r2 = CallableRegistry.execute("report", student=f"@{s.ecs_id}")
    with pytest.raises(ValueError, match="no report for Ada"):
        CallableRegistry.execute("boom", student=s)
    v_before = s.ecs_id
    renamed = CallableRegistry.execute("rename", student=s, name="Grace")
    return {"s": s, "r1": r1, "r2": r2, "v_before": v_before, "renamed": renamed}


def test_executions_are_recorded_and_filtered(backend):
    calls = _run_calls()
    s, r1, r2, renamed = calls["s"], calls["r1"], calls["r2"], calls["renamed"]
    backend.reopen()

    everything = CallableRegistry.executions()
    assert [e.function_name for e in everything] == ["report", "report", "boom", "rename"]
    assert all(isinstance(e, FunctionExecution) for e in everything)
    assert [e.function_name for e in CallableRegistry.executions(function="report")] == ["report", "report"]
    assert [e.function_name for e in CallableRegistry.executions(failed=True)] == ["boom"]
    assert [e.function_name for e in CallableRegistry.executions(failed=False)] == ["report", "report", "rename"]
    assert CallableRegistry.executions(function="boom", failed=False) == []
    assert CallableRegistry.executions(function="nothing-like-this") == []

    first, _, failed, mutation = everything
    assert first.succeeded and first.output_entity_ids == [r1.ecs_id]
    assert first.input_entity_ids == [calls["v_before"]]
    assert first.code_version == CallableRegistry.get_metadata("report").code_version
    assert first.started_at is not None
    assert not failed.succeeded
    assert failed.error_type == "ValueError"
    assert "no report for Ada" in failed.error_message
    assert "ValueError" in failed.traceback
    assert failed.output_entity_ids == []
    assert [str(x) for x in mutation.semantics] == [str(ecs_notebook.ExecutionSemantics.MUTATION)]

    for out, execution in ((r1, everything[0]), (r2, everything[1])):
        stored = EntityRegistry.get(out.ecs_id)
        assert isinstance(stored, Report)
        assert stored.derived_from_function == "report"
        assert stored.derived_from_execution_id == execution.ecs_id
        assert stored.function_input_entities == [calls["v_before"]]
    assert EntityRegistry.get(r1.ecs_id).score == pytest.approx(3.7)
    assert EntityRegistry.history(s.lineage_id) == [calls["v_before"], renamed.ecs_id]
    assert get(f"@{renamed.ecs_id}.name") == "Grace"
    assert get(f"@{calls['v_before']}.name") == "Ada"


def test_code_versions_survive_in_the_store(backend):
    @CallableRegistry.register("scale")
    def scale(student: Student) -> Report:
        return Report(student_name=student.name, score=1.0)

    first = CallableRegistry.get_metadata("scale").code_version
    s = make_student()
    e1 = CallableRegistry.execute("scale", student=s)

    @CallableRegistry.register("scale")
    def scale2(student: Student) -> Report:
        return Report(student_name=student.name, score=2.0)

    second = CallableRegistry.get_metadata("scale").code_version
    assert first != second
    e2 = CallableRegistry.execute("scale", student=s)
    backend.reopen()
    assert CallableRegistry.code_versions("scale") == [first, second]
    if backend.persistent:
        assert EntityRegistry.store.function_versions("scale") == [first, second]
    runs = CallableRegistry.executions(function="scale")
    assert [r.code_version for r in runs] == [first, second], "old executions keep their code_version"
    assert EntityRegistry.get(e1.ecs_id).score == 1.0
    assert EntityRegistry.get(e2.ecs_id).score == 2.0


# -- indexes and counts ----------------------------------------------------------------------


def test_ids_by_type_and_lineages(backend):
    calls = _run_calls()
    s, r1, r2 = calls["s"], calls["r1"], calls["r2"]
    backend.reopen()
    students = EntityRegistry.ids_by_type(Student)
    assert students == EntityRegistry.ids_by_type(Student.__ecs_type__)
    assert students == [calls["v_before"], calls["renamed"].ecs_id], "in recording order, versions included"
    assert s.ecs_id == calls["v_before"], "a call never changes the caller's object"
    assert EntityRegistry.ids_by_type(Report) == [r1.ecs_id, r2.ecs_id]
    assert len(EntityRegistry.ids_by_type(Course)) == 2
    assert len(EntityRegistry.ids_by_type(FunctionExecution)) == 4
    assert EntityRegistry.ids_by_type("no.such.module:Nothing") == []
    lineages = EntityRegistry.lineages()
    assert len(lineages) == len(set(lineages))
    for lid in (s.lineage_id, r1.lineage_id, r2.lineage_id, s.courses[0].lineage_id):
        assert lid in lineages
    for lid in lineages:
        assert EntityRegistry.history(lid), "every lineage has versions"


def test_counts_agree_with_what_the_registries_return(backend):
    calls = _run_calls()
    s = calls["s"]
    s.gpa = 1.0
    EntityRegistry.version_entity(s)
    backend.reopen()
    counts = EntityRegistry.store.counts()
    assert {"versions", "lineages", "executions", "functions"} <= counts.keys()
    assert counts["executions"] == len(CallableRegistry.executions()) == 4
    assert counts["functions"] == 4
    assert counts["lineages"] == len(EntityRegistry.lineages())
    assert counts["versions"] == len(EntityRegistry)
    assert counts["versions"] == sum(len(EntityRegistry.history(lid)) for lid in EntityRegistry.lineages())
    if backend.persistent:
        assert counts["bytes"] > 0


def test_every_record_written_by_a_call_is_readable_when_it_returns(backend):
    register_functions()
    s = make_student()
    seen: list = []
    unsubscribe = EntityRegistry.subscribe(seen.extend)
    out = CallableRegistry.execute("report", student=s)
    unsubscribe()
    ids = [rec.ecs_id for rec in seen]
    assert out.ecs_id in ids
    assert len(ids) >= 4  # the student tree, the composite input, the output, the execution
    for eid in ids:
        assert eid in EntityRegistry
        assert EntityRegistry.get(eid).ecs_id == eid
    if backend.persistent:
        other = open_store(backend.url)  # an independent connection: only committed data is visible
        try:
            for eid in ids:
                rec = other.load(eid)
                assert rec is not None, f"{eid} is not in the store yet"
                assert rec.from_storage
            assert len(other.executions()) == 1
        finally:
            other.close()


def test_from_storage_marks_versions_read_back_from_a_store(backend):
    s = make_student()
    s.promote_to_root()
    backend.reopen()
    copy = EntityRegistry.get(s.ecs_id)
    expected = backend.kind.endswith("-reopened")
    assert copy.from_storage is expected
    assert copy.courses[0].from_storage is expected
    assert s.from_storage is False, "the live object is never marked"


# -- short ids (prefixes) --------------------------------------------------------------------

_TWINS = [
    "3cf40b27-0000-4000-8000-000000000001",
    "3cf40b27-1000-4000-8000-000000000002",
    "3cf4ffff-0000-4000-8000-000000000003",
    "ffffffff-ffff-4fff-bfff-ffffffffffff",
]


def test_ids_with_prefix_finds_versions_and_executions_in_id_order(backend):
    for eid in _TWINS:
        Student(name=eid[:4], ecs_id=uuid.UUID(eid)).promote_to_root()
    calls = _run_calls()
    execution = calls["r1"].derived_from_execution_id
    backend.reopen()
    store = EntityRegistry.store
    ids = [str(u) for u in store.ids_with_prefix("3cf4")]
    assert ids == _TWINS[:3], "every id with the prefix, in id order"
    assert [str(u) for u in store.ids_with_prefix("3cf40b27")] == _TWINS[:2]
    assert [str(u) for u in store.ids_with_prefix("3cf40b271")] == [_TWINS[1]], "an odd number of digits"
    assert store.ids_with_prefix("3cf4", limit=2) == [uuid.UUID(t) for t in _TWINS[:2]]
    assert [str(u) for u in store.ids_with_prefix("ffff")] == [_TWINS[3]], "the top of the id range"
    assert store.ids_with_prefix(_TWINS[3].replace("-", "")) == [uuid.UUID(_TWINS[3])]
    assert store.ids_with_prefix(execution.hex[:12]) == [execution], "executions are found too"
    assert store.ids_with_prefix("3cf5") == []


def test_queries_and_get_accept_unique_prefixes_and_reject_ambiguous_ones(backend):
    from ecs_notebook import AddressError, history
    from ecs_notebook.lineage.queries import resolve_id

    s = make_student()
    s.promote_to_root()
    for eid in _TWINS[:2]:
        Student(name="twin", ecs_id=uuid.UUID(eid)).promote_to_root()
    backend.reopen()
    own = _unique_prefix(str(s.ecs_id))
    for text in (own, f"@{own}", str(s.ecs_id)[:8], f"@{str(s.ecs_id)[:8]}"):
        assert resolve_id(text) == s.ecs_id
        assert history(text) == [str(s.ecs_id)]
    assert get(f"@{own}.name") == "Ada"
    with pytest.raises(AddressError, match="ambiguous") as info:
        resolve_id("3cf40b27")
    assert _TWINS[0] in str(info.value) and _TWINS[1] in str(info.value)
    with pytest.raises(AddressError, match="ambiguous"):
        get("@3cf4.name")
    assert get("@3cf40b271.name") == "twin"
    with pytest.raises(EntityNotFoundError, match="starting with 3cf5"):
        history("3cf5")


def _unique_prefix(full: str) -> str:
    digits = full.replace("-", "")
    return next(digits[:n] for n in range(4, 33) if len(EntityRegistry.store.ids_with_prefix(digits[:n], limit=2)) == 1)


# -- the object area (value parts) -------------------------------------------------------------------


def test_value_parts_are_stored_once_read_back_touched_and_collected(backend):
    import time

    from ecs_notebook.core.errors import ValueNotStoredError
    from ecs_notebook.core.values.codecs import part_key

    store = EntityRegistry.store
    small, large = b"small part", bytes(range(256)) * 1000  # inline and (SQLite) file-sized
    parts = {part_key(small): small, part_key(large): large}
    assert store.put_parts(parts) == len(small) + len(large)
    assert store.put_parts(parts) == 0, "a part already stored is not stored again"
    backend.reopen()
    store = EntityRegistry.store
    for key, data in parts.items():
        assert store.has_part(key) and bytes(store.get_part(key)) == data
    assert not store.has_part("0" * 32)
    with pytest.raises(ValueNotStoredError):
        store.get_part("0" * 32)
    with pytest.raises(ValueNotStoredError):
        store.put_parts({}, touch=["0" * 32])  # referring again to a part that is gone is an error
    cutoff = time.time() + 1
    store.put_parts({}, touch=[part_key(small)])  # touched after the cutoff below: kept
    assert store.delete_parts(list(parts), older_than=cutoff - 1) == len(large)
    assert store.has_part(part_key(small)) and not store.has_part(part_key(large))
    assert set(store.part_sizes()) == {part_key(small)}
