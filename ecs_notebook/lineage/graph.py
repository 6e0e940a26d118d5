"""The lineage graph: fed incrementally by registry events, queried on plain adjacency lists,
exposed as a networkx MultiDiGraph brought up to date when asked for."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, NamedTuple, Protocol, SupportsIndex, overload
from uuid import UUID

import networkx as nx

from ..core._ids import short
from ..core._state import stateful
from ..core.entity import ParameterEntity, UntypedEntity
from ..core.records import VersionRecord, record_fields, source_ids
from ..core.registry import EntityRegistry
from ..core.typeinfo import class_info
from ..core.variable import Variable
from ..execution.model import FunctionExecution

ENTITY, EXECUTION = 0, 1
INPUT, OUTPUT, VERSION, BORROW, CHILD = range(5)
EDGE_KINDS = ("input", "output", "version", "borrow", "child")
_LABEL_FIELDS = ("name", "title", "label", "id", "key")

#: One step of an adjacency list: (neighbour node index, edge kind: INPUT, OUTPUT, VERSION, BORROW or CHILD).
Step = tuple[int, int]


class LineageTopology(Protocol):
    """The read API of a lineage graph: what queries, the payload and the explorer may use.

    Nodes are dense indices ``0 .. len(g) - 1``; ``kinds[i]`` is ENTITY or EXECUTION;
    ``out_adjacency[i]`` / ``in_adjacency[i]`` list the (neighbour, edge kind) steps of node ``i``.
    The sequences are read-only views of the live graph (read them, never change them): hot loops
    bind them once instead of calling a method per step.
    """

    @property
    def ids(self) -> Sequence[UUID]: ...
    @property
    def kinds(self) -> Sequence[int]: ...
    @property
    def records(self) -> Sequence[VersionRecord | None]: ...
    @property
    def out_adjacency(self) -> Sequence[Sequence[Step]]: ...
    @property
    def in_adjacency(self) -> Sequence[Sequence[Step]]: ...
    @property
    def epoch(self) -> object: ...
    def __len__(self) -> int: ...
    def ensure_loaded(self) -> None: ...
    def index_of(self, eid: UUID) -> int | None: ...
    def names(self) -> Sequence[str]: ...
    def kind(self, i: int) -> int: ...
    def record(self, i: int) -> VersionRecord | None: ...
    def attrs(self, i: int) -> dict[str, Any]: ...
    def out_edges(self, i: int) -> Sequence[Step]: ...
    def in_edges(self, i: int) -> Sequence[Step]: ...
    def borrow_fields(self, a: int, b: int) -> Sequence[str]: ...
    def group_of(self, i: int) -> tuple[str, str]: ...
    def recorded_at(self, i: int) -> datetime | None: ...


class LineageGraph:
    """Nodes are entity versions and executions; edges are input/output/version/borrow/child.

    Upkeep appends to plain lists (a few µs per execution) and keeps each node's record; node
    attributes are built from it when first read; queries walk the lists; the networkx view is
    synced lazily (pending nodes/edges are added when ``nx()`` is called).
    """

    def __init__(self) -> None:
        self._index: dict[int, int] = {}
        self._ids: list[UUID] = []
        self._names: list[str] = []  # str of _ids, made when first asked for (see names())
        self._kind: list[int] = []
        self._rec: list[VersionRecord | None] = []  # None: referenced, its record not seen yet
        self._attrs = NodeAttrs(self._make_attrs)
        self._semantics: dict[int, Any] = {}  # output node -> how its execution made it
        self._out: list[list[tuple[int, int]]] = []
        self._in: list[list[tuple[int, int]]] = []
        self._edges: list[tuple[int, int, int, str | None]] = []
        self._borrow_fields: dict[tuple[int, int], list[str]] = {}
        self._nx: nx.MultiDiGraph = nx.MultiDiGraph()
        self._synced_nodes = 0
        self._synced_edges = 0
        self._stale_attrs: set[int] = set()
        self._loaded = False  # whether the records already in the store were read
        # Version numbers (1-based, in recording order, as ``history`` lists them): node -> number,
        # and per lineage (uuid.int) its count and first node (relabelled "v1" once a v2 exists).
        self._version_no: dict[int, int] = {}
        self._lineage_count: dict[int, tuple[int, int]] = {}
        self._unsubscribe = EntityRegistry.subscribe(self._on_records)
        #: A new object whenever the graph is reset (another store): node indices changed meaning.
        self.epoch: object = object()
        # The read API's sequences (LineageTopology): the lists themselves, typed read-only. Plain
        # attributes, not properties, so that query loops pay nothing for reading through them.
        #: Node ids by node index.
        self.ids: Sequence[UUID] = self._ids
        #: ENTITY or EXECUTION, by node index.
        self.kinds: Sequence[int] = self._kind
        #: Each node's record, by node index (None: referenced by an edge, its record not seen yet).
        self.records: Sequence[VersionRecord | None] = self._rec
        #: The outgoing / incoming (neighbour, edge kind) steps of every node, by node index.
        self.out_adjacency: Sequence[Sequence[Step]] = self._out
        self.in_adjacency: Sequence[Sequence[Step]] = self._in

    # -- feeding ---------------------------------------------------------------------------

    def reset(self) -> None:
        """The registry switched stores: forget everything, read the new store on next use."""
        self._unsubscribe()
        self.__dict__.clear()
        self.__init__()  # type: ignore[misc]

    def _close_state(self) -> None:
        self._unsubscribe()

    def ensure_loaded(self) -> None:
        """Read the records already in the store (earlier sessions, other processes) once, in order."""
        if self._loaded:
            return
        self._loaded = True
        # Everything recorded before this graph existed (or in earlier sessions), in order.
        self._add(list(EntityRegistry.store.iter_records()))

    def _on_records(self, records: list[VersionRecord]) -> None:
        if self._loaded:  # before that, the store has them and ensure_loaded reads them in order
            self._add(records)

    def _node(self, eid: UUID, kind: int = ENTITY) -> int:
        i = self._index.get(eid.int)
        if i is None:
            i = self._index[eid.int] = len(self._ids)
            self._ids.append(eid)
            self._kind.append(kind)
            self._rec.append(None)
            self._attrs.append(_UNBUILT)
            self._out.append([])
            self._in.append([])
        return i

    def _edge(self, a: int, b: int, kind: int, field: str | None = None) -> None:
        self._out[a].append((b, kind))
        self._in[b].append((a, kind))
        self._edges.append((a, b, kind, field))
        if field is not None:
            self._borrow_fields.setdefault((a, b), []).append(field)

    def _changed(self, i: int) -> None:
        """Node ``i``'s attributes changed: rebuild them when next read (and in the networkx view)."""
        self._attrs.forget(i)
        if i < self._synced_nodes:
            self._stale_attrs.add(i)

    def _add(self, records: list[VersionRecord]) -> None:
        node, edge, recs, attrs = self._node, self._edge, self._rec, self._attrs
        root_of: dict[int, UUID] | None = None
        for rec in records:
            if rec.cls is FunctionExecution:
                self._add_execution(rec)
                continue
            if _is_composite(rec):
                continue  # composite inputs are recorded, but the graph links the real inputs
            i = node(rec.ecs_id)
            if recs[i] is not None:
                continue  # added already
            recs[i] = rec
            if attrs.built(i) or i < self._synced_nodes:
                self._changed(i)  # it was read while only referenced
            self._number(i, rec.lineage_id.int)
            prev = rec.previous_ecs_id
            if prev is not None:
                edge(node(prev), i, VERSION)
            if rec.slots:
                if root_of is None:
                    # A tree version's records are written together (one add_records call, one run
                    # of the store), each carrying the root_ecs_id of the version it was made in.
                    root_of = {r.ecs_id.int: r.root_ecs_id for r in records}
                root = rec.root_ecs_id
                for child in rec.slots:
                    # Only parts made in the same tree version (same root_ecs_id): an unchanged part
                    # shared with earlier versions (or an input held by an output) keeps the edge
                    # from where it was first recorded, so the graph stays a DAG, grows with the
                    # changed path, and is the same whether built live or read back from the store.
                    if root_of.get(child.int) == root:
                        edge(i, node(child), CHILD)
            if rec.attribute_source:
                self._add_borrows(rec, i)

    def _add_execution(self, rec: VersionRecord) -> None:
        x = self._node(rec.ecs_id, EXECUTION)
        if self._rec[x] is not None:
            return
        self._rec[x] = rec
        self._kind[x] = EXECUTION
        if self._attrs.built(x) or x < self._synced_nodes:
            self._changed(x)
        node, edge = self._node, self._edge
        f = _execution_fields()
        plain = rec.plain
        inputs = plain[f.input_entity_ids]
        for eid in inputs:
            edge(node(eid), x, INPUT)
        semantics = plain[f.semantics]
        for k, eid in enumerate(plain[f.output_entity_ids]):
            if eid in inputs:  # a returned, unchanged input: no output edge (the graph stays a DAG)
                continue
            o = node(eid)
            edge(x, o, OUTPUT)
            if semantics:
                self._semantics[o] = semantics[k]
                if self._attrs.built(o) or o < self._synced_nodes:
                    self._changed(o)

    def _add_borrows(self, rec: VersionRecord, i: int) -> None:
        # Values a function output took from its inputs are linked through the execution already.
        linked = {s.int for s in rec.function_input_entities}
        seen: set[tuple[int, str]] = set()
        index, kind = self._index, self._kind
        for field, src in rec.attribute_source.items():
            if src is None:
                continue
            for s in source_ids(src):
                if s.int in linked or (s.int, field) in seen:
                    continue
                seen.add((s.int, field))
                j = index.get(s.int)
                if j is not None and j != i and kind[j] == ENTITY:
                    self._edge(j, i, BORROW, field)

    def _number(self, i: int, lineage: int) -> None:
        count, first = self._lineage_count.get(lineage, (0, i))
        self._lineage_count[lineage] = (count + 1, first)
        self._version_no[i] = count + 1
        if count == 1:
            self._changed(first)  # its label gains "v1" now that there is a v2

    def version_number(self, i: int) -> tuple[int, int]:
        """(number, count): node ``i`` is version ``number`` of the ``count`` its lineage has so far."""
        rec = self._rec[i]
        if rec is None or self._kind[i] != ENTITY:
            return 0, 0
        return self._version_no.get(i, 0), self._lineage_count.get(rec.lineage_id.int, (0, i))[0]

    # -- views -----------------------------------------------------------------------------

    def _make_attrs(self, i: int) -> dict[str, Any]:
        """The networkx attributes of node ``i``, from its record."""
        rec = self._rec[i]
        if rec is None:
            return {"kind": "entity"}  # referenced only: filled in when its record arrives
        if self._kind[i] == EXECUTION:
            v = rec.plain_dict()
            return {
                "kind": "execution",
                "function_name": v["function_name"],
                "succeeded": v["succeeded"],
                "duration_s": v["duration_s"],
                "started_at": v["started_at"].isoformat() if v["started_at"] else None,
                "cached": v["cached"],
                "error_type": v["error_type"],
                "label": f"{v['function_name']}()",
            }
        cls = rec.cls
        a = {
            "kind": "entity",
            "type": cls.__name__,
            "type_path": rec.type_path,
            "lineage_id": str(rec.lineage_id),
            "label": _label(rec, *self.version_number(i)),
            "created_at": rec.created_at.isoformat(),
            "function": rec.derived_from_function,
        }
        sem = self._semantics.get(i)
        if sem is not None:
            a["semantics"] = sem.value if isinstance(sem, Enum) else str(sem)
        return a

    def group_of(self, i: int) -> tuple[str, str]:
        """("entity", type name) or ("execution", function name) of node ``i`` (attributes not built)."""
        rec = self._rec[i]
        if self._kind[i] == ENTITY:
            return "entity", rec.cls.__name__ if rec is not None else "?"
        return "execution", str(rec.plain[_execution_fields().function_name]) if rec is not None else "?"

    def recorded_at(self, i: int) -> datetime | None:
        """When node ``i`` was recorded (an entity version) or started (an execution).

        A new version inherits created_at from its lineage's first version; its forked_at is when
        it was made.
        """
        rec = self._rec[i]
        if rec is None:
            return None
        if self._kind[i] == EXECUTION:
            started: datetime | None = rec.plain[_execution_fields().started_at]
            return started
        return rec.forked_at or rec.created_at

    def nx(self) -> nx.MultiDiGraph:
        """The networkx view, with every pending node and edge applied."""
        self.ensure_loaded()
        g = self._nx
        names, attrs = self.names(), self._attrs
        for i in self._stale_attrs:
            g.nodes[names[i]].update(attrs[i])
        self._stale_attrs.clear()
        g.add_nodes_from((names[i], attrs[i]) for i in range(self._synced_nodes, len(names)))
        self._synced_nodes = len(names)
        edges = self._edges
        g.add_edges_from(
            (names[a], names[b], {"kind": EDGE_KINDS[k], **({"field": f} if f is not None else {})})
            for a, b, k, f in edges[self._synced_edges :]
        )
        self._synced_edges = len(edges)
        return g

    def names(self) -> list[str]:
        """Node ids as strings, by node index (each made once, when first asked for)."""
        names, ids = self._names, self._ids
        if len(names) < len(ids):
            names.extend(map(str, ids[len(names) :]))
        return names

    # -- the read API (LineageTopology): nothing outside this module reads the lists above ---------

    def index_of(self, eid: UUID) -> int | None:
        """The node index of version or execution ``eid`` (None: not in the graph)."""
        self.ensure_loaded()
        return self._index.get(eid.int)

    def __len__(self) -> int:
        """The number of nodes (after reading the store)."""
        self.ensure_loaded()
        return len(self._ids)

    def kind(self, i: int) -> int:
        """ENTITY or EXECUTION."""
        return self._kind[i]

    def record(self, i: int) -> VersionRecord | None:
        """Node ``i``'s record (None: referenced by an edge, its record not seen yet)."""
        return self._rec[i]

    def attrs(self, i: int) -> dict[str, Any]:
        """Node ``i``'s attributes (as in the networkx view), built when first read. Do not change them."""
        return self._attrs[i]

    def out_edges(self, i: int) -> Sequence[Step]:
        """The (target, edge kind) steps leaving node ``i``."""
        return self._out[i]

    def in_edges(self, i: int) -> Sequence[Step]:
        """The (source, edge kind) steps entering node ``i``."""
        return self._in[i]

    def borrow_fields(self, a: int, b: int) -> Sequence[str]:
        """The fields ``b`` borrowed from ``a`` (one per borrow edge a -> b; empty if none)."""
        return self._borrow_fields.get((a, b), ())

    def __repr__(self) -> str:
        return f"<LineageGraph: {len(self._ids)} nodes, {len(self._edges)} edges>"


