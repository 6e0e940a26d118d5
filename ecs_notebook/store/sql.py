"""The read side both SQL stores share (SQLite, PostgreSQL): one set of queries, each store giving its dialect.

A subclass says how to run a query (``_rows``), how ids and booleans are written in its database, the
parameter placeholder, and, for SQLite, the open batch's rows that are not in the database yet (the
``_batch_*`` hooks: a PostgreSQL batch is a transaction the queries already see).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from ..core.errors import StoreError
from ..core.records import VersionRecord
from .base import Store, prefix_range
from .rows import decode_record

#: The columns of a version row, in the layout ``rows.decode_record`` reads.
COLUMNS = (
    "ecs_id, lineage_id, type_path, root_ecs_id, previous_ecs_id, created_at, is_root, function_name, succeeded, cache_key, plain, data"
)


class SQLStore(Store):
    """Queries over the ``versions`` and ``functions`` tables, in the dialect of a subclass."""

    #: Parameter placeholder of the driver (``?`` for sqlite3, ``%s`` for psycopg).
    P = "?"
    #: The executions (rows with a function name), and the versions with a cache key, as FROM clauses
    #: (a store may name the index to use).
    EXECUTIONS = "versions WHERE function_name IS NOT NULL"
    CACHED = "versions"

    # -- the dialect -----------------------------------------------------------------------------

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Run a read query; StoreError (one line) if the database cannot answer."""
        raise NotImplementedError

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _id(self, eid: UUID) -> Any:
        """An id as the database stores it."""
        return eid

    def _uuid(self, value: Any) -> UUID:
        """An id read back."""
        return value if isinstance(value, UUID) else UUID(bytes=bytes(value))

    def _flag(self, value: bool) -> Any:
        """A boolean as the database stores it."""
        return value

    def _record_row(self, row: Any) -> tuple[Any, ...]:
        """A version row read back, in the layout ``decode_record`` reads (ids as 16 bytes)."""
        return tuple(row)

    def _where(self) -> str:
        """Where the store is, for messages."""
        return self.url

    # -- the open batch (SQLite keeps it in memory until it ends; nothing elsewhere) ---------------

    def _batch_row(self, ecs_id: UUID) -> tuple[Any, ...] | None:
        return None

    def _batch_ids(self, keep: Callable[[tuple[Any, ...]], bool]) -> list[UUID]:
        """Ids of the open batch's version rows for which ``keep(row)``, in recording order."""
        return []

    def _batch_cached(self, cache_key: str) -> UUID | None:
        return None

    def _batch_functions(self, name: str) -> list[str]:
        return []

    def _batch_rows(self) -> list[tuple[Any, ...]]:
        return []

    def _with_pending(self, rows: list[Any], keep: Callable[[tuple[Any, ...]], bool]) -> list[UUID]:
        out = [self._uuid(r[0]) for r in rows]
        pending = self._batch_ids(keep)
        if pending:
            seen = set(out)
            out += [p for p in pending if p not in seen]
        return out

    # -- reading ---------------------------------------------------------------------------------

    def load(self, ecs_id: UUID) -> VersionRecord | None:
        row = self._batch_row(ecs_id)
        if row is None:
            found = self._one(f"SELECT {COLUMNS} FROM versions WHERE ecs_id = {self.P}", (self._id(ecs_id),))
            if found is None:
                return None
            row = self._record_row(found)
        return decode_record(row, self._load_base)

    def _load_base(self, base: UUID) -> VersionRecord:
        rec = self._cache.get(base.int) or self.load(base)
        if rec is None:
            msg = f"Store {self._where()} is missing record {base}, which a stored version builds on."
            raise StoreError(msg)
        return rec

    def lineage_versions(self, lineage_id: UUID) -> list[UUID]:
        rows = self._rows(f"SELECT ecs_id FROM versions WHERE lineage_id = {self.P} ORDER BY seq", (self._id(lineage_id),))
        lid = lineage_id.bytes
        return self._with_pending(rows, lambda row: bytes(row[1]) == lid)

    def lineage_of(self, ecs_id: UUID) -> UUID | None:
        pending = self._batch_row(ecs_id)
        if pending is not None:
            return UUID(bytes=bytes(pending[1]))
        row = self._one(f"SELECT lineage_id FROM versions WHERE ecs_id = {self.P}", (self._id(ecs_id),))
        return self._uuid(row[0]) if row else None

    def is_root(self, ecs_id: UUID) -> bool:
        pending = self._batch_row(ecs_id)
        if pending is not None and pending[6]:
            return True
        row = self._one(f"SELECT is_root FROM versions WHERE ecs_id = {self.P}", (self._id(ecs_id),))
        return bool(row and row[0])

    def ids_by_type(self, type_path: str) -> list[UUID]:
        rows = self._rows(f"SELECT ecs_id FROM versions WHERE type_path = {self.P} ORDER BY seq", (type_path,))
        return self._with_pending(rows, lambda row: row[2] == type_path)

    def lineages(self) -> list[UUID]:
        out = [self._uuid(r[0]) for r in self._rows("SELECT lineage_id FROM versions GROUP BY lineage_id ORDER BY MIN(seq)")]
        pending = self._batch_rows()
        if pending:
            seen = set(out)
            for row in pending:
                lid = UUID(bytes=bytes(row[1]))
                if lid not in seen:
                    seen.add(lid)
                    out.append(lid)
        return out

    def executions(self, function: str | None = None, failed: bool | None = None) -> list[UUID]:
        sql, params = f"SELECT ecs_id FROM {self.EXECUTIONS}", list[Any]()
        if function is not None:
            sql += f" AND function_name = {self.P}"
            params.append(function)
        if failed is not None:
            sql += f" AND succeeded = {self.P}"
            params.append(self._flag(not failed))
        rows = self._rows(sql + " ORDER BY seq", tuple(params))
        return self._with_pending(
            rows,
            lambda row: row[7] is not None and (function is None or row[7] == function) and (failed is None or bool(row[8]) is not failed),
        )

    def find_cached(self, cache_key: str) -> UUID | None:
        pending = self._batch_cached(cache_key)
        if pending is not None:
            return pending
        row = self._one(f"SELECT ecs_id FROM {self.CACHED} WHERE cache_key = {self.P} ORDER BY seq DESC LIMIT 1", (cache_key,))
        return self._uuid(row[0]) if row else None

    def ids_with_prefix(self, prefix: str, limit: int = 10) -> list[UUID]:
        lo, hi = prefix_range(prefix)
        # ids compare bytewise (big-endian blobs, uuid columns): the ids starting with the prefix are
        # one range of the unique index on ecs_id.
        p = self.P
        params: tuple[Any, ...]
        if hi >> 128:
            sql, params = f"SELECT ecs_id FROM versions WHERE ecs_id >= {p} ORDER BY ecs_id LIMIT {p}", (self._id(UUID(int=lo)), limit)
        else:
            sql = f"SELECT ecs_id FROM versions WHERE ecs_id >= {p} AND ecs_id < {p} ORDER BY ecs_id LIMIT {p}"
            params = (self._id(UUID(int=lo)), self._id(UUID(int=hi)), limit)
        return [self._uuid(r[0]) for r in self._rows(sql, params)]

    def function_versions(self, name: str) -> list[str]:
        out = [r[0] for r in self._rows(f"SELECT code_version FROM functions WHERE name = {self.P} ORDER BY registered_at", (name,))]
        out += [v for v in self._batch_functions(name) if v not in out]
        return out

    def function_source(self, name: str) -> str | None:
        row = self._one(f"SELECT source FROM functions WHERE name = {self.P} ORDER BY registered_at DESC LIMIT 1", (name,))
        return row[0] if row is not None and isinstance(row[0], str) else None

    def iter_records(self) -> Iterator[VersionRecord]:
        last = 0
        while True:
            rows = self._rows(f"SELECT seq, {COLUMNS} FROM versions WHERE seq > {self.P} ORDER BY seq LIMIT 2000", (last,))
            if not rows:
                break
            for r in rows:
                yield decode_record(self._record_row(r[1:]), self._load_base)
            last = rows[-1][0]
        for row in self._batch_rows():
            yield decode_record(row, self._load_base)
