"""The explorer's view of the lineage: a deterministic JSON payload with a layered layout.

Everything the front end draws is computed here (selection, filters, layout, aggregation), so it
is tested without a browser and the browser needs no physics.

Payload (``version`` 1)::

    {"version": 1, "focus": id|None, "depth": int|None, "direction": "up"|"down"|"both",
     "nodes": [{"id", "kind": "entity"|"execution"|"aggregate", "label", "title", "type",
                "function", "lineage_id", "succeeded", "semantics", "stale", "focus", "level",
                "x", "y", "count", "members"}],            # sorted by id
     "edges": [{"id", "from", "to", "kind", "field"}],     # sorted by (from, to, kind, field)
     "total_nodes": int, "shown_nodes": int, "aggregated": bool, "filters": {...}}
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .graph import BORROW, CHILD, EDGE_KINDS, ENTITY, LineageGraph, default_graph
from .queries import resolve_id

X_STEP, Y_STEP = 240.0, 70.0
DEFAULT_BUDGET = 2000
MEMBERS_SHOWN = 500  # ids listed in an aggregate (for "expand"); its count is exact


def build_payload(
    target: Any = None,
    depth: int | None = 2,
    direction: str = "both",
    *,
    types: list[str] | None = None,
    functions: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    budget: int = DEFAULT_BUDGET,
    expand: list[str] | None = None,
    stale_ids: set[str] | None = None,
    include_children: bool = True,
) -> dict[str, Any]:
    """The payload for the explorer around ``target`` (the whole lineage when None).

    Args:
        depth: entity-to-entity steps from the focus (None: no limit); ignored without a target.
        direction: "up", "down" or "both".
        types, functions: keep only entity versions of these types / executions of these functions.
        since, until: ISO timestamps bounding created_at/started_at.
        budget: most nodes drawn; the farthest ones are aggregated into "+N more" nodes.
        expand: aggregate ids (or member ids) to draw individually even past the budget.
        stale_ids: entity ids to mark as stale.
    """
    if direction not in ("up", "down", "both"):
        msg = f"direction must be 'up', 'down' or 'both', not {direction!r}"
        raise ValueError(msg)
    g = default_graph()
    g._ensure_loaded()
    focus = None
    if target is not None:
        eid = resolve_id(target)
        focus = g.index_of(eid)
        if focus is None:
            from .queries import _start

            _start(eid)  # raises the right error
        selected = _around(g, focus, depth, direction)  # type: ignore[arg-type]
    else:
        selected = {i: 0 for i in range(len(g._ids))}
    selected = _filter(g, selected, focus, types, functions, since, until, include_children)
    total = len(selected)
    forced = set(expand or ())
    keep, overflow = _split(g, selected, budget, forced)
    nodes, alias = _nodes(g, keep, overflow, focus, stale_ids or set())
    edges = _edges(g, keep, alias)
    _layout(nodes, edges)
    nodes.sort(key=lambda n: n["id"])
    return {
        "version": 1,
        "focus": str(g._ids[focus]) if focus is not None else None,
        "depth": depth if target is not None else None,
        "direction": direction,
        "nodes": nodes,
        "edges": edges,
        "total_nodes": total,
        "shown_nodes": len(keep),
        "aggregated": bool(overflow),
        "filters": {"types": types, "functions": functions, "since": since, "until": until},
    }


def _around(g: LineageGraph, start: int, depth: int | None, direction: str) -> dict[int, int]:
    """Nodes within ``depth`` entity steps of ``start``, with their distance."""
    dist = {start: 0}
    for adj in [g._out] if direction == "down" else [g._in] if direction == "up" else [g._out, g._in]:
        frontier = deque([(start, 0)])
        seen = {start}
        while frontier:
            node, d = frontier.popleft()
            for nxt, _ in adj[node]:
                if nxt in seen:
                    continue
                nd = d + 1 if g._kind[nxt] == ENTITY else d
                if depth is not None and nd > depth:
                    continue
                seen.add(nxt)
                if nxt not in dist or dist[nxt] > nd:
                    dist[nxt] = nd
                frontier.append((nxt, nd))
    return dist


def _filter(
    g: LineageGraph,
    selected: dict[int, int],
    focus: int | None,
    types: list[str] | None,
    functions: list[str] | None,
    since: str | None,
    until: str | None,
    include_children: bool,
) -> dict[int, int]:
    if not (types or functions or since or until) and include_children:
        return selected
    type_set, fn_set = set(types or ()), set(functions or ())
    out = {}
    for i, d in selected.items():
        a = g._attrs[i]
        if i != focus:
            if g._kind[i] == ENTITY:
                if type_set and a.get("type") not in type_set:
                    continue
                stamp = a.get("created_at")
            else:
                if fn_set and a.get("function_name") not in fn_set:
                    continue
                stamp = a.get("started_at")
            if stamp is not None and ((since and stamp < since) or (until and stamp > until)):
                continue
            if not include_children and g._kind[i] == ENTITY and any(k == CHILD for _, k in g._in[i]):
                continue
        out[i] = d
    return out


def _split(g: LineageGraph, selected: dict[int, int], budget: int, forced: set[str]) -> tuple[list[int], list[int]]:
    if len(selected) <= budget:
        return sorted(selected), []
    ids = g._ids
    ranked = sorted(selected, key=lambda i: (selected[i], str(ids[i])))  # nearest first, deterministic
    keep = ranked[:budget]
    rest = ranked[budget:]
    if forced:
        wanted = [i for i in rest if str(ids[i]) in forced or _group_id(g, i) in forced]
        keep += wanted
        wanted_set = set(wanted)
        rest = [i for i in rest if i not in wanted_set]
    return sorted(keep), rest


def _group(g: LineageGraph, i: int) -> tuple[str, str]:
    a = g._attrs[i]
    if g._kind[i] == ENTITY:
        return "entity", str(a.get("type", "?"))
    return "execution", str(a.get("function_name", "?"))


def _group_id(g: LineageGraph, i: int) -> str:
    kind, name = _group(g, i)
    return f"more:{kind}:{name}"


def _title(node_id: str, a: dict[str, Any]) -> str:
    lines = [node_id]
    for key in ("type", "function_name", "function", "lineage_id", "semantics", "created_at", "started_at", "duration_s", "error_type"):
        v = a.get(key)
        if v is not None:
            lines.append(f"{key}: {v}")
    if a.get("succeeded") is False:
        lines.append("FAILED")
    return "\n".join(lines)


def _nodes(
    g: LineageGraph, keep: list[int], overflow: list[int], focus: int | None, stale: set[str]
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    ids, attrs = g._ids, g._attrs
    nodes = []
    alias: dict[int, str] = {}
    for i in keep:
        nid = str(ids[i])
        alias[i] = nid
        a = attrs[i]
        kind = a.get("kind", "entity")
        nodes.append(
            {
                "id": nid,
                "kind": kind,
                "label": str(a.get("label", nid[:8])),
                "title": _title(nid, a),
                "type": a.get("type"),
                "function": a.get("function_name") if kind == "execution" else a.get("function"),
                "lineage_id": a.get("lineage_id"),
                "succeeded": a.get("succeeded"),
                "semantics": a.get("semantics"),
                "stale": nid in stale,
                "focus": i == focus,
                "count": 1,
                "members": [],
            }
        )
    groups: dict[str, list[int]] = {}
    for i in overflow:
        groups.setdefault(_group_id(g, i), []).append(i)
    for gid, members in groups.items():
        _, kind_name = gid.split(":", 2)[1:]
        for i in members:
            alias[i] = gid
        member_ids = sorted(str(ids[i]) for i in members)
        nodes.append(
            {
                "id": gid,
                "kind": "aggregate",
                "label": f"+{len(members)} more {kind_name}",
                "title": f"{len(members)} more {kind_name} (double-click to expand)",
                "type": kind_name if gid.startswith("more:entity") else None,
                "function": kind_name if gid.startswith("more:execution") else None,
                "lineage_id": None,
                "succeeded": None,
                "semantics": None,
                "stale": False,
                "focus": False,
                "count": len(members),
                "members": member_ids[:MEMBERS_SHOWN],
            }
        )
    return nodes, alias


def _edges(g: LineageGraph, keep: list[int], alias: dict[int, str]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str, int]] = set()
    out = []
    fields = g._borrow_fields
    for i, a in alias.items():
        for j, kind in g._out[i]:
            b = alias.get(j)
            if b is None or (a == b and a.startswith("more:")):
                continue
            key = (a, b, kind)
            if key in seen:
                continue
            seen.add(key)
            names = fields.get((i, j)) if kind == BORROW else None
            out.append({"from": a, "to": b, "kind": EDGE_KINDS[kind], "field": ",".join(sorted(set(names))) if names else None})
    out.sort(key=lambda e: (e["from"], e["to"], e["kind"], e["field"] or ""))
    for n, e in enumerate(out):
        e["id"] = f"e{n}"
    return out


def _layout(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> None:
    """Layered left-to-right layout: level = longest path from a source; rows sorted by id."""
    level = {n["id"]: 0 for n in nodes}
    preds: dict[str, list[str]] = {n["id"]: [] for n in nodes}
    succ: dict[str, list[str]] = {n["id"]: [] for n in nodes}
    for e in edges:
        if e["from"] != e["to"]:
            preds[e["to"]].append(e["from"])
            succ[e["from"]].append(e["to"])
    indeg = {k: len(v) for k, v in preds.items()}
    queue = deque(sorted(k for k, d in indeg.items() if d == 0))
    order = []
    while queue:
        k = queue.popleft()
        order.append(k)
        for s in succ[k]:
            level[s] = max(level[s], level[k] + 1)
            indeg[s] -= 1
            if indeg[s] == 0:
                queue.append(s)
    rows: dict[int, list[str]] = {}
    for k in sorted(level):
        rows.setdefault(level[k], []).append(k)
    pos = {}
    for lv, members in rows.items():
        offset = (len(members) - 1) * Y_STEP / 2
        for r, k in enumerate(members):
            pos[k] = (lv * X_STEP, r * Y_STEP - offset)
    for n in nodes:
        n["level"] = level[n["id"]]
        n["x"], n["y"] = pos[n["id"]]