_UNBUILT: dict[str, Any] = {}


class NodeAttrs(list[dict[str, Any]]):
    """The attribute dict of each node, by node index, built from its record when first read.

    Most nodes recorded in a session are never looked at one by one, so upkeep does not pay for
    their labels and timestamps; reading ``attrs[i]`` (or iterating) builds what it returns.
    """

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[int], dict[str, Any]]) -> None:
        super().__init__()
        self._make = make

    @overload
    def __getitem__(self, i: SupportsIndex) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: SupportsIndex | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self[k] for k in range(len(self))[i]]
        k = operator.index(i)
        if k < 0:
            k += len(self)
        a = list.__getitem__(self, k)
        if a is _UNBUILT:
            a = self._make(k)
            list.__setitem__(self, k, a)
        return a

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[k] for k in range(len(self)))

    def built(self, i: int) -> bool:
        return list.__getitem__(self, i) is not _UNBUILT

    def forget(self, i: int) -> None:
        """Build node ``i``'s attributes again when next read."""
        list.__setitem__(self, i, _UNBUILT)


class _ExecutionFields(NamedTuple):
    """Positions of the fields the graph reads in a FunctionExecution record's ``plain``."""

    function_name: int
    input_entity_ids: int
    output_entity_ids: int
    semantics: int
    started_at: int


