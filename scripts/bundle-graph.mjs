#!/usr/bin/env node
// Bundles the dependency-graph webview script (extension/src/graphView/index.ts)
// with mermaid from node_modules into one classic script for the panel's
// webview: dist/graph/graphView.js. Nothing is fetched at run time (no CDN):
// mermaid's lazily imported diagram chunks are inlined by esbuild, since the
// bundle is not split.
//   usage: node scripts/bundle-graph.mjs [--minify]
import * as path from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const minify = process.argv.includes("--minify");

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: ["extension/src/graphView/index.ts"],
  bundle: true,
  platform: "browser",
  format: "iife",
  target: "chrome114",
  minify,
  sourcemap: minify ? false : "linked",
  legalComments: minify ? "none" : "eof",
  outfile: "dist/graph/graphView.js",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
  metafile: true,
});
const bytes = Object.values(result.metafile.outputs).reduce(
  (total, output) => total + (output.entryPoint ? output.bytes : 0),
  0,
);
console.error(`[bundle-graph] dist/graph/graphView.js ${(bytes / 1024 / 1024).toFixed(2)} MB${minify ? " (minified)" : ""}`);
