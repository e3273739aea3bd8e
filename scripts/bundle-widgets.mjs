#!/usr/bin/env node
// Bundles the widget renderer (extension/src/widgets/index.ts) into one ES
// module for the notebook's output webview: dist/widgets/renderer.js.
// Every CSS file it imports (its own, and the ones @jupyter-widgets requires
// when it loads the controls) is bundled on its own — @imports inlined, fonts
// as data URLs — and becomes a call to injectStyle(css), so there is no
// separate stylesheet to load and no font file to fetch.
//   usage: node scripts/bundle-widgets.mjs [--minify]
import * as path from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const minify = process.argv.includes("--minify");
const injectStyle = path.join(root, "extension", "src", "widgets", "injectStyle.ts");

/**
 * Font Awesome lists each font in five formats; the webview (Chromium) takes
 * the first it supports, woff2, so only woff2 is embedded and the others
 * become empty (never fetched: their format hints are skipped). The other
 * styles use inline data: URIs only.
 */
const fontLoaders = {
  ".woff2": "dataurl",
  ".woff": "empty",
  ".ttf": "empty",
  ".eot": "empty",
  ".svg": "empty",
};

/** @type {esbuild.Plugin} */
const cssAsStyle = {
  name: "css-as-style",
  setup(build) {
    build.onLoad({ filter: /\.css$/ }, async (args) => {
      const result = await esbuild.build({
        entryPoints: [args.path],
        bundle: true,
        write: false,
        minify: true,
        loader: fontLoaders,
        logLevel: "silent",
        outfile: "style.css",
      });
      const css = result.outputFiles.find((file) => file.path.endsWith(".css"))?.text ?? "";
      return {
        contents: `import { injectStyle } from ${JSON.stringify(injectStyle)};\ninjectStyle(${JSON.stringify(css)});\n`,
        loader: "js",
        resolveDir: path.dirname(args.path),
        watchFiles: result.metafile ? Object.keys(result.metafile.inputs) : [args.path],
      };
    });
  },
};

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: ["extension/src/widgets/index.ts"],
  bundle: true,
  platform: "browser",
  format: "esm",
  target: "chrome114",
  minify,
  sourcemap: minify ? false : "linked",
  legalComments: minify ? "none" : "eof",
  outfile: "dist/widgets/renderer.js",
  plugins: [cssAsStyle],
  // @jupyterlab/ui-components imports its icons as SVG source text.
  loader: { ".svg": "text" },
  // Some of the widget packages' dependencies read process.env.NODE_ENV.
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
  metafile: true,
});
const bytes = Object.values(result.metafile.outputs).reduce(
  (total, output) => total + (output.entryPoint ? output.bytes : 0),
  0,
);
console.error(`[bundle-widgets] dist/widgets/renderer.js ${(bytes / 1024 / 1024).toFixed(2)} MB${minify ? " (minified)" : ""}`);
