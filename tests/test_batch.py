"""``with ecs_notebook.batch():`` (DESIGN A8): one transaction for many calls; durable per call outside it.

"Visible" is checked from a second connection to the same file (an independent store object, or
another process), which sees committed data only.
"""

from __future__ import annotations

import json

import pytest
from store_models import Item, make_student, register_functions, run_script, sqlite_url

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
    from store_models import Item

    ecs_notebook.connect(sys.argv[1])
    item = Item(name="from-child")
    item.promote_to_root()
    print(json.dumps(str(item.ecs_id)))
"""


def test_another_writer_waits_for_the_batch_and_loses_nothing(url, tmp_path):
    import subprocess
    import sys

    from store_models import child_env, script_path

    item = Item(name="a")
    item.promote_to_root()
    path = script_path(tmp_path, "write_one.py", WRITE_ONE)
    with ecs_notebook.batch():
        outs = [CallableRegistry.execute("make_item", item=item, k=k) for k in range(5)]
        child = subprocess.Popen(
            [sys.executable, str(path), url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
        )
        try:
            child.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass  # waiting for the batch's write lock, as expected
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    child_id = json.loads(stdout.strip().splitlines()[-1])
    ecs_notebook.connect(url)
    assert get(f"@{child_id}.name") == "from-child"
    assert [get(f"@{o.ecs_id}.value") for o in outs] == [0, 1, 2, 3, 4]


def _fill_disk(store, spare_pages: int = 0) -> None:
    conn = store._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + spare_pages}")


def test_a_failed_write_inside_a_batch_keeps_what_the_batch_recorded_before(url):
    store = EntityRegistry.store
    before = []
    _fill_disk(store, spare_pages=4)
    try:
        with ecs_notebook.batch():
            for k in range(3):
                small = Item(name=f"small{k}")
                small.promote_to_root()
                before.append(small.ecs_id)
            with pytest.raises(StoreError):
                Item(name="x" * 300_000).promote_to_root()
            after = Item(name="after")
            after.promote_to_root()
            before.append(after.ecs_id)
    finally:
        store._conn.execute("PRAGMA max_page_count = 1073741823")
    ecs_notebook.connect(url)
    assert [get(f"@{i}.name") for i in before] == ["small0", "small1", "small2", "after"]
