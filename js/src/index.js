// The lineage explorer: an anywidget front end drawing the explorer payload with vis-network.
//
// Python computes everything (selection, layout, details); this module draws the payload at the
// positions it gives (no physics), and talks back only by setting traits:
// selected, focus, depth, direction, filters, expand, export_request.

import { DataSet } from "vis-data/esnext/esm/vis-data.js";
import { Network } from "vis-network/esnext/esm/vis-network.js";

import { clear, h, select } from "./dom.js";
import { BIG, fillDetails, legend, networkOptions } from "./panel.js";
import { doubleClickAction, removedIds, searchNodes, summary, toVis } from "./transform.js";
import "./explorer.css";

/**
 * The part of an anywidget model this view uses.
 * @typedef {object} Model
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 * @property {(event: string, cb: (...args: any[]) => void) => void} on
 * @property {(event: string, cb: (...args: any[]) => void) => void} off
 */

const DEPTHS = /** @type {Array<[string, string]>} */ ([
  ["1", "depth 1"],
  ["2", "depth 2"],
  ["3", "depth 3"],
  ["4", "depth 4"],
  ["6", "depth 6"],
  ["10", "depth 10"],
  ["", "depth: all"],
]);

/**
 * Set traits and send them to Python in one message.
 * @param {Model} model
 * @param {Record<string, any>} values
 */
function send(model, values) {
  for (const [k, v] of Object.entries(values)) model.set(k, v);
  model.save_changes();
}

/**
 * Draw the explorer into ``el``; returns the cleanup anywidget calls when the view goes away.
 * @param {{model: Model, el: HTMLElement}} ctx
 * @returns {() => void}
 */
