// Kernel outputs (nbformat dicts) → notebook output items, and the Jupyter
// rules for accumulating the `sessions/output` stream of one cell's run.
// Pure: no vscode import, so it is unit-tested under plain node.

import type { NbOutput } from "./protocol";
import { WIDGET_STATE_MIME, WIDGET_TEXT_KEY, WIDGET_VIEW_MIME } from "./widgetMessages";

/** The mime types VS Code's built-in renderers use for streams and errors. */
export const STDOUT_MIME = "application/vnd.code.notebook.stdout";
export const STDERR_MIME = "application/vnd.code.notebook.stderr";
export const ERROR_MIME = "application/vnd.code.notebook.error";

/** Richest first: VS Code shows the first item it can render. */
const MIME_PREFERENCE = [
  "application/vnd.jupyter.widget-view+json",
  "application/vnd.jupyter.widget-state+json",
  "application/javascript",
  "text/html",
  "image/svg+xml",
  "image/png",
  "image/jpeg",
  "image/gif",
  "text/markdown",
  "text/latex",
  "application/json",
  "text/plain",
];

/** Image types whose nbformat value is base64 text of binary data. */
const BASE64_MIMES = new Set(["image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp"]);

export interface OutputItemSpec {
  mime: string;
  data: Uint8Array;
}

export interface OutputSpec {
  items: OutputItemSpec[];
  metadata: Record<string, unknown>;
}

const encoder = new TextEncoder();

/** nbformat multiline strings are a string or a list of strings. */
export function joinText(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map((part) => (typeof part === "string" ? part : "")).join("");
  return "";
}

function isJsonMime(mime: string): boolean {
  return mime === "application/json" || mime.endsWith("+json");
}

function itemFor(mime: string, value: unknown): OutputItemSpec {
  if (BASE64_MIMES.has(mime)) {
    const base64 = joinText(value).replace(/\s+/g, "");
    return { mime, data: new Uint8Array(Buffer.from(base64, "base64")) };
  }
  if (isJsonMime(mime) && typeof value !== "string") {
    return { mime, data: encoder.encode(JSON.stringify(value)) };
  }
  return { mime, data: encoder.encode(joinText(value)) };
}

function mimeRank(mime: string): number {
  const rank = MIME_PREFERENCE.indexOf(mime);
  return rank === -1 ? MIME_PREFERENCE.indexOf("text/plain") - 0.5 : rank;
}

/** The items of a display_data / execute_result `data` bundle, richest first. */
export function bundleItems(data: unknown): OutputItemSpec[] {
  if (data === null || typeof data !== "object") return [];
  const entries = Object.entries(data as Record<string, unknown>);
  entries.sort(([a], [b]) => mimeRank(a) - mimeRank(b));
  return entries.map(([mime, value]) => itemFor(mime, value));
}

/** The error item VS Code's error renderer expects: `{name, message, stack}`. */
export function errorItem(output: NbOutput): OutputItemSpec {
  const traceback = Array.isArray(output.traceback) ? output.traceback.map(String) : [];
  const payload = {
    name: typeof output.ename === "string" ? output.ename : "Error",
    message: typeof output.evalue === "string" ? output.evalue : "",
    stack: traceback.join("\n"),
  };
  return { mime: ERROR_MIME, data: encoder.encode(JSON.stringify(payload)) };
}

/**
 * What the widget renderer needs beside the view item: the saved state of the
 * models (to show the widget static when no kernel runs it) and the text/plain
 * fallback (a renderer sees only its own item). Empty for other outputs.
 */
function widgetMetadata(output: NbOutput): Record<string, unknown> {
  const data = output.data;
  if (data === null || typeof data !== "object" || !(WIDGET_VIEW_MIME in data)) return {};
  const extra: Record<string, unknown> = {};
  const metadata = output.metadata;
  if (metadata !== null && typeof metadata === "object" && WIDGET_STATE_MIME in metadata) {
    extra[WIDGET_STATE_MIME] = (metadata as Record<string, unknown>)[WIDGET_STATE_MIME];
  }
  const text = joinText((data as Record<string, unknown>)["text/plain"]);
  if (text !== "") extra[WIDGET_TEXT_KEY] = text;
  return extra;
}

/** One nbformat output → one notebook output; null for messages that are not outputs. */
export function toOutputSpec(output: NbOutput): OutputSpec | null {
  const metadata = { outputType: output.output_type };
  switch (output.output_type) {
    case "stream": {
      const mime = output.name === "stderr" ? STDERR_MIME : STDOUT_MIME;
      return { items: [{ mime, data: encoder.encode(joinText(output.text)) }], metadata };
    }
    case "display_data":
    case "execute_result":
    case "update_display_data": {
      const items = bundleItems(output.data);
      return items.length > 0 ? { items, metadata: { ...metadata, ...widgetMetadata(output) } } : null;
    }
    case "error":
      return { items: [errorItem(output)], metadata };
    default:
      return null;
  }
}

/** Every renderable output of a list, in order. */
export function toOutputSpecs(outputs: readonly NbOutput[]): OutputSpec[] {
  return outputs.map(toOutputSpec).filter((spec): spec is OutputSpec => spec !== null);
}

/** One cell's outputs while a run streams in. */
export interface CellOutputs {
  run: number | null;
  outputs: NbOutput[];
  /** A `clear_output(wait=True)` arrived: clear just before the next output. */
  clearPending: boolean;
}

export function emptyCellOutputs(run: number | null = null): CellOutputs {
  return { run, outputs: [], clearPending: false };
}

function displayId(output: NbOutput): string | undefined {
  const transient = output.transient;
  if (transient === null || typeof transient !== "object") return undefined;
  const id = (transient as Record<string, unknown>).display_id;
  return typeof id === "string" ? id : undefined;
}

/**
 * Adds one `sessions/output` message to a cell's outputs, as Jupyter front
 * ends do (docs/protocol.md): the first message of a new run starts from an
 * empty list; streams of the same name merge; clear_output clears (with
 * `wait`, just before the next output); update_display_data replaces the data
 * of earlier outputs with the same display id. Returns a new value.
 */
export function accumulate(state: CellOutputs, run: number, output: NbOutput): CellOutputs {
  const current = run === state.run ? state : emptyCellOutputs(run);
  const type = output.output_type;
  if (type === "clear_output") {
    return output.wait === true
      ? { run, outputs: current.outputs, clearPending: true }
      : emptyCellOutputs(run);
  }
  if (type === "update_display_data") {
    const id = displayId(output);
    if (id === undefined) return current;
    const outputs = current.outputs.map((existing) =>
      displayId(existing) === id
        ? { ...existing, data: output.data, metadata: output.metadata ?? existing.metadata }
        : existing,
    );
    return { run, outputs, clearPending: current.clearPending };
  }
  const outputs = current.clearPending ? [] : [...current.outputs];
  const last = outputs[outputs.length - 1];
  if (type === "stream" && last?.output_type === "stream" && last.name === output.name) {
    outputs[outputs.length - 1] = { ...last, text: joinText(last.text) + joinText(output.text) };
  } else if (type === "stream") {
    outputs.push({ ...output, text: joinText(output.text) });
  } else {
    outputs.push(output);
  }
  return { run, outputs, clearPending: false };
}
