"""``sqlite:///path``: the default durable store (stdlib sqlite3, WAL, one transaction per call)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

from .._ids import utcnow
from ..errors import StoreError
from ..records import VersionRecord
from .base import Store, prefix_range
from .codec import Encoder
from .rows import SharingChains, decode_record, encode_record

SCHEMA_VERSION = 1
_HEADER = b"SQLite format 3\x00"

# Migrations from version N-1 to N, applied in order inside one transaction.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE ecs_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE versions (
            seq INTEGER PRIMARY KEY,
            ecs_id BLOB NOT NULL UNIQUE,
            lineage_id BLOB NOT NULL,
            type_path TEXT NOT NULL,
            root_ecs_id BLOB NOT NULL,
            previous_ecs_id BLOB,
            created_at REAL NOT NULL,
            is_root INTEGER NOT NULL,
            function_name TEXT,
            succeeded INTEGER,
            cache_key TEXT,
            plain TEXT NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX versions_lineage ON versions (lineage_id)",
        "CREATE INDEX versions_type ON versions (type_path)",
        "CREATE INDEX versions_function ON versions (function_name) WHERE function_name IS NOT NULL",
        "CREATE INDEX versions_cache ON versions (cache_key) WHERE cache_key IS NOT NULL",
        """CREATE TABLE functions (
            name TEXT NOT NULL,
            code_version TEXT NOT NULL,
            source TEXT NOT NULL,
            signature TEXT NOT NULL,
            registered_at REAL NOT NULL,
            PRIMARY KEY (name, code_version)
        )""",
    ],
}

_COLUMNS = (
    "ecs_id, lineage_id, type_path, root_ecs_id, previous_ecs_id, created_at, is_root, function_name, succeeded, cache_key, plain, data"
)
_INSERT_VERSION = f"INSERT OR IGNORE INTO versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_EXECUTIONS = "versions INDEXED BY versions_function WHERE function_name IS NOT NULL"


def parse_sqlite_url(url: str, base: Path | None = None) -> Path:
    """``sqlite:///rel.db`` → base/rel.db; ``sqlite:////abs.db`` → /abs.db."""
    rest = url[len("sqlite:///") :]
    if not rest:
        msg = f"Store URL {url!r} names no file: use sqlite:///relative/path.db or sqlite:////absolute/path.db"
        raise StoreError(msg)
    path = Path(rest)
    return path if path.is_absolute() else (base or Path.cwd()) / path


