// Unit tests of the pure payload -> vis transforms: `node --test js/test`.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  COLOURS,
  FAILED_MARK,
  STALE_MARK,
  colourKey,
  detailsSections,
  doubleClickAction,
  edgeKey,
  duration,
  formatValue,
  legendItems,
  removedIds,
  searchNodes,
  shortTime,
  summary,
  toVis,
  toVisEdge,
  toVisNode,
} from "../src/transform.js";

const A = "11111111-0000-4000-8000-000000000001";
const B = "22222222-0000-4000-8000-000000000002";
const X = "33333333-0000-4000-8000-000000000003";

/**
 * A payload node (plain data, as Python sends it).
 * @param {Record<string, any>} over
 * @returns {any}
 */
function node(over) {
  return {
    id: A,
    kind: "entity",
    label: "Student Ada",
    title: `${A}\ntype: Student`,
    type: "Student",
    function: null,
    lineage_id: "L1",
    succeeded: null,
    semantics: null,
    stale: false,
    focus: false,
    level: 0,
    x: 0,
    y: 0,
    count: 1,
    members: [],
    ...over,
  };
}

/** @returns {any} */
function payload() {
  return {
    version: 1,
    focus: A,
    depth: 2,
    direction: "both",
    nodes: [
      node({ focus: true }),
      node({ id: B, label: "Report r", type: "Report", semantics: "creation", function: "analyze", x: 480, y: -35 }),
      node({ id: X, kind: "execution", label: "analyze()", type: null, function: "analyze", succeeded: true, x: 240 }),
      node({ id: "more:entity:Course", kind: "aggregate", label: "+3 more Course", type: "Course", count: 3, members: ["m1", "m2", "m3"] }),
    ],
    edges: [
      { id: "e0", from: A, to: X, kind: "input", field: null },
      { id: "e1", from: X, to: B, kind: "output", field: null },
      { id: "e2", from: A, to: "more:entity:Course", kind: "child", field: null },
    ],
    total_nodes: 6,
    shown_nodes: 3,
    aggregated: true,
    filters: {},
  };
}

describe("toVisNode", () => {
  /** @type {Array<[string, any, string, string]>} */
  const cases = [
    ["plain entity", node({}), "entity", "box"],
    ["created entity", node({ semantics: "creation" }), "creation", "box"],
    ["mutated entity", node({ semantics: "MUTATION" }), "mutation", "box"],
    ["detached entity", node({ semantics: "detachment" }), "detachment", "box"],
    ["stale entity", node({ stale: true, semantics: "creation" }), "stale", "box"],
    ["execution", node({ kind: "execution", succeeded: true }), "execution", "hexagon"],
    ["failed execution", node({ kind: "execution", succeeded: false }), "failed", "hexagon"],
    ["aggregate", node({ kind: "aggregate", id: "more:entity:X" }), "aggregate", "database"],
  ];
  for (const [name, n, key, shape] of cases) {
    it(`styles a ${name}`, () => {
      assert.equal(colourKey(n), key);
      const v = toVisNode(n);
      assert.equal(v.shape, shape);
      assert.equal(v.color.background, COLOURS[key].background);
      assert.equal(v.color.border, COLOURS[key].border);
    });
  }

  it("keeps the payload id and position (no physics layout)", () => {
    const v = toVisNode(node({ x: 240, y: -70 }));
    assert.equal(v.id, A);
    assert.deepEqual([v.x, v.y], [240, -70]);
  });

  it("marks failed executions visibly: label, dashed thick border, red", () => {
    const v = toVisNode(node({ kind: "execution", label: "boom()", succeeded: false }));
    assert.ok(v.label.startsWith(FAILED_MARK));
    assert.ok(v.borderWidth >= 3);
    assert.deepEqual(v.shapeProperties.borderDashes, [4, 3]);
    assert.equal(v.color.border, COLOURS.failed.border);
  });

  it("marks stale entities in label and tooltip", () => {
    const v = toVisNode(node({ stale: true }));
    assert.ok(v.label.startsWith(STALE_MARK));
    assert.match(v.title, /STALE/);
  });

  it("gives the focus a heavier border", () => {
    assert.ok(toVisNode(node({ focus: true })).borderWidth > toVisNode(node({})).borderWidth);
  });

  it("always sets the same keys, so DataSet.update never keeps an old style", () => {
    const keys = (/** @type {object} */ o) => Object.keys(o).sort().join();
    const all = payload().nodes.map(toVisNode);
    for (const v of all) assert.equal(keys(v), keys(all[0]));
  });

  it("keeps hostile text as text: label and title are plain strings, unchanged", () => {
    const evil = '<img src=x onerror=window.__xss=1></script>"&';
    const v = toVisNode(node({ label: evil, title: evil }));
    assert.equal(typeof v.title, "string");
    assert.equal(v.label, evil);
    assert.equal(v.title, `${evil}\n${evil}`); // label, then the payload's title
    assert.equal(toVisNode(node({ kind: "aggregate", label: "+3 more", title: "3 more" })).title, "3 more");
  });
});