_EXECUTION_FIELDS: list[_ExecutionFields] = []


def _execution_fields() -> _ExecutionFields:
    if not _EXECUTION_FIELDS:
        names = class_info(FunctionExecution).plain_fields
        _EXECUTION_FIELDS.append(_ExecutionFields(*(names.index(f) for f in _ExecutionFields._fields)))
    return _EXECUTION_FIELDS[0]


def _is_composite(rec: VersionRecord) -> bool:
    """A call's composite input: its class, or (reloaded without it) its shape of record."""
    if issubclass(rec.cls, ParameterEntity):
        return True
    return rec.derived_from_execution_id is not None and rec.derived_from_function is None


def _label(rec: VersionRecord, number: int = 0, count: int = 0) -> str:
    """ "Student Ada", or "Student Ada v2" when its lineage has several versions."""
    suffix = f" v{number}" if count > 1 and number else ""
    if rec.cls is Variable:  # a notebook variable: "df v2 (DataFrame)"
        v = rec.plain_dict()
        value = v["value"]
        kind = value.type_name.rsplit(".", 1)[-1] if value is not None else v["change"]
        return f"{str(v['name'])[:40]}{suffix} ({kind})"
    type_name = stored_type_name(rec)
    fields = record_fields(rec)  # an untyped version's data under the names of its class (not defined here)
    for name in _LABEL_FIELDS:
        value = fields.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return f"{type_name} {str(value)[:40]}{suffix}"
    return f"{type_name} {short(rec.ecs_id)}{suffix}"


def stored_type_name(rec: VersionRecord) -> str:
    """The class name of a version: its own, or for an untyped one the name of the class it was stored as."""
    if rec.cls is UntypedEntity and isinstance(rec.plain[0], str) and rec.plain[0]:
        return rec.plain[0].rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    return rec.cls.__name__


def version_label(eid: UUID) -> str:
    """The label the graph gives version ``eid`` ("Student Ada v2"), without loading the graph.

    The number is its place in ``EntityRegistry.history`` of its lineage (shown once the lineage
    has several versions); executions are "name()". Raises EntityNotFoundError for unknown ids.
    """
    rec = EntityRegistry.record(eid)
    if rec.cls is FunctionExecution:
        return f"{rec.plain[_execution_fields().function_name]}()"
    history = EntityRegistry.history(rec.lineage_id)
    number = next((k for k, v in enumerate(history, 1) if v == rec.ecs_id), 0)
    return _label(rec, number, len(history))


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
