// The dependency-graph webview's script (bundled into dist/graph/graphView.js):
// receives the graph from the panel, draws it, says what it shows (cells,
// arrows, cycles, sidecar problems), and asks the panel to reveal a clicked cell.

import { isViewMessage, type PanelMessage, type ViewMessage } from "../graphMessages";
import type { GraphPayload } from "../protocol";
import { renderGraph } from "./render";

interface VsCodeApi {
  postMessage(message: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const post = (message: ViewMessage): void => {
  if (isViewMessage(message)) vscode.postMessage(message);
};

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the graph page has no #${id}`);
  return found;
}

const summary = element("summary");
const problems = element("problems");
const canvas = element("graph");

function describe(graph: GraphPayload): string {
  const cells = graph.nodes.length;
  const stale = graph.nodes.filter((node) => node.status === "edited" || node.status === "upstream").length;
  const parts = [`${graph.notebook}: ${cells} cell${cells === 1 ? "" : "s"}`, `${stale} stale`];
  parts.push(`${graph.edges.length} arrow${graph.edges.length === 1 ? "" : "s"}`);
  if (graph.cycles.length) {
    const listed = graph.cycles.map((cycle) => cycle.join(" ↔ ")).join("; ");
    parts.push(`cycle${graph.cycles.length === 1 ? "" : "s"}: cells ${listed}`);
  }
  return parts.join(" · ");
}

async function show(graph: GraphPayload): Promise<void> {
  summary.textContent = describe(graph);
  problems.textContent = graph.problems.join("\n");
  problems.hidden = graph.problems.length === 0;
  if (graph.nodes.length === 0) {
    canvas.textContent = "No code cells yet.";
    return;
  }
  try {
    if (await renderGraph(canvas, graph, (cell) => post({ type: "reveal", cell }))) {
      document.body.dataset.version = String(graph.version ?? "");
    }
  } catch (error) {
    problems.hidden = false;
    problems.textContent = `The graph could not be drawn: ${error instanceof Error ? error.message : String(error)}`;
  }
}

window.addEventListener("message", (event: MessageEvent<PanelMessage>) => {
  const message = event.data;
  if (message?.type === "graph") void show(message.graph);
  else if (message?.type === "error") {
    problems.hidden = false;
    problems.textContent = message.message;
  }
});
post({ type: "ready" });
