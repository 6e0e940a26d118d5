// Pure payload -> vis-network transforms (no DOM): styles by kind and semantics, search, details rows.
//
// Everything here is plain data in, plain data out, so it is unit-tested with `node --test`.
// Text from the payload only ever becomes vis-network labels (drawn on the canvas) or string
// titles (vis-network shows string titles with innerText), never HTML.

/**
 * A node of the explorer payload (ecs_notebook/lineage/payload.py, version 1).
 * @typedef {object} PayloadNode
 * @property {string} id
 * @property {"entity"|"execution"|"aggregate"} kind
 * @property {string} label
 * @property {string} title
 * @property {string|null} type
 * @property {string|null} function
 * @property {string|null} lineage_id
 * @property {boolean|null} succeeded
 * @property {string|null} semantics
 * @property {boolean} stale
 * @property {boolean} focus
 * @property {number} level
 * @property {number} x
 * @property {number} y
 * @property {number} count
 * @property {string[]} members
 */

/**
 * @typedef {object} PayloadEdge
 * @property {string} id
 * @property {string} from
 * @property {string} to
 * @property {"input"|"output"|"version"|"borrow"|"child"} kind
 * @property {string|null} field
 */

/**
 * @typedef {object} Payload
 * @property {number} version
 * @property {string|null} focus
 * @property {number|null} depth
 * @property {string} direction
 * @property {PayloadNode[]} nodes
 * @property {PayloadEdge[]} edges
 * @property {number} total_nodes
 * @property {number} shown_nodes
 * @property {boolean} aggregated
 */

/**
 * @typedef {object} Colour
 * @property {string} background
 * @property {string} border
 */

/**
 * A vis-network node. Every key is always set, so `DataSet.update` never keeps a stale style.
 * @typedef {object} VisNode
 * @property {string} id
 * @property {string} label
 * @property {string} title
 * @property {number} x
 * @property {number} y
 * @property {string} shape
 * @property {number} size
 * @property {{background: string, border: string, highlight: Colour, hover: Colour}} color
 * @property {number} borderWidth
 * @property {number} borderWidthSelected
 * @property {{borderDashes: boolean|number[], borderRadius: number}} shapeProperties
 * @property {{color: string, size: number}} font
 * @property {boolean} shadow
 * @property {string} kind
 */

/**
 * A vis-network edge (arrows and label font are network-wide options, set once).
 * @typedef {object} VisEdge
 * @property {string} id
 * @property {string} from
 * @property {string} to
 * @property {string} label
 * @property {string} title
 * @property {{color: string, highlight: string, hover: string}} color
 * @property {boolean|number[]} dashes
 * @property {number} width
 */

/** Fill and border by what a node is. @type {Record<string, Colour>} */
export const COLOURS = {
  entity: { background: "#e0f2fe", border: "#0284c7" },
  creation: { background: "#dbeafe", border: "#2563eb" },
  mutation: { background: "#fef3c7", border: "#d97706" },
  detachment: { background: "#ede9fe", border: "#7c3aed" },
  execution: { background: "#dcfce7", border: "#16a34a" },
  failed: { background: "#fee2e2", border: "#dc2626" },
  aggregate: { background: "#f1f5f9", border: "#64748b" },
  stale: { background: "#fff7ed", border: "#ea580c" },
};

/** Edge colour and dash pattern by edge kind. */
export const EDGE_STYLES = {
  input: { color: "#64748b", dashes: /** @type {boolean|number[]} */ (false), width: 1 },
  output: { color: "#16a34a", dashes: /** @type {boolean|number[]} */ (false), width: 1.5 },
  version: { color: "#9333ea", dashes: /** @type {boolean|number[]} */ ([6, 4]), width: 1.5 },
  borrow: { color: "#f59e0b", dashes: /** @type {boolean|number[]} */ ([2, 4]), width: 1.5 },
  child: { color: "#94a3b8", dashes: /** @type {boolean|number[]} */ (false), width: 1 },
};

