"""The explorer payload as a short text tree, for terminals (``%ecs_lineage`` in IPython, ``repr``)."""

from __future__ import annotations

from typing import Any

MAX_LINES = 40
_MARK = {"input": "", "output": "", "version": "next version: ", "borrow": "borrowed by: ", "child": "child: "}
_DIRECTIONS = {"both": "up & down", "up": "upstream", "down": "downstream"}


def _node_text(n: dict[str, Any]) -> str:
    label = str(n.get("label") or n["id"][:8])
    if n["kind"] == "aggregate":
        return label
    marks = []
    if n["kind"] == "execution" and n.get("succeeded") is False:
        marks.append("FAILED")
    if n.get("semantics"):
        marks.append(str(n["semantics"]).lower())
    if n.get("stale"):
        marks.append("stale")
    if n.get("focus"):
        marks.append("focus")
    tail = f" ({', '.join(marks)})" if marks else ""
    short = n["id"][:8]
    # "Report 2debcc28 v2": a label made of the type and short id names the id once.
    label = " ".join(word for word in label.split(" ") if word != short)
    return f"{label} @{short}{tail}"


def payload_heading(payload: dict[str, Any]) -> str:
    """One line: what the view is around and how much of it is drawn."""
    nodes = payload.get("nodes", [])
    focus = next((n for n in nodes if n.get("focus")), None)
    if payload.get("focus"):
        where = f"around {_node_text({**focus, 'focus': False}) if focus else payload['focus'][:8]}"
        depth = payload.get("depth")
        where += f" · depth {'all' if depth is None else depth} · {_DIRECTIONS.get(payload.get('direction', ''), '')}"
    else:
        where = "whole session"
    total, shown = payload.get("total_nodes", len(nodes)), payload.get("shown_nodes", len(nodes))
    count = f"{shown} of {total} nodes" if shown != total else f"{len(nodes)} node{'s' if len(nodes) != 1 else ''}"
    return f"Lineage explorer: {where} · {count}"


def payload_tree(payload: dict[str, Any], max_lines: int = MAX_LINES) -> str:
    """The payload as an indented tree: roots (nodes nothing in view leads to) first, edges followed downstream.

    A node reached again is named with "(above)" instead of repeated; past ``max_lines`` the rest is counted.
    """
    nodes = {n["id"]: n for n in payload.get("nodes", [])}
    out_edges: dict[str, list[tuple[str, str]]] = {nid: [] for nid in nodes}
    has_in: set[str] = set()
    for e in payload.get("edges", []):
        if e["from"] in nodes and e["to"] in nodes:
            out_edges[e["from"]].append((e["to"], e["kind"]))
            has_in.add(e["to"])
    order = {nid: k for k, nid in enumerate(sorted(nodes, key=lambda i: (nodes[i].get("level", 0), nodes[i].get("y", 0), i)))}
    for kids in out_edges.values():
        kids.sort(key=lambda t: order[t[0]])
    roots = [nid for nid in sorted(nodes, key=order.__getitem__) if nid not in has_in]
    lines = [payload_heading(payload)]
    seen: set[str] = set()
    budget = [max_lines]

    def walk(nid: str, prefix: str, branch: str, kind: str) -> None:
        if budget[0] <= 0:
            return
        budget[0] -= 1
        text = _MARK.get(kind, "") + _node_text(nodes[nid])
        if nid in seen:
            lines.append(f"{prefix}{branch}{text} (above)")
            return
        seen.add(nid)
        lines.append(f"{prefix}{branch}{text}")
        kids = out_edges[nid]
        child_prefix = prefix + ("   " if branch == "└─ " else "│  " if branch else "")
        for k, (kid, kid_kind) in enumerate(kids):
            walk(kid, child_prefix, "└─ " if k == len(kids) - 1 else "├─ ", kid_kind)

    for nid in roots:
        walk(nid, "", "", "")
    for nid in sorted(nodes, key=order.__getitem__):  # cycles cannot happen (a DAG); this is for safety
        if nid not in seen:
            walk(nid, "", "", "")
    shown = len(seen)
    if shown < len(nodes):
        lines.append(f"… {len(nodes) - shown} more node(s) (the widget shows them all)")
    if not nodes:
        lines.append("(nothing recorded yet)")
    return "\n".join(lines)
