"""The lineage explorer widget: an anywidget view of the explorer payload, refreshed on every execution that can change it."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ._ids import short
from .callable_registry import CallableRegistry
from .details import node_details
from .entity import Entity
from .execution import FunctionExecution
from .lineage.export import to_html as export_html
from .lineage.graph import default_graph
from .lineage.payload import build_payload, mark_stale, selection_ids
from .lineage.queries import downstream, resolve_id
from .lineage.text import payload_heading, payload_tree
from .registry import EntityRegistry

STATIC = Path(__file__).parent / "static"
DIRECTIONS = ("up", "down", "both")


class LineageExplorer(anywidget.AnyWidget):
    """Interactive lineage graph around ``target`` (an entity, ecs_id or address; None: the whole session).

    Click a node to select it (``selected``, ``details``, ``selected_entity``); double-click to
    focus on it (or to draw the nodes of a "+N more" aggregate). ``graph`` is refreshed before
    ``CallableRegistry.execute`` returns; ``close()`` stops that. Errors of observers appear in
    ``error`` (and in red in the widget).
    """

    _esm = STATIC / "explorer.js"
    _css = STATIC / "explorer.css"

    graph = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    focus = traitlets.Unicode("").tag(sync=True)
    depth = traitlets.Int(2, allow_none=True).tag(sync=True)
    direction = traitlets.Unicode("both").tag(sync=True)
    filters = traitlets.Dict().tag(sync=True)
    expand = traitlets.List(traitlets.Unicode()).tag(sync=True)
    details = traitlets.Dict().tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    #: Entity types and function names recorded in the session (the choices of the filters).
    filter_options = traitlets.Dict().tag(sync=True)
    #: Incremented by the "export HTML" button; each change writes ``export_path``.
    export_request = traitlets.Int(0).tag(sync=True)

    def __init__(self, target: Any = None, depth: int | None = 2, direction: str = "both", **kwargs: Any) -> None:
        focus = "" if target is None else str(resolve_id(target))
        if direction not in DIRECTIONS:
            msg = f"direction must be 'up', 'down' or 'both', not {direction!r}"
            raise ValueError(msg)
        # Built before the widget exists: a bad target raises here, where the caller sees it.
        graph = _payload(focus, depth, direction, kwargs.get("filters") or {}, kwargs.get("expand") or [])
        super().__init__(focus=focus, depth=depth, direction=direction, graph=graph, **kwargs)
        #: Where the "export HTML" button writes (None: ``lineage-<focus>.html`` in the working directory).
        self.export_path: str | Path | None = None
        self._options_scan = _OptionsScan()
        self._view_ids: tuple[dict[str, Any], set[str]] | None = None  # (graph, the ids it selects)
        self._update_options()
        if self.selected:
            self._guarded(self._show_details, f"selecting {self.selected!r}")
        self.observe(self._on_view, names=["focus", "depth", "direction", "filters", "expand"])
        self.observe(self._on_selected, names=["selected"])
        self.observe(self._on_export, names=["export_request"])
        self._unsubscribe: Callable[[], None] | None = CallableRegistry.on_execution(_hook(self))

    # -- Python API --------------------------------------------------------------------------

    @property
    def selected_entity(self) -> Entity | None:
        """A copy of the selected entity version (None when nothing, an execution or an aggregate is selected)."""
        sel = self.selected
        if not sel or sel.startswith("more:") or not EntityRegistry.has(sel):
            return None
        if EntityRegistry.record(sel).cls is FunctionExecution:
            return None
        return EntityRegistry.get(sel)

    def refresh(self) -> None:
        """Rebuild ``graph`` from the lineage now (selection and view are kept)."""
        self._rebuild()

    def to_html(self, path: str | Path) -> Path:
        """Write the standalone, offline HTML page of this view (same target, depth, direction)."""
        return export_html(path, target=self.focus or None, depth=self.depth if self.focus else None, direction=self.direction)

    # -- text representations (terminal IPython, logs) ----------------------------------------

    def __repr__(self) -> str:
        return f"<{payload_heading(self.graph)}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(payload_tree(self.graph))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # ipywidgets puts repr() cut to 110 characters in text/plain, which is all a terminal shows.
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            bundle[0]["text/plain"] = payload_tree(self.graph)
        elif isinstance(bundle, dict):
            bundle["text/plain"] = payload_tree(self.graph)
        return bundle

    def close(self) -> None:
        """Stop following executions and close the widget (and its views)."""
        unsubscribe = getattr(self, "_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe()
            self._unsubscribe = None
        super().close()

    # -- traits ------------------------------------------------------------------------------

    @traitlets.validate("direction")
    def _valid_direction(self, proposal: Any) -> str:
        value = proposal["value"]
        if value not in DIRECTIONS:
            msg = f"direction must be 'up', 'down' or 'both', not {value!r}"
            raise traitlets.TraitError(msg)
        return str(value)

    @traitlets.validate("depth")
    def _valid_depth(self, proposal: Any) -> int | None:
        value = proposal["value"]
        if value is not None and value < 0:
            msg = f"depth must be a number of steps (>= 0) or None for no limit, not {value!r}"
            raise traitlets.TraitError(msg)
        return value  # type: ignore[no-any-return]

    def _on_view(self, change: Any) -> None:
        self._guarded(self._rebuild, f"showing {change['name']}={change['new']!r}")

    def _on_selected(self, change: Any) -> None:
        self._guarded(self._show_details, f"selecting {change['new']!r}")

    def _on_export(self, change: Any) -> None:
        def export() -> None:
            path = Path(self.export_path or f"lineage-{short(self.focus) if self.focus else 'session'}.html")
            out = self.to_html(path).resolve()
            self.status = f"exported to {out}"

        self._guarded(export, "exporting HTML")

    def _on_execution(self, execution: FunctionExecution, outputs: list[Entity]) -> None:
        def refresh() -> None:
            ok = "ok" if execution.succeeded else f"failed: {execution.error_type}"
            if self._changes_view(execution, outputs):
                self._rebuild()
                self.status = f"updated after {execution.function_name}() ({ok})"
            else:
                self._update_options()  # the filter choices still follow the session
                self.status = f"{execution.function_name}() ({ok}) recorded outside this view"

        self._guarded(refresh, f"refreshing after {execution.function_name}()")

    def _changes_view(self, execution: FunctionExecution, outputs: list[Entity]) -> bool:
        """Whether a new execution can change ``graph``; False skips the rebuild (large sessions).

        A focused view selects every node within ``depth`` (drawn, or counted in an aggregate): a
        new execution joins it only through an old node it touches (an input, an output's previous
        version or borrowed source), and makes selected nodes stale only if they derive from an
        output's previous version. Anything else (the whole session, filters) rebuilds.
        """
        graph = self.graph
        if not self.focus or any(self.filters.values()):
            return True
        view = self._view_ids
        if view is None or view[0] is not graph:
            # Past the node budget some selected nodes sit in "+N more" aggregates: use the selection.
            if graph.get("aggregated"):
                ids = selection_ids(self.focus, self.depth, self.direction)
            else:
                ids = {n["id"] for n in graph.get("nodes", ())}
            view = self._view_ids = (graph, ids)
        ids = view[1]
        touched = [execution.input_entity_id, *execution.input_entity_ids]
        previous = []
        for o in outputs:
            touched.append(o.ecs_id)
            if o.previous_ecs_id is not None:
                previous.append(o.previous_ecs_id)
            touched.extend(_source_ids(o.attribute_source))
        touched.extend(previous)
        if any(str(t) in ids for t in touched if t is not None):
            return True
        return any(not ids.isdisjoint(downstream(p)) for p in previous if EntityRegistry.has(p))

    def _guarded(self, action: Any, doing: str) -> None:
        """Run an observer's work; a failure goes to ``error`` (shown in the widget), not to a log."""
        try:
            action()
        except Exception as exc:
            self.error = f"Error while {doing}: {type(exc).__name__}: {exc}"
        else:
            self.error = ""

    # -- building ----------------------------------------------------------------------------

    def _rebuild(self) -> None:
        payload = _payload(self.focus, self.depth, self.direction, self.filters, self.expand)
        with self.hold_sync():
            self.graph = payload
            self._update_options()
            if self.selected:
                self._show_details()

    def _show_details(self) -> None:
        self.details = node_details(self.selected, self.graph)

    def _update_options(self) -> None:
        """Entity types and function names for the filters, read incrementally from the graph's node attributes."""
        g = default_graph()
        g._ensure_loaded()
        attrs = g._attrs  # one dict per node, in insertion order (no networkx view needed)
        scan = self._options_scan
        if scan.attrs is not attrs:  # first use, or the graph was reset (another store)
            scan = self._options_scan = _OptionsScan(attrs)
        pending, scan.pending = scan.pending, []
        for i in [*pending, *range(scan.done, len(attrs))]:
            a = attrs[i]
            if a.get("kind") == "execution":
                scan.functions.add(str(a.get("function_name")))
            elif a.get("type"):
                scan.types.add(str(a["type"]))
            else:
                scan.pending.append(i)  # an entity seen before its own record: look again next time
        scan.done = len(attrs)
        options = {"types": sorted(scan.types), "functions": sorted(scan.functions)}
        if options != self.filter_options:
            self.filter_options = options


