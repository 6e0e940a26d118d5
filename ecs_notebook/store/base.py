"""The store contract, and the in-memory store (``memory://``)."""

from __future__ import annotations

import bisect
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from uuid import UUID

from ..core.records import EXECUTION_TYPE, VersionRecord


class ExecutionRow(tuple):  # type: ignore[type-arg]
    """(ecs_id, function_name, succeeded, started_at timestamp) of one recorded execution."""

    __slots__ = ()


class Store(ABC):
    """Where version records, executions and value parts live. The registry is its in-memory cache.

    What every backend must do (the contract tests in ``tests/test_store_contract.py`` check it for
    memory, SQLite and PostgreSQL alike):

    - ``write`` is the only way records come in: each call is one transaction, or part of the open
      batch, so a call's records are all there or none are; durable when it returns (outside a batch)
      or when the batch ends. A batch never holds a write lock while the caller's code runs.
    - Records come back equal to what was written (``load``, ``iter_records`` in recording order),
      decoded without importing or calling anything a row names: classes are looked up among those
      defined in the process (``ecs_notebook.core.classes``); a malformed or hostile row is a ``StoreError``
      naming the version, never a crash or code execution. Rows are never pickled.
    - Queries by lineage, type and function are answered in recording order; ``ids_with_prefix`` is
      an index range (fast on any size); counts include the open batch's records.
    - Value parts (``put_parts``/``get_part``) are content-addressed, each written once and whole,
      before the records naming them; re-storing a part touches it, so ``delete_parts`` with
      ``older_than`` (``ecs-notebook gc``) never removes a part a concurrent writer just referred to.
    - A store never reads the registry's private state: cached records are handed in (``use_cache``).
    - Errors are ``StoreError`` with one line saying what failed and what to do; secrets (passwords in
      URLs) never appear in messages. ``close`` leaves a file store complete on its own (SQLite: the
      WAL is folded in); ``connect`` leaves a damaged or foreign file byte-identical.
    """

    url: str = ""
    persistent: bool = False

    @abstractmethod
    def write(self, records: list[VersionRecord], roots: list[UUID]) -> None:
        """Record ``records`` (parents first); ``roots`` are the ids that start a tree version."""

    @abstractmethod
    def load(self, ecs_id: UUID) -> VersionRecord | None:
        """The record of ``ecs_id`` from storage, or None (the memory store keeps none)."""

    @abstractmethod
    def lineage_versions(self, lineage_id: UUID) -> list[UUID]:
        """ecs_ids of a lineage's versions, in recording order."""

    @abstractmethod
    def lineage_of(self, ecs_id: UUID) -> UUID | None:
        """The lineage of a version, or None if it is not recorded."""

    @abstractmethod
    def is_root(self, ecs_id: UUID) -> bool:
        """Whether ``ecs_id`` starts a recorded tree version."""

    @abstractmethod
    def ids_by_type(self, type_path: str) -> list[UUID]:
        """ecs_ids recorded for an entity class path, in recording order."""

    @abstractmethod
    def lineages(self) -> list[UUID]:
        """Every recorded lineage id."""

    @abstractmethod
    def executions(self, function: str | None = None, failed: bool | None = None) -> list[UUID]:
        """ecs_ids of recorded FunctionExecutions, oldest first, optionally filtered."""

    @abstractmethod
    def write_function(self, name: str, code_version: str, source: str, signature: dict[str, Any]) -> None:
        """Record a registered function's code version (idempotent)."""

    @abstractmethod
    def function_versions(self, name: str) -> list[str]:
        """Recorded code versions of a function, oldest first."""

    @abstractmethod
    def function_source(self, name: str) -> str | None:
        """The source of the newest recorded code version of a function (a notebook cell's text), or None."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Numbers of versions, lineages, executions, functions (and bytes for files)."""

    @abstractmethod
    def iter_records(self) -> Iterator[VersionRecord]:
        """Every stored record, in recording order (for rebuilding derived views)."""

    @abstractmethod
    def find_cached(self, cache_key: str) -> UUID | None:
        """The latest successful execution recorded with ``cache_key``, or None."""

    @abstractmethod
    def ids_with_prefix(self, prefix: str, limit: int = 10) -> list[UUID]:
        """Recorded ecs_ids (versions and executions) whose hex digits start with ``prefix``.

        ``prefix`` is lowercase hex digits without dashes (``prefix_range`` checks it); at most
        ``limit`` ids, in id order. A range scan on the id index: fast on any size of store.
        """

    #: Records the registry has in memory, by ``ecs_id.int`` (handed in by the registry through
    #: :meth:`use_cache`; read only). Stores look up a base record there before reading it back.
    _cache: Mapping[int, VersionRecord] = {}

    def use_cache(self, records: Mapping[int, VersionRecord]) -> None:
        """Read the caller's cached records through ``records`` (the registry hands in its cache)."""
        self._cache = records

    # -- the object area: content-addressed binary parts of recorded values (see ecs_notebook.core.values.codecs)

    @abstractmethod
    def put_parts(self, parts: Mapping[str, Any], touch: Iterable[str] = ()) -> int:
        """Store value parts by key (the XXH3-128 of their bytes); returns the bytes newly stored.

        A part already stored is skipped (each is stored once however many values refer to it).
        Parts are written before the records that name them, each atomically (a reader never sees
        half a part). ``touch``: keys of parts the caller found stored (``has_part``) and refers to
        again; they are touched like re-stored parts, and a StoreError says if one is gone meanwhile.
        Requirement for backends: idempotent, and safe with concurrent writers and ``gc``.
        """

    @abstractmethod
    def has_part(self, key: str) -> bool:
        """Whether a part with that key is stored."""

    @abstractmethod
    def get_part(self, key: str) -> Any:
        """The bytes of a part (a buffer: bytes, or a read-only copy-on-write map of a file).

        Raises:
            ValueNotStoredError: no part with that key (removed by ``ecs-notebook gc``, or the object
                folder was not copied with the database).
        """

    @abstractmethod
    def part_sizes(self) -> dict[str, tuple[int, float]]:
        """Every stored part: key -> (size in bytes, when it was stored as a UNIX time)."""

    @abstractmethod
    def delete_parts(self, keys: Iterable[str], older_than: float | None = None) -> int:
        """Remove parts (``ecs-notebook gc``); returns the bytes freed. Missing keys are skipped.

        ``older_than`` (a UNIX time): only parts stored or touched (re-stored by ``put_parts``) before
        it, checked atomically per part, so a writer that just referred to a part again keeps it.
        """

    def begin_batch(self) -> None:
        """Start grouping writes into one transaction (nested calls count)."""

    def end_batch(self) -> None:
        """Commit the writes grouped since the matching begin_batch."""

    def checkpoint(self) -> bool:
        """Make the store's main file complete on its own (SQLite: fold the WAL into the .db).

        Returns True when it is (always, for stores with no such file). Closing does this too.
        """
        return True

    def close(self) -> None:
        """Release the store's resources."""

    def describe(self) -> str:
        c = self.counts()
        return f"{self.url}: {c.get('versions', 0)} versions, {c.get('executions', 0)} executions"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def missing_part(key: str, where: object) -> Exception:
    """The error for a value part that is not in the store."""
    from ..core.errors import ValueNotStoredError

    msg = (
        f"Part {key[:12]}… of a recorded value is not in store {where}: it was removed by `ecs-notebook gc` "
        "(which keeps the values of the newest versions only), or the store's object folder was not copied "
        "with its database. The version's fingerprint, type and description are still recorded."
    )
    return ValueNotStoredError(msg)


