"""The lineage explorer widget: an anywidget view of the explorer payload, refreshed on every execution that can change it."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..core._ids import short
from ..core.entity import Entity
from ..core.registry import EntityRegistry
from ..execution.callable_registry import CallableRegistry
from ..execution.model import FunctionExecution
from ..lineage.details import node_details
from ..lineage.explorer import FilterChoices, ViewWatch, explorer_payload
from ..lineage.export import to_html as export_html
from ..lineage.queries import resolve_id
from ..lineage.text import payload_heading, payload_tree

STATIC = Path(__file__).resolve().parents[1] / "static"
DIRECTIONS = ("up", "down", "both")


class _Bundle:
    """A file of the built front end, given to anywidget as its text, read on first use.

    Not as a path: anywidget wraps a path in a file watcher whose change signal holds every widget
    made from it, so no explorer could ever be garbage-collected. On the class (where anywidget
    looks for paths) this is the descriptor itself; ``str()`` of it is the text.
    """

    def __init__(self, name: str) -> None:
        self.path = STATIC / name
        self._text: str | None = None

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        return self if obj is None else str(self)

    def __str__(self) -> str:
        if self._text is None:
            self._text = self.path.read_text(encoding="utf-8")
        return self._text


class LineageExplorer(anywidget.AnyWidget):
    """Interactive lineage graph around ``target`` (an entity, ecs_id or address; None: the whole session).

    Click a node to select it (``selected``, ``details``, ``selected_entity``); double-click to
    focus on it (or to draw the nodes of a "+N more" aggregate). ``graph`` is refreshed before
    ``CallableRegistry.execute`` returns; ``close()`` stops that. Errors of observers appear in
    ``error`` (and in red in the widget).
    """

    _esm = _Bundle("explorer.js")
    _css = _Bundle("explorer.css")

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
        graph = explorer_payload(focus, depth, direction, kwargs.get("filters") or {}, kwargs.get("expand") or [])
        super().__init__(focus=focus, depth=depth, direction=direction, graph=graph, **kwargs)
        #: Where the "export HTML" button writes (None: ``lineage-<focus>.html`` in the working directory).
        self.export_path: str | Path | None = None
        self._choices = FilterChoices()
        self._watch = ViewWatch()
        self._update_options()
        if self.selected:
            self._guarded(self._show_details, f"selecting {self.selected!r}")
        self.observe(self._on_view, names=["focus", "depth", "direction", "filters", "expand"])
        self.observe(self._on_selected, names=["selected"])
        self.observe(self._on_export, names=["export_request"])
        self._unsubscribe: Callable[[], None] | None = _follow_executions(self)

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
            if self._watch.changes(self.graph, self.focus, self.depth, self.direction, self.filters, execution, outputs):
                self._rebuild()
                self.status = f"updated after {execution.function_name}() ({ok})"
            else:
                self._update_options()  # the filter choices still follow the session
                self.status = f"{execution.function_name}() ({ok}) recorded outside this view"

        self._guarded(refresh, f"refreshing after {execution.function_name}()")

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
        payload = explorer_payload(self.focus, self.depth, self.direction, self.filters, self.expand)
        with self.hold_sync():
            self.graph = payload
            self._update_options()
            if self.selected:
                self._show_details()

    def _show_details(self) -> None:
        self.details = node_details(self.selected, self.graph)

    def _update_options(self) -> None:
        options = self._choices.update()
        if options != self.filter_options:
            self.filter_options = options


def _follow_executions(widget: LineageExplorer) -> Callable[[], None]:
    """Subscribe ``widget`` to executions without keeping it alive; returns the unsubscribe function.

    The hook holds a weak reference: a widget nobody holds any more (ipywidgets included) is
    garbage-collected, and its hook unsubscribes itself then.
    """

    def on_execution(execution: FunctionExecution, outputs: list[Entity]) -> None:
        w = ref()
        if w is not None:
            w._on_execution(execution, outputs)

    unsubscribe = CallableRegistry.on_execution(on_execution)
    ref = weakref.ref(widget, lambda _: unsubscribe())
    return unsubscribe


def show_lineage(x: Any = None, depth: int | None = 2, direction: str = "both") -> LineageExplorer:
    """Display a LineageExplorer around ``x`` (None: the whole session) and return it."""
    from IPython.display import display

    explorer = LineageExplorer(x, depth=depth, direction=direction)
    display(explorer)
    return explorer
