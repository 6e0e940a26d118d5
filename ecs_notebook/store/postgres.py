"""``postgresql://``: a lineage store a team shares (psycopg 3; one transaction per write call).

The rows are the SQLite store's (``rows.encode_record``/``decode_record``), with ids as ``uuid``.
Outside a batch every write is one statement in autocommit mode: atomic and durable when it
returns. A batch is one transaction; each successful write of the batch is also kept in memory so
that a failed write or a lost connection can roll back and write the batch's earlier records again
in a new transaction (rather than a SAVEPOINT per write: more than 64 subtransactions in one
transaction overflow PostgreSQL's subtransaction cache and slow down every other session's reads).
A connection lost during a call raises StoreError; the next call reconnects.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote
from uuid import UUID

from ..core._ids import utcnow
from ..core.errors import StoreError
from ..core.records import VersionRecord
from ..core.values.codecs import part_bytes
from .base import missing_part
from .codec import Encoder
from .rows import Row, SharingChains, encode_record
from .sql import COLUMNS, SQLStore

if TYPE_CHECKING:
    import psycopg

SCHEMA_VERSION = 2
#: Value parts are stored in chunks of this size (a team store stays one database).
PART_CHUNK_BYTES = 8 * 2**20

# Migrations from version N-1 to N, applied in order inside one transaction (DDL is transactional).
MIGRATIONS: dict[int, list[str]] = {
    1: [
        "CREATE TABLE ecs_meta (key text PRIMARY KEY, value text NOT NULL)",
        """CREATE TABLE versions (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            ecs_id uuid NOT NULL UNIQUE,
            lineage_id uuid NOT NULL,
            type_path text NOT NULL,
            root_ecs_id uuid NOT NULL,
            previous_ecs_id uuid,
            created_at double precision NOT NULL,
            is_root boolean NOT NULL,
            function_name text,
            succeeded boolean,
            cache_key text,
            plain text NOT NULL,
            data text NOT NULL
        )""",
        "CREATE INDEX versions_lineage ON versions (lineage_id, seq)",
        "CREATE INDEX versions_type ON versions (type_path, seq)",
        "CREATE INDEX versions_executions ON versions (seq) WHERE function_name IS NOT NULL",
        "CREATE INDEX versions_function ON versions (function_name, seq) WHERE function_name IS NOT NULL",
        "CREATE INDEX versions_cache ON versions (cache_key, seq) WHERE cache_key IS NOT NULL",
        """CREATE TABLE functions (
            name text NOT NULL,
            code_version text NOT NULL,
            source text NOT NULL,
            signature text NOT NULL,
            registered_at double precision NOT NULL,
            PRIMARY KEY (name, code_version)
        )""",
    ],
    # Content-addressed parts of recorded values, in chunks (chunk 0 carries the size).
    2: [
        """CREATE TABLE objects (
            key text NOT NULL,
            chunk integer NOT NULL,
            size bigint NOT NULL,
            stored_at double precision NOT NULL,
            data bytea NOT NULL,
            PRIMARY KEY (key, chunk)
        )""",
    ],
}

_COLUMNS = COLUMNS
_TYPES = ("uuid", "uuid", "text", "uuid", "uuid", "float8", "bool", "text", "bool", "text", "text", "text")
_NAMES = ", ".join(f"c{i}" for i in range(len(_TYPES)))
# Large writes: one statement whatever the number of rows (12 array parameters), rows in order.
_INSERT_ARRAYS = (
    f"INSERT INTO versions ({_COLUMNS}) SELECT {_NAMES} FROM unnest({', '.join(f'%s::{t}[]' for t in _TYPES)}) "
    f"WITH ORDINALITY AS u({_NAMES}, n) ORDER BY n ON CONFLICT (ecs_id) DO NOTHING"
)
_SMALL = 16  # up to this many rows: one multi-row VALUES statement (cheaper to send than arrays)
_VALUES_SQL: dict[int, str] = {}
_INSERT_FUNCTION = (
    "INSERT INTO functions (name, code_version, source, signature, registered_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
_EXECUTIONS = "versions WHERE function_name IS NOT NULL"

# psycopg.pq.TransactionStatus values (compared as ints so that psycopg is only imported when used).
_IDLE, _INTRANS, _INERROR = 0, 2, 3


def _values_sql(n: int) -> str:
    sql = _VALUES_SQL.get(n)
    if sql is None:
        one = "(" + ", ".join(["%s"] * len(_TYPES)) + ")"
        sql = _VALUES_SQL[n] = f"INSERT INTO versions ({_COLUMNS}) VALUES {', '.join([one] * n)} ON CONFLICT (ecs_id) DO NOTHING"
    return sql


# -- URLs without secrets ----------------------------------------------------------------------

_QUERY_PASSWORD = re.compile(r"(?P<key>[?&]password=)(?P<password>[^&#]*)")


def _userinfo_span(url: str) -> tuple[int, int] | None:
    """Where the user info lies in ``url``: from after ``://`` to the last ``@`` (None: there is none).

    The last ``@``, not the first: a password with an unencoded ``@`` must not end the redaction early.
    """
    start = url.find("://")
    if start < 0:
        return None
    end = url.rfind("@")
    return (start + 3, end) if end > start + 2 else None


def redact_url(url: str) -> str:
    """``url`` with everything between ``://`` and the last ``@`` (user and password), and a query password, as ``***``.

    Positions, never substring replacement: no other text of the URL changes.

    >>> redact_url("postgresql://ada:s3cret@db.example:5432/lineage")
    'postgresql://***@db.example:5432/lineage'
    """
    span = _userinfo_span(url)
    if span is not None:
        url = url[: span[0]] + "***" + url[span[1] :]
    return _QUERY_PASSWORD.sub(lambda m: f"{m['key']}***", url)


def _secrets(url: str) -> list[str]:
    """Texts whose presence in a server's message means it quotes a secret: withheld then, never edited."""
    found: list[str] = []
    span = _userinfo_span(url)
    if span is not None:
        info = url[span[0] : span[1]]
        password = info.partition(":")[2]
        found += [info, password, *password.split("@")]
    found += [m["password"] for m in _QUERY_PASSWORD.finditer(url)]
    out: set[str] = set()
    for p in found:
        out.update((p, unquote(p)))
    return sorted((x for x in out if len(x) >= 3), key=len, reverse=True)


