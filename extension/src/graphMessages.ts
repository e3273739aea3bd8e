// The messages between the dependency-graph panel (extension host,
// graphPanel.ts) and its webview (graphView/index.ts). Types and a guard only,
// so both sides share them without importing vscode or the DOM.

import type { GraphPayload } from "./protocol";

/** Extension host -> webview. */
export type PanelMessage =
  | { type: "graph"; graph: GraphPayload }
  /** The server could not give the graph (e.g. the file cannot be read). */
  | { type: "error"; message: string };

/** Webview -> extension host. */
export type ViewMessage =
  /** The script loaded (again, after the panel was hidden): send the graph. */
  | { type: "ready" }
  /** A node was clicked: show that cell. */
  | { type: "reveal"; cell: number };

export function isViewMessage(message: unknown): message is ViewMessage {
  if (message === null || typeof message !== "object") return false;
  const { type, cell } = message as { type?: unknown; cell?: unknown };
  return type === "ready" || (type === "reveal" && typeof cell === "number" && Number.isInteger(cell) && cell >= 0);
}
