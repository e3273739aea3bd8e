// The graph panel's Mermaid text: escaping of titles made to break it, node
// ids, edge styles, and the same text as `sessions graph --format mermaid`
// (the repository's .venv) for the same JSON; every diagram is checked with
// Mermaid's own parser (scripts/check-mermaid.mjs, the npm package bundled
// into the webview).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";

import { cellOfNodeId, edgeText, graphMermaid, mermaidText, nodeId } from "../src/graphModel";
import type { CellStatus, GraphEdge, GraphNode, GraphPayload } from "../src/protocol";

const ROOT = path.resolve(__dirname, "../../../..");
const PYTHON = path.join(ROOT, ".venv", "bin", "python");

/** Mermaid's parse errors for `diagrams` (one Node process for all of them). */
function mermaidErrors(diagrams: string[]): string[] {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "graph-model-"));
  try {
    const files = diagrams.map((text, index) => {
      const file = path.join(folder, `diagram-${index}.mmd`);
      fs.writeFileSync(file, text);
      return file;
    });
    const result = spawnSync(process.execPath, [path.join(ROOT, "scripts", "check-mermaid.mjs"), ...files], {
      cwd: ROOT,
      encoding: "utf8",
    });
    const errors = result.stdout.split("\n").filter((line) => line !== "" && !line.startsWith("ok "));
    if (result.status !== 0 && errors.length === 0) errors.push(result.stderr || `exit ${String(result.status)}`);
    return errors;
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

const decoded = (text: string): string => text.replace(/#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));

const TRICKY = [
  'Load "data"',
  "brackets [x] (y) {z} <b>bold</b>",
  "pipes | and %% and #35; and ;",
  "end",
  "style:#f00;",
  "back\\slash and `ticks` & ampersand",
  "unicode: café ✓ 🚀 日本",
  "click c0 call alert(1)",
];
const STATUSES: CellStatus[] = ["fresh", "edited", "upstream", "error", "never-run"];
const KINDS: GraphEdge["kind"][] = ["value", "mutation", "state"];

function node(cell: number, label: string, fields: Partial<GraphNode> = {}): GraphNode {
  return {
    cell,
    label,
    title: label,
    line: cell * 3,
    status: STATUSES[cell % STATUSES.length] as CellStatus,
    reason: "",
    defines: [],
    mutates: [],
    cycle: false,
    ...fields,
  };
}

function edge(from: number, to: number, labels: string[], fields: Partial<GraphEdge> = {}): GraphEdge {
  return { from, to, kind: "value", names: labels, labels, backward: false, cycle: false, ...fields };
}

describe("graphModel", () => {
  it("escapes every character that could end a label, losslessly", () => {
    for (const title of TRICKY) {
      const escaped = mermaidText(title);
      assert.doesNotMatch(escaped, /["[\]{}()<>|%`&\\:]/, escaped);
      assert.equal(decoded(escaped), title);
    }
  });

  it("maps node ids to cells and nothing else", () => {
    assert.equal(nodeId(12), "c12");
    assert.equal(cellOfNodeId("c12"), 12);
    assert.equal(cellOfNodeId("sessions-graph-3-flowchart-c12-4"), 12, "the SVG element's id");
    for (const other of ["L_c0_c1_0", "c", "c1x", "sessions-graph-3-L-c0-c1-0", "", null, undefined]) {
      assert.equal(cellOfNodeId(other), undefined, String(other));
    }
  });

  it("labels edges with at most three names, mutations in words", () => {
    assert.equal(edgeText(edge(0, 1, ["a", "b", "c", "d", "e"])), "a, b, c, +2 more");
    assert.equal(edgeText(edge(0, 1, ["xs"], { kind: "mutation" })), "mutates xs");
  });

  it("draws kinds, statuses, cycles and backward arrows, and Mermaid parses it", () => {
    const nodes = TRICKY.map((title, cell) => node(cell, title, { cycle: cell === 1 || cell === 2 }));
    const edges = [
      ...TRICKY.slice(0, -1).map((title, cell) => edge(cell, cell + 1, [title], { kind: KINDS[cell % 3] })),
      edge(2, 1, ["a", "b", "c", "d"], { backward: true, cycle: true }),
      edge(4, 0, ["x"], { backward: true }),
    ];
    const text = graphMermaid({ nodes, edges });
    assert.ok(text.startsWith("flowchart TB\n"));
    assert.ok(text.includes("  c0 -->|") && text.includes("  c1 ==>|") && text.includes("  c2 -.->|"));
    assert.ok(text.includes("  class c0,c5 fresh\n"));
    assert.ok(text.includes("  class c4 neverrun\n"));
    assert.ok(text.includes("  style c1 stroke:#d32f2f,stroke-width:3px\n"));
    assert.ok(text.includes("  linkStyle 7 stroke:#d32f2f,color:#d32f2f\n"));
    assert.ok(text.includes("  linkStyle 8 stroke:#ef6c00,color:#ef6c00\n"));
    assert.deepEqual(mermaidErrors([text, graphMermaid({ nodes: [], edges: [] })]), []);
  });

  it("draws what `sessions graph --format mermaid` draws", { skip: !fs.existsSync(PYTHON) && "no .venv" }, () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "graph-model-"));
    try {
      const notebook = path.join(folder, "nb.py");
      fs.writeFileSync(
        notebook,
        [
          '"""Tricky <b>"title"</b>."""\nimport random',
          '# %% Load [x] | %% "data"\nxs = []\nrandom.seed(0)',
          "# %%\n# why\nxs.append(random.random())",
          "# %% Loop\ny = later + sum(xs)",
          "# %% Later\nlater = y * 2",
        ].join("\n\n") + "\n",
      );
      const sessions = (format: string): string =>
        execFileSync(PYTHON, ["-m", "sessions.cli", "graph", notebook, "--format", format], { encoding: "utf8" });
      const payload = JSON.parse(sessions("json")) as GraphPayload;
      assert.equal(payload.cycles.length, 1);
      assert.equal(graphMermaid(payload), sessions("mermaid"));
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
