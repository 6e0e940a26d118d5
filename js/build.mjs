// Bundle the explorer front end into ecs_notebook/static/: the widget (explorer.js + explorer.css)
// and the offline page's script (lineage-page.js + lineage-page.css), from the same sources.
//
//   node build.mjs                  # write ../ecs_notebook/static (the committed bundle)
//   node build.mjs --outdir DIR     # write elsewhere (the bundle check builds into a temp dir)
//
// The output depends only on the sources and the pinned package-lock.json: minified, no source
// maps and no file paths, so a rebuild is byte-identical wherever it runs.

import path from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const at = args.indexOf("--outdir");
const outdir = at >= 0 ? path.resolve(args[at + 1]) : path.join(here, "..", "ecs_notebook", "static");

const common = {
  absWorkingDir: here,
  bundle: true,
  platform: "browser",
  target: ["es2020"],
  minify: true,
  sourcemap: false,
  legalComments: "eof",
  outdir,
  logLevel: "warning",
};
// The widget: an ES module anywidget imports.
await esbuild.build({ ...common, entryPoints: { explorer: "src/index.js" }, format: "esm" });
// The offline page (lineage.html): a classic script inlined into the page, same drawing code.
await esbuild.build({ ...common, entryPoints: { "lineage-page": "src/page.js" }, format: "iife" });
console.log(`built ${path.relative(process.cwd(), outdir) || "."}/{explorer,lineage-page}.{js,css}`);
