"""The ``postgresql://`` store against a real server (``ECS_TEST_POSTGRES_URL``; skipped without it).

What a team relies on: the schema is created once and versioned; a newer or foreign schema is left
alone; bad URLs and credentials fail with a StoreError that never shows the password; several
processes and threads record at once without losing anything; a reader sees executions whole as
they land; a connection lost in the middle of a call loses that call only (the next call reconnects,
and an open batch keeps what it recorded before); ``batch()`` is one transaction. The contract suite
(tests/test_store_contract.py) runs against PostgreSQL as well.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from models import Holder, Item, child_env, make_student, register_functions, script_path
from pg_support import admin, backend_pid, fresh_schema, server_url, terminate, with_search_path

import ecs_notebook
from ecs_notebook import CallableRegistry, EntityRegistry, StoreError, get
from ecs_notebook.store import open_store
from ecs_notebook.store.postgres import SCHEMA_VERSION, PostgresStore, redact_url


@pytest.fixture
def url():
    """A store URL selecting a fresh, empty schema of this test."""
    with fresh_schema() as u:
        yield u


@pytest.fixture
def store(url):
    """The default registries on the test schema, with the store tests' functions registered."""
    s = ecs_notebook.connect(url)
    register_functions()
    return s


@pytest.fixture
def other(url, store):
    """A second, independent connection to the same schema: it sees committed data only."""
    s = open_store(url)
    yield s
    s.close()


def _schema(store) -> str:
    return store._query("SELECT current_schema()", one=True)[0]


def _visible(store, ids) -> list[bool]:
    return [store.load(i) is not None for i in ids]


# -- opening: schema, versions, refusals ---------------------------------------------------------


def test_a_new_schema_gets_its_tables_indexes_and_version(url):
    store = open_store(url)
    try:
        schema = _schema(store)
    finally:
        store.close()
    with admin() as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,))}
        meta = dict(conn.execute(f'SELECT key, value FROM "{schema}".ecs_meta').fetchall())
    assert tables == {"ecs_meta", "versions", "functions", "objects"}
    assert {"versions_lineage", "versions_type", "versions_function", "versions_executions", "versions_cache"} <= indexes
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert "created_at" in meta
    again = open_store(url)  # opening an existing store migrates nothing
    again.close()


def test_several_processes_opening_a_new_schema_at_once_create_it_once(url):
    errors: list[BaseException] = []
    stores: list[PostgresStore] = []
    barrier = threading.Barrier(4)

    def opener() -> None:
        barrier.wait()
        try:
            stores.append(PostgresStore(url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in stores:
        s.close()
    assert errors == []
    assert len(stores) == 4


def test_a_schema_written_by_a_newer_version_is_refused_and_left_untouched(url):
    store = open_store(url)
    schema = _schema(store)
    store.close()
    with admin() as conn:
        conn.execute(f"UPDATE \"{schema}\".ecs_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match=r"newer ecs_notebook \(schema 99.*Upgrade ecs_notebook"):
        open_store(url)
    with admin() as conn:
        assert conn.execute(f"SELECT value FROM \"{schema}\".ecs_meta WHERE key = 'schema_version'").fetchone() == ("99",)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("UPDATE {schema}.ecs_meta SET value = 'one' WHERE key = 'schema_version'", "'one' is not a number"),
        ("DELETE FROM {schema}.ecs_meta WHERE key = 'schema_version'", "schema version is missing"),
    ],
    ids=["not-a-number", "missing"],
)
def test_a_damaged_schema_version_is_refused_on_one_line_and_left_untouched(url, change, says):
    store = open_store(url)
    schema = _schema(store)
    store.close()
    with admin() as conn:
        conn.execute(change.format(schema=f'"{schema}"'))
        before = conn.execute(f'SELECT key, value FROM "{schema}".ecs_meta ORDER BY key').fetchall()
    for opener in (lambda: open_store(url), lambda: ecs_notebook.connect(url)):
        with pytest.raises(StoreError, match=says) as info:
            opener()
        assert "\n" not in str(info.value).strip()
    with admin() as conn:
        assert conn.execute(f'SELECT key, value FROM "{schema}".ecs_meta ORDER BY key').fetchall() == before


def test_a_schema_of_another_application_is_refused_and_left_untouched(url):
    with admin() as conn:
        schema = urlsplit(url).query.rsplit("%3D", 1)[-1]
        conn.execute(f'CREATE TABLE "{schema}".orders (id int)')
    with pytest.raises(StoreError, match="another application.*orders.*untouched"):
        open_store(url)
    with admin() as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
    assert tables == ["orders"]


def test_a_search_path_naming_no_schema_is_refused():
    url = with_search_path(server_url(), "ecs_no_such_schema_here")
    with pytest.raises(StoreError, match="names no existing schema"):
        open_store(url)


def test_create_false_refuses_a_schema_without_a_store_and_creates_nothing(url):
    with pytest.raises(StoreError, match="No lineage store"):
        PostgresStore(url, create=False)
    with admin() as conn:
        schema = urlsplit(url).query.rsplit("%3D", 1)[-1]
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,)).fetchone() == (0,)
    PostgresStore(url).close()
    PostgresStore(url, create=False).close()