describe("edges", () => {
  it("styles by kind with a stable id", () => {
    const e = toVisEdge({ id: "e7", from: A, to: B, kind: "borrow", field: "name" });
    assert.equal(e.id, edgeKey({ id: "e0", from: A, to: B, kind: "borrow", field: null }));
    assert.equal(e.label, "name");
    assert.deepEqual(e.dashes, [2, 4]);
    assert.equal(toVisEdge({ id: "e1", from: A, to: B, kind: "version", field: null }).color.color, "#9333ea");
  });

  it("drops edges to nodes that are not drawn", () => {
    const p = payload();
    p.edges.push({ id: "e9", from: A, to: "gone", kind: "input", field: null });
    const vis = toVis(p);
    assert.equal(vis.nodes.length, 4);
    assert.equal(vis.edges.length, 3);
  });

  it("handles an empty or missing payload", () => {
    assert.deepEqual(toVis(null), { nodes: [], edges: [] });
    assert.deepEqual(toVis(/** @type {any} */ ({})), { nodes: [], edges: [] });
  });
});

describe("interaction helpers", () => {
  it("removedIds lists what disappeared", () => {
    assert.deepEqual(removedIds(["a", "b", "c"], ["b", "d"]), ["a", "c"]);
  });

  it("double-click expands an aggregate once, focuses anything else", () => {
    assert.deepEqual(doubleClickAction("more:entity:Course", []), { trait: "expand", value: ["more:entity:Course"] });
    assert.deepEqual(doubleClickAction("more:entity:Course", ["more:entity:Course"]), {
      trait: "expand",
      value: ["more:entity:Course"],
    });
    assert.deepEqual(doubleClickAction(A, ["x"]), { trait: "focus", value: A });
  });

  /** @type {Array<[string, string, string[]]>} */
  const searches = [
    ["full id", A, [A]],
    ["@id prefix", "@2222", [B]],
    ["type", "report", [B]],
    ["function (with parens)", "analyze()", [X, B]],
    ["label words", "ada", [A]],
    ["nothing", "zzz", []],
    ["blank", "  ", []],
  ];
  for (const [name, q, want] of searches) {
    it(`search by ${name}`, () => {
      assert.deepEqual(searchNodes(payload().nodes, q), want);
    });
  }

  it("summary says what is drawn and what is aggregated", () => {
    assert.equal(summary(payload()), "4 nodes drawn of 6, 3 aggregated \u2014 around 11111111 (depth 2, both)");
    assert.match(summary({ ...payload(), focus: null, aggregated: false }), /whole session/);
    assert.equal(summary(null), "no lineage yet");
  });

  it("legend covers every node colour and edge kind", () => {
    const labels = legendItems().map((i) => i.label).join("|");
    for (const word of ["execution", "failed", "stale", "created", "mutated", "detached", "more", "input", "output", "version", "borrow", "child"]) {
      assert.match(labels, new RegExp(word));
    }
  });

  it("legend says how to see aggregated nodes where double-click cannot expand them", () => {
    assert.ok(legendItems().some((i) => i.label === "+N more (double-click)"));
    assert.ok(legendItems("export around a node to see them").some((i) => i.label === "+N more (export around a node to see them)"));
  });
});

