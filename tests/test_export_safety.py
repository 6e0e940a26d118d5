"""Exports never write over a store and never write in place (issue 12, item 2; item 7's export cases).

Every way to export (``ecs-notebook export``, ``to_json``, ``to_html``, ``to_openlineage``,
``%ecs_export``) is pointed at each refused destination: it must give one clear error and leave the
store file, its ``-wal``/``-shm`` files and the destination byte for byte as they were.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from ipython_shell import interactive_shell, one_line_usage_error, run
from models import Item, child_env, register_functions, sqlite_url

import ecs_notebook
from ecs_notebook import CallableRegistry, EntityRegistry, StoreError
from ecs_notebook.lineage.export import to_html, to_json
from ecs_notebook.lineage.openlineage import to_openlineage


@pytest.fixture
def store(tmp_path) -> Path:
    """A SQLite store with a few versions and executions, connected; its path."""
    path = tmp_path / "s.db"
    ecs_notebook.connect(sqlite_url(path))
    register_functions()
    item = Item(name="a")
    item.promote_to_root()
    for k in range(3):
        CallableRegistry.execute("make_item", item=item, k=k)
    return path


def _files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by name, with the SHA-256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


#: Where no export may write: (id, the destination given the store's path).
REFUSED: list[tuple[str, Callable[[Path], Path]]] = [
    ("the-store", lambda db: db),
    ("the-store-relative-spelling", lambda db: db.parent / "." / db.name),
    ("its-wal", lambda db: db.with_name(db.name + "-wal")),
    ("its-shm", lambda db: db.with_name(db.name + "-shm")),
    ("its-object-folder", lambda db: db.with_name(db.name + ".objects") / "out.json"),
    ("another-sqlite-database", lambda db: db.with_name("other.db")),
    ("a-folder", lambda db: db.parent),
    ("a-missing-folder", lambda db: db.parent / "missing_dir" / "x.json"),
]


def _other_db(db: Path) -> None:
    import sqlite3

    with sqlite3.connect(db.with_name("other.db")) as conn:
        conn.execute("CREATE TABLE t (x)")
    db.with_name(db.name + ".objects").mkdir(exist_ok=True)


EXPORTERS: list[tuple[str, Callable[[Path], object]]] = [
    ("to_json", to_json),
    ("to_html", to_html),
    ("to_openlineage", to_openlineage),
]


@pytest.mark.parametrize(("where", "dest"), [pytest.param(w, d, id=w) for w, d in REFUSED])
@pytest.mark.parametrize(("how", "export"), [pytest.param(h, e, id=h) for h, e in EXPORTERS])
def test_library_exports_refuse_the_store_and_bad_destinations(store, where, dest, how, export):
    _other_db(store)
    target = dest(store)
    before = _files(store.parent)
    with pytest.raises(StoreError) as info:
        export(target)
    assert "\n" not in str(info.value).strip()
    assert _files(store.parent) == before, "nothing was written or changed"
    assert EntityRegistry.store.counts()["versions"] > 0


@pytest.mark.parametrize(("where", "dest"), [pytest.param(w, d, id=w) for w, d in REFUSED])
@pytest.mark.parametrize("fmt", ["json", "openlineage"])
def test_cli_export_refuses_the_store_and_bad_destinations(store, where, dest, fmt):
    _other_db(store)
    target = dest(store)
    ecs_notebook.connect("memory://")  # the CLI process opens the file itself
    before = _files(store.parent)
    proc = subprocess.run(
        [sys.executable, "-m", "ecs_notebook.notebook.cli", "--store", sqlite_url(store), "export", fmt, str(target)],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=store.parent,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ecs-notebook: "), proc.stderr
    assert _files(store.parent) == before, "nothing was written or changed"


MAGIC_CASES = [pytest.param(w, d, id=w) for w, d in REFUSED if w in ("a-missing-folder", "the-store", "a-folder")]


@pytest.mark.parametrize("fmt", ["html", "json", "openlineage"])
@pytest.mark.parametrize(("where", "dest"), MAGIC_CASES)
def test_ecs_export_magic_gives_a_one_line_usage_error(tmp_path, monkeypatch, fmt, where, dest):
    with interactive_shell(tmp_path, monkeypatch) as shell:
        assert run(shell, "from ecs_notebook import Entity\nclass P(Entity):\n    x: int = 0\np = P()\np.promote_to_root()").error is None
        db = Path(EntityRegistry.store.path)
        before = _files(tmp_path / "work")
        target = dest(db)
        msg = one_line_usage_error(run(shell, f"%ecs_export {fmt} {target}"))
        assert str(target.name) in msg or str(target.parent.name) in msg
        assert _files(tmp_path / "work") == before


def test_a_failed_export_leaves_the_destination_as_it_was(store, tmp_path):
    dest = tmp_path / "events.jsonl"
    dest.write_text("the previous export\n")

    class Broken:
        def emit(self, event):
            raise ConnectionError("the lineage server went away")

    with pytest.raises(ConnectionError):
        to_openlineage(dest, client=Broken())
    assert dest.read_text() == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [], "no temporary file is left behind"


def test_exports_replace_an_earlier_export(store, tmp_path):
    for name, export in EXPORTERS:
        dest = tmp_path / f"out-{name}"
        dest.write_text("old")
        export(dest)
        assert dest.read_text() != "old" and dest.stat().st_size > 10
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