def test_a_closed_store_says_so(url):
    store = open_store(url)
    store.close()
    assert "closed" in repr(store)
    with pytest.raises(StoreError, match="was closed"):
        store.executions()
    store.close()  # closing twice is harmless


# -- bad URLs and credentials ----------------------------------------------------------------------

SECRET = "Sup3r-s3cret_pw"


def _with_credentials(url: str, user: str | None, password: str, host: str | None = None, port: int | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{quote(user or parts.username or 'ecs')}:{quote(password)}@{host or parts.hostname}:{port or parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


def _bad_urls() -> list:
    return [
        pytest.param(lambda u: _with_credentials(u, None, SECRET), "password authentication failed", id="wrong-password"),
        pytest.param(lambda u: _with_credentials(u, "nobody_here", SECRET), "authentication failed", id="unknown-user"),
        pytest.param(lambda u: _with_credentials(u, None, SECRET, port=1), "Connection refused|connection failed", id="no-server"),
        pytest.param(lambda u: f"postgresql://ecs:{SECRET}@[::1/ecs_test", "", id="malformed-host"),
        pytest.param(lambda u: f"postgresql://ecs:{SECRET}@127.0.0.1:notaport/db", "port", id="bad-port"),
        pytest.param(lambda u: f"postgresql://127.0.0.1/db?user=ecs&password={SECRET}%zz", "", id="bad-query-password"),
        pytest.param(lambda u: _with_credentials(u, None, SECRET) + "?sslmode=nonsense", "sslmode", id="bad-option"),
    ]


@pytest.mark.parametrize(("make_url", "reason"), _bad_urls())
def test_bad_urls_and_credentials_raise_store_error_without_the_password(make_url, reason):
    bad = make_url(server_url())
    with pytest.raises(StoreError) as info:
        ecs_notebook.connect(bad)
    chain, exc = [], info.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    texts = [str(e) + repr(e.args) for e in chain]
    assert not any(SECRET in t for t in texts), texts
    assert not any(quote(SECRET) in t for t in texts), texts
    message = str(info.value)
    assert message.startswith(("Cannot connect", "Cannot use"))
    assert "***" in message or SECRET not in bad
    if reason:
        import re

        assert re.search(reason, message), message


def test_the_store_never_shows_its_password(url):
    parts = urlsplit(url)
    assert parts.password, "the test server's URL has a password"
    store = open_store(url)
    try:
        for text in (store.url, store.describe(), repr(store)):
            assert f":{parts.password}@" not in text
            assert "://***@" in text
    finally:
        store.close()
    assert redact_url("postgres://u:p%40ss@h/db?password=x&sslmode=require") == "postgres://***@h/db?password=***&sslmode=require"


# -- batches ---------------------------------------------------------------------------------------


def test_outside_a_batch_every_call_is_durable_when_it_returns(store, other):
    item = Item(name="a")
    item.promote_to_root()
    for k in range(5):
        out = CallableRegistry.execute("make_item", item=item, k=k)
        assert _visible(other, [out.ecs_id]) == [True]
        assert len(other.executions()) == k + 1


def test_a_batch_is_one_transaction_invisible_until_it_exits(store, other):
    item = Item(name="a")
    item.promote_to_root()
    with ecs_notebook.batch():
        outs = [CallableRegistry.execute("make_item", item=item, k=k) for k in range(30)]
        with pytest.raises(ValueError):
            CallableRegistry.execute("boom", student=make_student())
        with ecs_notebook.batch():  # nested: commits with the outermost
            inner = CallableRegistry.execute("make_item", item=item, k=99)
        ids = [o.ecs_id for o in [*outs, inner]]
        assert get(f"@{ids[7]}.value") == 7
        assert len(store.executions()) == 32, "this connection reads its own batch"
        assert not any(_visible(other, ids))
        assert other.counts()["executions"] == 0
    assert all(_visible(other, ids))
    assert other.counts()["executions"] == 32
    assert len(other.executions(failed=True)) == 1


def test_an_exception_in_the_block_still_commits_what_was_recorded_before_it(store, other, url):
    item = Item(name="a")
    item.promote_to_root()
    with pytest.raises(RuntimeError, match="cell failed"), ecs_notebook.batch():
        outs = [CallableRegistry.execute("make_item", item=item, k=k) for k in range(5)]
        raise RuntimeError("cell failed")
    assert all(_visible(other, [o.ecs_id for o in outs]))
    ecs_notebook.connect(url)
    assert [get(f"@{o.ecs_id}.value") for o in outs] == [0, 1, 2, 3, 4]


def _poison(store) -> None:
    """Make the server refuse any row whose plain fields mention 'poison-pill' (a failing write)."""
    schema = _schema(store)
    with admin() as conn:
        conn.execute(
            f'CREATE FUNCTION "{schema}".refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
            "IF NEW.plain LIKE '%poison-pill%' THEN RAISE EXCEPTION 'poisoned row refused'; END IF; RETURN NEW; END $$"
        )
        conn.execute(f'CREATE TRIGGER poison BEFORE INSERT ON "{schema}".versions FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse_poison()')


def test_a_failed_write_inside_a_batch_keeps_what_the_batch_recorded_before(store, other, url):
    _poison(store)
    before = []
    with ecs_notebook.batch():
        for k in range(3):
            small = Item(name=f"small{k}")
            small.promote_to_root()
            before.append(small.ecs_id)
        with pytest.raises(StoreError, match="poisoned row refused. Nothing of this call.*earlier records were kept"):
            Item(name="poison-pill").promote_to_root()
        assert _visible(store, before) == [True, True, True], "the batch's own connection still reads them"
        after = Item(name="after")
        after.promote_to_root()
        before.append(after.ecs_id)
        assert not any(_visible(other, before))
    assert _visible(other, before) == [True] * 4
    ecs_notebook.connect(url)
    assert [get(f"@{i}.name") for i in before] == ["small0", "small1", "small2", "after"]
    assert other.counts()["versions"] == 4


def test_a_failed_statement_inside_a_batch_keeps_the_batch(store, other):
    item = Item(name="a")
    item.promote_to_root()
    with ecs_notebook.batch():
        ids = [CallableRegistry.execute("make_item", item=item, k=k).ecs_id for k in range(3)]
        with pytest.raises(StoreError, match="no_such_table.*earlier records were kept"):
            store._query("SELECT * FROM no_such_table")  # aborts the transaction: rolled back, written again
        ids.append(CallableRegistry.execute("make_item", item=item, k=3).ecs_id)
        assert not any(_visible(other, ids))
    assert _visible(other, ids) == [True] * 4
    assert other.counts()["executions"] == 4


def test_a_failed_write_outside_a_batch_records_nothing_and_the_next_call_works(store, other):
    _poison(store)

    @CallableRegistry.register("poisoned")
    def poisoned(item: Item) -> Item:
        return Item(name="poison-pill")

    item = Item(name="fine")
    item.promote_to_root()
    before = other.counts()
    with pytest.raises(StoreError, match="poisoned row refused. Nothing of this call"):
        CallableRegistry.execute("poisoned", item=item)
    assert other.counts() == before, "the call's composite input, output and execution are written together or not at all"
    ok = CallableRegistry.execute("make_item", item=item, k=2)
    assert _visible(other, [ok.ecs_id]) == [True]
    assert other.counts()["executions"] == 1


# -- a lost connection -------------------------------------------------------------------------------


def test_a_connection_lost_between_calls_fails_the_next_call_only(store, other):
    item = Item(name="a")
    item.promote_to_root()
    first = CallableRegistry.execute("make_item", item=item, k=1)
    before = other.counts()
    terminate(backend_pid(store))
    lost = Item(name="lost")
    with pytest.raises(StoreError, match="next call reconnects"):
        lost.promote_to_root()
    assert other.counts() == before, "nothing of the failed call was written"
    assert lost.ecs_id not in EntityRegistry
    third = CallableRegistry.execute("make_item", item=item, k=3)
    assert _visible(other, [first.ecs_id, third.ecs_id]) == [True, True]
    assert [e.function_name for e in CallableRegistry.executions()] == ["make_item", "make_item"]
    assert other.counts()["executions"] == 2


def test_an_execute_that_meets_a_lost_connection_raises_store_error_and_writes_no_output(store, other):
    item = Item(name="a")
    item.promote_to_root()
    CallableRegistry.execute("make_item", item=item, k=1)
    terminate(backend_pid(store))
    with pytest.raises(StoreError):
        CallableRegistry.execute("make_item", item=item, k=2)
    runs = CallableRegistry.executions()
    assert [r.succeeded for r in runs][0] is True
    # The registry records a failure as a failed execution (here through the new connection).
    assert all(r.error_type == "StoreError" for r in runs[1:] if not r.succeeded)
    assert sum(r.succeeded for r in runs) == 1
    names = [EntityRegistry.get(i).name for i in EntityRegistry.ids_by_type(Item)]
    assert "a-2" not in names, "no output of the failed call"
    after = CallableRegistry.execute("make_item", item=item, k=3)
    assert _visible(other, [after.ecs_id]) == [True]


def test_a_connection_lost_in_the_middle_of_a_write_writes_nothing_of_it(store, other):
    item = Item(name="a")
    item.promote_to_root()
    pid = backend_pid(store)
    before = other.counts()
    schema = _schema(store)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            CallableRegistry.execute("make_item", item=item, k=1)
        except BaseException as exc:
            errors.append(exc)

    with admin() as locker:
        locker.execute("BEGIN")
        locker.execute(f'LOCK TABLE "{schema}".versions IN SHARE MODE')  # the call's INSERT waits here
        worker = threading.Thread(target=call)
        worker.start()
        deadline = time.time() + 10
        while time.time() < deadline:
            row = locker.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
            if row and row[0] == "Lock":
                break
            time.sleep(0.01)
        else:
            pytest.fail("the call never reached its INSERT")
        terminate(pid)
        locker.execute("ROLLBACK")
    worker.join(30)
    assert len(errors) == 1 and isinstance(errors[0], StoreError), errors
    assert other.counts() == before
    again = CallableRegistry.execute("make_item", item=item, k=2)
    assert _visible(other, [again.ecs_id]) == [True]
    assert other.counts()["executions"] == 1


def test_a_connection_lost_inside_a_batch_keeps_the_batch(store, other, url):
    item = Item(name="a")
    item.promote_to_root()
    with ecs_notebook.batch():
        kept = [CallableRegistry.execute("make_item", item=item, k=k).ecs_id for k in range(5)]
        terminate(backend_pid(store))
        with pytest.raises(StoreError, match="written again on the next call"):
            CallableRegistry.execute("make_item", item=item, k=5)
        kept.append(CallableRegistry.execute("make_item", item=item, k=6).ecs_id)
        assert _visible(store, kept) == [True] * 6, "written again in a new transaction"
        assert not any(_visible(other, kept))
    assert _visible(other, kept) == [True] * 6
    runs = CallableRegistry.executions()
    assert sum(r.succeeded for r in runs) == 6
    assert all(r.error_type == "StoreError" for r in runs if not r.succeeded)
    ecs_notebook.connect(url)
    assert sorted(get(f"@{i}.value") for i in kept) == [0, 1, 2, 3, 4, 6]


def test_a_connection_lost_just_before_the_batch_commits_loses_nothing(store, other):
    item = Item(name="a")
    item.promote_to_root()
    with ecs_notebook.batch():
        ids = [CallableRegistry.execute("make_item", item=item, k=k).ecs_id for k in range(5)]
        terminate(backend_pid(store))
    assert _visible(other, ids) == [True] * 5
    assert other.counts()["executions"] == 5


# -- several writers and readers at once ---------------------------------------------------------------

CALLER = """
    import json, os, sys, time
    import ecs_notebook
    from ecs_notebook import CallableRegistry, EntityRegistry
    from models import Item, register_functions

    url, go, n, tag, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
    ecs_notebook.connect(url)
    register_functions()
    recorded = []
    EntityRegistry.subscribe(lambda recs: recorded.extend(recs))
    item = Item(name=tag)
    item.promote_to_root()
    open(go + "." + tag, "w").close()  # ready
    deadline = time.time() + 30
    while not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.002)
    outputs = []
    for k in range(n):
        outputs.append(str(CallableRegistry.execute("make_item", item=item, k=k).ecs_id))
        if pause:
            time.sleep(pause)
    print(json.dumps({"records": len(recorded), "outputs": outputs}))
"""

READER = """
    import json, sys, time
    from ecs_notebook.store import open_store

    url, n = sys.argv[1], int(sys.argv[2])
    store = open_store(url)
    seen, counts, incomplete = set(), [], []
    deadline = time.time() + 60
    while len(seen) < n and time.time() < deadline:
        ids = store.executions()
        counts.append(len(ids))
        for eid in ids:
            if eid in seen:
                continue
            values = store.load(eid).plain_dict()
            needed = [*values["output_entity_ids"], values["input_entity_id"], *values["input_entity_ids"]]
            if any(store.load(x) is None for x in needed if x is not None):
                incomplete.append(str(eid))
            seen.add(eid)
        time.sleep(0.003)
    print(json.dumps({"seen": len(seen), "counts": counts, "incomplete": incomplete}))
"""


def _start(tmp_path, code: str, *args: str, name: str) -> subprocess.Popen:
    path = script_path(tmp_path, name, code)
    return subprocess.Popen(
        [sys.executable, str(path), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=tmp_path
    )


def _finish(procs) -> list[dict]:
    outs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=120)
            assert p.returncode == 0, stderr
            outs.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return outs


def _go(tmp_path, procs, tags) -> None:
    deadline = time.time() + 60
    while not all((tmp_path / f"go.{t}").exists() for t in tags) and time.time() < deadline:
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)
    (tmp_path / "go").write_text("go")


def test_two_processes_recording_at_once_lose_nothing(tmp_path, url):
    open_store(url).close()
    n = 150
    procs = [_start(tmp_path, CALLER, url, str(tmp_path / "go"), str(n), tag, "0", name=f"caller_{tag}.py") for tag in ("a", "b")]
    _go(tmp_path, procs, ("a", "b"))
    results = _finish(procs)
    store = open_store(url)
    try:
        counts = store.counts()
    finally:
        store.close()
    assert counts["executions"] == 2 * n
    assert counts["versions"] == sum(r["records"] for r in results)
    ecs_notebook.connect(url)
    runs = CallableRegistry.executions(function="make_item")
    assert len(runs) == 2 * n and all(r.succeeded for r in runs)
    names = sorted(EntityRegistry.get(oid).name for r in results for oid in r["outputs"])
    assert names == sorted(f"{tag}-{k}" for tag in ("a", "b") for k in range(n))


def test_a_reader_process_sees_a_writers_executions_whole_as_they_land(tmp_path, url):
    open_store(url).close()
    n = 60
    reader = _start(tmp_path, READER, url, str(n), name="reader.py")
    writer = _start(tmp_path, CALLER, url, str(tmp_path / "go"), str(n), "w", "0.01", name="writer.py")
    _go(tmp_path, [reader, writer], ("w",))
    written, seen = _finish([writer, reader])
    assert len(written["outputs"]) == n
    assert seen["seen"] == n
    assert seen["incomplete"] == [], "an execution was visible before its inputs or outputs"
    counts = seen["counts"]
    assert counts == sorted(counts), "executions never disappear"
    assert len(set(counts)) >= 5, f"the reader saw them land one by one, not all at the end: {sorted(set(counts))}"


def test_threads_sharing_one_store_record_everything(store, other):
    per_thread, threads_n = 40, 4
    errors: list[BaseException] = []
    outputs: list = []

    def work(tag: str) -> None:
        try:
            item = Item(name=tag)
            item.promote_to_root()
            for k in range(per_thread):
                outputs.append(CallableRegistry.execute("make_item", item=item, k=k).ecs_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert other.counts()["executions"] == per_thread * threads_n
    assert all(_visible(other, outputs))


# -- values ---------------------------------------------------------------------------------------------

VALUES = [
    pytest.param("a\x00b", id="nul-in-string"),
    pytest.param("\ud800 lone surrogate", id="surrogate"),
    pytest.param("ünïcödé — 漢字 🙂", id="unicode"),
    pytest.param(float("nan"), id="nan"),
    pytest.param(float("-inf"), id="inf"),
    pytest.param(2**80, id="big-int"),
    pytest.param(b"\x00\xffbytes", id="bytes"),
    pytest.param(Decimal("1.10"), id="decimal"),
    pytest.param(datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc), id="datetime"),
    pytest.param(timedelta(seconds=90), id="timedelta"),
    pytest.param({"k\x00": [1, (2, 3)], 4: {5}}, id="nested-keys"),
]


@pytest.mark.parametrize("value", VALUES)
def test_values_round_trip_through_a_fresh_connection(store, url, value):
    h = Holder(value=value, note="x\x00y")
    h.promote_to_root()
    ecs_notebook.connect(url)
    back = EntityRegistry.get(h.ecs_id)
    assert back.from_storage
    assert back.note == "x\x00y"
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(back.value)
    else:
        assert back.value == value
        assert type(back.value) is type(value)


def test_the_cli_reads_a_postgres_store_without_showing_the_password(store, url, capsys):
    from ecs_notebook.notebook.cli import main

    CallableRegistry.execute("make_item", item=Item(name="a"), k=1)
    assert main(["--store", url, "summary"]) == 0
    out = capsys.readouterr().out
    assert "executions 1" in " ".join(out.split())
    assert f":{urlsplit(url).password}@" not in out
    assert "://***@" in out


# -- redaction of URLs whose password holds reserved characters (issue 12, item 6) -----------------

REDACTED = [
    ("postgresql://alice:p@ss:Sup3rS3cret@127.0.0.1:1/db", "postgresql://***@127.0.0.1:1/db"),
    ("postgresql://ada:s3cret@db.example:5432/lineage", "postgresql://***@db.example:5432/lineage"),
    ("postgres://u:p%40ss@h/db?password=x&sslmode=require", "postgres://***@h/db?password=***&sslmode=require"),
    ("postgresql://only-user@h/db", "postgresql://***@h/db"),
    ("postgresql://h/db", "postgresql://h/db"),
    ("postgresql://a:b/c@h/db", "postgresql://***@h/db"),
]


@pytest.mark.parametrize(("url", "shown"), REDACTED, ids=[u for u, _ in REDACTED])
def test_redact_url_hides_everything_between_the_scheme_and_the_last_at(url, shown):
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://alice:p@ss:Sup3rS3cret@127.0.0.1:1/db",
        "postgresql://alice:Sup3rS3cret@p@127.0.0.1:1/db",
        "postgresql://alice:Sup3rS3cret@[::1/db",
    ],
)
def test_a_password_with_an_unencoded_at_never_shows(url):
    """No message, repr, args, chained exception or traceback holds any part of the password; no text is garbled."""
    import traceback

    pytest.importorskip("psycopg")
    with pytest.raises(StoreError) as info:
        ecs_notebook.connect(url)
    chain, exc = [], info.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    texts = [str(e) + repr(e) + repr(e.args) for e in chain]
    texts.append("".join(traceback.format_exception(info.value)))
    for t in texts:
        for part in ("Sup3rS3cret", "S3cret", "p@ss", "ss:Sup"):
            assert part not in t, t
    message = str(info.value)
    assert "\n" not in message.strip()
    assert "postgresql://***@" in message, message
    assert "PostgreSQL" in message and "postgresql://user:password@host:port/database" in message or "%40" in message, message
