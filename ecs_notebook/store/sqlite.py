"""``sqlite:///path``: the default durable store (stdlib sqlite3, WAL, one transaction per call)."""

from __future__ import annotations

import json
import mmap
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

from ..core._ids import utcnow
from ..core.errors import StoreError
from ..core.records import VersionRecord
from ..core.values.codecs import part_bytes, part_chunks, part_size
from .base import missing_part
from .codec import Encoder
from .rows import SharingChains, encode_record
from .sql import COLUMNS, SQLStore

SCHEMA_VERSION = 2
#: Value parts up to this size live in the database; larger ones are files in ``<db>.objects/``
#: (SQLite's own measurements put the break-even of internal vs external blobs near 100 KB).
INLINE_PART_BYTES = 64 * 1024
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
    # Content-addressed parts of recorded values: small ones inline, large ones in files (data NULL).
    2: [
        """CREATE TABLE objects (
            key TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            stored_at REAL NOT NULL,
            data BLOB
        )""",
    ],
}

_COLUMNS = COLUMNS
_INSERT_VERSION = f"INSERT OR IGNORE INTO versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_FUNCTION = "INSERT OR IGNORE INTO functions (name, code_version, source, signature, registered_at) VALUES (?, ?, ?, ?, ?)"
_EXECUTIONS = "versions INDEXED BY versions_function WHERE function_name IS NOT NULL"
_CACHED = "versions INDEXED BY versions_cache"


def parse_sqlite_url(url: str, base: Path | None = None) -> Path:
    """``sqlite:///rel.db`` → base/rel.db; ``sqlite:////abs.db`` → /abs.db."""
    rest = url[len("sqlite:///") :]
    if not rest:
        msg = f"Store URL {url!r} names no file: use sqlite:///relative/path.db or sqlite:////absolute/path.db"
        raise StoreError(msg)
    if rest.endswith(("/", os.sep)):
        msg = f"Store URL {url!r} ends with '/', so it names a folder: name the .db file (e.g. sqlite:///{rest.rstrip('/')})."
        raise StoreError(msg)
    path = Path(rest)
    return path if path.is_absolute() else (base or Path.cwd()) / path


