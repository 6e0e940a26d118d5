"""``with ecs_notebook.batch():`` (DESIGN A8): one transaction for many calls; durable per call outside it.

"Visible" is checked from a second connection to the same file (an independent store object, or
another process), which sees committed data only.
"""

from __future__ import annotations

import json

import pytest
from models import Item, make_student, register_functions, run_script, sqlite_url

import ecs_notebook
from ecs_notebook import CallableRegistry, EntityRegistry, StoreError, get
from ecs_notebook.store import open_store


@pytest.fixture
def url(tmp_path):
    u = sqlite_url(tmp_path / "lineage.db")
    ecs_notebook.connect(u)
    register_functions()
    return u


@pytest.fixture
def other(url):
    """A second, independent connection to the same store file."""
    store = open_store(url)
    yield store
    store.close()


def _visible(store, ids) -> list[bool]:
    return [store.load(i) is not None for i in ids]


def test_outside_a_batch_every_call_is_durable_when_it_returns(url, other):
    item = Item(name="a")
    item.promote_to_root()
    assert _visible(other, [item.ecs_id]) == [True]
    for k in range(5):
        out = CallableRegistry.execute("make_item", item=item, k=k)
        assert _visible(other, [out.ecs_id]) == [True]
        assert len(other.executions()) == k + 1
    item.value = 9
    EntityRegistry.version_entity(item)
    assert _visible(other, [item.ecs_id]) == [True]


def test_a_batch_is_invisible_to_other_connections_until_it_exits(url, other):
    item = Item(name="a")
    item.promote_to_root()
    before = other.counts()
    with ecs_notebook.batch() as store:
        assert store is EntityRegistry.store
        outs = [CallableRegistry.execute("make_item", item=item, k=k) for k in range(50)]
        with pytest.raises(ValueError):
            CallableRegistry.execute("boom", student=make_student())
        ids = [o.ecs_id for o in outs]
        # Inside the block this process reads its own records ...
        assert get(f"@{ids[7]}.value") == 7
        assert len(CallableRegistry.executions()) == 51
        assert len(CallableRegistry.executions(failed=True)) == 1
        # ... and nobody else sees any of them yet.
        assert not any(_visible(other, ids))
        assert other.counts()["executions"] == before["executions"] == 0
        assert other.counts()["versions"] == before["versions"]
    assert all(_visible(other, ids))
    assert other.counts()["executions"] == 51
    assert [e for e in other.executions(failed=True)] == [e.ecs_id for e in CallableRegistry.executions(failed=True)]


def test_an_exception_in_the_block_still_commits_what_was_recorded_before_it(url, other):
    item = Item(name="a")
    item.promote_to_root()
    with pytest.raises(RuntimeError, match="cell failed"), ecs_notebook.batch():
        outs = [CallableRegistry.execute("make_item", item=item, k=k) for k in range(5)]
        raise RuntimeError("cell failed")
    assert all(_visible(other, [o.ecs_id for o in outs]))
    assert len(other.executions()) == 5
    ecs_notebook.connect(url)
    assert [get(f"@{o.ecs_id}.value") for o in outs] == [0, 1, 2, 3, 4]


def test_nested_batches_commit_when_the_outermost_exits(url, other):
    item = Item(name="a")
    item.promote_to_root()
    with ecs_notebook.batch():
        first = CallableRegistry.execute("make_item", item=item, k=1)
        with ecs_notebook.batch():
            second = CallableRegistry.execute("make_item", item=item, k=2)
        assert _visible(other, [first.ecs_id, second.ecs_id]) == [False, False]
    assert _visible(other, [first.ecs_id, second.ecs_id]) == [True, True]
    # After the batch, calls are durable one by one again.
    third = CallableRegistry.execute("make_item", item=item, k=3)
    assert _visible(other, [third.ecs_id]) == [True]


