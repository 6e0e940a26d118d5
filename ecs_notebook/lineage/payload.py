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

from datetime import datetime, timezone
from typing import Any

from .graph import BORROW, CHILD, EDGE_KINDS, ENTITY, LineageTopology, default_graph
from .queries import check_direction, distances, resolve_id

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
    since: str | datetime | None = None,
    until: str | datetime | None = None,
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
        since, until: ISO 8601 timestamps (any offset, or 'Z'; none means UTC) bounding when each
            entity version was recorded and each execution started.
        budget: most nodes drawn; the farthest ones are aggregated into "+N more" nodes.
        expand: aggregate ids (or member ids) to draw individually even past the budget.
        stale_ids: entity ids to mark as stale.
    """
    check_direction(direction)
    g = default_graph()
    g.ensure_loaded()
    focus = None
    if target is not None:
        eid = resolve_id(target)
        focus = g.index_of(eid)
        if focus is None:
            from .queries import locate

            locate(eid)  # raises the right error
        selected = _around(g, focus, depth, direction)  # type: ignore[arg-type]
    else:
        selected = {i: 0 for i in range(len(g))}
    selected = _filter(g, selected, focus, types, functions, since, until, include_children)
    total = len(selected)
    forced = set(expand or ())
    keep, overflow = _split(g, selected, budget, forced, focus)
    nodes, alias = _nodes(g, keep, overflow, focus, stale_ids or set())
    edges = _edges(g, keep, alias)
    _layout(nodes, edges, _depths(g, selected, alias))
    nodes.sort(key=lambda n: n["id"])
    return {
        "version": 1,
        "focus": g.names()[focus] if focus is not None else None,
        "depth": depth if target is not None else None,
        "direction": direction,
        "nodes": nodes,
        "edges": edges,
        "total_nodes": total,
        "shown_nodes": len(keep),
        "aggregated": bool(overflow),
        "filters": {"types": types, "functions": functions, "since": _shown_time(since), "until": _shown_time(until)},
    }


def selection_ids(target: Any, depth: int | None = 2, direction: str = "both") -> set[str]:
    """The ids of every node a payload focused on ``target`` selects, before filters and aggregation."""
    check_direction(direction)
    g = default_graph()
    focus = g.index_of(resolve_id(target))
    if focus is None:
        return set()
    names = g.names()
    return {names[i] for i in _around(g, focus, depth, direction)}


def _around(g: LineageTopology, start: int, depth: int | None, direction: str) -> dict[int, int]:
    """Nodes within ``depth`` entity steps of ``start`` (up, down or both), with their distance."""
    if direction == "down":
        return distances(g, start, g.out_adjacency, depth)
    if direction == "up":
        return distances(g, start, g.in_adjacency, depth)
    dist = distances(g, start, g.out_adjacency, depth)
    for i, d in distances(g, start, g.in_adjacency, depth).items():
        if dist.get(i, d + 1) > d:
            dist[i] = d
    return dist


def _filter(
    g: LineageTopology,
    selected: dict[int, int],
    focus: int | None,
    types: list[str] | None,
    functions: list[str] | None,
    since: str | datetime | None,
    until: str | datetime | None,
    include_children: bool,
) -> dict[int, int]:
    if not (types or functions or since or until) and include_children:
        return selected
    type_set, fn_set = set(types or ()), set(functions or ())
    lo, hi = _instant(since, "since"), _instant(until, "until")
    out = {}
    for i, d in selected.items():
        if i != focus:
            if type_set or fn_set:
                kind, name = g.group_of(i)
                if (type_set and kind == "entity" and name not in type_set) or (fn_set and kind == "execution" and name not in fn_set):
                    continue
            if lo is not None or hi is not None:
                stamp = g.recorded_at(i)
                if stamp is not None and ((lo is not None and _aware(stamp) < lo) or (hi is not None and _aware(stamp) > hi)):
                    continue
            if not include_children and g.kind(i) == ENTITY and any(k == CHILD for _, k in g.in_edges(i)):
                continue
        out[i] = d
    return out


def _instant(value: str | datetime | None, name: str) -> datetime | None:
    """``since``/``until`` as an aware datetime: ISO 8601 with any offset or 'Z' (none: UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _aware(value)
    try:
        return _aware(datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00")))
    except (ValueError, AttributeError):
        msg = f"{name} must be an ISO 8601 timestamp such as '2024-05-01T12:00:00Z', not {value!r}"
        raise ValueError(msg) from None


def _shown_time(value: str | datetime | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _split(g: LineageTopology, selected: dict[int, int], budget: int, forced: set[str], focus: int | None) -> tuple[list[int], list[int]]:
    if len(selected) <= budget:
        return sorted(selected), []
    ids = g.names()
    # Nearest first, deterministic; the focus first of all (its executions are 0 steps away too).
    ranked = sorted(selected, key=lambda i: (i != focus, selected[i], ids[i]))
    keep = ranked[:budget]
    rest = ranked[budget:]
    if forced:
        wanted = [i for i in rest if ids[i] in forced or _group_id(g, i) in forced]
        keep += wanted
        wanted_set = set(wanted)
        rest = [i for i in rest if i not in wanted_set]
    return sorted(keep), rest


def _group_id(g: LineageTopology, i: int) -> str:
    kind, name = g.group_of(i)
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
    g: LineageTopology, keep: list[int], overflow: list[int], focus: int | None, stale: set[str]
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    ids, attrs = g.names(), g.attrs
    nodes = []
    alias: dict[int, str] = {}
    for i in keep:
        nid = ids[i]
        alias[i] = nid
        a = attrs(i)
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
        member_ids = sorted(ids[i] for i in members)
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


def _edges(g: LineageTopology, keep: list[int], alias: dict[int, str]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str, int]] = set()
    out = []
    fields = g.borrow_fields
    adj = g.out_adjacency
    for i, a in alias.items():
        for j, kind in adj[i]:
            b = alias.get(j)
            if b is None or (a == b and a.startswith("more:")):
                continue
            key = (a, b, kind)
            if key in seen:
                continue
            seen.add(key)
            names = fields(i, j) if kind == BORROW else None
            out.append({"from": a, "to": b, "kind": EDGE_KINDS[kind], "field": ",".join(sorted(set(names))) if names else None})
    out.sort(key=lambda e: (e["from"], e["to"], e["kind"], e["field"] or ""))
    for n, e in enumerate(out):
        e["id"] = f"e{n}"
    return out


def _depths(g: LineageTopology, selected: dict[int, int], alias: dict[int, str]) -> dict[str, int]:
    """Depth of each drawn node: its longest path from a source among the selected nodes.

    Measured on the selected part of the lineage (a DAG), hidden nodes included, so drawn nodes
    keep their place along the lineage and every edge between two of them points right.
    An aggregate (which can close cycles: ``more:entity:Sample -> more:execution:clean ->
    more:entity:Sample``) goes at the depth of its shallowest member.
    """
    out = g.out_adjacency
    indeg = dict.fromkeys(selected, 0)
    for i in selected:
        for j, _ in out[i]:
            if j in indeg:
                indeg[j] += 1
    depth = dict.fromkeys(selected, 0)
    ready = [i for i, n in indeg.items() if n == 0]
    while ready:
        i = ready.pop()
        d = depth[i] + 1
        for j, _ in out[i]:
            if j in indeg:
                depth[j] = max(depth[j], d)
                indeg[j] -= 1
                if indeg[j] == 0:
                    ready.append(j)
    shown: dict[str, int] = {}
    for i, nid in alias.items():
        d = depth[i]
        if shown.get(nid, d) >= d:
            shown[nid] = d
    return shown


def _sweep(rows: dict[int, list[str]], level: dict[str, int], neighbours: dict[str, list[str]], forward: bool) -> None:
    """One barycenter pass: reorder each column by the mean (centred) row of its placed neighbours."""
    row = {k: r - (len(members) - 1) / 2 for members in rows.values() for r, k in enumerate(members)}
    order = sorted(rows) if forward else sorted(rows, reverse=True)
    for lv in order[1:]:
        keys = {}
        for k in rows[lv]:
            near = [row[x] for x in neighbours[k] if (level[x] < lv if forward else level[x] > lv)]
            keys[k] = (sum(near) / len(near) if near else row[k], row[k])
        members = rows[lv] = sorted(rows[lv], key=keys.__getitem__)
        row.update((k, r - (len(members) - 1) / 2) for r, k in enumerate(members))


def _layout(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], depth: dict[str, int]) -> None:
    """Layered left-to-right layout: columns in order of depth (empty ones dropped).

    Rows start in order of kind and label, then a few barycenter sweeps (each node moves toward the
    mean row of its neighbours in the columns already placed) cut edge crossings. Deterministic.
    """
    column = {d: c for c, d in enumerate(sorted(set(depth.values())))}
    level = {k: column[d] for k, d in depth.items()}
    info = {n["id"]: (n["kind"], str(n.get("label") or ""), n["id"]) for n in nodes}
    rows: dict[int, list[str]] = {}
    for k in sorted(depth, key=lambda k: info.get(k, ("", "", k))):
        rows.setdefault(level[k], []).append(k)
    neighbours: dict[str, list[str]] = {k: [] for k in depth}
    for e in edges:
        a, b = e["from"], e["to"]
        if a in neighbours and b in neighbours and level[a] != level[b]:
            neighbours[a].append(b)
            neighbours[b].append(a)
    for sweep in range(4):
        _sweep(rows, level, neighbours, forward=sweep % 2 == 0)
    pos = {}
    for lv, members in rows.items():
        offset = (len(members) - 1) * Y_STEP / 2
        for r, k in enumerate(members):
            pos[k] = (lv * X_STEP, r * Y_STEP - offset)
    for n in nodes:
        n["level"] = column[depth[n["id"]]]
        n["x"], n["y"] = pos[n["id"]]


MAX_STALE_LINEAGES = 200  # stale marks are computed for at most this many outdated lineages in view


def mark_stale(payload: dict[str, Any]) -> None:
    """Set ``stale`` on the payload's entity versions derived from a version that is no longer the latest."""
    from ..core.registry import EntityRegistry
    from .queries import stale

    by_lineage: dict[str, list[str]] = {}
    for n in payload["nodes"]:
        if n["kind"] == "entity" and n.get("lineage_id"):
            by_lineage.setdefault(n["lineage_id"], []).append(n["id"])
    outdated = []
    for lineage, ids in by_lineage.items():
        latest = str(EntityRegistry.latest(lineage))
        if any(i != latest for i in ids):
            outdated.append(ids[0])
    marked: set[str] = set()
    for eid in outdated[:MAX_STALE_LINEAGES]:
        marked.update(stale(eid))
    for n in payload["nodes"]:
        n["stale"] = n["id"] in marked