class SQLiteStore(SQLStore):
    """A lineage store in one SQLite file, safe for several processes at once (WAL, busy timeout)."""

    persistent = True
    P = "?"
    EXECUTIONS = _EXECUTIONS
    CACHED = _CACHED

    def __init__(self, path: str | os.PathLike[str], url: str | None = None) -> None:
        self.path = Path(path).resolve()
        self.url = url or f"sqlite:///{self.path}"
        self._lock = threading.RLock()
        self._batch = 0
        self._chains = SharingChains()
        # The open batch, kept in memory and written in one short transaction when it ends: a batch
        # never holds the file's write lock while the code inside the block runs (other writers, in
        # other processes, go on). Groups: ("versions" | "functions", rows, ecs_ids) per write call.
        self._pending: list[tuple[str, list[Any], list[UUID]]] = []
        self._pending_rows: dict[bytes, Any] = {}  # version rows of the open batch by ecs_id
        self._pending_cache: dict[str, bytes] = {}  # cache key -> the batch's latest execution with it
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
            if head:
                self._validate(path)
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

    def _validate(self, path: Path) -> None:
        """Check an existing file before anything opens it for writing: StoreError if it is not a sound store.

        Read through a read-only connection that creates nothing: ``immutable`` when no ``-wal`` file
        exists (no other connection has the file open for writing), else a plain read-only one (the
        ``-wal``/``-shm`` files are there already). ``PRAGMA quick_check`` verifies every page and
        b-tree (about 40 ms for a 100,000-version store, see benchmarks/bench_store.py).
        """
        wal = path.with_name(path.name + "-wal")
        problem: str | None = None
        for attempt in range(2):
            immutable = not wal.exists()
            uri = f"file:{quote(str(path))}?mode=ro" + ("&immutable=1" if immutable else "")
            try:
                conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30.0)
            except sqlite3.Error as exc:
                msg = f"Cannot open store {path}: {exc}. It was left untouched."
                raise StoreError(msg) from exc
            try:
                problem = self._check_file(conn)
            except sqlite3.DatabaseError as exc:
                problem = f"damaged ({' '.join(str(exc).split())[:120]})"
            finally:
                conn.close()
            if problem is None:
                return
            # A writer may have started (and checkpointed) while an immutable read ran: read again through the WAL.
            if not (attempt == 0 and immutable and wal.exists() and problem.startswith("damaged")):
                break
        problem = problem or "damaged"
        if problem.startswith("newer:"):
            msg = f"{path} was written by a newer ecs_notebook ({problem[6:]}). Upgrade ecs_notebook to open it; it was left untouched."
        else:
            msg = f"{path} is {problem}; it was left untouched. Restore it from a backup, or choose another file for the lineage store."
        raise StoreError(msg)

    def _check_file(self, conn: sqlite3.Connection) -> str | None:
        """What is wrong with the store ``conn`` reads (None: nothing; ``newer:...``: a newer schema)."""
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "ecs_meta" not in tables:
            return f"an SQLite database of another application (tables: {', '.join(sorted(tables)[:5])}), not a lineage store"
        if tables:
            row = conn.execute("SELECT value FROM ecs_meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                return "damaged (its schema version is missing)"
            try:
                version = int(row[0])
            except (TypeError, ValueError):
                return f"damaged (its schema version {str(row[0])[:20]!r} is not a number)"
            if version > SCHEMA_VERSION:
                return f"newer:schema {version}; this version reads up to {SCHEMA_VERSION}"
            missing = {"versions", "functions", *(("objects",) if version >= 2 else ())} - tables
            if version >= 1 and missing:
                return f"damaged (its {', '.join(sorted(missing))} table is missing)"
        result = conn.execute("PRAGMA quick_check(1)").fetchone()
        if result is None or result[0] != "ok":
            said = " ".join(str(result[0] if result else "no answer").replace("***", " ").split())
            return f"damaged (SQLite integrity check: {said[:120]})"
        return None

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
        cached = self._cache
        enc = Encoder()
        root_set = {r.int for r in roots}
        with self._lock:
            rows = []
            for rec in records:
                sharing = self._chains.decide(rec, cached, self._stored_data)
                rows.append(encode_record(rec, rec.ecs_id.int in root_set, enc, sharing))
            if self._batch:
                self._pending.append(("versions", rows, [r.ecs_id for r in records]))
                self._pending_rows.update((row[0], row) for row in rows)
                self._pending_cache.update((row[9], row[0]) for row in rows if row[9] is not None)
                return
            self._run_write([("versions", rows, [])])

    def _stored_data(self, ecs_id: UUID) -> str | None:
        pending = self._pending_rows.get(ecs_id.bytes)
        if pending is not None:
            return pending[-1]  # type: ignore[no-any-return]
        row = self._query_one("SELECT data FROM versions WHERE ecs_id = ?", (ecs_id.bytes,))
        return row[0] if row else None

    def _run_write(self, groups: list[tuple[str, list[Any], list[UUID]]]) -> None:
        """Write ``groups`` in one transaction (all of them or none)."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for kind, rows, _ids in groups:
                    conn.executemany(_INSERT_VERSION if kind == "versions" else _INSERT_FUNCTION, rows)
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            msg = f"Could not write to store {self.path}: {exc}. Nothing of this call was recorded."
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
                self._commit_pending()

    def _commit_pending(self) -> None:
        """Write the batch in one short transaction; if that fails, call by call, keeping what lands.

        On a failure, the StoreError's ``lost_ids`` are the versions that did not land (the failed
        call's and every later call's, which may build on them); the registry forgets them.
        """
        groups, self._pending = self._pending, []
        self._pending_rows, self._pending_cache = {}, {}
        if not groups:
            return
        try:
            self._run_write(groups)
            return
        except StoreError:
            pass
        self._chains.clear()  # it may name rows that are not in the store
        for i, group in enumerate(groups):
            try:
                self._run_write([group])
            except StoreError as exc:
                lost = [eid for _kind, _rows, ids in groups[i:] for eid in ids]
                calls = len(groups) - i
                msg = (
                    f"Could not commit the batch to store {self.path}: {exc.__cause__}. Its first {i} writes were "
                    f"recorded; the last {calls} ({len(lost)} versions) were not, and this session forgot them too."
                )
                err = StoreError(msg)
                err.lost_ids = lost  # type: ignore[attr-defined]
                raise err from exc.__cause__

    # -- the object area ---------------------------------------------------------------------

    @property
    def objects_dir(self) -> Path:
        """The folder of the large value parts: ``<db>.objects/`` beside the database."""
        return self.path.with_name(self.path.name + ".objects")

    def _part_file(self, key: str) -> Path:
        if len(key) != 32 or key.strip("0123456789abcdef"):
            msg = f"Not a value part key: {key[:40]!r}"
            raise StoreError(msg)
        return self.objects_dir / key[:2] / key

    def has_part(self, key: str) -> bool:
        return self._query_one("SELECT 1 FROM objects WHERE key = ?", (key,)) is not None

    def put_parts(self, parts: Mapping[str, Any], touch: Iterable[str] = ()) -> int:
        touched = [k for k in touch if k not in parts]
        if not parts and not touched:
            return 0
        keys = [*parts, *touched]
        with self._lock:
            conn = self._conn
            try:
                # One short write transaction: parts already stored are touched (so a concurrent
                # ``gc`` keeps them), the others written; ``gc`` deletes under the same lock.
                conn.execute("BEGIN IMMEDIATE")
                try:
                    now = time.time()
                    have: set[str] = set()
                    for i in range(0, len(keys), 500):
                        chunk = keys[i : i + 500]
                        marks = ",".join("?" * len(chunk))
                        conn.execute(f"UPDATE objects SET stored_at = ? WHERE key IN ({marks})", (now, *chunk))
                        have.update(r[0] for r in conn.execute(f"SELECT key FROM objects WHERE key IN ({marks})", tuple(chunk)))
                    gone = [k for k in touched if k not in have]
                    if gone:
                        raise missing_part(gone[0], self.objects_dir)
                    rows: list[tuple[str, int, float, bytes | None]] = []
                    added = 0
                    for key in parts:
                        if key in have:
                            continue
                        part = parts[key]
                        size = part_size(part)
                        if size <= INLINE_PART_BYTES:
                            rows.append((key, size, now, bytes(memoryview(part_bytes(part)).cast("B"))))
                        else:
                            self._write_part_file(key, part_chunks(part), size)
                            rows.append((key, size, now, None))
                        added += size
                    conn.executemany("INSERT OR IGNORE INTO objects (key, size, stored_at, data) VALUES (?, ?, ?, ?)", rows)
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                msg = f"Could not write value parts to store {self.path}: {exc}. Nothing of this call was recorded."
                raise StoreError(msg) from exc
            return added

    def _write_part_file(self, key: str, chunks: list[Any], size: int) -> None:
        """Write a part's file atomically: a temporary file in the same folder, renamed into place."""
        final = self._part_file(key)
        if final.exists() and final.stat().st_size == size:
            return
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{key}.{os.getpid()}.{threading.get_ident()}.tmp")
            with open(tmp, "wb") as f:
                for chunk in chunks:  # an array's memory is written as it lies, never copied first
                    f.write(chunk)
            os.replace(tmp, final)
        except OSError as exc:
            msg = f"Could not write a value part into {self.objects_dir}: {exc.strerror or exc}. Nothing of this call was recorded."
            raise StoreError(msg) from exc

    def get_part(self, key: str) -> Any:
        row = self._query_one("SELECT size, data FROM objects WHERE key = ?", (key,))
        if row is None:
            raise missing_part(key, self.path)
        size, data = row
        if data is not None:
            return data
        try:
            with open(self._part_file(key), "rb") as f:
                if size == 0:
                    return b""
                # copy-on-write: arrays decoded from it are writable, and writing never touches the file
                return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
        except FileNotFoundError:
            raise missing_part(key, self.objects_dir) from None
        except (OSError, ValueError) as exc:
            msg = f"Could not read a value part from {self.objects_dir}: {exc}"
            raise StoreError(msg) from exc

    def part_sizes(self) -> dict[str, tuple[int, float]]:
        return {k: (size, at) for k, size, at in self._query("SELECT key, size, stored_at FROM objects")}

    def delete_parts(self, keys: Iterable[str], older_than: float | None = None) -> int:
        freed = 0
        cutoff = float("inf") if older_than is None else older_than
        with self._lock:
            conn = self._conn
            for key in keys:
                path = self._part_file(key)
                try:
                    conn.execute("BEGIN IMMEDIATE")  # against put_parts: a part touched since is kept
                    try:
                        sql = "SELECT size, data IS NULL FROM objects WHERE key = ? AND stored_at < ?"
                        row = conn.execute(sql, (key, cutoff)).fetchone()
                        if row is not None:
                            conn.execute("DELETE FROM objects WHERE key = ?", (key,))
                            if row[1]:
                                path.unlink(missing_ok=True)
                            freed += row[0]
                    except BaseException:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        raise
                    conn.execute("COMMIT")
                except (sqlite3.Error, OSError) as exc:
                    msg = f"Could not remove value parts from store {self.path}: {exc}"
                    raise StoreError(msg) from exc
        return freed

    def write_function(self, name: str, code_version: str, source: str, signature: dict[str, Any]) -> None:
        row = (name, code_version, source, json.dumps(signature), utcnow().timestamp())
        with self._lock:
            if self._batch:
                self._pending.append(("functions", [row], []))
                return
            try:
                self._conn.execute(_INSERT_FUNCTION, row)  # one statement: a transaction of its own
            except sqlite3.Error as exc:
                msg = f"Could not record function {name} in store {self.path}: {exc}"
                raise StoreError(msg) from exc

    def _pending_versions(self) -> list[Any]:
        """Version rows of the open batch, in recording order (empty outside a batch)."""
        return list(self._pending_rows.values()) if self._pending_rows else []

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

    # Inside a batch, the batch's own rows (in memory until it ends) are read with the file's rows,
    # after them (they are the newest).

    # The shared queries (store/sql.py) in SQLite's dialect; inside a batch, the batch's own rows (in
    # memory until it ends) are read with the file's rows, after them (they are the newest).

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self._query(sql, params)

    def _id(self, eid: UUID) -> Any:
        return eid.bytes

    def _flag(self, value: bool) -> Any:
        return 1 if value else 0

    def _where(self) -> str:
        return str(self.path)

    def _batch_row(self, ecs_id: UUID) -> tuple[Any, ...] | None:
        row = self._pending_rows.get(ecs_id.bytes)
        return tuple(row) if row is not None else None

    def _batch_ids(self, keep: Any) -> list[UUID]:
        return [UUID(bytes=b) for b, row in self._pending_rows.items() if keep(row)] if self._pending_rows else []

    def _batch_cached(self, cache_key: str) -> UUID | None:
        found = self._pending_cache.get(cache_key)
        return UUID(bytes=found) if found is not None else None

    def _batch_functions(self, name: str) -> list[str]:
        return [group[0][1] for kind, group, _ids in self._pending if kind == "functions" and group[0][0] == name]

    def _batch_rows(self) -> list[tuple[Any, ...]]:
        return self._pending_versions()

    def counts(self) -> dict[str, int]:
        row = self._query_one(
            "SELECT (SELECT COUNT(*) FROM versions), (SELECT COUNT(DISTINCT lineage_id) FROM versions), "
            f"(SELECT COUNT(*) FROM {_EXECUTIONS}), (SELECT COUNT(DISTINCT name) FROM functions)"
        )
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        out = {"versions": row[0], "lineages": row[1], "executions": row[2], "functions": row[3], "bytes": size}
        if self._pending:
            out["versions"] += len(self._pending_rows)
            out["executions"] += sum(1 for r in self._pending_rows.values() if r[7] is not None)
            new_lineages = {r[1] for r in self._pending_rows.values()}
            stored = "SELECT 1 FROM versions WHERE lineage_id = ? LIMIT 1"
            out["lineages"] += sum(1 for lid in new_lineages if not self._query_one(stored, (lid,)))
            names = {g[0][0] for kind, g, _ids in self._pending if kind == "functions"}
            known = "SELECT 1 FROM functions WHERE name = ? LIMIT 1"
            out["functions"] += sum(1 for n in names if not self._query_one(known, (n,)))
        return out

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
            if self._batch:  # closing commits an open batch
                self._batch = 0
                try:
                    self._commit_pending()
                except StoreError:
                    pass
            self._checkpoint_on_close()
            self._closed = True
            self._conn.close()

    def checkpoint(self) -> bool:
        """Copy every committed page from the WAL into the .db file and empty the WAL.

        Afterwards the .db file alone holds the whole store (copying it is enough). Skipped inside
        an open batch (its writes are not committed yet). False when another connection's read
        kept part of the WAL in use; the data is safe either way.
        """
        with self._lock:
            if self._closed:
                return True  # closing checkpointed it already
            if self._batch:
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