class _OptionsScan:
    """How far the filter choices have read the graph's node attributes."""

    def __init__(self, attrs: list[dict[str, Any]] | None = None) -> None:
        self.attrs = attrs
        self.done = 0
        self.pending: list[int] = []
        self.types: set[str] = set()
        self.functions: set[str] = set()


def _payload(focus: str, depth: int | None, direction: str, filters: dict[str, Any], expand: list[str]) -> dict[str, Any]:
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


def _source_ids(source: dict[str, Any]) -> list[Any]:
    """The ids an attribute_source names (values may be ids, lists or dicts of ids, or None)."""
    out: list[Any] = []
    for v in source.values():
        if isinstance(v, list):
            out.extend(v)
        elif isinstance(v, dict):
            out.extend(v.values())
        else:
            out.append(v)
    return out


def _hook(widget: LineageExplorer) -> Any:
    """An on_execution callback that does not keep the widget alive (a widget never closed still goes away)."""
    ref = weakref.ref(widget)

    def on_execution(execution: FunctionExecution, outputs: list[Entity]) -> None:
        w = ref()
        if w is not None:
            w._on_execution(execution, outputs)

    return on_execution


def show_lineage(x: Any = None, depth: int | None = 2, direction: str = "both") -> LineageExplorer:
    """Display a LineageExplorer around ``x`` (None: the whole session) and return it."""
    from IPython.display import display

    explorer = LineageExplorer(x, depth=depth, direction=direction)
    display(explorer)
    return explorer
