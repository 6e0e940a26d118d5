"""The SQLite store across processes (DESIGN A8): a kernel restart, concurrent writers, a killed writer.

Each scenario runs real child processes (``python script.py``) on one store file. Children that import
``models`` (on their ``PYTHONPATH``) read its classes typed; a class defined only in a writer's
``__main__`` script is not defined in a reader, and comes back untyped (stores never import anything). Sizes are modest: each test takes
a few seconds at most, and nothing asserts a timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from models import Item, child_env, run_script, script_path, sqlite_url

import ecs_notebook
from ecs_notebook import CallableRegistry, EntityRegistry, FunctionExecution, get
from ecs_notebook.core.entity import UntypedEntity
from ecs_notebook.store import open_store

WRITER = """
    import json, sys
    import ecs_notebook
    from ecs_notebook import CallableRegistry, Entity, EntityRegistry
    from models import Item, make_student, register_functions

    ecs_notebook.connect(sys.argv[1])
    register_functions()


    class Note(Entity):  # defined in this script only: no other process can import it
        text: str
        tags: dict[str, int] = {}
        items: list[Item] = []


    s = make_student()
    s.promote_to_root()
    v1 = s.ecs_id
    s.name = "Grace"
    s.courses[0].credits = 7
    EntityRegistry.version_entity(s)
    report = CallableRegistry.execute("report", student=s, bonus=1.0)
    try:
        CallableRegistry.execute("boom", student=s)
    except ValueError:
        pass
    renamed = CallableRegistry.execute("rename", student=s, name="Lin")
    note = Note(text="hello", tags={"a": 1}, items=[Item(name="n0", value=5)])
    note.promote_to_root()
    print(json.dumps({
        "v1": str(v1), "v2": str(s.ecs_id), "lineage": str(s.lineage_id), "course0": str(s.courses[0].ecs_id),
        "report": str(report.ecs_id), "renamed": str(renamed.ecs_id), "note": str(note.ecs_id),
        "note_item": str(note.items[0].ecs_id), "code_version": CallableRegistry.get_metadata("report").code_version,
        "versions": len(EntityRegistry), "executions": [str(e.ecs_id) for e in CallableRegistry.executions()],
    }))
"""

READER = """
    import json, sys
    import ecs_notebook
    from ecs_notebook import CallableRegistry, Entity, EntityRegistry, get
    from models import Item, Report, Student

    ecs_notebook.connect(sys.argv[1])
    ids = json.loads(sys.argv[2])
    out = {"cached_after_connect": len(EntityRegistry._records), "versions": len(EntityRegistry)}
    for key in ("v1", "v2", "renamed"):
        e = EntityRegistry.get(ids[key])
        out[key] = [type(e).__qualname__, e.name, e.courses[0].credits, e.from_storage, e.courses[0].from_storage]
    out["history"] = [str(x) for x in EntityRegistry.history(ids["lineage"])]
    out["addresses"] = [get(f"@{ids['v1']}.courses.0.credits"), get(f"@{ids['v2']}.courses.0.credits"),
                        get(f"@{ids['v1']}.scores.math"), get(f"@{ids['report']}.score")]
    rep = EntityRegistry.get(ids["report"])
    out["report"] = [type(rep).__qualname__, rep.derived_from_function, str(rep.derived_from_execution_id),
                     [str(x) for x in rep.function_input_entities]]
    out["executions"] = [[str(e.ecs_id), e.function_name, e.succeeded, e.error_type, e.code_version,
                          [str(o) for o in e.output_entity_ids], e.from_storage]
                         for e in CallableRegistry.executions()]
    out["failed"] = [e.function_name for e in CallableRegistry.executions(failed=True)]
    out["by_function"] = len(CallableRegistry.executions(function="report"))
    out["code_versions"] = CallableRegistry.code_versions("report")
    out["students"] = [str(x) for x in EntityRegistry.ids_by_type(Student)]
    out["lineages"] = len(EntityRegistry.lineages())
    note = EntityRegistry.get(ids["note"])
    out["note"] = [type(note).__name__, note.type_path, sorted(note.untyped_data), note.from_storage,
                   get(f"@{ids['note']}.text"), get(f"@{ids['note']}.tags.a"), get(f"@{ids['note']}.items.0.name"),
                   type(note.untyped_data["items"][0]).__name__]
    out["note_types"] = [str(x) for x in EntityRegistry.ids_by_type("__main__:Note")]


    class Note(Entity):  # the same module:qualname as the writer's: re-typed on the next access
        text: str
        tags: dict[str, int] = {}
        items: list[Item] = []


    again = EntityRegistry.get(ids["note"])
    out["note_retyped"] = [type(again).__qualname__, type(again) is Note, again.text, again.tags,
                           again.items[0].name, again.items[0].value]
    print(json.dumps(out))
