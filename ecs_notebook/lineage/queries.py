"""Questions about the lineage: upstream, downstream, history, diff, stale."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from ..core._ids import short
from ..core.address import is_id_text, parse_address, resolve_ecs_id, resolve_input
from ..core.entity import Entity
from ..core.errors import EntityNotFoundError
from ..core.records import EXECUTION_TYPE, VersionRecord, materialize, record_fields
from ..core.registry import EntityRegistry, as_uuid
from ..core.tree import SLOT, FrozenSetTemplate, SetTemplate
from .graph import CHILD, ENTITY, OUTPUT, VERSION, LineageGraph, LineageTopology, Step, default_graph


class LineageIds(list):  # type: ignore[type-arg]
    """ecs_id strings returned by a query, with a readable display and a loader."""

    def __init__(self, ids: list[str], title: str = "") -> None:
        super().__init__(ids)
        self.title = title

    def entities(self) -> list[Entity]:
        """Copies of the entity versions (executions are skipped)."""
        out = []
        for i in self:
            rec = EntityRegistry.record(i)
            if rec.cls.__ecs_type__ != EXECUTION_TYPE:
                out.append(EntityRegistry.get(i))
        return out

    def __repr__(self) -> str:
        head = f"{self.title}: " if self.title else ""
        if not self:
            return f"{head}[] (none)"
        shown = ", ".join(_describe(i) for i in self[:8])
        more = f", … {len(self) - 8} more" if len(self) > 8 else ""
        return f"{head}{len(self)} version(s): [{shown}{more}]"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def _describe(eid: str) -> str:
    g = default_graph()
    i = g.index_of(UUID(eid))
    label = g.attrs(i).get("label") if i is not None else None
    return f"{label} @{eid[:8]}" if label else eid[:8]


def resolve_id(x: Any) -> UUID:
    """The ecs_id a query is about: an entity (its current version), an ecs_id, an address, or a value.

    Ids may be given whole or as a unique prefix of at least 4 hex digits, with or without ``@``,
    exactly as they are shown (``3cf40b27``, ``@3cf40b27``, ``@3cf40b27.name``). A string starting
    with ``@`` is an address: a malformed one raises AddressError naming the failing segment; a path
    names the entity version holding what it points at. Any other object is looked up as the current
    value of a recorded notebook variable (see :func:`ref`).

    Raises:
        AddressError: a malformed address, a path that does not resolve, or an ambiguous prefix
            (the message lists the matching ids).
        EntityNotFoundError: no recorded id starts with the prefix, or ``x`` is no id at all.
    """
    if isinstance(x, Entity):
        return x.ecs_id
    if isinstance(x, str):
        if x.lstrip().startswith("@"):
            eid, segs = parse_address(x)
            if not segs:
                return eid
            rec, _, owner = resolve_input(x)
            return rec.ecs_id if rec is not None else owner
        if is_id_text(x):
            return resolve_ecs_id(x)
        return as_uuid(x)
    if isinstance(x, UUID):
        return x
    return ref(x)


def ref(x: Any) -> UUID:
    """The ecs_id of the latest recorded version of object ``x``: an entity, or a notebook variable's value.

    A value is found by identity among the recorded variables of the notebook; when several hold
    the same object (``None``, small ints, an alias) the most recently recorded one wins.

    Raises:
        EntityNotFoundError: ``x`` was never recorded (the message says how to record it; it never
            shows the value itself).
    """
    if isinstance(x, Entity):
        if EntityRegistry.has(x.ecs_id):
            return x.ecs_id
        msg = f"This {type(x).__name__} entity is not recorded yet: call .promote_to_root() on it, or use it in a recorded cell."
        raise EntityNotFoundError(msg)
    from ..core.variable import VARIABLE_INDEX

    found = VARIABLE_INDEX.find(x)
    if found is None:
        msg = (
            f"This {type(x).__name__} value is not a recorded variable: record a cell that binds or reads it "
            "(%%ecs_exec NAME, or %ecs_record on), or pass an ecs_id or an @address."
        )
        raise EntityNotFoundError(msg)
    return found[1]


DIRECTIONS = ("up", "down", "both")


def check_direction(direction: str) -> None:
    """ValueError unless ``direction`` is "up", "down" or "both"."""
    if direction not in DIRECTIONS:
        msg = f"direction must be 'up', 'down' or 'both', not {direction!r}"
        raise ValueError(msg)


def locate(x: Any) -> tuple[LineageGraph, int, UUID]:
    eid = resolve_id(x)
    g = default_graph()
    i = g.index_of(eid)
    if i is None:
        EntityRegistry.record(eid)  # raises EntityNotFoundError for unknown ids
        msg = f"Entity version {short(eid)} is recorded but not part of the lineage graph (a composite input?)."
        raise EntityNotFoundError(msg)
    return g, i, eid


def distances(g: LineageTopology, start: int, adj: Sequence[Sequence[Step]], depth: int | None) -> dict[int, int]:
    """Nodes reachable from ``start`` over ``adj`` with their entity distance, nearest first.

    Entering an entity costs one step, entering an execution none, so this is a 0-1 BFS: a
    zero-cost step goes to the front of the queue and every node is settled at its shortest
    distance (a plain BFS would settle it at the first distance found, and cut off too early).
    """
    kind = g.kinds
    best = {start: 0}
    settled: dict[int, int] = {}
    queue = deque([(start, 0)])
    pop, push, push_front = queue.popleft, queue.append, queue.appendleft
    while queue:
        node, d = pop()
        if node in settled:
            continue
        settled[node] = d
        for nxt, _ in adj[node]:
            if nxt in settled:
                continue
            if kind[nxt] == ENTITY:
                nd = d + 1
                if depth is not None and nd > depth:
                    continue
                if best.get(nxt, nd + 1) > nd:
                    best[nxt] = nd
                    push((nxt, nd))
            elif best.get(nxt, d + 1) > d:
                best[nxt] = d
                push_front((nxt, d))
    return settled


def _reach(adj: Sequence[Sequence[Step]], start: int) -> list[int]:
    """Every node reachable from ``start`` (itself first), breadth first."""
    seen = {start}
    order = [start]
    add, push = seen.add, order.append
    for node in order:  # grows while it is read: a queue without popping
        for nxt, _ in adj[node]:
            if nxt not in seen:
                add(nxt)
                push(nxt)
    return order


def _walk(g: LineageTopology, start: int, forward: bool, depth: int | None, include_executions: bool) -> list[str]:
    adj = g.out_adjacency if forward else g.in_adjacency
    # Without a depth nothing is cut off by distance: a plain BFS (much cheaper) orders the result.
    found = _reach(adj, start) if depth is None else list(distances(g, start, adj, depth))
    names = g.names()
    if include_executions:
        return [names[i] for i in found[1:]]
    kind = g.kinds
    return [names[i] for i in found[1:] if kind[i] == ENTITY]


def upstream(x: Any, depth: int | None = None, include_executions: bool = False) -> LineageIds:
    """The entity versions ``x`` derives from, nearest first.

    Follows input, output, version, borrow and child edges backwards; ``depth`` counts
    entity-to-entity steps (an execution in between is not a step).

    Examples:
        >>> from ecs_notebook import CallableRegistry, Entity, EntityRegistry
        >>> class Sample(Entity):
        ...     value: float
        >>> @CallableRegistry.register("double")
        ... def double(s: Sample) -> Sample:
        ...     return Sample(value=s.value * 2)
        >>> raw = Sample(value=1.5)
        >>> raw.promote_to_root()
        >>> out = CallableRegistry.execute("double", s=raw)
        >>> upstream(out) == [str(raw.ecs_id)]
        True
    """
    g, i, eid = locate(x)
    return LineageIds(_walk(g, i, False, depth, include_executions), f"upstream of {short(eid)}")


def downstream(x: Any, depth: int | None = None, include_executions: bool = False) -> LineageIds:
    """The entity versions that derive from ``x``, nearest first (see ``upstream``).

    Examples:
        >>> from ecs_notebook import CallableRegistry, Entity, EntityRegistry
        >>> class Sample(Entity):
        ...     value: float
        >>> @CallableRegistry.register("double")
        ... def double(s: Sample) -> Sample:
        ...     return Sample(value=s.value * 2)
        >>> raw = Sample(value=1.5)
        >>> raw.promote_to_root()
        >>> out = CallableRegistry.execute("double", s=raw)
        >>> downstream(raw) == [str(out.ecs_id)]
        True
    """
    g, i, eid = locate(x)
    return LineageIds(_walk(g, i, True, depth, include_executions), f"downstream of {short(eid)}")


def history(x: Any) -> LineageIds:
    """The versions of ``x``'s lineage, oldest first."""
    eid = resolve_id(x)
    lineage = EntityRegistry.lineage_of(eid)
    return LineageIds([str(v) for v in EntityRegistry.history(lineage)], f"history of {short(eid)}")


