// DOM pieces shared by the widget (index.js) and the offline page (page.js): legend, details panel,
// network options. Text only ever goes in through textContent (dom.js), never as HTML.

import { clear, h } from "./dom.js";
import { detailsImage, detailsSections, legendItems } from "./transform.js";

/**
 * The legend: what each colour, shape and line style means (from legendItems, the one palette).
 * @param {boolean} [open] shown unfolded (the widget keeps it folded: open, it covers part of a small graph)
 * @param {string} [aggregateHint] how to see the nodes of a "+N more" node
 * @returns {HTMLDetailsElement}
 */
export function legend(open = false, aggregateHint = "double-click") {
  const box = h("details", { class: "ecs-legend" });
  box.open = open;
  const grid = h("div", { class: "ecs-legend-grid" });
  box.append(h("summary", {}, "Legend"), grid);
  for (const item of legendItems(aggregateHint)) {
    const row = h("div", { class: "ecs-legend-row" });
    const swatch = h("span", { class: `ecs-swatch ecs-swatch-${item.shape}` });
    swatch.style.background = item.shape === "line" ? "transparent" : item.colour.background;
    swatch.style.borderColor = item.colour.border;
    if (item.dashed) swatch.style.borderStyle = "dashed";
    row.append(swatch, h("span", {}, item.label));
    grid.appendChild(row);
  }
  return box;
}

/**
 * Fill the details panel with one node's details (the JSON of ecs_notebook/lineage/details.py).
 * @param {HTMLElement} panel
 * @param {Record<string, any>|null|undefined} d
 * @param {{onClose: () => void, onFocus?: (id: string) => void}} actions
 *   ``onFocus`` adds a "Focus here" button (the widget; the offline page has no Python to ask)
 * @returns {boolean} whether there was anything to show
 */
export function fillDetails(panel, d, actions) {
  const view = detailsSections(d);
  clear(panel);
  if (!view.title || !d) return false;
  const close = h("button", { type: "button", class: "ecs-close", title: "clear the selection", "aria-label": "close" }, "\u00d7");
  close.addEventListener("click", actions.onClose);
  panel.append(close, h("h3", {}, view.title), h("div", { class: "ecs-subtitle" }, view.subtitle));
  const onFocus = actions.onFocus;
  if (onFocus && (d.kind === "entity" || d.kind === "execution")) {
    const focusButton = h("button", { type: "button", class: "ecs-focus-here" }, "Focus here");
    focusButton.addEventListener("click", () => onFocus(String(d.id)));
    panel.appendChild(focusButton);
  }
  const image = detailsImage(d);
  if (image) panel.appendChild(figure(image));
  for (const s of view.sections) {
    panel.appendChild(h("h4", {}, s.heading));
    const table = h("table", {});
    for (const [k, v] of s.rows) {
      const tr = h("tr", {});
      tr.append(h("th", {}, k), h("td", {}, v));
      table.appendChild(tr);
    }
    panel.appendChild(table);
  }
  return true;
}

/**
 * A recorded figure in the panel: an <img> of a checked ``data:image/png;base64,`` URL (detailsImage),
 * or the note saying why it is not shown. Alt text and note go in as attribute value and textContent.
 * @param {{src: string, alt: string}|{note: string}} image
 * @returns {HTMLElement}
 */
function figure(image) {
  const box = h("figure", { class: "ecs-image" });
  if ("src" in image) {
    const img = h("img", { alt: image.alt });
    img.src = image.src;
    box.appendChild(img);
  } else {
    box.appendChild(h("figcaption", { class: "ecs-image-note" }, image.note));
  }
  return box;
}

/** Nodes past which edges are hidden while dragging/zooming. */
export const BIG = 800;

/**
 * The vis-network options of the explorer (positions come from the payload: no physics).
 * @param {boolean} big
 * @returns {Record<string, any>}
 */
export function networkOptions(big) {
  return {
    autoResize: true,
    physics: { enabled: false },
    layout: { improvedLayout: false, hierarchical: { enabled: false } },
    interaction: { hover: true, tooltipDelay: 150, multiselect: false, keyboard: false, hideEdgesOnDrag: big, hideEdgesOnZoom: big },
    nodes: { font: { face: "system-ui, -apple-system, Segoe UI, sans-serif" }, margin: { top: 6, bottom: 6, left: 8, right: 8 } },
    edges: {
      smooth: false,
      selectionWidth: 1.5,
      arrows: { to: { enabled: true, scaleFactor: 0.5 } },
      font: { size: 10, color: "#92400e", strokeWidth: 3, align: "top" },
    },
  };
}
