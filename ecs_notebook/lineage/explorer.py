"""What the explorer widget shows, computed in the lineage layer: its payload, filter choices, and which executions change a view.

The widget (``ecs_notebook.notebook.widget``) is a view of these: it holds traits and observers only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from ..core.records import source_ids
from ..core.registry import EntityRegistry
from ..execution.model import FunctionExecution
from .graph import LineageTopology, default_graph
from .payload import build_payload, mark_stale, selection_ids
from .queries import downstream


def explorer_payload(focus: str, depth: int | None, direction: str, filters: dict[str, Any], expand: Sequence[str]) -> dict[str, Any]:
    """The payload of an explorer view (``focus`` "" for the whole session), stale versions marked."""
    # The focus goes in ``expand`` too: past the node budget, build_payload ranks nodes at the same
    # distance by id, so the focus itself could otherwise end up inside a "+N more" aggregate.
    forced = [*expand, focus] if focus else list(expand)
    payload = build_payload(
        focus or None,
        depth,
        direction,
        types=list(filters.get("types") or ()) or None,
        functions=list(filters.get("functions") or ()) or None,
        expand=forced or None,
    )
    mark_stale(payload)
    return payload


class FilterChoices:
    """The entity types and function names recorded so far (the choices of the explorer's filters).

    Reads the graph's node attributes incrementally: each call looks only at nodes added since the
    last one (and at entities seen before their own record arrived).
    """

    def __init__(self, graph: LineageTopology | None = None) -> None:
        self._graph = graph  # None: the default graph
        self._restart(None)

    def _restart(self, epoch: object) -> None:
        self._epoch = epoch
        self._done = 0
        self._pending: list[int] = []
        self._types: set[str] = set()
        self._functions: set[str] = set()

    def update(self) -> dict[str, list[str]]:
        """``{"types": [...], "functions": [...]}``, sorted."""
        g = self._graph if self._graph is not None else default_graph()
        g.ensure_loaded()
        if self._epoch is not g.epoch:  # first use, or the graph was reset (another store)
            self._restart(g.epoch)
        attrs, n = g.attrs, len(g)
        pending, self._pending = self._pending, []
        for i in [*pending, *range(self._done, n)]:
            a = attrs(i)
            if a.get("kind") == "execution":
                self._functions.add(str(a.get("function_name")))
            elif a.get("type"):
                self._types.add(str(a["type"]))
            else:
                self._pending.append(i)  # an entity seen before its own record: look again next time
        self._done = n
        return {"types": sorted(self._types), "functions": sorted(self._functions)}


class ViewWatch:
    """Whether a new execution can change an explorer view; False lets the view skip rebuilding (large sessions).

    A focused view selects every node within ``depth`` (drawn, or counted in an aggregate): a new
    execution joins it only through an old node it touches (an input, an output's previous version
    or borrowed source), and makes selected nodes stale only if they derive from an output's
    previous version. Anything else (the whole session, filters) rebuilds.
    """

    def __init__(self) -> None:
        self._view: tuple[dict[str, Any], set[str]] | None = None  # (payload, the ids it selects)

    def changes(
        self,
        payload: dict[str, Any],
        focus: str,
        depth: int | None,
        direction: str,
        filters: dict[str, Any],
        execution: FunctionExecution,
        outputs: Sequence[Any],
    ) -> bool:
        if not focus or any(filters.values()):
            return True
        view = self._view
        if view is None or view[0] is not payload:
            # Past the node budget some selected nodes sit in "+N more" aggregates: use the selection.
            if payload.get("aggregated"):
                ids = selection_ids(focus, depth, direction)
            else:
                ids = {n["id"] for n in payload.get("nodes", ())}
            view = self._view = (payload, ids)
        ids = view[1]
        touched: list[UUID | None] = [execution.input_entity_id, *execution.input_entity_ids]
        previous = []
        for o in outputs:
            touched.append(o.ecs_id)
            if o.previous_ecs_id is not None:
                previous.append(o.previous_ecs_id)
            for source in o.attribute_source.values():
                touched.extend(source_ids(source))
        touched.extend(previous)
        if any(str(t) in ids for t in touched if t is not None):
            return True
        return any(not ids.isdisjoint(downstream(p)) for p in previous if EntityRegistry.has(p))
