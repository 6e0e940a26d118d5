"""``ecs-notebook gc``: remove value parts that no kept version refers to (lineage records are never removed).

Every version of a notebook variable names the content-addressed parts of its value. ``gc`` keeps the
parts of every version, or with ``keep_last=N`` only those of the newest N versions of each variable;
the others' values are dropped (their fingerprint, type and description stay recorded, and ``get`` of
them raises ``ValueNotStoredError``). It is safe while other kernels write: a part is removed only
if it was neither stored nor referred to again (``put_parts`` touches it) in the last ``min_age``
seconds, checked atomically per part.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from uuid import UUID

from ..core.variable import StoredValue, Variable
from .base import Store


@dataclass
class GcReport:
    """What a collection found (and, unless a dry run, removed)."""

    parts: int  # parts in the store before
    referenced: int  # parts referred to by kept versions
    removable: int  # parts no kept version refers to, old enough
    removable_bytes: int
    freed_bytes: int  # bytes removed (0 on a dry run)
    dropped_versions: int  # versions whose values are no longer kept (keep_last)
    dry_run: bool = False

    def __str__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        kept = f"; values of {self.dropped_versions} older versions dropped" if self.dropped_versions else ""
        return (
            f"{verb} {self.removable} of {self.parts} value parts ({_size(self.removable_bytes)}); "
            f"{self.referenced} referenced parts kept{kept}. Lineage records are never removed."
        )


def collect_garbage(store: Store, keep_last: int | None = None, min_age: float = 3600.0, dry_run: bool = False) -> GcReport:
    """Remove the parts no kept version refers to (see the module docstring)."""
    if keep_last is not None and keep_last < 1:
        msg = f"--keep-last must be at least 1 (got {keep_last}): the newest version of each variable keeps its value."
        raise ValueError(msg)
    cutoff = time.time() - min_age
    sizes = store.part_sizes()
    referenced: set[str] = set()
    dropped = 0
    by_lineage: dict[UUID, list[UUID]] = {}
    for eid in store.ids_by_type(Variable.__ecs_type__):
        lineage = store.lineage_of(eid)
        if lineage is not None:
            by_lineage.setdefault(lineage, []).append(eid)
    for lineage in by_lineage:
        versions = store.lineage_versions(lineage)
        kept = versions if keep_last is None else versions[-keep_last:]
        dropped += len(versions) - len(kept)
        for eid in kept:
            rec = store.load(eid)
            value = rec.plain_dict().get("value") if rec is not None else None
            if isinstance(value, StoredValue):
                referenced.update(value.parts)
    removable = [k for k, (_, at) in sizes.items() if k not in referenced and at < cutoff]
    removable_bytes = sum(sizes[k][0] for k in removable)
    freed = 0 if dry_run else store.delete_parts(removable, older_than=cutoff)
    return GcReport(len(sizes), len(referenced & set(sizes)), len(removable), removable_bytes, freed, dropped, dry_run)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"