def _made_by_execution(g: LineageTopology, node: int) -> bool:
    return any(k == OUTPUT for _, k in g.in_adjacency[node])


def _derives(g: LineageTopology, a: int, b: int, k: int) -> bool:
    """Whether ``b`` derives from ``a`` over the edge a -k-> b (A5: a version edge only where no execution made b)."""
    return k != VERSION or not _made_by_execution(g, b)


def _supersedes(g: LineageTopology, execution: int, lineage: UUID, latest: _Latest) -> bool:
    """Whether ``execution`` made a new version of ``lineage`` itself (its other outputs then match that version)."""
    return any(k == OUTPUT and latest.lineage(out) == lineage for out, k in g.out_adjacency[execution])


class _Latest:
    """Lineage and latest version of graph nodes, each looked up once per query."""

    def __init__(self, g: LineageTopology) -> None:
        self.g = g
        self._records = g.records
        self._latest: dict[UUID, UUID] = {}

    def lineage(self, node: int) -> UUID | None:
        rec = self._records[node]
        return rec.lineage_id if rec is not None else None

    def is_latest(self, node: int) -> bool:
        lineage = self.lineage(node)
        if lineage is None:
            return False
        latest = self._latest.get(lineage)
        if latest is None:
            latest = self._latest[lineage] = EntityRegistry.latest(lineage)
        return latest == self.g.ids[node]