class PostgresStore(SQLStore):
    """A lineage store in a PostgreSQL database (the schema the URL's search_path selects).

    Safe for several processes and threads at once (one connection per store, behind a lock).
    ``url`` is shown without its password.
    """

    persistent = True
    P = "%s"
    EXECUTIONS = _EXECUTIONS

    def __init__(self, url: str, create: bool = True) -> None:
        """Connect, check the schema and create or migrate it.

        ``create=False``: a schema without a lineage store is an error instead of a new, empty store.
        """
        self._conninfo = url
        self.url = redact_url(url)
        self._secret_list = _secrets(url)
        self._lock = threading.RLock()
        self._batch = 0
        self._in_tx = False  # the open batch's transaction is running on self._conn
        self._lost = False  # the batch's transaction was lost: write self._log again before going on
        self._log: list[tuple[str, list[Any]]] = []  # writes of the open batch, to write again
        self._chains = SharingChains()
        self._closed = False
        self._conn: psycopg.Connection[Any] | None = None
        conn = self._connect()
        try:
            self._check_schema(conn)
            if not create and self._version(conn) is None:
                msg = f"No lineage store in {self.url} (its schema has no ecs_meta table). Check the database and search_path."
                raise StoreError(msg)
            self._migrate(conn)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, StoreError):
                raise
            import psycopg

            if not isinstance(exc, psycopg.Error):
                raise
            msg = f"Cannot use the PostgreSQL database {self.url} as a lineage store: {self._scrub(exc)}"
            raise StoreError(msg) from self._cause(exc)
        self._conn = conn

    # -- connecting ------------------------------------------------------------------------

    def _scrub(self, exc: BaseException) -> str:
        """The reason an error gives, on one line; withheld as a whole when it quotes any part of the password."""
        diag = getattr(exc, "diag", None)
        primary = getattr(diag, "message_primary", None) if diag is not None else None
        text = " ".join((primary or str(exc)).split())
        if any(secret in text for secret in self._secret_list) or (self._conninfo and self._conninfo in text):
            return "the reason is withheld because it quotes the URL's password"
        return text

    def _cause(self, exc: BaseException) -> BaseException | None:
        """The exception to chain, unless its own message shows any part of the password."""
        text = str(exc)
        return None if any(secret in text for secret in self._secret_list) or self._conninfo in text else exc

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict
        except ImportError as exc:
            msg = "The postgresql:// store needs psycopg 3: pip install 'ecs-notebook[postgres]' (or 'psycopg[binary]>=3.1')."
            raise StoreError(msg) from exc
        span = _userinfo_span(self._conninfo)
        if span is not None and "@" in self._conninfo[span[0] : span[1]]:
            msg = (
                f"Cannot connect to the PostgreSQL lineage store {self.url}: its user name or password holds an unencoded "
                "'@'. Percent-encode it as %40 (postgresql://user:p%40ss@host:port/database)."
            )
            raise StoreError(msg)
        try:
            given = conninfo_to_dict(self._conninfo)
            extra: dict[str, Any] = {}
            if "connect_timeout" not in given:
                extra["connect_timeout"] = 10
            if "application_name" not in given:
                extra["application_name"] = "ecs_notebook"
            return psycopg.connect(self._conninfo, autocommit=True, **extra)
        except psycopg.Error as exc:
            error = exc  # libpq may quote the whole URL: raised below, outside this block, so it is not chained
        msg = (
            f"Cannot connect to the PostgreSQL lineage store {self.url}: {self._scrub(error)}. Check that the server "
            "runs and the URL (postgresql://user:password@host:port/database), or use sqlite:///path.db for a store "
            "of your own."
        )
        raise StoreError(msg) from self._cause(error)

    def _connection(self) -> psycopg.Connection[Any]:
        """The open connection, reconnecting after a lost one; inside a batch, its transaction."""
        if self._closed:
            msg = f"The lineage store {self.url} was closed; connect to it again."
            raise StoreError(msg)
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._conn = self._connect()
        if not self._batch:
            return conn
        status = conn.info.transaction_status
        if status == _INERROR:  # e.g. a query interrupted by Ctrl-C: the transaction is unusable
            self._rollback(conn)
        elif self._in_tx and status != _INTRANS:
            self._in_tx, self._lost = False, True
        if self._lost:
            self._replay(conn)
        return conn

    def _rollback(self, conn: psycopg.Connection[Any]) -> None:
        import psycopg

        try:
            conn.execute("ROLLBACK")
        except psycopg.Error:
            self._drop(conn)
        self._in_tx = False
        self._lost = bool(self._log)

    def _drop(self, conn: psycopg.Connection[Any]) -> None:
        try:
            conn.close()
        finally:
            if self._conn is conn:
                self._conn = None
            self._in_tx = False
            self._lost = bool(self._log)

    def _replay(self, conn: psycopg.Connection[Any]) -> None:
        """Write the batch's earlier records again in a new transaction (after a rollback or a lost connection)."""
        import psycopg

        try:
            conn.execute("BEGIN")
            self._in_tx = True
            for kind, rows in self._log:
                self._insert(conn, kind, rows)
        except psycopg.Error as exc:
            lost = sum(len(rows) for kind, rows in self._log if kind == "versions")
            lost_ids = self._logged_ids()
            self._log.clear()
            self._chains.clear()  # it may name rows that are not in the store now
            if conn.broken or conn.closed:
                self._drop(conn)
            else:
                self._rollback(conn)
            self._lost = False
            msg = (
                f"The lineage store {self.url} lost the open batch and could not write its {lost} earlier records "
                f"again: {self._scrub(exc)}. This session forgot them too."
            )
            err = StoreError(msg)
            err.lost_ids = lost_ids  # type: ignore[attr-defined]
            raise err from self._cause(exc)
        self._lost = False

    def _logged_ids(self) -> list[UUID]:
        """ecs_ids of the versions the open batch wrote (rows hold them first)."""
        return [row[0] for kind, rows in self._log if kind == "versions" for row in rows]

    def _failed(self, conn: psycopg.Connection[Any], exc: BaseException) -> str:
        """Recover from a failed statement; return what to tell about the batch's earlier records."""
        if conn.broken or conn.closed:
            self._drop(conn)
            if self._batch and self._log:
                return " The batch's earlier records will be written again on the next call."
            return " The next call reconnects."
        if self._batch and conn.info.transaction_status in (_INERROR, _IDLE) and self._in_tx:
            self._rollback(conn)
            if self._log:
                self._replay(conn)  # raises StoreError when they cannot be written again
                return " The batch's earlier records were kept."
        return ""

    # -- schema ----------------------------------------------------------------------------

    def _version(self, conn: psycopg.Connection[Any]) -> int | None:
        """The schema version recorded in ecs_meta (None: no ecs_meta table)."""
        # pg_tables, not to_regclass(): the latter may answer from a cache that has not seen a table
        # another session created a moment ago.
        if not conn.execute("SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'ecs_meta'").fetchone():
            return None
        row = conn.execute("SELECT value FROM ecs_meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            msg = f"The lineage store in {self.url} is damaged (its schema version is missing); it was left untouched."
            raise StoreError(msg)
        try:
            return int(row[0])
        except (TypeError, ValueError):
            msg = (
                f"The lineage store in {self.url} is damaged (its schema version {str(row[0])[:20]!r} is not a number); "
                "it was left untouched."
            )
            raise StoreError(msg) from None

    def _check_schema(self, conn: psycopg.Connection[Any]) -> None:
        schema = conn.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
        if schema is None:
            msg = (
                f"The search_path of {self.url} names no existing schema. Create it (CREATE SCHEMA name) or fix "
                "the URL's options=-csearch_path%3Dname."
            )
            raise StoreError(msg)
        version = self._version(conn)
        if version is None:
            tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,))]
            if tables:
                msg = (
                    f"Schema {schema!r} of {self.url} holds tables of another application ({', '.join(tables[:5])}); it was "
                    "left untouched. Use a database or schema of its own (e.g. ?options=-csearch_path%3Decs_lineage)."
                )
                raise StoreError(msg)
        elif version > SCHEMA_VERSION:
            msg = (
                f"{self.url} was written by a newer ecs_notebook (schema {version}; this version reads up to "
                f"{SCHEMA_VERSION}). Upgrade ecs_notebook to open it; the database was left untouched."
            )
            raise StoreError(msg)

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        if self._version(conn) == SCHEMA_VERSION:
            return
        with conn.transaction():
            # Another process may be creating the same schema: one at a time, then read again.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('ecs_notebook:' || current_schema()))")
            self._check_schema(conn)
            version = self._version(conn) or 0
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[v]:
                    conn.execute(statement)  # type: ignore[arg-type]
            conn.execute(
                "INSERT INTO ecs_meta (key, value) VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (str(SCHEMA_VERSION),),
            )
            conn.execute("INSERT INTO ecs_meta (key, value) VALUES ('created_at', %s) ON CONFLICT DO NOTHING", (utcnow().isoformat(),))

    # -- writing ---------------------------------------------------------------------------

    def write(self, records: list[VersionRecord], roots: list[UUID]) -> None:
        cached = self._cache
        enc = Encoder()
        root_set = {r.int for r in roots}
        with self._lock:
            rows = []
            for rec in records:
                sharing = self._chains.decide(rec, cached, self._stored_data)
                rows.append(_pg_row(rec, encode_record(rec, rec.ecs_id.int in root_set, enc, sharing)))
            self._write("versions", rows)

    def write_function(self, name: str, code_version: str, source: str, signature: dict[str, Any]) -> None:
        # Text columns cannot hold NUL characters; the source is kept for people to read.
        row = (name, code_version, source.replace("\x00", "\\x00"), json.dumps(signature), utcnow().timestamp())
        with self._lock:
            self._write("functions", [row])

    def _write(self, kind: str, rows: list[Any]) -> None:
        import psycopg

        if not rows:
            return
        conn = self._connection()
        try:
            if self._batch and not self._in_tx:
                conn.execute("BEGIN")
                self._in_tx = True
            self._insert(conn, kind, rows)
        except psycopg.Error as exc:
            what = "records" if kind == "versions" else "function registration"
            note = self._failed(conn, exc)
            msg = f"Could not write to store {self.url}: {self._scrub(exc)}. Nothing of this call's {what} was recorded.{note}"
            raise StoreError(msg) from self._cause(exc)
        if self._batch:
            self._log.append((kind, rows))

    # -- the object area ---------------------------------------------------------------------

    def has_part(self, key: str) -> bool:
        return self._query("SELECT 1 FROM objects WHERE chunk = 0 AND key = %s", (key,), one=True) is not None

    def put_parts(self, parts: Mapping[str, Any], touch: Iterable[str] = ()) -> int:
        import psycopg

        touched = [k for k in touch if k not in parts]
        if not parts and not touched:
            return 0
        keys = [*parts, *touched]
        with self._lock:
            now = time.time()
            # Parts already stored are touched (a concurrent gc then keeps them); the rest inserted.
            touched_rows = self._query("UPDATE objects SET stored_at = %s WHERE chunk = 0 AND key = ANY(%s) RETURNING key", (now, keys))
            have = {r[0] for r in touched_rows}
            gone = [k for k in touched if k not in have]
            if gone:
                raise missing_part(gone[0], self.url)
            conn = self._connection()
            added = 0
            try:
                for key in parts:
                    if key in have:
                        continue
                    data = memoryview(part_bytes(parts[key])).cast("B")
                    size = data.nbytes
                    chunks = [data[i : i + PART_CHUNK_BYTES] for i in range(0, size, PART_CHUNK_BYTES)] or [data]
                    with conn.transaction(), conn.cursor() as cur:  # a part lands whole or not at all
                        cur.executemany(
                            "INSERT INTO objects (key, chunk, size, stored_at, data) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                            [(key, n, size, now, bytes(c)) for n, c in enumerate(chunks)],
                        )
                    added += size
            except psycopg.Error as exc:
                note = self._failed(conn, exc)
                msg = f"Could not write value parts to store {self.url}: {self._scrub(exc)}. Nothing of this call was recorded.{note}"
                raise StoreError(msg) from self._cause(exc)
            return added

    def get_part(self, key: str) -> Any:
        rows = self._query("SELECT data FROM objects WHERE key = %s ORDER BY chunk", (key,))
        if not rows:
            raise missing_part(key, self.url)
        return rows[0][0] if len(rows) == 1 else b"".join(r[0] for r in rows)

    def part_sizes(self) -> dict[str, tuple[int, float]]:
        return {k: (int(size), float(at)) for k, size, at in self._query("SELECT key, size, stored_at FROM objects WHERE chunk = 0")}

    def delete_parts(self, keys: Iterable[str], older_than: float | None = None) -> int:
        import psycopg

        keys = list(keys)
        if not keys:
            return 0
        cutoff = float("inf") if older_than is None else older_than
        with self._lock:
            conn = self._connection()
            try:
                # One statement: only parts nobody touched since the cutoff (atomic against put_parts).
                sizes = conn.execute(
                    "DELETE FROM objects o USING objects h WHERE h.chunk = 0 AND h.key = o.key AND h.key = ANY(%s) "
                    "AND h.stored_at < %s RETURNING o.key, o.chunk, o.size",
                    (keys, cutoff),
                ).fetchall()
                sizes = [(k, size) for k, chunk, size in sizes if chunk == 0]
            except psycopg.Error as exc:
                note = self._failed(conn, exc)
                msg = f"Could not remove value parts from store {self.url}: {self._scrub(exc)}.{note}"
                raise StoreError(msg) from self._cause(exc)
        return sum(int(size) for _, size in sizes)

    @staticmethod
    def _insert(conn: psycopg.Connection[Any], kind: str, rows: list[Any]) -> None:
        """One statement whatever the number of rows: atomic on its own in autocommit mode."""
        if kind == "functions":
            with conn.cursor() as cur:
                cur.executemany(_INSERT_FUNCTION, rows)
        elif len(rows) <= _SMALL:
            conn.execute(_values_sql(len(rows)), [v for row in rows for v in row])
        else:
            conn.execute(_INSERT_ARRAYS, [list(col) for col in zip(*rows)])

    def _stored_data(self, ecs_id: UUID) -> str | None:
        row = self._query("SELECT data FROM versions WHERE ecs_id = %s", (ecs_id,), one=True)
        return row[0] if row else None

    def begin_batch(self) -> None:
        with self._lock:
            self._batch += 1

    def end_batch(self) -> None:
        import psycopg

        with self._lock:
            if self._batch == 0:
                return
            if self._batch > 1:
                self._batch -= 1
                return
            lost = sum(len(rows) for kind, rows in self._log if kind == "versions")
            try:
                for attempt in range(2):
                    try:
                        conn = self._connection()  # writes the batch again if its transaction was lost
                    except StoreError as exc:
                        if not self._log:
                            raise
                        msg = f"{exc} The open batch's {lost} records were not recorded; this session forgot them too."
                        err = StoreError(msg)
                        err.lost_ids = getattr(exc, "lost_ids", None) or self._logged_ids()  # type: ignore[attr-defined]
                        raise err from exc.__cause__
                    if not self._in_tx:
                        break
                    try:
                        conn.execute("COMMIT")
                        self._in_tx = False
                        break
                    except psycopg.Error as exc:
                        # The outcome of a COMMIT on a lost connection is unknown: writing the batch
                        # again is safe (rows are keyed by ecs_id) and settles it.
                        if conn.broken or conn.closed:
                            self._drop(conn)
                        else:
                            self._rollback(conn)
                        if attempt == 1:
                            msg = (
                                f"Could not commit the batch to store {self.url}: {self._scrub(exc)}. Its {lost} records "
                                "were not recorded; this session forgot them too."
                            )
                            err = StoreError(msg)
                            err.lost_ids = self._logged_ids()  # type: ignore[attr-defined]
                            raise err from self._cause(exc)
            finally:
                self._batch = 0
                self._in_tx = self._lost = False
                self._log.clear()

    # -- reading ---------------------------------------------------------------------------

    def _query(self, sql: str, params: Any = (), one: bool = False) -> Any:
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                cur = conn.execute(sql, params)
                return cur.fetchone() if one else cur.fetchall()
            except psycopg.Error as exc:
                note = self._failed(conn, exc)
                msg = f"Could not read store {self.url}: {self._scrub(exc)}.{note}"
                raise StoreError(msg) from self._cause(exc)

    # The shared queries (store/sql.py) in PostgreSQL's dialect (uuid and boolean columns; a batch
    # is a transaction the queries already see).

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        rows: list[Any] = self._query(sql, params)
        return rows

    def _record_row(self, row: Any) -> tuple[Any, ...]:
        return _sqlite_row(row)

    def counts(self) -> dict[str, int]:
        row = self._query(
            "SELECT (SELECT COUNT(*) FROM versions), (SELECT COUNT(DISTINCT lineage_id) FROM versions), "
            f"(SELECT COUNT(*) FROM {_EXECUTIONS}), (SELECT COUNT(DISTINCT name) FROM functions), "
            "pg_total_relation_size('versions'::regclass) + pg_total_relation_size('functions'::regclass) "
            "+ pg_total_relation_size('ecs_meta'::regclass)",
            one=True,
        )
        return {"versions": row[0], "lineages": row[1], "executions": row[2], "functions": row[3], "bytes": row[4]}

    def describe(self) -> str:
        if self._closed:
            return f"{self.url} — closed"
        c = self.counts()
        return (
            f"{self.url} — {c['versions']} versions in {c['lineages']} lineages, "
            f"{c['executions']} executions, {c['functions']} functions, {c['bytes'] / 1e6:.2f} MB"
        )

    def __repr__(self) -> str:
        try:
            return f"<{type(self).__name__} {self.describe()}>"
        except StoreError:
            return f"<{type(self).__name__} {self.url} — unreachable>"

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            conn = self._conn
            try:
                if self._batch and conn is not None and not conn.closed:
                    self._batch = 1
                    try:
                        self.end_batch()  # like the SQLite store: closing commits an open batch
                    except StoreError:
                        pass
            finally:
                self._closed = True
                self._conn = None
                if conn is not None:
                    conn.close()


def _pg_row(rec: VersionRecord, row: Row) -> tuple[Any, ...]:
    """A stored row with ids as UUIDs and flags as booleans (the record holds the ids already)."""
    ok = row.succeeded
    return (
        rec.ecs_id,
        rec.lineage_id,
        row.type_path,
        rec.root_ecs_id,
        rec.previous_ecs_id,
        row.created_at,
        bool(row.is_root),
        row.function_name,
        None if ok is None else bool(ok),
        row.cache_key,
        row.plain,
        row.data,
    )


def _sqlite_row(r: Any) -> tuple[Any, ...]:
    """A row read back, in the layout ``decode_record`` reads (ids as 16 bytes)."""
    prev = r[4]
    return (r[0].bytes, r[1].bytes, r[2], r[3].bytes, None if prev is None else prev.bytes, *r[5:])
