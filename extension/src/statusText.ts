// What the cell and kernel status bar items say. Pure: the texts use VS Code's
// `$(icon)` syntax but need no vscode import, so they are unit-tested.

import type { CellState, KernelInfo } from "./protocol";

export interface StatusView {
  text: string;
  /** Markdown. */
  tooltip: string;
}

/** Seconds → a short human duration: `41 ms`, `0.41s`, `12.3s`, `2m 05s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 0.1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${seconds.toFixed(2)}s`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds - minutes * 60);
  return `${minutes}m ${String(rest).padStart(2, "0")}s`;
}

/** `cell 3 "Load"`, or `cell 3` for an untitled cell. */
export function cellLabel(index: number, title?: string | null): string {
  return title ? `cell ${index} "${title}"` : `cell ${index}`;
}

function names(list: readonly string[] | undefined): string {
  return list && list.length > 0 ? list.map((name) => `\`${name}\``).join(", ") : "—";
}

function upstreamText(causes: readonly number[]): string {
  if (causes.length === 0) return "stale: upstream changed";
  if (causes.length === 1) return `stale: cell ${causes[0]} changed`;
  return `stale: cells ${causes.join(", ")} changed`;
}

/** The short text of a cell's status bar item. */
export function cellStatusText(cell: CellState): string {
  if (cell.running) return "$(sync~spin) running";
  switch (cell.status) {
    case "fresh": {
      if (cell.restored) return "$(history) fresh · restored from checkpoint";
      const took = cell.duration != null ? formatDuration(cell.duration) : "";
      return took ? `$(pass) fresh · ${took}` : "$(pass) fresh";
    }
    case "edited":
      return "$(circle-filled) stale: edited";
    case "upstream":
      return `$(circle-filled) ${upstreamText(cell.causes ?? [])}`;
    case "error":
      return "$(error) error";
    case "never-run":
      return "$(circle-outline) never run";
    default:
      return `$(question) ${String(cell.status)}`;
  }
}

/**
 * The cell status bar item, or null for cells that have none (markdown, raw).
 * `lookup` finds other cells by index, to name the upstream cells that changed.
 */
export function cellStatusView(
  cell: CellState,
  lookup: (index: number) => CellState | undefined = () => undefined,
): StatusView | null {
  if (cell.kind !== "code") return null;
  const lines: string[] = [];
  const status = cell.running ? "running" : cell.status.replace("-", " ");
  lines.push(`**Sessions: ${status}**${cell.reason ? ` — ${cell.reason}` : ""}`);
  const causes = cell.causes ?? [];
  if (causes.length > 0) {
    const labels = causes.map((index) => cellLabel(index, lookup(index)?.title));
    lines.push(`Upstream cell${causes.length > 1 ? "s" : ""} that changed: ${labels.join(", ")}`);
  }
  lines.push(`Defines: ${names(cell.defines)}`);
  lines.push(`Uses: ${names(cell.uses)}`);
  if (cell.mutates && cell.mutates.length > 0) lines.push(`Mutates: ${names(cell.mutates)}`);
  if (cell.duration != null && cell.started) {
    const loaded = cell.loaded ? "loaded in the kernel" : "not loaded in the current kernel";
    lines.push(`Last run: ${formatDuration(cell.duration)}, started ${cell.started} (${loaded})`);
  }
  if (cell.restored) {
    const restored = cell.restored;
    const ran = restored.duration != null ? ` instead of running it again (its run took ${formatDuration(restored.duration)})` : "";
    lines.push(
      `Restored from checkpoint in ${formatDuration(restored.seconds)}${ran}: ${names(restored.names)}. ` +
        "Side effects of the run (files, global settings) were not repeated.",
    );
  }
  return { text: cellStatusText(cell), tooltip: lines.join("\n\n") };
}

const KERNEL_ICONS: Record<string, string> = {
  idle: "$(circle-large-outline)",
  busy: "$(sync~spin)",
  starting: "$(loading~spin)",
  restarting: "$(loading~spin)",
  dead: "$(error)",
  stopped: "$(circle-slash)",
};

/** `/p/.venv/bin/python` → `.venv/bin/python`: short enough for a status bar. */
export function shortInterpreter(path: string): string {
  const parts = path.split(/[\\/]/).filter((part) => part.length > 0);
  return parts.length <= 3 ? path : parts.slice(-3).join("/");
}

/** The kernel status bar item: state and interpreter. */
export function kernelStatusView(kernel: KernelInfo | null | undefined): StatusView {
  const state = kernel?.state ?? "not started";
  const icon = KERNEL_ICONS[state] ?? "$(circle-slash)";
  const python = kernel?.python ?? null;
  const text = python ? `${icon} ${state} · ${shortInterpreter(python)}` : `${icon} ${state}`;
  const lines = [`**Sessions kernel: ${state}**`];
  if (python) lines.push(`Interpreter: \`${python}\`${kernel?.reason ? ` (${kernel.reason})` : ""}`);
  lines.push("Click to pick the kernel's interpreter.");
  return { text, tooltip: lines.join("\n\n") };
}

/** The markdown tooltip as plain text, for places that show no markdown (cell status items). */
export function plainText(markdown: string): string {
  return markdown.replace(/\*\*/g, "").replace(/`/g, "");
}