def stale(x: Any) -> LineageIds:
    """What ``x``'s changes left behind: latest versions (of other lineages) derived from an outdated version of x's lineage.

    Derivation follows input → execution → output, borrow and child edges, and a version edge only
    where the newer version was not made by an execution; it does not continue through x's own
    lineage (a later version of x supersedes what it derived from). A superseded version is history,
    never stale. Accepts an entity, an ecs_id, an address or a recorded variable's value.

    Examples:
        >>> from ecs_notebook import CallableRegistry, Entity, EntityRegistry
        >>> class Sample(Entity):
        ...     value: float
        >>> @CallableRegistry.register("double")
        ... def double(s: Sample) -> Sample:
        ...     return Sample(value=s.value * 2)
        >>> raw = Sample(value=1.5)
        >>> raw.promote_to_root()
        >>> out = CallableRegistry.execute("double", s=raw)
        >>> raw.value = 2.0  # an edit in place: a new version of raw's lineage
        >>> EntityRegistry.version_entity(raw)
        True
        >>> stale(raw) == [str(out.ecs_id)]  # out was computed from the old version
        True
    """
    eid = resolve_id(x)
    lineage = EntityRegistry.lineage_of(eid)
    versions = EntityRegistry.history(lineage)
    g = default_graph()
    own = {v.int for v in versions}
    starts = [i for i in (g.index_of(v) for v in versions[:-1]) if i is not None]
    latest = _Latest(g)
    names = g.names()
    seen: set[int] = set(starts)
    out: list[str] = []
    frontier = deque(starts)
    ids, kind, adj = g.ids, g.kinds, g.out_adjacency
    while frontier:
        node = frontier.popleft()
        from_own = ids[node].int in own
        for nxt, ek in adj[node]:
            if nxt in seen or ids[nxt].int in own or not _derives(g, node, nxt, ek):
                continue
            if from_own and ek == CHILD:
                continue  # x's parts are not derived from x (an unchanged part belongs to x's newer versions too)
            if from_own and kind[nxt] != ENTITY and _supersedes(g, nxt, lineage, latest):
                continue  # the execution made a newer version of x too: its outputs match that one
            seen.add(nxt)
            if kind[nxt] == ENTITY and latest.is_latest(nxt):
                out.append(names[nxt])
            frontier.append(nxt)
    return LineageIds(out, f"stale because of {short(eid)}")