"""


def test_a_new_process_reads_back_everything(tmp_path):
    url = sqlite_url(tmp_path / "lineage.db")
    ids = run_script(tmp_path, WRITER, url, name="writer.py")
    out = run_script(tmp_path, READER, url, json.dumps(ids), name="reader.py")

    assert out["cached_after_connect"] == 0, "reopening reads nothing up front"
    assert out["versions"] == ids["versions"]
    assert out["v1"] == ["Student", "Ada", 3, True, True]
    assert out["v2"] == ["Student", "Grace", 7, True, True]
    assert out["renamed"] == ["Student", "Lin", 7, True, True]
    assert out["history"] == [ids["v1"], ids["v2"], ids["renamed"]]
    assert out["addresses"] == [3, 7, 1.0, pytest.approx(4.2)]
    exec_ids = ids["executions"]
    assert out["report"] == ["Report", "report", exec_ids[0], [ids["v2"]]]
    assert [e[0] for e in out["executions"]] == exec_ids
    assert [(e[1], e[2], e[3]) for e in out["executions"]] == [
        ("report", True, None),
        ("boom", False, "ValueError"),
        ("rename", True, None),
    ]
    assert out["executions"][0][4] == ids["code_version"]
    assert out["executions"][0][5] == [ids["report"]]
    assert out["executions"][2][5] == [ids["renamed"]]
    assert all(e[6] for e in out["executions"]), "executions read back are from_storage"
    assert out["failed"] == ["boom"]
    assert out["by_function"] == 1
    assert out["code_versions"] == [ids["code_version"]]
    assert out["students"] == [ids["v1"], ids["v2"], ids["renamed"]]
    assert out["lineages"] >= 6


def test_a_class_only_the_writer_defined_comes_back_untyped_then_retyped(tmp_path):
    url = sqlite_url(tmp_path / "lineage.db")
    ids = run_script(tmp_path, WRITER, url, name="writer.py")
    out = run_script(tmp_path, READER, url, json.dumps(ids), name="reader.py")
    assert out["note"] == [
        "UntypedEntity",
        "__main__:Note",
        ["items", "tags", "text"],
        True,
        "hello",
        1,
        "n0",
        "Item",  # its children's classes are importable: they stay typed
    ]
    assert out["note_types"] == [ids["note"]], "ids_by_type still knows the original class path"
    assert out["note_retyped"] == ["Note", True, "hello", {"a": 1}, "n0", 5]


def test_this_process_reads_what_a_child_process_recorded(tmp_path):
    url = sqlite_url(tmp_path / "lineage.db")
    ids = run_script(tmp_path, WRITER, url, name="writer.py")
    ecs_notebook.connect(url)
    assert [e.function_name for e in CallableRegistry.executions()] == ["report", "boom", "rename"]
    assert get(f"@{ids['v2']}.courses.0.credits") == 7
    note = EntityRegistry.get(ids["note"])
    assert isinstance(note, UntypedEntity), "the writer's __main__ is not this process's __main__"
    # Recording into the same file from here continues the writer's lineage.
    n = ecs_notebook.put(f"@{ids['renamed']}.gpa", 1.5)
    assert EntityRegistry.history(EntityRegistry.lineage_of(ids["v1"]))[-1] == n
    assert get(f"@{n}.name") == "Lin"


RENAMED_V1 = """
    from ecs_notebook import Entity


    class Sample(Entity):
        label: str
        size: int = 0
"""

RENAMED_V2 = """
    from ecs_notebook import Entity


    class Specimen(Entity):  # renamed since the store was written
        label: str
        size: int = 0
"""

RENAME_WRITER = """
    import json, sys
    import ecs_notebook
    from samples_mod import Sample

    ecs_notebook.connect(sys.argv[1])
    s = Sample(label="x", size=3)
    s.promote_to_root()
    print(json.dumps({"id": str(s.ecs_id)}))