export const FAILED_MARK = "\u2717 "; // "✗ "
export const STALE_MARK = "\u26a0 "; // "⚠ "

/**
 * @param {Colour} c
 * @returns {{background: string, border: string, highlight: Colour, hover: Colour}}
 */
function paint(c) {
  return { background: c.background, border: c.border, highlight: { ...c }, hover: { ...c } };
}

/**
 * The colour key of a payload node: its kind, or for entities how they were made.
 * @param {PayloadNode} n
 * @returns {keyof typeof COLOURS}
 */
export function colourKey(n) {
  if (n.kind === "aggregate") return "aggregate";
  if (n.kind === "execution") return n.succeeded === false ? "failed" : "execution";
  if (n.stale) return "stale";
  const sem = (n.semantics || "").toLowerCase();
  if (sem === "creation" || sem === "mutation" || sem === "detachment") return sem;
  return "entity";
}

/**
 * One payload node as a vis-network node (position from the payload; text stays text).
 * @param {PayloadNode} n
 * @returns {VisNode}
 */
export function toVisNode(n) {
  const key = colourKey(n);
  const failed = n.kind === "execution" && n.succeeded === false;
  let label = String(n.label ?? n.id);
  if (failed) label = FAILED_MARK + label;
  else if (n.kind === "entity" && n.stale) label = STALE_MARK + label;
  let title = String(n.title ?? n.id);
  if (n.kind !== "aggregate" && n.label) title = `${n.label}\n${title}`; // the payload title starts at the id
  if (n.kind === "entity" && n.stale) title += "\nSTALE: derived from a version that is no longer the latest";
  if (n.kind === "entity" && n.semantics) title += `\nmade by: ${String(n.semantics).toLowerCase()}`;
  const shape = n.kind === "execution" ? "hexagon" : n.kind === "aggregate" ? "database" : "box";
  let borderWidth = 1.5;
  if (failed) borderWidth = 3;
  if (n.focus) borderWidth = 4;
  /** @type {boolean|number[]} */
  let dashes = false;
  if (failed) dashes = [4, 3];
  else if (n.kind === "aggregate") dashes = [3, 3];
  else if (n.kind === "entity" && n.stale) dashes = [6, 3];
  return {
    id: String(n.id),
    label,
    title,
    x: Number(n.x) || 0,
    y: Number(n.y) || 0,
    shape,
    size: n.kind === "execution" ? 12 : 16,
    color: paint(COLOURS[key]),
    borderWidth,
    borderWidthSelected: borderWidth + 2,
    shapeProperties: { borderDashes: dashes, borderRadius: 4 },
    font: { color: failed ? "#991b1b" : "#0f172a", size: n.kind === "aggregate" ? 12 : 13 },
    shadow: Boolean(n.focus),
    kind: n.kind,
  };
}

/**
 * A stable front-end id for an edge (payload edge ids are positions, which shift as the graph grows).
 * @param {PayloadEdge} e
 * @returns {string}
 */
export function edgeKey(e) {
  return `${e.from}>${e.to}:${e.kind}`;
}

/**
 * @param {PayloadEdge} e
 * @returns {VisEdge}
 */
export function toVisEdge(e) {
  const style = EDGE_STYLES[e.kind] || EDGE_STYLES.input;
  const field = e.field ? String(e.field) : "";
  return {
    id: edgeKey(e),
    from: String(e.from),
    to: String(e.to),
    label: field,
    title: field ? `${e.kind} (${field})` : String(e.kind),
    color: { color: style.color, highlight: style.color, hover: style.color },
    dashes: style.dashes,
    width: style.width,
  };
}

/**
 * The whole payload as vis-network data.
 * @param {Payload|null|undefined} payload
 * @returns {{nodes: VisNode[], edges: VisEdge[]}}
 */
