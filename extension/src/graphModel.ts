// The dependency graph of `sessions.graph` as Mermaid flowchart text, for the
// graph panel's webview. Pure (no vscode, no DOM): the JSON of docs/cli.md in,
// text out. It draws what `sessions graph --format mermaid` draws — a node per
// cell coloured by status, solid / thick / dotted arrows for values,
// mutations and hidden state, orange arrows up the file, red cycles — and
// names each node `c<index>`, the id the webview maps a click back to.

import type { CellStatus, GraphEdge, GraphNode, GraphPayload } from "./protocol";

/** Names an edge label lists before "+N more". */
export const EDGE_NAMES = 3;

export const STATUS_TEXT: Record<CellStatus, string> = {
  fresh: "✓ fresh",
  edited: "● stale: edited",
  upstream: "● stale: upstream",
  error: "✗ error",
  "never-run": "○ never run",
};

/** Status -> fill, border, text: light fills with dark text read on light and dark themes. */
export const STATUS_COLOURS: Record<CellStatus, readonly [string, string, string]> = {
  fresh: ["#dcf5e3", "#2e7d32", "#123d1c"],
  edited: ["#ffe3b3", "#e08a00", "#4d2f00"],
  upstream: ["#fff3cd", "#c9a227", "#4d3d00"],
  error: ["#f9d6d5", "#c62828", "#4a0e0e"],
  "never-run": ["#eceff1", "#90a4ae", "#37474f"],
};

export const CYCLE_COLOUR = "#d32f2f";
export const BACKWARD_COLOUR = "#ef6c00";

const ARROWS: Record<GraphEdge["kind"], string> = { value: "-->", mutation: "==>", state: "-.->" };

export function nodeId(cell: number): string {
  return `c${cell}`;
}

/**
 * The cell a node's id names: `c3` (the id in the text), or the SVG element's
 * id mermaid makes of it (`<diagram>-flowchart-c3-<n>`); else undefined (an
 * edge's or a label's id).
 */
export function cellOfNodeId(id: string | null | undefined): number | undefined {
  const match = /^(?:.*-flowchart-)?c(\d+)(?:-\d+)?$/.exec(id ?? "");
  return match ? Number(match[1]) : undefined;
}

/** A status as a Mermaid class name (letters only: `never-run` -> `neverrun`). */
export function statusClass(status: string): string {
  return status.replace(/-/g, "");
}

/**
 * `text` safe inside a quoted Mermaid label: every ASCII punctuation character
 * but `_.,-` and space becomes an entity code (`"` -> `#34;`), so quotes,
 * brackets, pipes, `%%`, `#` and HTML in a title are shown, never read.
 */
export function mermaidText(text: string): string {
  return text.replace(/[\r\n\t]/g, " ").replace(/[!-\/:-@\[-`{-~]/g, (char) =>
    "_.,-".includes(char) ? char : `#${char.charCodeAt(0)};`,
  );
}

export function edgeText(edge: GraphEdge, limit = EDGE_NAMES): string {
  const shown = edge.labels.slice(0, limit);
  if (edge.labels.length > limit) shown.push(`+${edge.labels.length - limit} more`);
  const text = shown.join(", ");
  return edge.kind === "mutation" ? `mutates ${text}` : text;
}

export function nodeLines(node: GraphNode): [string, string] {
  return [`${node.cell} · ${node.label}`, STATUS_TEXT[node.status] ?? node.status];
}

export function graphMermaid(graph: Pick<GraphPayload, "nodes" | "edges">): string {
  const lines = ["flowchart TB"];
  for (const node of graph.nodes) {
    const [first, second] = nodeLines(node);
    lines.push(`  ${nodeId(node.cell)}["${mermaidText(first)}<br/>${mermaidText(second)}"]`);
  }
  for (const edge of graph.edges) {
    lines.push(`  ${nodeId(edge.from)} ${ARROWS[edge.kind]}|"${mermaidText(edgeText(edge))}"| ${nodeId(edge.to)}`);
  }
  for (const [status, [fill, stroke, colour]] of Object.entries(STATUS_COLOURS)) {
    lines.push(`  classDef ${statusClass(status)} fill:${fill},stroke:${stroke},color:${colour}`);
  }
  const byStatus = new Map<string, string[]>();
  for (const node of graph.nodes) {
    const name = statusClass(node.status);
    byStatus.set(name, [...(byStatus.get(name) ?? []), nodeId(node.cell)]);
  }
  for (const [name, ids] of byStatus) lines.push(`  class ${ids.join(",")} ${name}`);
  for (const node of graph.nodes) {
    if (node.cycle) lines.push(`  style ${nodeId(node.cell)} stroke:${CYCLE_COLOUR},stroke-width:3px`);
  }
  graph.edges.forEach((edge, number) => {
    const colour = edge.cycle ? CYCLE_COLOUR : edge.backward ? BACKWARD_COLOUR : undefined;
    if (colour) lines.push(`  linkStyle ${number} stroke:${colour},color:${colour}`);
  });
  return `${lines.join("\n")}\n`;
}
