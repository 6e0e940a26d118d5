"""A store's .db file is complete on its own once a session ends (issue 15): copying it is enough.

SQLite in WAL mode keeps recent commits in ``lineage.db-wal`` until a checkpoint; a session that
ends (interpreter exit, a kernel shut down, ``connect`` to another store) folds them into the .db.
Each test copies the .db file alone, never the -wal, and reads the copy.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from models import child_env, make_student, register_functions, sqlite_url

import ecs_notebook
from ecs_notebook import CallableRegistry, EntityRegistry, get
from ecs_notebook.store import open_store

SESSION = """
import ecs_notebook
from ecs_notebook import CallableRegistry, EntityRegistry
from models import make_student, register_functions

ecs_notebook.connect({url!r})
register_functions()
ids = []
for k in range(30):
    s = make_student()
    s.name = f"student{{k}}"
    s.promote_to_root()
    s.gpa = 3.5
    EntityRegistry.version_entity(s)
    CallableRegistry.execute("report", student=s)
    ids.append(str(s.ecs_id))
print(ids[-1])
# no close(): the process just ends, as a kernel or a script does
"""


def _copy_db_alone(db: Path, dest: Path) -> Path:
    dest.mkdir()
    copy = dest / db.name
    shutil.copy(db, copy)  # the .db only: no -wal, no -shm
    assert not (dest / (db.name + "-wal")).exists()
    return copy


def _counts(path: Path) -> tuple[int, int]:
    """(versions, executions) in the file at ``path``; (0, 0) when it does not even hold the schema."""
    conn = sqlite3.connect(path)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'versions'").fetchone():
            return 0, 0
        versions = conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
        executions = conn.execute("SELECT COUNT(*) FROM versions WHERE function_name IS NOT NULL").fetchone()[0]
    finally:
        conn.close()
    return versions, executions


def test_a_process_that_ends_leaves_a_db_file_complete_on_its_own(tmp_path):
    db = tmp_path / "session" / "lineage.db"
    url = sqlite_url(db)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SESSION.format(url=url))],
        capture_output=True, text=True, env=child_env(), timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip()
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the WAL was folded into the .db"

    copy = _copy_db_alone(db, tmp_path / "copy")
    versions, executions = _counts(copy)
    assert executions == 30
    assert versions > 30 * 4
    ecs_notebook.connect(sqlite_url(copy))
    assert get(f"@{last}.name") == "student29"
    assert len(CallableRegistry.executions()) == 30


def test_connecting_to_another_store_checkpoints_the_previous_one(tmp_path):
    db = tmp_path / "lineage.db"
    ecs_notebook.connect(sqlite_url(db))
    register_functions()
    s = make_student()
    s.promote_to_root()
    CallableRegistry.execute("report", student=s)
    # Another reader keeps the file open (a second notebook, the CLI): SQLite alone would then
    # leave the data in the WAL when this session lets go of the store.
    other = open_store(sqlite_url(db))
    expected = EntityRegistry.store.counts()
    try:
        before = _counts(_copy_db_alone(db, tmp_path / "before"))
        ecs_notebook.connect("memory://")
        after = _counts(_copy_db_alone(db, tmp_path / "after"))
    finally:
        other.close()
    assert before == (0, 0), "while the session runs, recent commits live in the WAL"
    assert after == (expected["versions"], expected["executions"]) == (expected["versions"], 1)


def test_checkpoint_waits_for_an_open_batch(tmp_path):
    db = tmp_path / "lineage.db"
    store = ecs_notebook.connect(sqlite_url(db))
    with ecs_notebook.batch():
        make_student().promote_to_root()
        assert store.checkpoint() is False, "an open batch is not committed: nothing to fold in yet"
    assert store.checkpoint() is True
    versions, _ = _counts(_copy_db_alone(db, tmp_path / "copy"))
    assert versions == 3  # the student and its two courses


@pytest.mark.slow
def test_a_kernel_shut_down_leaves_a_db_file_complete_on_its_own(tmp_path):
    jupyter_client = pytest.importorskip("jupyter_client")
    pytest.importorskip("ipykernel")
    env = child_env()
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path), env=env)
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        code = textwrap.dedent(
            """
            %load_ext ecs_notebook
            from models import make_student
            for k in range(5):
                s = make_student(); s.name = f"k{k}"; s.promote_to_root()
            sid = str(s.ecs_id)
            """
        )
        reply = kc.execute_interactive(code, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=False)  # a graceful shutdown, as Jupyter's "Shut Down Kernel"
    db = tmp_path / ".ecs_notebook" / "lineage.db"
    versions, _ = _counts(_copy_db_alone(db, tmp_path / "copy"))
    assert versions == 15  # five students with two courses each


def test_unload_ext_checkpoints_the_store(tmp_path, monkeypatch):
    from ipython_shell import interactive_shell, run

    with interactive_shell(tmp_path, monkeypatch) as shell:
        ran = run(shell, "from models import make_student\ns = make_student()\ns.promote_to_root()")
        assert ran.error is None, ran.error
        db = tmp_path / "work" / ".ecs_notebook" / "lineage.db"
        other = open_store(sqlite_url(db))  # another reader: SQLite alone would leave the WAL as it is
        try:
            run(shell, "%unload_ext ecs_notebook")
            versions, _ = _counts(_copy_db_alone(db, tmp_path / "copy"))
        finally:
            other.close()
    assert versions == 3