export function toVis(payload) {
  if (!payload || !Array.isArray(payload.nodes)) return { nodes: [], edges: [] };
  const nodes = payload.nodes.map(toVisNode);
  const ids = new Set(nodes.map((n) => n.id));
  const edges = (payload.edges || []).filter((e) => ids.has(String(e.from)) && ids.has(String(e.to))).map(toVisEdge);
  return { nodes, edges };
}

/**
 * Ids present before but not now (to remove from a DataSet while updating the rest in place).
 * @param {Iterable<string>} before
 * @param {Iterable<string>} now
 * @returns {string[]}
 */
export function removedIds(before, now) {
  const keep = new Set(now);
  return [...before].filter((id) => !keep.has(id));
}

/**
 * What a double-click on ``id`` asks for: expanding an aggregate, or focusing on a node.
 * @param {string} id
 * @param {string[]} expand the current ``expand`` trait
 * @returns {{trait: "expand", value: string[]}|{trait: "focus", value: string}}
 */
export function doubleClickAction(id, expand) {
  if (id.startsWith("more:")) {
    return { trait: "expand", value: expand.includes(id) ? [...expand] : [...expand, id] };
  }
  return { trait: "focus", value: id };
}

/**
 * Ids of the nodes matching a search (id or id prefix, "@id", type, function, label), best first.
 * @param {PayloadNode[]} nodes
 * @param {string} query
 * @returns {string[]}
 */
export function searchNodes(nodes, query) {
  const q = String(query || "").trim().replace(/^@/, "").toLowerCase();
  if (!q) return [];
  /** @type {Array<[number, string]>} */
  const hits = [];
  for (const n of nodes) {
    const id = String(n.id).toLowerCase();
    const type = String(n.type || "").toLowerCase();
    const fn = String(n.function || "").toLowerCase();
    const label = String(n.label || "").toLowerCase();
    const bare = q.replace(/\(\)$/, "");
    let rank = -1;
    if (id === q) rank = 0;
    else if (id.startsWith(q)) rank = 1;
    else if (type === bare || (n.kind !== "entity" && fn === bare)) rank = 2; // a type, or the calls of a function
    else if (label === q) rank = 3;
    else if (fn === bare) rank = 4; // entities made by that function
    else if ((type && type.includes(q)) || (fn && fn.includes(q))) rank = 5;
    else if (label.includes(q)) rank = 6;
    if (rank >= 0) hits.push([rank, String(n.id)]);
  }
  hits.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return hits.map((h) => h[1]);
}

/**
 * One line summarising what is drawn.
 * @param {Payload|null|undefined} payload
 * @returns {string}
 */
export function summary(payload) {
  if (!payload || !Array.isArray(payload.nodes)) return "no lineage yet";
  const drawn = payload.nodes.length;
  const where = payload.focus ? `around ${payload.focus.slice(0, 8)} (depth ${payload.depth ?? "all"}, ${payload.direction})` : "whole session";
  const more = payload.aggregated ? `, ${payload.total_nodes - payload.shown_nodes} aggregated` : "";
  return `${drawn} nodes drawn of ${payload.total_nodes}${more} \u2014 ${where}`;
}

/**
 * Legend rows: what each colour, shape and line style means.
 * @param {string} [aggregateHint] how to see an aggregate's nodes (the offline page cannot expand them)
 */
export function legendItems(aggregateHint = "double-click") {
  return [
    { label: "entity version", shape: "box", colour: COLOURS.entity, dashed: false },
    { label: "created by a call", shape: "box", colour: COLOURS.creation, dashed: false },
    { label: "mutated by a call", shape: "box", colour: COLOURS.mutation, dashed: false },
    { label: "detached by a call", shape: "box", colour: COLOURS.detachment, dashed: false },
    { label: "stale (\u26a0)", shape: "box", colour: COLOURS.stale, dashed: true },
    { label: "execution", shape: "hexagon", colour: COLOURS.execution, dashed: false },
    { label: "failed execution (\u2717)", shape: "hexagon", colour: COLOURS.failed, dashed: true },
    { label: `+N more (${aggregateHint})`, shape: "database", colour: COLOURS.aggregate, dashed: true },
    ...Object.entries(EDGE_STYLES).map(([kind, s]) => ({
      label: `${kind} edge`,
      shape: "line",
      colour: { background: s.color, border: s.color },
      dashed: s.dashes !== false,
    })),
  ];
}