def test_versions_and_registrations_inside_a_batch(url, other):
    s = make_student()
    with ecs_notebook.batch():
        s.promote_to_root()
        v1 = s.ecs_id
        s.name = "Grace"
        EntityRegistry.version_entity(s)

        @CallableRegistry.register("late")
        def late(student: ecs_notebook.Entity) -> Item:
            return Item(name="late")

        assert _visible(other, [v1, s.ecs_id]) == [False, False]
    assert _visible(other, [v1, s.ecs_id]) == [True, True]
    assert other.lineage_versions(s.lineage_id) == [v1, s.ecs_id]
    assert other.function_versions("late") == [CallableRegistry.get_metadata("late").code_version]


def test_batch_with_the_memory_store_records_as_usual():
    ecs_notebook.connect("memory://")
    register_functions()
    item = Item(name="a")
    with ecs_notebook.batch():
        out = CallableRegistry.execute("make_item", item=item, k=3)
        assert get(f"@{out.ecs_id}.value") == 3
    assert len(CallableRegistry.executions()) == 1


READ_COUNTS = """
    import json, sys
    from ecs_notebook.store import open_store

    store = open_store(sys.argv[1])
    print(json.dumps(store.counts()["executions"]))
"""


def test_another_process_sees_a_batch_only_after_it_exits(url, tmp_path):
    item = Item(name="a")
    item.promote_to_root()
    with ecs_notebook.batch():
        for k in range(10):
            CallableRegistry.execute("make_item", item=item, k=k)
        assert run_script(tmp_path, READ_COUNTS, url, name="count.py") == 0
    assert run_script(tmp_path, READ_COUNTS, url, name="count.py") == 10


WRITE_ONE = """
    import json, sys
    import ecs_notebook
    from ecs_notebook import EntityRegistry
    from models import Item

    ecs_notebook.connect(sys.argv[1])
    item = Item(name="from-child")
    item.promote_to_root()
    print(json.dumps(str(item.ecs_id)))
"""


WRITE_WHILE_THE_BATCH_RUNS = """
    import json, sys, time
    from pathlib import Path
    import ecs_notebook
    from models import Item

    url, in_block, done = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    ecs_notebook.connect(url)
    deadline = time.time() + 60
    while not in_block.exists() and time.time() < deadline:
        time.sleep(0.01)
    item = Item(name="from-child")
    item.promote_to_root()  # must not wait for the other process's batch
    done.write_text("written")
    print(json.dumps(str(item.ecs_id)))
"""


def test_another_writer_is_not_blocked_while_user_code_runs_in_a_batch(url, tmp_path):
    """Two processes on one SQLite file: a batch block running user code holds no write lock (issue 12, item 5).

    The block records, then waits (its "user code") until the other process has written: a batch that
    held the write transaction would make the child wait 30 s and fail with "database is locked".
    """
    import subprocess
    import sys
    import time

    from models import child_env, script_path

    item = Item(name="a")
    item.promote_to_root()
    path = script_path(tmp_path, "write_one.py", WRITE_WHILE_THE_BATCH_RUNS)
    in_block, done = tmp_path / "in-block", tmp_path / "child-wrote"
    child = subprocess.Popen(
        [sys.executable, str(path), url, str(in_block), str(done)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    with ecs_notebook.batch():
        outs = [CallableRegistry.execute("make_item", item=item, k=k) for k in range(5)]
        in_block.write_text("recording done, user code runs")
        deadline = time.time() + 90
        while not done.exists() and child.poll() is None and time.time() < deadline:
            time.sleep(0.01)  # the block's user code: still inside the batch
        wrote_inside = done.exists()
    stdout, stderr = child.communicate(timeout=90)
    assert child.returncode == 0, stderr
    assert wrote_inside, "the other process wrote while this batch block was still running"
    child_id = json.loads(stdout.strip().splitlines()[-1])
    ecs_notebook.connect(url)
    assert get(f"@{child_id}.name") == "from-child"
    assert [get(f"@{o.ecs_id}.value") for o in outs] == [0, 1, 2, 3, 4]


def _fill_disk(store, spare_pages: int = 0) -> None:
    conn = store._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + spare_pages}")


class CommitFailure:
    """Makes the next batch commit of the current store fail like a full disk, until ``off()``.

    SQLite: the file may not grow by more than a few pages (a big record does not fit). PostgreSQL:
    a deferred constraint trigger raises at COMMIT while a flag row exists.
    """

    def __init__(self, kind: str, url: str) -> None:
        self.kind, self.url = kind, url
        store = EntityRegistry.store
        if kind == "sqlite":
            _fill_disk(store, spare_pages=4)
        else:
            self._sql(
                """
                CREATE TABLE doom (flag int);
                INSERT INTO doom VALUES (1);
                CREATE FUNCTION doom_check() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF EXISTS (SELECT 1 FROM doom) THEN RAISE EXCEPTION 'could not extend file: No space left on device'; END IF;
                    RETURN NULL;
                END $$;
                CREATE CONSTRAINT TRIGGER doom_at_commit AFTER INSERT ON versions DEFERRABLE INITIALLY DEFERRED
                    FOR EACH ROW EXECUTE FUNCTION doom_check();
                """
            )

    def _sql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)

    def off(self) -> None:
        store = EntityRegistry.store
        if self.kind == "sqlite":
            store._conn.execute("PRAGMA max_page_count = 1073741823")
        else:
            self._sql("DELETE FROM doom")


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request, tmp_path):
    from pg_support import fresh_schema

    if request.param == "postgres":
        with fresh_schema("batch") as u:
            ecs_notebook.connect(u)
            register_functions()
            yield "postgres", u
        return
    u = sqlite_url(tmp_path / "lineage.db")
    ecs_notebook.connect(u)
    register_functions()
    yield "sqlite", u


