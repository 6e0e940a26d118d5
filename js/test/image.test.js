// Unit tests of the details panel's figure rule (detailsImage): which `image` JSON becomes an <img>
// source, and that everything else does not. `node --test js/test`.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { MAX_IMAGE_BASE64, PNG_BASE64_PREFIX, detailsImage } from "../src/transform.js";

// A real 1x1 PNG.
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/**
 * Details of a recorded figure variable, as ecs_notebook/details.py sends them.
 * @param {any} image
 * @param {Record<string, any>} [fields]
 * @returns {any}
 */
function details(image, fields = { name: "fig", value: "<matplotlib.figure.Figure: 640x480>" }) {
  return { id: "11111111-0000-4000-8000-000000000001", kind: "entity", label: "fig (Figure)", type: "Variable", fields, image };
}

describe("detailsImage", () => {
  it("turns a PNG in base64 into a data: URL with the variable name as alt text", () => {
    assert.deepEqual(detailsImage(details({ mime: "image/png", base64: PNG, bytes: 70 })), { src: `data:image/png;base64,${PNG}`, alt: "fig" });
    assert.ok(PNG.startsWith(PNG_BASE64_PREFIX));
  });

  it("keeps a hostile variable name as alt text (an attribute value, never markup)", () => {
    const evil = '"><script>alert(1)</script>';
    const got = detailsImage(details({ mime: "image/png", base64: PNG }, { name: evil }));
    assert.deepEqual(got, { src: `data:image/png;base64,${PNG}`, alt: evil });
  });

  it("accepts the largest PNG Python embeds (5 MiB) quickly, and nothing longer", () => {
    const body = "A".repeat(MAX_IMAGE_BASE64 - PNG_BASE64_PREFIX.length - 1);
    const largest = `${PNG_BASE64_PREFIX}${body}=`;
    assert.equal(largest.length, MAX_IMAGE_BASE64);
    assert.ok(detailsImage(details({ mime: "image/png", base64: largest })));
    assert.equal(detailsImage(details({ mime: "image/png", base64: `${largest}AAAA` })), null);
  });

  const rejected = /** @type {Array<[string, any]>} */ ([
    ["a javascript: URL", "javascript:alert(1)"],
    ["a data URL of another type", "data:text/html;base64,PHNjcmlwdD4="],
    ["markup", '"><img src=x onerror=alert(1)>'],
    ["a quote breaking out of the URL", `${PNG}"onerror="alert(1)`],
    ["spaces and newlines", `${PNG.slice(0, 40)}\n${PNG.slice(40)}`],
    ["base64 that is not a PNG (a GIF)", "R0lGODlhAQABAAAAACw="],
    ["padding in the middle", `${PNG.slice(0, 20)}==${PNG.slice(22)}`],
    ["a length that is not a multiple of 4", PNG.slice(0, -1)],
    ["url-safe base64", PNG.replace("+", "-")],
    ["an empty string", ""],
    ["a number", 12345],
    ["an array", [PNG]],
    ["an object", { toString: () => PNG }],
    ["null", null],
  ]);
  for (const [what, base64] of rejected) {
    it(`shows no image for ${what}`, () => {
      assert.equal(detailsImage(details({ mime: "image/png", base64 })), null);
    });
  }

  it("shows no image for another MIME type, a missing or odd image, or no details", () => {
    assert.equal(detailsImage(details({ mime: "image/svg+xml", base64: PNG })), null);
    assert.equal(detailsImage(details({ base64: PNG })), null);
    assert.equal(detailsImage(details(undefined)), null);
    assert.equal(detailsImage(details(PNG)), null);
    assert.equal(detailsImage(details([PNG])), null);
    assert.equal(detailsImage(null), null);
    assert.equal(detailsImage(undefined), null);
  });

  it("passes on Python's note when a figure is not shown (as text), and ignores a non-string note", () => {
    assert.deepEqual(detailsImage(details({ note: "figure not shown: the stored image is not a PNG" })), {
      note: "figure not shown: the stored image is not a PNG",
    });
    assert.equal(detailsImage(details({ note: { html: "<b>x</b>" } })), null);
    assert.equal(detailsImage(details({ note: "" })), null);
  });
});