// -- details panel ------------------------------------------------------------------------------

const MAX_TEXT = 400;

/**
 * A value of the details JSON as one line of text (entity references by label and short id).
 * Top-level strings are shown bare; strings inside containers keep their quotes.
 * @param {unknown} v
 * @returns {string}
 */
export function formatValue(v) {
  const s = typeof v === "string" ? v : fmt(v, 0);
  return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) + "\u2026" : s;
}

/**
 * @param {unknown} v
 * @param {number} depth
 * @returns {string}
 */
/**
 * "Grade @c2cc2859" (not "Grade c2cc2859 @c2cc2859") and "Grade v2 @c2cc2859" (not "Grade c2cc2859 v2
 * @c2cc2859"): a label made of the type and short id names the id once.
 * @param {string} label
 * @param {string} id
 * @returns {string}
 */
function entityRef(label, id) {
  const name = label
    .split(" ")
    .filter((word) => word !== id)
    .join(" ")
    .trim();
  return `${name ? name + " " : ""}@${id}`;
}

function fmt(v, depth) {
  if (v === null || v === undefined) return "None";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v !== "object") return String(v);
  if (depth > 8) return "\u2026";
  if (Array.isArray(v)) return `[${v.map((x) => fmt(x, depth + 1)).join(", ")}]`;
  const o = /** @type {Record<string, unknown>} */ (v);
  if (typeof o.entity === "string") return entityRef(String(o.label || ""), o.entity.slice(0, 8));
  return `{${Object.entries(o)
    .map(([k, x]) => `${k}: ${fmt(x, depth + 1)}`)
    .join(", ")}}`;
}

/**
 * An ISO timestamp to the second, without the "T" and the zone ("2024-05-01 12:30:05").
 * @param {unknown} iso
 * @returns {string}
 */
export function shortTime(iso) {
  const s = String(iso ?? "");
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(s);
  return m ? `${m[1]} ${m[2]}` : s;
}

/**
 * Seconds as a short duration ("85 µs", "12.3 ms", "2.50 s").
 * @param {unknown} seconds
 * @returns {string}
 */
export function duration(seconds) {
  const s = Number(seconds);
  if (seconds === null || seconds === undefined || !Number.isFinite(s)) return "";
  if (s < 1e-3) return `${Math.round(s * 1e6)} \u00b5s`;
  if (s < 1) return `${(s * 1e3).toPrecision(3)} ms`;
  return `${s.toFixed(2)} s`;
}

/**
 * @typedef {object} Section
 * @property {string} heading
 * @property {Array<[string, string]>} rows
 */

/**
 * @param {Array<{id: string, label?: string|null, semantics?: string|null}>|undefined} items
 * @returns {Array<[string, string]>}
 */
function refRows(items) {
  return (items || []).map((r) => [String(r.id).slice(0, 8), `${r.label ?? ""}${r.semantics ? ` (${r.semantics})` : ""}`]);
}

/** A PNG's first bytes (its signature), base64-encoded: every image the panel shows starts with it. */
export const PNG_BASE64_PREFIX = "iVBORw0KGgo";
/** Longest base64 text shown as an image (Python embeds PNGs of at most 5 MiB). */
export const MAX_IMAGE_BASE64 = Math.ceil((5 * 2 ** 20) / 3) * 4;
const BASE64 = /^[A-Za-z0-9+/=]+$/;

/**
 * What the details panel shows of a recorded figure (``d.image`` from ecs_notebook/details.py): a
 * ``data:image/png;base64,`` URL and alt text, or a note saying why there is no image, or null.
 * Only a PNG given as base64 (nothing but A-Z a-z 0-9 + / and end padding) becomes a URL; anything else
 * Python or a tampered page could put there is dropped.
 * @param {Record<string, any>|null|undefined} d
 * @returns {{src: string, alt: string}|{note: string}|null}
 */