"""

RENAME_READER = """
    import json, sys
    import ecs_notebook
    from ecs_notebook import EntityRegistry, get

    ecs_notebook.connect(sys.argv[1])
    e = EntityRegistry.get(sys.argv[2])
    print(json.dumps([type(e).__name__, e.type_path, e.untyped_data, get(f"@{sys.argv[2]}.size")]))
"""


def test_an_entity_class_renamed_between_sessions_comes_back_untyped(tmp_path):
    url = sqlite_url(tmp_path / "lineage.db")
    mod_dir = tmp_path / "mods"
    mod_dir.mkdir()
    script_path(mod_dir, "samples_mod.py", RENAMED_V1)
    ids = run_script(tmp_path, RENAME_WRITER, url, name="w.py", extra_path=mod_dir)
    script_path(mod_dir, "samples_mod.py", RENAMED_V2)
    for cached in (mod_dir / "__pycache__").glob("*.pyc"):
        cached.unlink()
    out = run_script(tmp_path, RENAME_READER, url, ids["id"], name="r.py", extra_path=mod_dir)
    assert out == ["UntypedEntity", "samples_mod:Sample", {"label": "x", "size": 3}, 3]


# -- reopening is lazy ------------------------------------------------------------------------

BIG_WRITER = """
    import json, sys
    import ecs_notebook
    from ecs_notebook import EntityRegistry
    from models import make_bag

    ecs_notebook.connect(sys.argv[1])
    bag = make_bag(3000)
    bag.promote_to_root()
    for k in range(5):
        bag.items[k * 500].value = -(k + 1)
        EntityRegistry.version_entity(bag)
    print(json.dumps({"root": str(bag.ecs_id), "versions": len(EntityRegistry)}))
"""

BIG_READER = """
    import json, sys, time
    t0 = time.perf_counter()
    import ecs_notebook
    from ecs_notebook import EntityRegistry, get

    ecs_notebook.connect(sys.argv[1])
    cached = len(EntityRegistry._records)
    value = get(f"@{sys.argv[2]}.items.2000.value")
    name = get(f"@{sys.argv[2]}.items.2999.name")
    seconds = time.perf_counter() - t0
    print(json.dumps({"cached_before": cached, "cached_after": len(EntityRegistry._records), "value": value,
                      "name": name, "seconds": seconds}))
"""


def test_reopening_a_store_of_thousands_of_versions_loads_only_what_is_touched(tmp_path):
    url = sqlite_url(tmp_path / "lineage.db")
    ids = run_script(tmp_path, BIG_WRITER, url, name="writer.py")
    assert ids["versions"] == 3001 + 5 * 2
    out = run_script(tmp_path, BIG_READER, url, ids["root"], name="reader.py")
    assert out["cached_before"] == 0
    assert (out["value"], out["name"]) == (-5, "item2999")
    assert out["cached_after"] <= 6, f"{out['cached_after']} records loaded to resolve two addresses"
    # Timing is reported, never asserted (DESIGN A10 figures live in benchmarks/).
    print(f"reopen + two addresses on {ids['versions']} versions: {out['seconds'] * 1e3:.0f} ms")


# -- several processes at once ----------------------------------------------------------------

CALLER = """
    import json, os, sys, time
    import ecs_notebook
    from ecs_notebook import CallableRegistry, EntityRegistry
    from models import Item, register_functions

    url, go, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
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
        if k % 10 == 0:
            print(k, flush=True)
    print(json.dumps({"records": len(recorded), "outputs": outputs}))
"""


def _start(tmp_path, code: str, *args: str, name: str) -> subprocess.Popen:
    path = script_path(tmp_path, name, code)
    return subprocess.Popen(
        [sys.executable, str(path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=tmp_path,
    )


def _check_executions_complete(store, checked: set) -> int:
    """Every visible execution's outputs and inputs resolve; returns how many were checked now."""
    n = 0
    for eid in store.executions():
        if eid in checked:
            continue
        rec = store.load(eid)
        assert rec is not None, f"execution {eid} is listed but its record is missing"
        values = rec.plain_dict()
        for oid in values["output_entity_ids"]:
            assert store.load(oid) is not None, f"execution {eid} is visible before its output {oid}"
        if values["input_entity_id"] is not None:
            assert store.load(values["input_entity_id"]) is not None
        for iid in values["input_entity_ids"]:
            assert store.load(iid) is not None
        checked.add(eid)
        n += 1
    return n