function render({ model, el }) {
  // -- layout -----------------------------------------------------------------------------
  const root = /** @type {HTMLDivElement & {ecsNetwork?: Network}} */ (h("div", { class: "ecs-explorer" }));
  const toolbar = h("div", { class: "ecs-toolbar" });
  const search = h("input", { type: "search", class: "ecs-search", placeholder: "search id/type/function", title: "search by id, type, function or label; Enter for the next match", "aria-label": "search" });
  const depth = select(DEPTHS, "depth (entity steps from the focus)");
  depth.classList.add("ecs-depth");
  const direction = select(
    [
      ["both", "\u2195 up & down"],
      ["up", "\u2191 upstream"],
      ["down", "\u2193 downstream"],
    ],
    "direction: what the focus derives from (upstream), what derives from it (downstream), or both",
  );
  direction.classList.add("ecs-direction");
  const typeFilter = filterBox("types", "Types");
  const fnFilter = filterBox("functions", "Functions");
  const fitButton = h("button", { type: "button", class: "ecs-fit", title: "fit the graph in view" }, "Fit");
  const sessionButton = h("button", { type: "button", class: "ecs-session", title: "show the whole session" }, "Session");
  const exportButton = h("button", { type: "button", class: "ecs-export", title: "write a standalone HTML page" }, "Export HTML");
  toolbar.append(
    search,
    depth,
    direction,
    typeFilter.box,
    fnFilter.box,
    fitButton,
    sessionButton,
    exportButton,
  );

  const body = h("div", { class: "ecs-body" });
  const canvas = h("div", { class: "ecs-canvas" });
  const details = h("aside", { class: "ecs-details", "aria-label": "details" });
  details.hidden = true;
  body.append(canvas, legend(), details);

  const status = h("div", { class: "ecs-status" });
  const summaryText = h("span", { class: "ecs-summary" });
  const message = h("span", { class: "ecs-message" });
  const errorText = h("span", { class: "ecs-error", role: "alert" });
  status.append(summaryText, message, errorText);

  root.append(toolbar, body, status);
  el.appendChild(root);

  // -- network ----------------------------------------------------------------------------
  // The first payload goes in at construction (one pass; vis-network fits it in view itself).
  const first = model.get("graph");
  const initial = toVis(first);
  const nodes = new DataSet(initial.nodes);
  const edges = new DataSet(initial.edges);
  let big = initial.nodes.length > BIG;
  const network = new Network(canvas, { nodes, edges }, networkOptions(big));
  root.ecsNetwork = network;

  // Fit again on the first visible draw if the view was built detached (no size, so vis-network's
  // own fit was meaningless), and whenever the payload's focus changes (a new view, not a refresh).
  let needFit = canvas.clientWidth === 0;
  /** @type {number|null} */
  let pendingCount = initial.nodes.length;
  /** @type {string|null} */
  let drawnFocus = first && first.focus ? first.focus : null;
  let searchHits = /** @type {string[]} */ ([]);
  let searchIndex = 0;
  summaryText.textContent = summary(first);

  function applyGraph() {
    const payload = model.get("graph");
    const vis = toVis(payload);
    nodes.remove(removedIds(/** @type {string[]} */ (nodes.getIds()), vis.nodes.map((n) => n.id)));
    edges.remove(removedIds(/** @type {string[]} */ (edges.getIds()), vis.edges.map((e) => e.id)));
    nodes.update(vis.nodes);
    edges.update(vis.edges);
    if (big !== vis.nodes.length > BIG) {
      big = !big;
      network.setOptions({ interaction: { hideEdgesOnDrag: big, hideEdgesOnZoom: big } });
    }
    const focus = payload && payload.focus ? payload.focus : null;
    if (focus !== drawnFocus) needFit = true;
    drawnFocus = focus;
    showSelection();
    summaryText.textContent = summary(payload);
    pendingCount = vis.nodes.length;
    network.redraw();
  }

  network.on("afterDrawing", () => {
    if (canvas.clientWidth === 0) return;
    if (needFit) {
      needFit = false;
      network.fit({ animation: false }); // redraws; the next afterDrawing marks the view ready
      return;
    }
    if (pendingCount !== null) {
      root.setAttribute("data-node-count", String(pendingCount));
      root.setAttribute("data-ecs-ready", "1");
      pendingCount = null;
    }
  });

  function showSelection() {
    const sel = model.get("selected");
    if (sel && nodes.get(sel)) network.selectNodes([sel], false);
    else if (network.getSelectedNodes().length || network.getSelectedEdges().length) network.unselectAll(); // it redraws at once
  }

  // vis-network leaves a tooltip up when the pointer leaves the canvas; hide it (its internals,
  // guarded: at worst the tooltip stays, as without this).
  const hideTooltip = () => {
    const ih = /** @type {any} */ (network).interactionHandler;
    if (ih && ih.popup) {
      clearTimeout(ih.popupTimer);
      ih.popupObj = undefined;
      ih.popup.hide();
    }
  };
  canvas.addEventListener("mouseleave", hideTooltip);

  network.on("click", (/** @type {{nodes: string[], edges: string[]}} */ params) => {
    const id = params.nodes.length ? String(params.nodes[0]) : "";
    if (id !== model.get("selected")) send(model, { selected: id });
  });
  network.on("doubleClick", (/** @type {{nodes: string[]}} */ params) => {
    if (!params.nodes.length) return;
    const action = doubleClickAction(String(params.nodes[0]), model.get("expand") || []);
    send(model, { [action.trait]: action.value });
  });

  // -- controls ---------------------------------------------------------------------------
  function runSearch() {
    const payload = model.get("graph");
    const q = search.value;
    const hits = searchNodes((payload && payload.nodes) || [], q);
    if (!hits.length) {
      message.textContent = q.trim() ? `nothing in this view matches "${q.trim()}"` : "";
      return;
    }
    if (hits.join() === searchHits.join()) searchIndex = (searchIndex + 1) % hits.length;
    else searchIndex = 0;
    searchHits = hits;
    const id = hits[searchIndex];
    network.selectNodes([id], false);
    network.focus(id, { scale: Math.max(network.getScale(), 1), animation: false });
    message.textContent = hits.length > 1 ? `match ${searchIndex + 1} of ${hits.length} (Enter for next)` : "";
    if (id !== model.get("selected")) send(model, { selected: id });
  }
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      runSearch();
    }
  });
  search.addEventListener("change", runSearch);
  depth.addEventListener("change", () => send(model, { depth: depth.value === "" ? null : Number(depth.value) }));
  direction.addEventListener("change", () => send(model, { direction: direction.value }));
  fitButton.addEventListener("click", () => network.fit({ animation: { duration: 250, easingFunction: "easeInOutQuad" } }));
  sessionButton.addEventListener("click", () => send(model, { focus: "", expand: [] }));
  exportButton.addEventListener("click", () => send(model, { export_request: (model.get("export_request") || 0) + 1 }));

  function showControls() {
    const d = model.get("depth");
    const value = d === null || d === undefined ? "" : String(d);
    if (![...depth.options].some((o) => o.value === value)) depth.appendChild(h("option", { value }, `depth ${value}`));
    depth.value = value;
    direction.value = model.get("direction") || "both";
    const options = model.get("filter_options") || {};
    const filters = model.get("filters") || {};
    typeFilter.fill(options.types || [], filters.types || []);
    fnFilter.fill(options.functions || [], filters.functions || []);
  }

  /**
   * A dropdown of checkboxes setting ``filters[key]`` (none checked: no filter).
   * @param {"types"|"functions"} key
   * @param {string} name
   */
  function filterBox(key, name) {
    const box = h("details", { class: `ecs-filter ecs-filter-${key}` });
    const head = h("summary", {}, `${name}: all`);
    const list = h("div", { class: "ecs-filter-list" });
    box.append(head, list);
    list.addEventListener("change", () => {
      const checked = [...list.querySelectorAll("input:checked")].map((i) => /** @type {HTMLInputElement} */ (i).value);
      const filters = { ...(model.get("filters") || {}) };
      filters[key] = checked;
      send(model, { filters });
    });
    /**
     * @param {string[]} all
     * @param {string[]} checked
     */
    function fill(all, checked) {
      clear(list);
      const on = new Set(checked);
      for (const value of all) {
        const input = h("input", { type: "checkbox", value });
        input.checked = on.has(value);
        const label = h("label", {});
        label.append(input, document.createTextNode(" " + value));
        list.appendChild(label);
      }
      if (!all.length) list.appendChild(h("span", { class: "ecs-muted" }, "none recorded"));
      head.textContent = on.size ? `${name}: ${on.size} selected` : `${name}: all`;
    }
    return { box, fill };
  }

  function showDetails() {
    const d = model.get("details");
    const shown = fillDetails(details, d, {
      onClose: () => send(model, { selected: "" }),
      onFocus: (/** @type {string} */ id) => send(model, { focus: id }),
    });
    details.hidden = !shown;
  }

  const showStatus = () => {
    message.textContent = model.get("status") || "";
  };
  const showError = () => {
    errorText.textContent = model.get("error") || "";
  };

  /** @type {Array<[string, () => void]>} */
  const handlers = [
    ["change:graph", applyGraph],
    ["change:selected", showSelection],
    ["change:details", showDetails],
    ["change:status", showStatus],
    ["change:error", showError],
    ["change:depth", showControls],
    ["change:direction", showControls],
    ["change:filters", showControls],
    ["change:filter_options", showControls],
  ];
  for (const [event, cb] of handlers) model.on(event, cb);

  showControls();
  showSelection();
  showDetails();
  showStatus();
  showError();

  return () => {
    for (const [event, cb] of handlers) model.off(event, cb);
    canvas.removeEventListener("mouseleave", hideTooltip);
    network.destroy();
    delete root.ecsNetwork;
    root.remove();
  };
}

export default { render };
