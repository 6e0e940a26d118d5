"""The offline lineage page: the explorer's payload and details embedded as JSON, drawn by the widget's own code.

The page's script is ``static/lineage-page.js``, built from the same ``js/src`` modules as the widget
(palette, marks, labels, legend, details panel), so the export and the widget look alike by
construction. Entity data is embedded as JSON inside ``<script type="application/json">`` with
``<``, ``>``, ``&`` and the JS line separators escaped, and is only ever shown as text.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .payload import DEFAULT_BUDGET, build_payload, mark_stale

STATIC = Path(__file__).resolve().parent.parent / "static"
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
# The page may run its own inline script and styles, and show data: images; nothing else, from nowhere.
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:;"


def page_data(target: Any = None, depth: int | None = None, direction: str = "both", budget: int = DEFAULT_BUDGET) -> dict[str, Any]:
    """The explorer payload around ``target`` (whole lineage when None) and the details of every drawn node."""
    from .details import node_details

    focus = resolve_focus(target)
    payload = build_payload(focus, depth, direction, budget=budget, expand=[focus] if focus else None)
    mark_stale(payload)
    details = {n["id"]: node_details(n["id"], payload) for n in payload["nodes"]}
    return {"payload": payload, "details": details}


def resolve_focus(target: Any) -> str | None:
    from .queries import resolve_id

    return None if target is None else str(resolve_id(target))


def script_json(value: Any) -> str:
    """JSON safe to embed in an HTML ``<script>`` element: no ``</script>``, no ``<!--``, no HTML entities.

    >>> script_json({"label": "</script><b>"})
    '{"label": "\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e"}'
    """
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    for ch, esc in _JSON_ESCAPES.items():
        text = text.replace(ch, esc)
    return text


def render_page(data: dict[str, Any], heading: str) -> str:
    """The standalone HTML page for ``page_data(...)`` output."""
    script = (STATIC / "lineage-page.js").read_text(encoding="utf-8")
    css = (STATIC / "lineage-page.css").read_text(encoding="utf-8")
    if "</script" in script.lower() or "</style" in css.lower():  # the bundle is ours; this keeps it that way
        msg = "static/lineage-page.{js,css} contains a closing tag: it cannot be inlined"
        raise RuntimeError(msg)
    payload = script_json({**data, "heading": heading})
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(heading)}</title>\n<style>\n{css}\n</style>\n</head>\n<body>\n"
        '<div id="ecs-page"></div>\n'
        f'<script type="application/json" id="ecs-data">{payload}</script>\n'
        f"<script>\n{script}\n</script>\n</body>\n</html>\n"
    )