def prefix_range(prefix: str) -> tuple[int, int]:
    """The ids starting with hex digits ``prefix`` as a half-open range of 128-bit ints.

    >>> [hex(b) for b in prefix_range("f")]
    ['0xf0000000000000000000000000000000', '0x100000000000000000000000000000000']
    """
    if not 1 <= len(prefix) <= 32 or prefix.strip("0123456789abcdef"):
        msg = f"An id prefix is 1 to 32 lowercase hex digits, got {prefix!r:.40}"
        raise ValueError(msg)
    shift = 4 * (32 - len(prefix))
    n = int(prefix, 16)
    return n << shift, (n + 1) << shift


class MemoryStore(Store):
    """``memory://``: indexes only; the registry's cache holds the records themselves."""

    url = "memory://"
    persistent = False

    def __init__(self) -> None:
        self._order: list[VersionRecord] = []
        self._lineages: dict[int, list[UUID]] = {}
        self._lineage_of: dict[int, UUID] = {}
        self._roots: set[int] = set()
        self._by_type: dict[str, list[UUID]] = {}
        self._executions: list[tuple[UUID, str, bool]] = []
        self._cache_keys: dict[str, UUID] = {}
        self._exec_fields: tuple[int, ...] | None = None
        self._functions: dict[str, list[str]] = {}
        self._sources: dict[str, str] = {}
        self._parts: dict[str, tuple[bytes, float]] = {}  # key -> (bytes, stored at)
        self._sorted_ids: list[int] = []  # every id, sorted (for prefixes), up to _sorted_upto records
        self._sorted_upto = 0

    def write(self, records: list[VersionRecord], roots: list[UUID]) -> None:
        lineages, lineage_of, by_type = self._lineages, self._lineage_of, self._by_type
        last_cls: type | None = None
        of_type: list[UUID] = []
        for rec in records:
            eid, lid = rec.ecs_id, rec.lineage_id
            lin = lineages.get(lid.int)
            if lin is None:
                lineages[lid.int] = [eid]
            else:
                lin.append(eid)
            lineage_of[eid.int] = lid
            if rec.cls is not last_cls:
                last_cls = rec.cls
                of_type = by_type.setdefault(rec.cls.__ecs_type__, [])
            of_type.append(eid)
            if rec.cls.__ecs_type__ == EXECUTION_TYPE:
                if self._exec_fields is None:
                    from ..core.typeinfo import class_info
                    from ..execution.model import FunctionExecution

                    names = class_info(FunctionExecution).plain_fields
                    self._exec_fields = tuple(names.index(n) for n in ("function_name", "succeeded", "cache_key", "cached"))
                fn, ok, key, cached = (rec.plain[i] for i in self._exec_fields)
                self._executions.append((eid, fn, ok))
                if ok and key and not cached:
                    self._cache_keys[key] = eid
        self._order.extend(records)
        self._roots.update(r.int for r in roots)

    def load(self, ecs_id: UUID) -> VersionRecord | None:
        return None

    def lineage_versions(self, lineage_id: UUID) -> list[UUID]:
        return list(self._lineages.get(lineage_id.int, ()))

    def lineage_of(self, ecs_id: UUID) -> UUID | None:
        return self._lineage_of.get(ecs_id.int)

    def is_root(self, ecs_id: UUID) -> bool:
        return ecs_id.int in self._roots

    def ids_by_type(self, type_path: str) -> list[UUID]:
        return list(self._by_type.get(type_path, ()))

    def lineages(self) -> list[UUID]:
        return [v[0] and self._lineage_of[v[0].int] for v in self._lineages.values()]

    def executions(self, function: str | None = None, failed: bool | None = None) -> list[UUID]:
        return [eid for eid, name, ok in self._executions if (function is None or name == function) and (failed is None or ok != failed)]

    def find_cached(self, cache_key: str) -> UUID | None:
        return self._cache_keys.get(cache_key)

    def ids_with_prefix(self, prefix: str, limit: int = 10) -> list[UUID]:
        lo, hi = prefix_range(prefix)
        ids = self._sorted_ids
        if self._sorted_upto < len(self._order):
            # Sorted lazily, on the first lookup after writes: timsort merges the new tail in
            # about linear time, and recording pays nothing for it.
            ids.extend(r.ecs_id.int for r in self._order[self._sorted_upto :])
            ids.sort()
            self._sorted_upto = len(self._order)
        i = bisect.bisect_left(ids, lo)
        out: list[UUID] = []
        while i < len(ids) and ids[i] < hi and len(out) < limit:
            if not out or out[-1].int != ids[i]:
                out.append(UUID(int=ids[i]))
            i += 1
        return out

    def write_function(self, name: str, code_version: str, source: str, signature: dict[str, Any]) -> None:
        versions = self._functions.setdefault(name, [])
        if code_version not in versions:
            versions.append(code_version)
        self._sources[name] = source

    def function_versions(self, name: str) -> list[str]:
        return list(self._functions.get(name, ()))

    def function_source(self, name: str) -> str | None:
        return self._sources.get(name)

    def has_part(self, key: str) -> bool:
        return key in self._parts

    def put_parts(self, parts: Mapping[str, Any], touch: Iterable[str] = ()) -> int:
        added = 0
        now = time.time()
        for key in touch:
            found = self._parts.get(key)
            if found is None:
                raise missing_part(key, "memory://")
            self._parts[key] = (found[0], now)
        for key, data in parts.items():
            found = self._parts.get(key)
            if found is None:
                from ..core.values.codecs import part_bytes

                blob = bytes(memoryview(part_bytes(data)).cast("B"))
                self._parts[key] = (blob, now)
                added += len(blob)
            else:
                self._parts[key] = (found[0], now)
        return added

    def get_part(self, key: str) -> Any:
        found = self._parts.get(key)
        if found is None:
            raise missing_part(key, "memory://")
        return found[0]

    def part_sizes(self) -> dict[str, tuple[int, float]]:
        return {k: (len(b), t) for k, (b, t) in self._parts.items()}

    def delete_parts(self, keys: Iterable[str], older_than: float | None = None) -> int:
        freed = 0
        for key in keys:
            found = self._parts.get(key)
            if found is not None and (older_than is None or found[1] < older_than):
                del self._parts[key]
                freed += len(found[0])
        return freed

    def counts(self) -> dict[str, int]:
        return {
            "versions": len(self._lineage_of),
            "lineages": len(self._lineages),
            "executions": len(self._executions),
            "functions": len(self._functions),
        }

    def iter_records(self) -> Iterator[VersionRecord]:
        return iter(list(self._order))

    def describe(self) -> str:
        c = self.counts()
        return f"memory:// — {c['versions']} versions in {c['lineages']} lineages, {c['executions']} executions"