def is_stale(x: Any) -> bool:
    """Whether ``x`` (its latest version) derives from a version of another lineage that is no longer that lineage's latest.

    Only latest versions are ever stale. Derivation is as in :func:`stale`: a path through a newer
    version of the outdated lineage does not count (that newer version supersedes it), so once stale
    results are recomputed from the latest inputs nothing is stale any more.

    Examples:
        >>> from ecs_notebook import CallableRegistry, Entity, EntityRegistry
        >>> class Sample(Entity):
        ...     value: float
        >>> @CallableRegistry.register("double")
        ... def double(s: Sample) -> Sample:
        ...     return Sample(value=s.value * 2)
        >>> raw = Sample(value=1.5)
        >>> raw.promote_to_root()
        >>> out = CallableRegistry.execute("double", s=raw)
        >>> is_stale(out)
        False
        >>> raw.value = 2.0
        >>> EntityRegistry.version_entity(raw)
        True
        >>> is_stale(out), is_stale(CallableRegistry.execute("double", s=raw))
        (True, False)
    """
    eid = resolve_id(x)
    g = default_graph()
    i = g.index_of(eid)
    if i is None:
        EntityRegistry.record(eid)  # EntityNotFoundError for unknown ids
        return False
    latest = _Latest(g)
    kind, inn, out = g.kinds, g.in_adjacency, g.out_adjacency
    if kind[i] != ENTITY or not latest.is_latest(i):
        return False
    own = latest.lineage(i)
    # everything x derives from
    up = {i}
    order = [i]
    for node in order:
        for prev, ek in inn[node]:
            if prev not in up and _derives(g, prev, node, ek):
                up.add(prev)
                order.append(prev)
    outdated: dict[UUID, list[int]] = {}
    for u in order[1:]:
        if kind[u] == ENTITY:
            lin = latest.lineage(u)
            if lin is not None and lin != own and not latest.is_latest(u):
                outdated.setdefault(lin, []).append(u)
    for lin, starts in outdated.items():
        # Does an outdated version reach x without passing a (newer) version of its own lineage?
        seen = set(starts)
        frontier = deque(starts)
        while frontier:
            node = frontier.popleft()
            for nxt, ek in out[node]:
                if nxt in seen or nxt not in up or not _derives(g, node, nxt, ek):
                    continue
                if latest.lineage(node) == lin and ek == CHILD:
                    continue  # a part of the outdated version is shared with its newer versions
                if kind[nxt] != ENTITY and latest.lineage(node) == lin and _supersedes(g, nxt, lin, latest):
                    continue  # that execution also made a newer version of the outdated lineage
                if nxt == i:
                    return True
                if kind[nxt] == ENTITY and latest.lineage(nxt) == lin:
                    continue
                seen.add(nxt)
                frontier.append(nxt)
    return False


# -- diff ----------------------------------------------------------------------------------------


def diff(a: Any, b: Any) -> dict[str, tuple[Any, Any]]:
    """Fields that differ between two versions: ``{path: (old, new)}``.

    Paths are as in addresses (``"courses.0.name"``). Child entities of the same lineage are
    compared field by field; unchanged subtrees (same version id) are skipped without reading
    them; a child replaced by another lineage is reported whole.

    Examples:
        >>> from ecs_notebook import Entity, EntityRegistry
        >>> class Sample(Entity):
        ...     name: str
        ...     value: float
        >>> s = Sample(name="a", value=1.5)
        >>> s.promote_to_root()
        >>> first = s.ecs_id
        >>> s.value = 2.0
        >>> EntityRegistry.version_entity(s)
        True
        >>> diff(first, s)
        {'value': (1.5, 2.0)}
    """
    ra = EntityRegistry.record(resolve_id(a))
    rb = EntityRegistry.record(resolve_id(b))
    out: dict[str, tuple[Any, Any]] = {}
    _diff_records(ra, rb, "", out)
    return out


