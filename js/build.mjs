// Bundle the explorer front end into ecs_notebook/static/ (explorer.js + explorer.css).
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

await esbuild.build({
  absWorkingDir: here,
  entryPoints: { explorer: "src/index.js" },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  sourcemap: false,
  legalComments: "eof",
  outdir,
  logLevel: "warning",
});
console.log(`built ${path.relative(process.cwd(), outdir) || "."}/explorer.{js,css}`);
