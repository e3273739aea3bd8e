#!/usr/bin/env node
// Checks Mermaid diagrams with Mermaid's own parser (the npm package the
// dependency-graph webview bundles), in Node, without a browser: what
// `sessions graph --format mermaid` and the extension's graph model write
// must parse. Each argument is a file of one diagram ("-": stdin). Prints
// `ok FILE` per diagram, or the parser's error, and exits 1 if any failed.
//   usage: node scripts/check-mermaid.mjs DIAGRAM.mmd [...]
//
// Mermaid sanitizes labels with DOMPurify, which needs a DOM to start; parsing
// does not sanitize, so a loader hook gives it an inert stand-in.
import * as fs from "node:fs";
import { register } from "node:module";

const stub = "export default { addHook() {}, removeHook() {}, removeAllHooks() {}, sanitize: (text) => text };";
const loader = `export async function resolve(specifier, context, next) {
  if (specifier === "dompurify") return { url: ${JSON.stringify(`data:text/javascript,${encodeURIComponent(stub)}`)}, shortCircuit: true };
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(loader)}`);
const { default: mermaid } = await import("mermaid");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/check-mermaid.mjs DIAGRAM.mmd [...]   (- reads stdin)");
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  const text = fs.readFileSync(file === "-" ? 0 : file, "utf8");
  try {
    await mermaid.parse(text);
    console.log(`ok ${file}`);
  } catch (error) {
    failed += 1;
    console.log(`error ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
process.exit(failed ? 1 : 0);
