"""Exporting the lineage: a standalone, offline HTML page (the explorer, see page.py), and node-link JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import networkx as nx

from .files import check_destination, write_atomically
from .graph import default_graph
from .queries import check_direction, downstream, resolve_id, upstream


def select(target: Any = None, depth: int | None = None, direction: str = "both") -> nx.MultiDiGraph:
    """The part of the lineage graph around ``target`` (the whole graph when None)."""
    check_direction(direction)
    g = default_graph().nx()
    if target is None:
        return g
    eid = str(resolve_id(target))
    keep = {eid}
    if direction in ("up", "both"):
        keep.update(upstream(eid, depth, include_executions=True))
    if direction in ("down", "both"):
        keep.update(downstream(eid, depth, include_executions=True))
    return g.subgraph(keep)


def to_json(path: str | os.PathLike[str], target: Any = None, depth: int | None = None, direction: str = "both") -> Path:
    """Write the lineage (or the part around ``target``) as node-link JSON; returns the path.

    The file is replaced only once complete; the store's own files are refused (StoreError).
    """
    check_destination(path)
    g = select(target, depth, direction)
    data = nx.node_link_data(g, edges="links")
    data["nodes"] = sorted(data["nodes"], key=lambda n: n["id"])
    data["links"] = sorted(data["links"], key=lambda e: (e["source"], e["target"], e.get("kind", ""), e.get("key", 0)))
    text = json.dumps(data, indent=1, default=str)
    return write_atomically(path, lambda f: f.write(text))


def to_html(
    path: str | os.PathLike[str],
    target: Any = None,
    depth: int | None = None,
    direction: str = "both",
    title: str = "ecs_notebook lineage",
) -> Path:
    """Write a standalone HTML page of the lineage that renders with no network access.

    The page is the explorer itself, offline: the widget's drawing code (same palette, marks, version
    labels and legend), every drawn node's details (fields, provenance, versions) in a panel on
    click, and readable labels however large the graph (it opens zoomed on its focus or middle,
    "Fit all" shows everything). Past 2,000 nodes the farthest are aggregated into "+N more" nodes.
    Entity data is embedded as JSON and displayed as text only. Nothing but ``path`` is written
    (replaced only once complete; the store's own files are refused).
    """
    from .page import page_data, render_page

    check_destination(path)
    check_direction(direction)
    html = render_page(page_data(target, depth, direction), title)
    return write_atomically(path, lambda f: f.write(html))
