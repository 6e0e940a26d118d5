"""A damaged or foreign SQLite file is refused at ``connect`` and left byte for byte as it was (issue 12, item 3).

Each case builds a real store, damages it the way a crash, a bad copy or a careless edit would, and
opens it with ``connect``, ``open_store`` and the ``ecs-notebook`` command line: every one raises
``StoreError`` (one line, naming the file), nothing is written, and no ``-wal``/``-shm`` file is left.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from models import Item, child_env, sqlite_url

import ecs_notebook
from ecs_notebook import EntityRegistry, StoreError
from ecs_notebook.store import open_store


def _build(path: Path, n: int = 600) -> None:
    """A store of a few hundred KB, closed (its WAL checkpointed and removed)."""
    ecs_notebook.connect(sqlite_url(path))
    with ecs_notebook.batch():
        for k in range(n):
            Item(name=f"item {k} " + "x" * 200, value=k).promote_to_root()
    ecs_notebook.connect("memory://")
    assert not path.with_name(path.name + "-wal").exists()


def _garbage_in_the_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    mid = (len(data) // 2) // 4096 * 4096
    data[mid : mid + 8192] = bytes((i * 151 + 7) % 256 for i in range(8192))
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _sql(statement: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        conn = sqlite3.connect(path)
        conn.execute(statement)
        conn.commit()
        conn.execute("PRAGMA journal_mode = DELETE")  # leave no -wal behind
        conn.close()

    return damage


#: (id, damage, what the message says)
DAMAGE: list[tuple[str, Callable[[Path], None], str]] = [
    ("8kb-garbage-in-the-middle", _garbage_in_the_middle, "damaged"),
    ("truncated", _truncate, "damaged"),
    ("schema-version-not-a-number", _sql("UPDATE ecs_meta SET value = 'one' WHERE key = 'schema_version'"), "schema version"),
    ("schema-version-missing", _sql("DELETE FROM ecs_meta WHERE key = 'schema_version'"), "schema version"),
    ("versions-table-missing", _sql("DROP TABLE versions"), "versions"),
    ("schema-version-newer", _sql("UPDATE ecs_meta SET value = '999' WHERE key = 'schema_version'"), "newer"),
]


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize(("damage", "says"), [pytest.param(d, s, id=i) for i, d, s in DAMAGE])
def test_a_damaged_store_is_refused_and_left_byte_identical(tmp_path, damage, says):
    folder = tmp_path / "store"
    folder.mkdir()
    path = folder / "lineage.db"
    _build(path)
    damage(path)
    before = _snapshot(folder)
    for opener in (lambda: ecs_notebook.connect(sqlite_url(path)), lambda: open_store(sqlite_url(path), create=False)):
        with pytest.raises(StoreError) as info:
            opener()
        text = str(info.value)
        assert "lineage.db" in text and says in text, text
        assert "\n" not in text.strip()
        assert _snapshot(folder) == before, "the refused file was changed or -wal/-shm files were left"
    assert EntityRegistry.store.url == "memory://", "a failed connect keeps the current store"
    proc = subprocess.run(
        [sys.executable, "-m", "ecs_notebook.notebook.cli", "--store", sqlite_url(path), "summary"],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert _snapshot(folder) == before


def test_a_healthy_store_in_use_by_another_connection_still_opens(tmp_path):
    """The check reads through the WAL another process is writing: a live store is not mistaken for a damaged one."""
    path = tmp_path / "lineage.db"
    writer = open_store(sqlite_url(path))
    ecs_notebook.connect(sqlite_url(path))
    for k in range(50):
        Item(name=f"i{k}", value=k).promote_to_root()
    assert path.with_name(path.name + "-wal").exists()
    again = open_store(sqlite_url(path), create=False)
    assert again.counts()["versions"] == 50
    again.close()
    writer.close()
