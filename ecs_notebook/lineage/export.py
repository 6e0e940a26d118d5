"""Exporting the lineage: a standalone, offline pyvis HTML page, and node-link JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import networkx as nx

from .files import check_destination, write_atomically
from .graph import default_graph
from .queries import check_direction, downstream, resolve_id, upstream

_COLORS = {
    "entity": {"background": "#dbeafe", "border": "#2563eb"},
    "execution": {"background": "#dcfce7", "border": "#16a34a"},
    "failed": {"background": "#fee2e2", "border": "#dc2626"},
}
_EDGE_COLORS = {"input": "#64748b", "output": "#16a34a", "version": "#9333ea", "borrow": "#f59e0b", "child": "#94a3b8"}


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


def _detail(node: str, attrs: dict[str, Any]) -> str:
    lines = [f"{k}: {v}" for k, v in sorted(attrs.items()) if v is not None]
    return "\n".join([node, *lines])


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

    Built with pyvis (``cdn_resources="in_line"``) on a template of ours (pyvis' own pulls
    Bootstrap from a CDN). Entity data is embedded as JSON and displayed as text only. Nothing
    but ``path`` is written (replaced only once complete; the store's own files are refused).
    """
    check_destination(path)
    import pyvis
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader
    from pyvis.network import Network

    g = select(target, depth, direction)
    net = Network(height="100vh", width="100%", directed=True, cdn_resources="in_line", heading=title)
    for node, attrs in sorted(g.nodes(data=True)):
        kind = attrs.get("kind", "entity")
        color = _COLORS["failed"] if kind == "execution" and attrs.get("succeeded") is False else _COLORS[kind]
        net.add_node(
            node,
            label=str(attrs.get("label", node[:8])),
            title=_detail(node, attrs),
            shape="box" if kind == "execution" else "ellipse",
            color=color,
            detail=_detail(node, attrs),
        )
    for a, b, attrs in sorted(g.edges(data=True), key=lambda e: (e[0], e[1], e[2].get("kind", ""))):
        kind = attrs.get("kind", "")
        net.add_edge(a, b, title=kind + (f" ({attrs['field']})" if attrs.get("field") else ""), color=_EDGE_COLORS.get(kind))
    options = {
        "layout": {"hierarchical": {"enabled": True, "direction": "LR", "sortMethod": "directed"}},
        "physics": {"enabled": False},
        "edges": {"arrows": {"to": {"enabled": True}}},
        "interaction": {"hover": True},
    }
    pyvis_templates = Path(pyvis.__file__).parent / "templates"
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(Path(__file__).parent / "templates")), FileSystemLoader(str(pyvis_templates))]),
        autoescape=True,
    )
    # Our template (pyvis' own pulls Bootstrap from a CDN), rendered with pyvis' nodes and edges and
    # its bundled vis-network; options go in as an object.
    html = env.get_template("lineage.html").render(
        nodes=net.nodes, edges=net.edges, options=options, heading=title, bgcolor="#ffffff", width="100%", height="100vh"
    )
    return write_atomically(path, lambda f: f.write(html))