describe("details panel", () => {
  it("formats values as single lines of text", () => {
    assert.equal(formatValue("x<b>"), "x<b>");
    assert.equal(formatValue(null), "None");
    assert.equal(formatValue([1, "a", true]), '[1, "a", true]');
    assert.equal(formatValue({ math: 3.5, tags: ["x"] }), '{math: 3.5, tags: ["x"]}');
    assert.equal(formatValue({ entity: A, label: "Course Algebra" }), "Course Algebra @11111111");
    assert.equal(formatValue([{ entity: A, label: "c" }, { entity: B }]), "[c @11111111, @22222222]");
    assert.equal(formatValue({ entity: A, label: "Grade 11111111" }), "Grade @11111111"); // the id once
    assert.equal(formatValue({ entity: A, label: "Grade 11111111 v2" }), "Grade v2 @11111111"); // a version label too
    assert.equal(formatValue({ entity: A, label: "11111111" }), "@11111111");
    assert.ok(formatValue("y".repeat(1000)).length <= 401);
  });

  it("lays out an entity: fields, provenance, versions, the execution and its inputs", () => {
    const view = detailsSections({
      id: B,
      kind: "entity",
      label: "Report r",
      type: "Report",
      fields: { score: 3.5, owner: { entity: A, label: "Student Ada" } },
      provenance: { score: { entity: A, label: "Student Ada" }, tags: [{ entity: A, label: "Student Ada" }] },
      versions: [
        { id: A, created_at: "t0", selected: false, latest: false },
        { id: B, created_at: "t1", selected: true, latest: true },
      ],
      version_count: 2,
      execution: { id: X, function_name: "analyze", succeeded: true, semantics: "creation", direct: true, inputs: [{ id: A, label: "Student Ada" }] },
    });
    assert.equal(view.title, "Report r");
    assert.deepEqual(
      view.sections.map((s) => s.heading),
      ["Fields", "Provenance (attribute_source)", "Versions (2)", "Made by analyze()"],
    );
    assert.deepEqual(view.sections[0].rows, [
      ["score", "3.5"],
      ["owner", "Student Ada @11111111"],
    ]);
    assert.deepEqual(view.sections[1].rows, [
      ["score", "Student Ada @11111111"],
      ["tags", "[Student Ada @11111111]"],
    ]);
    assert.match(view.sections[2].rows[1][1], /this one.*latest/);
    assert.deepEqual(view.sections[3].rows.at(-1), ["input 11111111", "Student Ada"]);
  });

  it("shortens times and durations", () => {
    assert.equal(shortTime("2024-05-01T12:30:05.123+00:00"), "2024-05-01 12:30:05");
    assert.equal(shortTime("not a time"), "not a time");
    assert.equal(duration(0.0000851), "85 \u00b5s");
    assert.equal(duration(0.01234), "12.3 ms");
    assert.equal(duration(2.5), "2.50 s");
    assert.equal(duration(null), "");
  });

  it("lays out an execution with inputs and outputs, and nothing for no selection", () => {
    const view = detailsSections({
      id: X,
      kind: "execution",
      label: "analyze()",
      fields: { started_at: "2024-05-01T12:30:05.1+00:00", duration_s: 0.5 },
      inputs: [],
      outputs: [{ id: B, label: "r", semantics: "creation" }],
    });
    assert.deepEqual(view.sections.map((s) => s.heading), ["Fields", "Inputs", "Outputs"]);
    assert.deepEqual(view.sections[0].rows, [
      ["started_at", "2024-05-01 12:30:05"],
      ["duration_s", "500 ms"],
    ]);
    assert.deepEqual(view.sections[2].rows, [["22222222", "r (creation)"]]);
    assert.deepEqual(detailsSections({}), { title: "", subtitle: "", sections: [] });
  });
});