def test_a_failed_batch_commit_leaves_the_registry_as_the_store(store_kind):
    """Disk full at a batch's commit: StoreError, and this session forgets what did not land (issue 12, item 4)."""
    kind, url = store_kind
    kept = Item(name="kept before the batch")
    kept.promote_to_root()
    failure = CommitFailure(kind, url)
    ids = []
    try:
        with pytest.raises(StoreError, match="batch"), ecs_notebook.batch():
            small = Item(name="small")
            small.promote_to_root()
            big = Item(name="x" * 300_000)
            big.promote_to_root()
            out = CallableRegistry.execute("make_item", item=big, k=1)
            ids = [small.ecs_id, big.ecs_id, out.ecs_id, out.derived_from_execution_id]
    finally:
        failure.off()
    in_memory = [EntityRegistry.has(i) for i in ids]
    assert not all(in_memory), "the failed commit lost records"
    assert EntityRegistry.has(kept.ecs_id)
    other = open_store(url)  # another connection: what the store holds
    try:
        assert [other.load(i) is not None for i in ids] == in_memory, "the registry holds exactly what the store holds"
    finally:
        other.close()
    # The next call uses the entity whose version was lost: what it records refers only to stored versions.
    again = CallableRegistry.execute("make_item", item=big, k=2)
    execution = again.derived_from_execution_id
    ecs_notebook.connect(url)  # a fresh session
    inputs = get(f"@{execution}").input_entity_ids
    assert inputs and all(EntityRegistry.has(i) for i in inputs), "no execution refers to a version that is not stored"
    assert get(f"@{again.ecs_id}.value") == 2
    if kind == "sqlite":
        assert in_memory == [True, False, False, False], "the writes before the failed one were kept"


def test_a_batch_that_fails_part_way_keeps_its_earlier_writes(url):
    """SQLite: when the batch's one transaction fails, its writes land one by one up to the first that cannot."""
    store = EntityRegistry.store
    _fill_disk(store, spare_pages=4)
    try:
        with pytest.raises(StoreError, match="first 3 writes were recorded"), ecs_notebook.batch():
            smalls = []
            for k in range(3):
                small = Item(name=f"small{k}")
                small.promote_to_root()
                smalls.append(small.ecs_id)
            Item(name="x" * 300_000).promote_to_root()
    finally:
        store._conn.execute("PRAGMA max_page_count = 1073741823")
    ecs_notebook.connect(url)
    assert [get(f"@{i}.name") for i in smalls] == ["small0", "small1", "small2"]
