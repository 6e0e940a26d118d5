"""Rich displays: entity cards, execution rows, tables — HTML (all data escaped) and plain text."""

from __future__ import annotations

import html
from typing import Any

from ..core._ids import short
from ..core.entity import Entity
from ..core.records import source_ids
from ..core.registry import EntityRegistry
from ..core.typeinfo import class_info
from ..execution.model import FunctionExecution

_STYLE = (
    "<style>.ecs-card{font:13px system-ui,sans-serif;border:1px solid #cbd5e1;border-radius:6px;padding:6px 10px;"
    "margin:2px 0;display:inline-block;max-width:100%}.ecs-card table{border-collapse:collapse}"
    ".ecs-card td,.ecs-card th{padding:1px 8px 1px 0;text-align:left;vertical-align:top}"
    ".ecs-card .k{color:#475569}.ecs-card .src{color:#7c3aed;font-size:11px}.ecs-muted{color:#64748b;font-size:11px}"
    ".ecs-ok{color:#15803d}.ecs-fail{color:#b91c1c;font-weight:600}</style>"
)
_MAX_VALUE = 120


def esc(value: Any) -> str:
    """Escape any value for HTML (everything shown comes from data)."""
    return html.escape(str(value), quote=True)


def _short_value(v: Any) -> str:
    if isinstance(v, Entity):
        return f"{type(v).__name__} @{short(v.ecs_id)}"
    if isinstance(v, list) and v and all(isinstance(x, Entity) for x in v):
        return f"[{len(v)} x {type(v[0]).__name__}]"
    text = repr(v)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _version_number(e: Entity) -> tuple[int, int] | None:
    try:
        versions = EntityRegistry.history(e.lineage_id)
    except Exception:
        return None
    try:
        return versions.index(e.ecs_id) + 1, len(versions)
    except ValueError:
        return None


def _source_text(src: Any) -> str:
    ids = dict.fromkeys(source_ids(src))  # each once, in order
    return "from " + ", ".join(f"@{short(s)}" for s in ids) if ids else ""


def _derived_text(e: Entity) -> str:
    if not e.derived_from_function:
        return ""
    when = ""
    if e.derived_from_execution_id is not None:
        try:
            started = EntityRegistry.record(e.derived_from_execution_id).plain_dict().get("started_at")
            when = f" at {started:%H:%M:%S}" if started else ""
        except Exception:
            when = ""
    return f"derived from {e.derived_from_function}(){when}"


def entity_text(e: Entity) -> str:
    """A readable plain-text card of an entity."""
    v = _version_number(e)
    version = f", version {v[0]} of {v[1]}" if v else ""
    head = f"{type(e).__name__} @{short(e.ecs_id)} (lineage {short(e.lineage_id)}{version})"
    lines = [head]
    derived = _derived_text(e)
    if derived:
        lines.append(f"  {derived}")
    for name in class_info(type(e)).data_fields:
        src = _source_text(e.attribute_source.get(name))
        lines.append(f"  {name} = {_short_value(getattr(e, name))}" + (f"   [{src}]" if src else ""))
    return "\n".join(lines)


def entity_html(e: Entity) -> str:
    """An HTML card of an entity: type, short ids, version, fields with provenance."""
    v = _version_number(e)
    version = f" · version {v[0]} of {v[1]}" if v else ""
    rows = []
    for name in class_info(type(e)).data_fields:
        src = _source_text(e.attribute_source.get(name))
        rows.append(f"<tr><td class='k'>{esc(name)}</td><td>{esc(_short_value(getattr(e, name)))}</td><td class='src'>{esc(src)}</td></tr>")
    derived = _derived_text(e)
    return (
        f"{_STYLE}<div class='ecs-card'><b>{esc(type(e).__name__)}</b> "
        f"<span class='ecs-muted'>@{esc(short(e.ecs_id))} · lineage {esc(short(e.lineage_id))}{esc(version)}</span>"
        + (f"<div class='ecs-muted'>{esc(derived)}</div>" if derived else "")
        + f"<table>{''.join(rows)}</table></div>"
    )


def execution_text(x: FunctionExecution) -> str:
    status = "ok" if x.succeeded else f"FAILED {x.error_type}: {x.error_message}"
    cached = " (cached)" if x.cached else ""
    ins = ", ".join(f"@{short(i)}" for i in x.input_entity_ids) or "-"
    sems: list[Any] = list(x.semantics) or [""] * len(x.output_entity_ids)
    outs = ", ".join(f"@{short(o)} ({getattr(s, 'value', s)})" for o, s in zip(x.output_entity_ids, sems))
    return f"{x.function_name}() {ins} → {outs or '-'}  {status}{cached}  {x.duration_s * 1e3:.2f} ms  @{short(x.ecs_id)}"


