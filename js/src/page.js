// The offline lineage page (ecs_notebook/lineage/export.py, `%ecs_export html`): the explorer's own
// drawing (transform.js: palette, marks, labels; panel.js: legend, details) on data embedded in the
// page, with no Python behind it. Loads nothing; shows entity data as text only.

import { DataSet } from "vis-data/esnext/esm/vis-data.js";
import { Network } from "vis-network/esnext/esm/vis-network.js";

import { h } from "./dom.js";
import { BIG, fillDetails, legend, networkOptions } from "./panel.js";
import { searchNodes, summary, toVis } from "./transform.js";
import "./explorer.css";
import "./page.css";

/** Zoom below which 13 px labels get hard to read: a large graph opens at this zoom, not shrunk to fit. */
export const MIN_READABLE_SCALE = 0.8;

/**
 * @typedef {object} PageData
 * @property {string} heading
 * @property {import("./transform.js").Payload} payload
 * @property {Record<string, Record<string, any>>} details node id -> details JSON
 */

/**
 * Draw the page into ``mount`` from ``data``.
 * @param {HTMLElement} mount
 * @param {PageData} data
 */
export function renderPage(mount, data) {
  const payload = data.payload;
  const root = /** @type {HTMLDivElement & {ecsNetwork?: Network}} */ (h("div", { class: "ecs-explorer ecs-page" }));
  const toolbar = h("div", { class: "ecs-toolbar" });
  const title = h("h1", { class: "ecs-title" }, String(data.heading || "lineage"));
  const search = h("input", { type: "search", class: "ecs-search", placeholder: "search id/type/function", "aria-label": "search" });
  const fitButton = h("button", { type: "button", class: "ecs-fit", title: "show the whole graph (labels may get small)" }, "Fit all");
  toolbar.append(title, search, fitButton);

  const body = h("div", { class: "ecs-body" });
  const canvas = h("div", { class: "ecs-canvas" });
  const details = h("aside", { class: "ecs-details", "aria-label": "details" });
  details.hidden = true;
  body.append(canvas, legend(true, "not drawn here"), details);

  const status = h("div", { class: "ecs-status" });
  const summaryText = h("span", { class: "ecs-summary" }, summary(payload));
  const message = h("span", { class: "ecs-message" }, "click a node for its fields and provenance");
  status.append(summaryText, message);
  root.append(toolbar, body, status);
  mount.appendChild(root);

  const vis = toVis(payload);
  const nodes = new DataSet(vis.nodes);
  const edges = new DataSet(vis.edges);
  const network = new Network(canvas, { nodes, edges }, networkOptions(vis.nodes.length > BIG));
  root.ecsNetwork = network;

  /** @param {string} id */
  function select(id) {
    const shown = fillDetails(details, id ? data.details[id] : null, { onClose: () => select("") });
    details.hidden = !shown;
    if (id && nodes.get(id)) network.selectNodes([id], false);
    else network.unselectAll();
    root.setAttribute("data-selected", id);
  }

  network.on("click", (/** @type {{nodes: string[]}} */ params) => select(params.nodes.length ? String(params.nodes[0]) : ""));

  let hits = /** @type {string[]} */ ([]);
  let at = 0;
  function runSearch() {
    const found = searchNodes(payload.nodes || [], search.value);
    if (!found.length) {
      message.textContent = search.value.trim() ? `nothing matches "${search.value.trim()}"` : "";
      return;
    }
    at = found.join() === hits.join() ? (at + 1) % found.length : 0;
    hits = found;
    select(found[at]);
    network.focus(found[at], { scale: Math.max(network.getScale(), 1), animation: false });
    message.textContent = found.length > 1 ? `match ${at + 1} of ${found.length} (Enter for next)` : "";
  }
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      runSearch();
    }
  });
  fitButton.addEventListener("click", () => network.fit({ animation: false }));

  // Open readable: fit the graph, but never below MIN_READABLE_SCALE (a large graph opens on its
  // focus, or its middle, and is panned/zoomed from there); then mark the page ready.
  let fitted = false;
  network.on("afterDrawing", () => {
    if (!fitted) {
      fitted = true;
      network.fit({ animation: false, minZoomLevel: MIN_READABLE_SCALE });
      if (network.getScale() <= MIN_READABLE_SCALE) openAtStart(network, canvas, payload.focus && nodes.get(payload.focus) ? payload.focus : null);
      return;
    }
    if (!root.hasAttribute("data-ecs-ready")) {
      root.setAttribute("data-node-count", String(vis.nodes.length));
      root.setAttribute("data-ecs-ready", "1");
    }
  });
  network.redraw();
}

/**
 * A graph too large to fit readably opens on its focus, or else at its start (top left: the
 * oldest versions, where reading begins), at MIN_READABLE_SCALE.
 * @param {Network} network
 * @param {HTMLElement} canvas
 * @param {string|null} focus
 */
function openAtStart(network, canvas, focus) {
  const scale = MIN_READABLE_SCALE;
  if (focus) {
    network.focus(focus, { scale, animation: false });
    return;
  }
  const ids = /** @type {string[]} */ (Object.keys(network.getPositions()));
  if (!ids.length) return;
  let minX = Infinity;
  let minY = Infinity;
  for (const id of ids) {
    const box = network.getBoundingBox(id); // the drawn box, label included
    minX = Math.min(minX, box.left);
    minY = Math.min(minY, box.top);
  }
  const margin = 16;
  network.moveTo({
    position: { x: minX - margin + canvas.clientWidth / (2 * scale), y: minY - margin + canvas.clientHeight / (2 * scale) },
    scale,
    animation: false,
  });
}

const source = document.getElementById("ecs-data");
const mount = document.getElementById("ecs-page");
if (source && mount) renderPage(mount, JSON.parse(source.textContent || "{}"));