def test_two_processes_recording_at_once_lose_nothing(tmp_path):
    url = sqlite_url(tmp_path / "lineage.db")
    open_store(url).close()  # create the file up front so both writers open an existing store
    go = tmp_path / "go"
    n = 200
    procs = [_start(tmp_path, CALLER, url, str(go), str(n), tag, name=f"caller_{tag}.py") for tag in ("a", "b")]
    reader = open_store(url)
    checked: set = set()
    try:
        deadline = time.time() + 30
        while not all((tmp_path / f"go.{tag}").exists() for tag in ("a", "b")) and time.time() < deadline:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        go.write_text("go")  # both are ready: start them together
        rounds = 0
        while any(p.poll() is None for p in procs):
            _check_executions_complete(reader, checked)
            rounds += 1
            time.sleep(0.01)
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (stdout, stderr) in zip(procs, outs):
            assert p.returncode == 0, stderr
        results = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outs]
        _check_executions_complete(reader, checked)
        counts = reader.counts()
    finally:
        reader.close()
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert rounds > 0
    assert counts["executions"] == 2 * n == len(checked)
    assert counts["versions"] == sum(r["records"] for r in results)
    ecs_notebook.connect(url)
    runs = CallableRegistry.executions(function="make_item")
    assert len(runs) == 2 * n
    assert all(r.succeeded for r in runs)
    for r in results:
        assert len(r["outputs"]) == n
        for oid in r["outputs"][:: n // 10]:
            assert EntityRegistry.get(oid).name.split("-")[0] in ("a", "b")
    names = sorted(EntityRegistry.get(oid).name for r in results for oid in r["outputs"])
    assert names == sorted(f"{tag}-{k}" for tag in ("a", "b") for k in range(n))


CRASHER = """
    import sys
    import ecs_notebook
    from ecs_notebook import CallableRegistry
    from models import Item, register_functions

    ecs_notebook.connect(sys.argv[1])
    register_functions()
    item = Item(name="c")
    item.promote_to_root()
    for k in range(100_000):
        CallableRegistry.execute("make_item", item=item, k=k)
"""


def test_a_writer_killed_mid_run_leaves_every_execution_whole_or_absent(tmp_path):
    url = sqlite_url(tmp_path / "lineage.db")
    open_store(url).close()
    proc = _start(tmp_path, CRASHER, url, name="crasher.py")
    watcher = open_store(url)
    try:
        deadline = time.time() + 30
        while watcher.counts()["executions"] < 60 and time.time() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        watcher.close()
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)  # waits, and closes its pipes (no ResourceWarning)
    assert proc.returncode == -signal.SIGKILL

    ecs_notebook.connect(url)
    store = EntityRegistry.store
    assert store._conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    runs = CallableRegistry.executions()
    assert len(runs) >= 60
    assert all(isinstance(r, FunctionExecution) and r.succeeded for r in runs)
    checked: set = set()
    assert _check_executions_complete(store, checked) == len(runs)
    # No output of an execution that is absent: every derived version names a recorded execution.
    executions = {r.ecs_id for r in runs}
    records = list(store.iter_records())
    assert len(records) == store.counts()["versions"]
    derived = [rec for rec in records if rec.derived_from_execution_id is not None and rec.cls is Item]
    assert len(derived) == len(runs), "one output per recorded execution, none without one"
    assert {rec.derived_from_execution_id for rec in derived} == executions
    # The store takes new records after the crash.
    item = EntityRegistry.get(runs[-1].output_entity_ids[0])
    item.promote_to_root()
    assert item.ecs_id in EntityRegistry


def test_a_new_store_created_by_another_process_at_the_same_moment_opens(tmp_path):
    """Deterministic version of the race: another connection is creating the schema when we open."""
    import sqlite3
    import threading

    template = tmp_path / "template.db"
    open_store(sqlite_url(template)).close()
    conn = sqlite3.connect(template)
    schema = [r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")]
    meta = conn.execute("SELECT key, value FROM ecs_meta").fetchall()
    conn.close()

    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("PRAGMA journal_mode = WAL")
    other.execute("BEGIN IMMEDIATE")  # the other process is half-way through creating the store
    for sql in schema:
        other.execute(sql)
    other.executemany("INSERT INTO ecs_meta (key, value) VALUES (?, ?)", meta)
    timer = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    timer.start()
    try:
        store = open_store(sqlite_url(path))
    finally:
        timer.join()
        other.close()
    try:
        assert store.counts()["versions"] == 0
    finally:
        store.close()
