"""Entity core figures of DESIGN A10: tree building, registering, versioning, addresses, bytes per version.

A root holds N children (``Item(name, value)`` in a list field). Tree figures stand beside the cost
of constructing the same pydantic tree; ``get`` beside a plain dict lookup chain on the same data;
bytes per version beside the bytes of a full snapshot of the tree.
"""

from __future__ import annotations

import json
from typing import Any

from _common import Row, calls_per_repeat, median_time

from ecs_notebook import Entity, EntityRegistry, build_entity_tree, get
from ecs_notebook.core.records import VersionRecord
from ecs_notebook.testing import fresh_state

SIZES = (10, 100, 1_000, 10_000)
TARGET_N = 10_000

# DESIGN A10 targets, at N = 10,000.
TARGET_TREE_MS = 40.0
TARGET_VERSION_MS = 40.0
TARGET_GET_US = 50.0

CONSTRUCT = "construct tree"


class Item(Entity):
    name: str
    value: int = 0


class Root(Entity):
    items: list[Item] = []


def make_root(n: int) -> Root:
    return Root(items=[Item(name=f"item{k}", value=k) for k in range(n)])


# -- bytes per version -------------------------------------------------------------------------


def record_bytes(rec: VersionRecord, *, full: bool = False, share: bool = False) -> int:
    """Size of a record serialized as JSON, as a store would write it.

    Child references count as ``slots_delta`` when the record has one (it extends ``slots_base``),
    else as the full ``slots``; ``full`` ignores the delta (the record as a stand-alone snapshot).
    ``share`` also counts as a reference every large field (templates, attribute_source, plain) that
    is the very object the previous version's record holds: what a store that writes shared
    objects once would write.
    """
    fields: dict[str, Any] = rec._asdict()
    fields["cls"] = rec.type_path
    if rec.slots_base is not None and rec.slots_delta is not None and not full:
        fields["slots"] = None
        fields["slots_delta"] = {str(k): str(v) for k, v in rec.slots_delta.items()}
    else:
        fields["slots_base"] = None
        fields["slots_delta"] = None
    if share and rec.previous_ecs_id is not None and EntityRegistry.has(rec.previous_ecs_id):
        prev = EntityRegistry.record(rec.previous_ecs_id)
        for name in ("templates", "attribute_source", "plain"):
            if getattr(rec, name) is getattr(prev, name) and getattr(rec, name):
                fields[name] = {"same_as": str(prev.ecs_id)}
    return len(json.dumps(fields, default=str))


def _tree_records(root_ecs_id: Any) -> list[VersionRecord]:
    out = [EntityRegistry.record(root_ecs_id)]
    i = 0
    while i < len(out):
        out.extend(EntityRegistry.record(c) for c in out[i].slots)
        i += 1
    return out


# -- measurements ------------------------------------------------------------------------------


def _construct(n: int, repeats: int) -> float:
    names = [f"item{k}" for k in range(n)]
    return median_time(lambda _: Root(items=[Item(name=s, value=k) for k, s in enumerate(names)]), repeats=repeats)


def _build(n: int, repeats: int) -> float:
    root = make_root(n)
    return median_time(lambda _: build_entity_tree(root), repeats=repeats)