class SQLiteStore(Store):
    """A lineage store in one SQLite file, safe for several processes at once (WAL, busy timeout)."""

    persistent = True

    def __init__(self, path: str | os.PathLike[str], url: str | None = None) -> None:
        self.path = Path(path).resolve()
        self.url = url or f"sqlite:///{self.path}"
        self._lock = threading.RLock()
        self._batch = 0
        self._in_tx = False
        self._chains = SharingChains()
        self._batch_rows: list[Any] = []  # rows of the open batch (to write again after a rollback)
        self._closed = False
        self._conn = self._open()

    # -- opening ---------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        path = self.path
        if path.exists():
            if path.is_dir():
                msg = f"Store path {path} is a directory; point the URL at a .db file inside it."
                raise StoreError(msg)
            with open(path, "rb") as f:
                head = f.read(16)
            if head and head != _HEADER:
                msg = (
                    f"{path} is not an SQLite database (it was left untouched). Choose another file "
                    "for the lineage store, e.g. sqlite:///.ecs_notebook/lineage.db."
                )
                raise StoreError(msg)
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                msg = f"Cannot create the folder of store {path}: {exc.strerror}. Choose a writable location."
                raise StoreError(msg) from exc
            if not os.access(path.parent, os.W_OK):
                msg = f"Cannot create store {path}: the folder {path.parent} is not writable."
                raise StoreError(msg)
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        except sqlite3.Error as exc:
            msg = f"Cannot open store {path}: {exc}"
            raise StoreError(msg) from exc
        try:
            self._check_schema(conn)
            conn.execute("PRAGMA busy_timeout = 30000")
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # Checkpoint the WAL every ~40 MB instead of every 4 MB: a checkpoint syncs the file, and
            # at one commit per call the default makes it the largest part of a call's cost.
            conn.execute("PRAGMA wal_autocheckpoint = 10000")
            conn.execute("PRAGMA journal_size_limit = 67108864")
            self._migrate(conn)
        except StoreError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            msg = f"Cannot use {path} as a lineage store: {exc}"
            raise StoreError(msg) from exc
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return
        if "ecs_meta" not in tables:
            msg = (
                f"{self.path} is an SQLite database of another application (tables: "
                f"{', '.join(sorted(tables)[:5])}); it was left untouched. Use a separate file."
            )
            raise StoreError(msg)
        row = conn.execute("SELECT value FROM ecs_meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            msg = (
                f"{self.path} was written by a newer ecs_notebook (schema {version}; this version reads "
                f"up to {SCHEMA_VERSION}). Upgrade ecs_notebook to open it; the file was left untouched."
            )
            raise StoreError(msg)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = 0
        if "ecs_meta" in tables:
            row = conn.execute("SELECT value FROM ecs_meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
        if version == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have created the schema while we waited for the lock: read again.
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "ecs_meta" in tables:
                row = conn.execute("SELECT value FROM ecs_meta WHERE key = 'schema_version'").fetchone()
                version = int(row[0]) if row else 0
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[v]:
                    conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO ecs_meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            conn.execute("INSERT OR IGNORE INTO ecs_meta (key, value) VALUES ('created_at', ?)", (utcnow().isoformat(),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- writing ---------------------------------------------------------------------------

    def write(self, records: list[VersionRecord], roots: list[UUID]) -> None:
        from ..registry import EntityRegistry

        cached = EntityRegistry._records
        enc = Encoder()
        root_set = {r.int for r in roots}
        rows = []
        for rec in records:
            sharing = self._chains.decide(rec, cached, self._stored_data)
            rows.append(encode_record(rec, rec.ecs_id.int in root_set, enc, sharing))
        with self._lock:
            self._run_write(rows)

    def _stored_data(self, ecs_id: UUID) -> str | None:
        row = self._query_one("SELECT data FROM versions WHERE ecs_id = ?", (ecs_id.bytes,))
        return row[0] if row else None

    def _run_write(self, rows: list[Any]) -> None:
        conn = self._conn
        try:
            if self._batch:
                if not self._in_tx:
                    conn.execute("BEGIN IMMEDIATE")
                    self._in_tx = True
                conn.execute("SAVEPOINT ecs_write")
                try:
                    self._conn.executemany(_INSERT_VERSION, rows)
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK TO ecs_write")
                        conn.execute("RELEASE ecs_write")
                    else:
                        # SQLite rolled back the whole batch (e.g. disk full): write again what the
                        # batch had recorded before this call, so nothing earlier is lost.
                        self._in_tx = False
                        self._rewrite_batch()
                    raise
                conn.execute("RELEASE ecs_write")
                self._batch_rows.extend(rows)
            else:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.executemany(_INSERT_VERSION, rows)
                except BaseException:
                    if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            msg = f"Could not write to store {self.path}: {exc}. Nothing of this call was recorded."
            raise StoreError(msg) from exc

    def _rewrite_batch(self) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._in_tx = True
            conn.executemany(_INSERT_VERSION, self._batch_rows)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._in_tx = False
            lost = len(self._batch_rows)
            self._batch_rows.clear()
            msg = (
                f"Store {self.path} rolled back the open batch and could not write its {lost} earlier "
                f"records again: {exc}. Those records exist only in this session's memory now."
            )
            raise StoreError(msg) from exc

    def begin_batch(self) -> None:
        with self._lock:
            self._batch += 1

    def end_batch(self) -> None:
        with self._lock:
            if self._batch == 0:
                return
            self._batch -= 1
            if self._batch == 0:
                self._batch_rows.clear()
            if self._batch == 0 and self._in_tx:
                self._in_tx = False
                try:
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    msg = f"Could not commit the batch to store {self.path}: {exc}"
                    raise StoreError(msg) from exc

    def write_function(self, name: str, code_version: str, source: str, signature: dict[str, Any]) -> None:
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT OR IGNORE INTO functions (name, code_version, source, signature, registered_at) VALUES (?, ?, ?, ?, ?)",
                    (name, code_version, source, json.dumps(signature), utcnow().timestamp()),
                )
            except sqlite3.Error as exc:
                msg = f"Could not record function {name} in store {self.path}: {exc}"
                raise StoreError(msg) from exc

    # -- reading ---------------------------------------------------------------------------

    def _query_one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchone()
            except sqlite3.Error as exc:
                msg = f"Could not read store {self.path}: {exc}"
                raise StoreError(msg) from exc

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                msg = f"Could not read store {self.path}: {exc}"
                raise StoreError(msg) from exc

    def load(self, ecs_id: UUID) -> VersionRecord | None:
        row = self._query_one(f"SELECT {_COLUMNS} FROM versions WHERE ecs_id = ?", (ecs_id.bytes,))
        if row is None:
            return None
        return decode_record(row, self._load_base)

    def _load_base(self, base: UUID) -> VersionRecord:
        from ..registry import EntityRegistry

        rec = EntityRegistry._records.get(base.int) or self.load(base)
        if rec is None:
            msg = f"Store {self.path} is missing record {base}, which a stored version builds on."
            raise StoreError(msg)
        return rec

    def lineage_versions(self, lineage_id: UUID) -> list[UUID]:
        rows = self._query("SELECT ecs_id FROM versions WHERE lineage_id = ? ORDER BY seq", (lineage_id.bytes,))
        return [UUID(bytes=bytes(r[0])) for r in rows]

    def lineage_of(self, ecs_id: UUID) -> UUID | None:
        row = self._query_one("SELECT lineage_id FROM versions WHERE ecs_id = ?", (ecs_id.bytes,))
        return UUID(bytes=bytes(row[0])) if row else None

    def is_root(self, ecs_id: UUID) -> bool:
        row = self._query_one("SELECT is_root FROM versions WHERE ecs_id = ?", (ecs_id.bytes,))
        return bool(row and row[0])

    def ids_by_type(self, type_path: str) -> list[UUID]:
        rows = self._query("SELECT ecs_id FROM versions WHERE type_path = ? ORDER BY seq", (type_path,))
        return [UUID(bytes=bytes(r[0])) for r in rows]

    def lineages(self) -> list[UUID]:
        rows = self._query("SELECT lineage_id FROM versions GROUP BY lineage_id ORDER BY MIN(seq)")
        return [UUID(bytes=bytes(r[0])) for r in rows]

    def executions(self, function: str | None = None, failed: bool | None = None) -> list[UUID]:
        sql, params = f"SELECT ecs_id FROM {_EXECUTIONS}", list[Any]()
        if function is not None:
            sql += " AND function_name = ?"
            params.append(function)
        if failed is not None:
            sql += " AND succeeded = ?"
            params.append(0 if failed else 1)
        rows = self._query(sql + " ORDER BY seq", tuple(params))
        return [UUID(bytes=bytes(r[0])) for r in rows]

    def find_cached(self, cache_key: str) -> UUID | None:
        row = self._query_one(
            "SELECT ecs_id FROM versions INDEXED BY versions_cache WHERE cache_key = ? ORDER BY seq DESC LIMIT 1",
            (cache_key,),
        )
        return UUID(bytes=bytes(row[0])) if row else None

    def ids_with_prefix(self, prefix: str, limit: int = 10) -> list[UUID]:
        lo, hi = prefix_range(prefix)
        params: tuple[Any, ...]
        # ecs_id is a 16-byte big-endian blob with a unique index: blobs compare as memcmp, so the
        # ids starting with the prefix are one index range.
        if hi >> 128:
            sql, params = "SELECT ecs_id FROM versions WHERE ecs_id >= ? ORDER BY ecs_id LIMIT ?", (lo.to_bytes(16, "big"), limit)
        else:
            sql = "SELECT ecs_id FROM versions WHERE ecs_id >= ? AND ecs_id < ? ORDER BY ecs_id LIMIT ?"
            params = (lo.to_bytes(16, "big"), hi.to_bytes(16, "big"), limit)
        return [UUID(bytes=bytes(r[0])) for r in self._query(sql, params)]

    def function_versions(self, name: str) -> list[str]:
        rows = self._query("SELECT code_version FROM functions WHERE name = ? ORDER BY registered_at", (name,))
        return [r[0] for r in rows]

    def counts(self) -> dict[str, int]:
        row = self._query_one(
            "SELECT (SELECT COUNT(*) FROM versions), (SELECT COUNT(DISTINCT lineage_id) FROM versions), "
            f"(SELECT COUNT(*) FROM {_EXECUTIONS}), (SELECT COUNT(DISTINCT name) FROM functions)"
        )
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"versions": row[0], "lineages": row[1], "executions": row[2], "functions": row[3], "bytes": size}

    def iter_records(self) -> Iterator[VersionRecord]:
        last = 0
        while True:
            rows = self._query(f"SELECT seq, {_COLUMNS} FROM versions WHERE seq > ? ORDER BY seq LIMIT 2000", (last,))
            if not rows:
                return
            for r in rows:
                yield decode_record(r[1:], self._load_base)
            last = rows[-1][0]

    def describe(self) -> str:
        c = self.counts()
        return (
            f"{self.path} — {c['versions']} versions in {c['lineages']} lineages, "
            f"{c['executions']} executions, {c['functions']} functions, {c['bytes'] / 1e6:.2f} MB"
        )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._in_tx:
                try:
                    self._conn.execute("COMMIT")
                except sqlite3.Error:
                    pass
                self._in_tx = False
            self._checkpoint_on_close()
            self._conn.close()

    def checkpoint(self) -> bool:
        """Copy every committed page from the WAL into the .db file and empty the WAL.

        Afterwards the .db file alone holds the whole store (copying it is enough). Skipped inside
        an open batch (its writes are not committed yet). False when another connection's read
        kept part of the WAL in use; the data is safe either way.
        """
        with self._lock:
            if self._in_tx:
                return False
            try:
                busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error as exc:
                msg = f"Could not checkpoint store {self.path}: {exc}"
                raise StoreError(msg) from exc
            return not busy

    def _checkpoint_on_close(self) -> None:
        # The last connection to close folds the WAL in anyway; another process may still hold
        # the file open, so do it here: a session that ends leaves a .db that is complete alone.
        try:
            self.checkpoint()
        except StoreError as exc:
            import warnings

            warnings.warn(f"ecs_notebook: {exc} (the records are safe in {self.path.name}-wal)", RuntimeWarning, stacklevel=3)