_MISSING = object()


def _diff_records(ra: VersionRecord, rb: VersionRecord, prefix: str, out: dict[str, tuple[Any, Any]]) -> None:
    if ra.ecs_id == rb.ecs_id:
        return
    fa, fb = _fields(ra), _fields(rb)
    for name in list(fa) + [n for n in fb if n not in fa]:
        _diff_values(fa.get(name, _MISSING), fb.get(name, _MISSING), f"{prefix}{name}", out)


def _fields(rec: VersionRecord) -> dict[str, Any]:
    """Field values by name with child entities as their records (nothing materialized)."""
    return record_fields(rec, EntityRegistry.record, _fill)


class _Members(tuple):  # type: ignore[type-arg]
    """A set (or frozenset) field holding entities: its items, compared as a whole, unordered."""

    __slots__ = ()
    frozen = False

    def key(self) -> list[Any]:
        return sorted((repr(v.ecs_id) if isinstance(v, VersionRecord) else repr(v)) for v in self)


class _FrozenMembers(_Members):
    __slots__ = ()
    frozen = True


def _fill(t: Any, kids: Any) -> Any:
    if t is SLOT:
        return next(kids)
    if isinstance(t, SetTemplate):
        # A set has no order: an address cannot index it, so it is compared (and reported) whole.
        members = [_fill(v, kids) for v in t]
        return _FrozenMembers(members) if isinstance(t, FrozenSetTemplate) else _Members(members)
    if type(t) is list:
        return [_fill(v, kids) for v in t]
    if type(t) is dict:
        return {k: _fill(v, kids) for k, v in t.items()}
    if isinstance(t, tuple) and not isinstance(t, VersionRecord):
        return [_fill(v, kids) for v in t]  # tuples and set templates: compared by position
    return t


def _shown(v: Any) -> Any:
    if v is _MISSING:
        return None
    if isinstance(v, VersionRecord):
        return materialize(v, EntityRegistry.record)
    if isinstance(v, _Members):
        items = [_shown(x) for x in v]
        return frozenset(items) if v.frozen else set(items)
    if isinstance(v, list):
        return [_shown(x) for x in v]
    if isinstance(v, dict):
        return {k: _shown(x) for k, x in v.items()}
    return v


def _diff_values(va: Any, vb: Any, path: str, out: dict[str, tuple[Any, Any]]) -> None:
    if va is vb:
        return
    if isinstance(va, VersionRecord) and isinstance(vb, VersionRecord):
        if va.lineage_id == vb.lineage_id:
            _diff_records(va, vb, path + ".", out)
        else:
            out[path] = (_shown(va), _shown(vb))
        return
    if isinstance(va, _Members) or isinstance(vb, _Members):
        if not (isinstance(va, _Members) and isinstance(vb, _Members) and va.frozen == vb.frozen and va.key() == vb.key()):
            out[path] = (_shown(va), _shown(vb))
        return
    if type(va) is list and type(vb) is list:
        for k in range(max(len(va), len(vb))):
            _diff_values(va[k] if k < len(va) else _MISSING, vb[k] if k < len(vb) else _MISSING, f"{path}.{k}", out)
        return
    if type(va) is dict and type(vb) is dict:
        for k in list(va) + [k for k in vb if k not in va]:
            _diff_values(va.get(k, _MISSING), vb.get(k, _MISSING), f"{path}.{k}", out)
        return
    try:
        same = bool(va == vb) and type(va) is type(vb)
    except Exception:
        from ..core.typeinfo import values_equal

        same = values_equal(va, vb)
    if not same:
        out[path] = (_shown(va), _shown(vb))
