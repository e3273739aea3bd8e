// Renders a notebook's dependency graph with mermaid (bundled, no network)
// into the panel, and makes each cell's node a button: a tooltip with its
// status and why, keyboard focus, and a callback with the cell's index.

import mermaid from "mermaid";

import { cellOfNodeId, graphMermaid, nodeId, STATUS_TEXT } from "../graphModel";
import type { GraphNode, GraphPayload } from "../protocol";

const SVG = "http://www.w3.org/2000/svg";

let renders = 0;

function isDark(): boolean {
  const classes = document.body.classList;
  return classes.contains("vscode-dark") || classes.contains("vscode-high-contrast");
}

function tooltip(node: GraphNode): string {
  const lines = [`cell ${node.cell} · ${STATUS_TEXT[node.status] ?? node.status}`];
  if (node.reason && node.status !== "fresh") lines.push(node.reason);
  if (node.defines.length) lines.push(`defines: ${node.defines.join(", ")}`);
  if (node.mutates.length) lines.push(`mutates: ${node.mutates.join(", ")}`);
  if (node.cycle) lines.push("in a dependency cycle");
  lines.push("click to show the cell");
  return lines.join("\n");
}

/** The SVG elements of the cells' nodes (mermaid's element id names the node's, `c3`). */
function nodeElements(root: ParentNode): Map<number, Element> {
  const found = new Map<number, Element>();
  for (const element of root.querySelectorAll("g.node")) {
    const cell = cellOfNodeId(element.getAttribute("data-id") ?? element.id);
    if (cell !== undefined) found.set(cell, element);
  }
  return found;
}

/**
 * Draws `graph` into `target`, replacing what was there, keeping the scroll
 * position; false when a newer call started meanwhile (its drawing wins).
 */
export async function renderGraph(
  target: HTMLElement,
  graph: GraphPayload,
  onReveal: (cell: number) => void,
): Promise<boolean> {
  const mine = ++renders;
  mermaid.initialize({
    startOnLoad: false,
    // Labels are escaped by graphModel and sanitized again by mermaid.
    securityLevel: "strict",
    theme: isDark() ? "dark" : "default",
    // A 250-cell notebook has more edges than mermaid's default limit of 500.
    maxEdges: 20_000,
    maxTextSize: 5_000_000,
    // Wide enough that "3 · Total" and "● stale: upstream" stay on one line each.
    flowchart: { useMaxWidth: false, htmlLabels: true, wrappingWidth: 320 },
  });
  const { svg } = await mermaid.render(`sessions-graph-${mine}`, graphMermaid(graph));
  if (mine !== renders) return false;
  const { scrollLeft, scrollTop } = target;
  target.innerHTML = svg;
  target.scrollLeft = scrollLeft;
  target.scrollTop = scrollTop;
  const byCell = new Map(graph.nodes.map((node) => [node.cell, node]));
  for (const [cell, element] of nodeElements(target)) {
    const node = byCell.get(cell);
    if (!node) continue;
    // A stable handle on the node (mermaid's own ids carry a render counter).
    element.setAttribute("data-cell", String(cell));
    element.setAttribute("tabindex", "0");
    element.setAttribute("role", "button");
    element.setAttribute("aria-label", `${nodeId(cell)}: cell ${cell}, ${node.label}, ${node.status}`);
    const title = document.createElementNS(SVG, "title");
    title.textContent = tooltip(node);
    element.prepend(title);
    element.addEventListener("click", () => onReveal(cell));
    element.addEventListener("keydown", (event) => {
      const key = (event as KeyboardEvent).key;
      if (key === "Enter" || key === " ") {
        event.preventDefault();
        onReveal(cell);
      }
    });
  }
  return true;
}