def execution_html(x: FunctionExecution) -> str:
    status = (
        "<span class='ecs-ok'>ok</span>"
        if x.succeeded
        else f"<span class='ecs-fail'>failed: {esc(x.error_type)}: {esc(x.error_message)}</span>"
    )
    return f"{_STYLE}<div class='ecs-card'>{esc(execution_text(x).split('  ')[0])} · {status} · {x.duration_s * 1e3:.2f} ms</div>"


def table_html(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"{_STYLE}<div class='ecs-card'><table><tr>{head}</tr>{body}</table></div>"


def table_text(headers: list[str], rows: list[list[Any]]) -> str:
    cols = [headers, *[[str(c) for c in r] for r in rows]]
    widths = [max(len(str(r[i])) for r in cols) for i in range(len(headers))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in cols)


class Table:
    """A table shown as HTML in notebooks and as aligned text elsewhere."""

    def __init__(self, headers: list[str], rows: list[list[Any]], title: str = "") -> None:
        self.headers, self.rows, self.title = headers, rows, title

    def _repr_html_(self) -> str:
        title = f"<div><b>{esc(self.title)}</b></div>" if self.title else ""
        return title + table_html(self.headers, self.rows)

    def __repr__(self) -> str:
        title = f"{self.title}\n" if self.title else ""
        return title + table_text(self.headers, self.rows)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


class Text:
    """A line shown as escaped HTML and as plain text."""

    def __init__(self, text: str, css: str = "ecs-muted") -> None:
        self.text, self.css = text, css

    def _repr_html_(self) -> str:
        return f"{_STYLE}<div class='{self.css}'>{esc(self.text)}</div>"

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text)


def history_table(e_or_id: Any) -> Table:
    from ..lineage.queries import history

    ids = history(e_or_id)
    rows = []
    for n, vid in enumerate(ids, 1):
        rec = EntityRegistry.record(vid)
        rows.append(
            [
                f"v{n}",
                vid[:8],
                rec.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                f"{rec.derived_from_function}()" if rec.derived_from_function else "",
                f"@{short(rec.previous_ecs_id)}" if rec.previous_ecs_id else "",
            ]
        )
    return Table(["version", "ecs_id", "recorded", "by", "previous"], rows, f"History of {ids.title.split()[-1]}")


def executions_table(executions: list[FunctionExecution], title: str = "Executions") -> Table:
    rows = []
    for x in executions:
        rows.append(
            [
                x.started_at.strftime("%Y-%m-%d %H:%M:%S") if x.started_at else "",
                x.function_name,
                "ok" + (" (cached)" if x.cached else "") if x.succeeded else f"FAILED {x.error_type}",
                f"{x.duration_s * 1e3:.2f} ms",
                ", ".join(f"@{short(i)}" for i in x.input_entity_ids),
                ", ".join(f"@{short(o)}" for o in x.output_entity_ids),
                short(x.ecs_id),
            ]
        )
    return Table(["started", "function", "status", "duration", "inputs", "outputs", "execution"], rows, title)


def stats_table(executions: list[FunctionExecution]) -> Table:
    by: dict[str, list[FunctionExecution]] = {}
    for x in executions:
        by.setdefault(x.function_name, []).append(x)
    rows = []
    for name, xs in sorted(by.items()):
        durations = sorted(x.duration_s for x in xs)
        p50 = durations[len(durations) // 2]
        p95 = durations[min(len(durations) - 1, int(len(durations) * 0.95))]
        rows.append([name, len(xs), sum(not x.succeeded for x in xs), f"{p50 * 1e3:.2f} ms", f"{p95 * 1e3:.2f} ms"])
    return Table(["function", "calls", "failures", "p50", "p95"], rows, "Execution statistics")


def diff_table(changes: dict[str, tuple[Any, Any]], a: str, b: str) -> Table:
    rows = [[path, _short_value(old), _short_value(new)] for path, (old, new) in changes.items()]
    return Table(["field", f"@{a[:8]}", f"@{b[:8]}"], rows, f"{len(rows)} field(s) differ")


def stale_table(plan: Any) -> Table:
    """``%ecs_stale``: stale variables, and the cells that refresh them in run order."""
    rows = [[v.name, f"@{short(v.ecs_id)}", v.cell or "(changed outside recorded cells)"] for v in plan.variables]
    order = ", ".join(c.name for c in plan.cells) or "none known"
    return Table(["variable", "version", "refreshed by"], rows, f"{len(rows)} stale variable(s); %ecs_rerun runs: {order}")
