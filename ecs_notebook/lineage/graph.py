"""The lineage graph: fed incrementally by registry events, queried on plain adjacency lists,
exposed as a networkx MultiDiGraph brought up to date when asked for."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import networkx as nx

from .._ids import short
from .._state import stateful
from ..entity import ParameterEntity
from ..execution import FunctionExecution
from ..records import VersionRecord
from ..registry import EntityRegistry
from ..typeinfo import class_info

ENTITY, EXECUTION = 0, 1
INPUT, OUTPUT, VERSION, BORROW, CHILD = range(5)
EDGE_KINDS = ("input", "output", "version", "borrow", "child")
_LABEL_FIELDS = ("name", "title", "label", "id", "key")


class LineageGraph:
    """Nodes are entity versions and executions; edges are input/output/version/borrow/child.

    Maintenance appends to plain lists (a few µs per execution); queries walk them; the
    networkx view is synced lazily (pending nodes/edges are added when ``nx()`` is called).
    """

    def __init__(self) -> None:
        self._index: dict[int, int] = {}
        self._ids: list[UUID] = []
        self._kind: list[int] = []
        self._attrs: list[dict[str, Any]] = []
        self._out: list[list[tuple[int, int]]] = []
        self._in: list[list[tuple[int, int]]] = []
        self._edges: list[tuple[int, int, int, str | None]] = []
        self._borrow_fields: dict[tuple[int, int], list[str]] = {}
        self._nx: nx.MultiDiGraph = nx.MultiDiGraph()
        self._synced_nodes = 0
        self._synced_edges = 0
        self._stale_attrs: set[int] = set()
        self._done: set[int] = set()  # records already added
        self._loaded = False  # whether the records already in the store were read
        self._unsubscribe = EntityRegistry.subscribe(self._on_records)

    # -- feeding ---------------------------------------------------------------------------

    def reset(self) -> None:
        """The registry switched stores: forget everything, read the new store on next use."""
        self._unsubscribe()
        self.__dict__.clear()
        self.__init__()  # type: ignore[misc]

    def _close_state(self) -> None:
        self._unsubscribe()

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        # Everything recorded before this graph existed (or in earlier sessions), in order.
        self._add(list(EntityRegistry.store.iter_records()))

    def _on_records(self, records: list[VersionRecord]) -> None:
        if self._loaded:  # before that, the store has them and _ensure_loaded reads them in order
            self._add(records)

    def _node(self, eid: UUID, kind: int = ENTITY) -> int:
        i = self._index.get(eid.int)
        if i is None:
            i = self._index[eid.int] = len(self._ids)
            self._ids.append(eid)
            self._kind.append(kind)
            self._attrs.append({"kind": "entity" if kind == ENTITY else "execution"})
            self._out.append([])
            self._in.append([])
        return i

    def _edge(self, a: int, b: int, kind: int, field: str | None = None) -> None:
        self._out[a].append((b, kind))
        self._in[b].append((a, kind))
        self._edges.append((a, b, kind, field))
        if field is not None:
            self._borrow_fields.setdefault((a, b), []).append(field)

    def _add(self, records: list[VersionRecord]) -> None:
        done = self._done
        batch = {rec.ecs_id.int for rec in records}
        for rec in records:
            if rec.ecs_id.int in done:
                continue
            done.add(rec.ecs_id.int)
            cls = rec.cls
            if _is_composite(rec):
                continue  # composite inputs are recorded, but the graph links the real inputs
            if cls is FunctionExecution:
                self._add_execution(rec)
                continue
            i = self._node(rec.ecs_id)
            if i < self._synced_nodes:
                self._stale_attrs.add(i)
            self._attrs[i] = {
                "kind": "entity",
                "type": cls.__name__,
                "type_path": rec.type_path,
                "lineage_id": str(rec.lineage_id),
                "label": _label(rec),
                "created_at": rec.created_at.isoformat(),
                "function": rec.derived_from_function,
            }
            prev = rec.previous_ecs_id
            if prev is not None:
                self._edge(self._node(prev), i, VERSION)
            for child in rec.slots:
                # Only parts recorded with this version: an unchanged part shared with earlier
                # versions (or an input held by an output) keeps the edge from where it was
                # first recorded, so the graph stays a DAG and grows with the changed path.
                if child.int in batch:
                    self._edge(i, self._node(child), CHILD)
            self._add_borrows(rec, i)

    def _add_execution(self, rec: VersionRecord) -> None:
        v = rec.plain_dict()
        x = self._node(rec.ecs_id, EXECUTION)
        self._kind[x] = EXECUTION
        self._attrs[x] = {
            "kind": "execution",
            "function_name": v["function_name"],
            "succeeded": v["succeeded"],
            "duration_s": v["duration_s"],
            "started_at": v["started_at"].isoformat() if v["started_at"] else None,
            "cached": v["cached"],
            "error_type": v["error_type"],
            "label": f"{v['function_name']}()",
        }
        inputs = v["input_entity_ids"]
        for eid in inputs:
            self._edge(self._node(eid), x, INPUT)
        for eid, sem in zip(v["output_entity_ids"], v["semantics"] or [None] * len(v["output_entity_ids"])):
            if eid in inputs:  # a returned, unchanged input: no output edge (the graph stays a DAG)
                continue
            o = self._node(eid)
            self._edge(x, o, OUTPUT, None)
            if sem is not None:
                self._attrs[o]["semantics"] = getattr(sem, "value", str(sem))

    def _add_borrows(self, rec: VersionRecord, i: int) -> None:
        # Values a function output took from its inputs are linked through the execution already.
        linked = {s.int for s in rec.function_input_entities}
        seen: set[tuple[int, str]] = set()
        for field, src in rec.attribute_source.items():
            for s in _sources(src):
                if s.int in linked or (s.int, field) in seen:
                    continue
                seen.add((s.int, field))
                j = self._index.get(s.int)
                if j is not None and j != i and self._kind[j] == ENTITY:
                    self._edge(j, i, BORROW, field)

    # -- views -----------------------------------------------------------------------------

    def nx(self) -> nx.MultiDiGraph:
        """The networkx view, with every pending node and edge applied."""
        self._ensure_loaded()
        g = self._nx
        ids, attrs = self._ids, self._attrs
        for i in self._stale_attrs:
            g.nodes[str(ids[i])].update(attrs[i])
        self._stale_attrs.clear()
        g.add_nodes_from((str(ids[i]), attrs[i]) for i in range(self._synced_nodes, len(ids)))
        self._synced_nodes = len(ids)
        edges = self._edges
        g.add_edges_from(
            (str(ids[a]), str(ids[b]), {"kind": EDGE_KINDS[k], **({"field": f} if f is not None else {})})
            for a, b, k, f in edges[self._synced_edges :]
        )
        self._synced_edges = len(edges)
        return g

    def index_of(self, eid: UUID) -> int | None:
        self._ensure_loaded()
        return self._index.get(eid.int)

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._ids)

    def __repr__(self) -> str:
        return f"<LineageGraph: {len(self._ids)} nodes, {len(self._edges)} edges>"


def _is_composite(rec: VersionRecord) -> bool:
    """A call's composite input: its class, or (reloaded without it) its shape of record."""
    if issubclass(rec.cls, ParameterEntity):
        return True
    return rec.derived_from_execution_id is not None and rec.derived_from_function is None