export function detailsImage(d) {
  const image = d && d.image;
  if (!image || typeof image !== "object") return null;
  const b64 = image.base64;
  if (
    image.mime === "image/png" &&
    typeof b64 === "string" &&
    b64.length <= MAX_IMAGE_BASE64 &&
    b64.length % 4 === 0 &&
    BASE64.test(b64) &&
    paddedAtTheEnd(b64) &&
    b64.startsWith(PNG_BASE64_PREFIX)
  ) {
    const name = d.fields && typeof d.fields.name === "string" ? d.fields.name : String(d.label || "figure");
    return { src: `data:image/png;base64,${b64}`, alt: name };
  }
  if (typeof image.note === "string" && image.note) return { note: image.note };
  return null;
}

/**
 * Whether base64 text has its "=" padding (if any) only as its last one or two characters.
 * @param {string} b64
 * @returns {boolean}
 */
function paddedAtTheEnd(b64) {
  const pad = b64.indexOf("=");
  return pad < 0 || (pad >= b64.length - 2 && b64.slice(pad) === "=".repeat(b64.length - pad));
}

/**
 * The details JSON (from Python) as titled sections of [key, text] rows for the panel.
 * @param {Record<string, any>|null|undefined} d
 * @returns {{title: string, subtitle: string, sections: Section[]}}
 */
export function detailsSections(d) {
  if (!d || !d.id) return { title: "", subtitle: "", sections: [] };
  /** @type {Section[]} */
  const sections = [];
  const title = String(d.label || d.id);
  const subtitle = `${d.kind}${d.type ? " " + d.type : ""} @${String(d.id).slice(0, 8)}`;
  if (d.kind === "aggregate") {
    sections.push({ heading: "Aggregated nodes", rows: [["count", String(d.count)], ["hint", "double-click to draw them"]] });
    return { title, subtitle, sections };
  }
  const fields = d.fields || {};
  /** @param {string} k */
  const show = (k) => {
    if (d.kind === "execution" && k === "started_at") return shortTime(fields[k]);
    if (d.kind === "execution" && k === "duration_s") return duration(fields[k]);
    return formatValue(fields[k]);
  };
  sections.push({ heading: "Fields", rows: Object.keys(fields).map((k) => [k, show(k)]) });
  if (d.kind === "entity") {
    const prov = d.provenance || {};
    const rows = Object.keys(prov).map((k) => /** @type {[string, string]} */ ([k, formatValue(prov[k])]));
    sections.push({ heading: "Provenance (attribute_source)", rows: rows.length ? rows : [["", "every field given literally"]] });
    const versions = d.versions || [];
    sections.push({
      heading: `Versions (${d.version_count ?? versions.length})`,
      rows: versions.map((/** @type {any} */ v) => [
        String(v.id).slice(0, 8),
        `${shortTime(v.created_at)}${v.selected ? "  \u2190 this one" : ""}${v.latest ? "  (latest)" : ""}`,
      ]),
    });
    const x = d.execution;
    if (x) {
      sections.push({
        heading: x.direct === false ? `Earlier version made by ${x.function_name}()` : `Made by ${x.function_name}()`,
        rows: [
          ["execution", String(x.id).slice(0, 8)],
          ["succeeded", String(x.succeeded)],
          ["semantics", x.semantics ?? ""],
          ["started", shortTime(x.started_at)],
          ["duration", duration(x.duration_s)],
          ...refRows(x.inputs).map(([k, v]) => /** @type {[string, string]} */ ([`input ${k}`, v])),
        ],
      });
    }
  } else if (d.kind === "execution") {
    sections.push({ heading: "Inputs", rows: refRows(d.inputs) });
    sections.push({ heading: "Outputs", rows: refRows(d.outputs) });
  }
  return { title, subtitle, sections };
}