def _promote(n: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        with fresh_state():
            root = make_root(n)
            times.append(median_time(lambda _, r=root: r.promote_to_root(), repeats=1))
    times.sort()
    return times[len(times) // 2]


def _version(n: int, repeats: int) -> tuple[float, int, int, int]:
    """Median seconds of version_entity after a one-field edit, and bytes of the last new version."""
    with fresh_state():
        root = make_root(n)
        root.promote_to_root()
        batches: list[list[VersionRecord]] = []
        unsubscribe = EntityRegistry.subscribe(batches.append)
        child = root.items[n // 2]

        def edit() -> None:
            child.value += 1

        seconds = median_time(lambda _: EntityRegistry.version_entity(root), setup=edit, repeats=repeats)
        unsubscribe()
        assert len(batches) == repeats, "every edit must record exactly one new version"
        new = batches[-1]
        delta_bytes = sum(record_bytes(r) for r in new)
        shared_bytes = sum(record_bytes(r, share=True) for r in new)
        snapshot_bytes = sum(record_bytes(r, full=True) for r in _tree_records(root.ecs_id))
    return seconds, delta_bytes, shared_bytes, snapshot_bytes


def _get(n: int, repeats: int) -> tuple[float, float]:
    with fresh_state():
        root = make_root(n)
        root.promote_to_root()
        k = n // 2
        address = f"@{root.ecs_id}.items.{k}.name"
        assert get(address) == f"item{k}"
        number = calls_per_repeat(lambda: get(address))
        seconds = median_time(lambda _: get(address), repeats=repeats, number=number)
        # Baseline: the same lookup as a chain of plain dict/list indexing on the same data.
        key = str(root.ecs_id)
        data = {key: {"items": [{"name": i.name, "value": i.value} for i in root.items]}}
        assert data[key]["items"][k]["name"] == f"item{k}"
        base_number = calls_per_repeat(lambda: data[key]["items"][k]["name"])
        baseline = median_time(lambda _: data[key]["items"][k]["name"], repeats=repeats, number=base_number)
    return seconds, baseline


def bytes_target(rows: list[Row], figure: str) -> float | None:
    """Bytes per version must not grow with the tree: allow twice the N=10 figure at N=10,000."""
    small = [r.value for r in rows if r.figure == figure and r.n == SIZES[0]]
    return 2 * small[0] if small else None


def run(quick: bool = False) -> list[Row]:
    """Measure every figure for every N; ``quick`` uses fewer repeats."""
    repeats = 3 if quick else 7
    rows: list[Row] = []
    for n in SIZES:
        # Fewer repeats for the largest trees keep --quick well inside its time budget.
        reps = repeats if n < TARGET_N else max(3, repeats - 2)
        at_target = n == TARGET_N
        construct_ms = _construct(n, reps) * 1e3
        build_ms = _build(n, reps) * 1e3
        promote_ms = _promote(n, reps) * 1e3
        version_s, delta_b, shared_b, snapshot_b = _version(n, reps)
        get_s, dict_s = _get(n, reps)
        tree_target = TARGET_TREE_MS if at_target else None
        rows += [
            Row("build_entity_tree", n, build_ms, "ms", construct_ms, CONSTRUCT, tree_target),
            Row("promote_to_root", n, promote_ms, "ms", construct_ms, CONSTRUCT, tree_target),
            Row(
                "version_entity, one-field edit",
                n,
                version_s * 1e3,
                "ms",
                construct_ms,
                CONSTRUCT,
                TARGET_VERSION_MS if at_target else None,
            ),
            Row(
                f"get('@id.items.{n // 2}.name')",
                n,
                get_s * 1e6,
                "µs",
                dict_s * 1e6,
                "dict lookup chain",
                TARGET_GET_US if at_target else None,
            ),
            Row(
                "bytes per new version",
                n,
                delta_b,
                "B",
                snapshot_b,
                "full snapshot",
                bytes_target(rows, "bytes per new version") if at_target else None,
                "<= 2x N=10 (path)" if at_target else "",
                note="each new record's fields as JSON, child references via slots_delta when present",
            ),
            Row(
                "  same, shared fields once",
                n,
                shared_b,
                "B",
                snapshot_b,
                "full snapshot",
                bytes_target(rows, "  same, shared fields once") if at_target else None,
                "<= 2x N=10 (path)" if at_target else "",
                note="fields that are the previous record's very objects counted as a reference",
            ),
        ]
    return rows


if __name__ == "__main__":
    import sys

    from _common import format_table

    print(format_table(run(quick="--quick" in sys.argv)))