def _sources(src: Any) -> list[UUID]:
    if isinstance(src, UUID):
        return [src]
    if isinstance(src, list):
        return [s for s in src if isinstance(s, UUID)]
    if isinstance(src, dict):
        return [s for s in src.values() if isinstance(s, UUID)]
    return []


def _label(rec: VersionRecord) -> str:
    info = class_info(rec.cls)
    for name in _LABEL_FIELDS:
        if name in info.plain_fields:
            value = rec.plain[info.plain_fields.index(name)]
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                return f"{rec.cls.__name__} {str(value)[:40]}"
    return f"{rec.cls.__name__} {short(rec.ecs_id)}"


class _GraphHolder:
    """The process's default lineage graph, created on first use (part of fresh_state)."""

    def __init__(self) -> None:
        self.graph: LineageGraph | None = None
        EntityRegistry.on_store_change(_store_changed)

    def get(self) -> LineageGraph:
        if self.graph is None:
            self.graph = LineageGraph()
        return self.graph

    def store_changed(self) -> None:
        if self.graph is not None:
            self.graph.reset()

    def _close_state(self) -> None:
        if self.graph is not None:
            self.graph._close_state()


def _store_changed() -> None:
    DEFAULT_GRAPH.store_changed()


DEFAULT_GRAPH = stateful(_GraphHolder())


def default_graph() -> LineageGraph:
    """The lineage graph of the default registries."""
    return DEFAULT_GRAPH.get()


def lineage_graph() -> nx.MultiDiGraph:
    """The lineage of this session (and of the connected store) as a networkx MultiDiGraph.

    Node ids are ecs_id strings; node attribute ``kind`` is "entity" or "execution"; edge
    attribute ``kind`` is "input", "output", "version", "borrow" or "child".
    """
    return default_graph().nx()
