// The messages between the widget renderer (in a notebook's output webview)
// and the extension host, and how they map onto the server's `sessions/comm`,
// `sessions/kernel` and `sessions.widgets`. Pure: no vscode import, so both
// sides share it and it is unit-tested under plain node.
//
// renderer → host: `hello` (once, when the renderer starts), `comm` (a widget
//   model changed in the UI, or a front end opened/closed a comm);
// host → renderer: `snapshot` (the answer to `hello`: every live model of the
//   notebook's kernel), `comm` (a kernel comm message), `kernel` (the kernel's
//   state changed, or it is a new process), `reconnect` (the extension host or
//   the server started again: the kernels the renderer knew are gone, and the
//   new host knows no renderer until it says hello again).

import type {
  CommEvent,
  CommNotification,
  KernelNotification,
  WidgetModelState,
} from "./protocol";

export const WIDGET_RENDERER_ID = "sessions-widgets";
export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";
export const WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json";
/** Output metadata key for a widget output's text/plain, which the renderer (given one item) cannot see otherwise. */
export const WIDGET_TEXT_KEY = "sessionsWidgetText";
/** The comm target of Jupyter widget models. */
export const WIDGET_COMM_TARGET = "jupyter.widget";

/** Kernel states after which the models of that kernel process are gone. */
export const ENDED_KERNEL_STATES: ReadonlySet<string> = new Set(["restarting", "dead", "stopped"]);

export interface HelloMessage {
  type: "hello";
}

/** One comm message, either way; `kernel` is the kernel process it belongs to. */
export type CommMessage = { type: "comm" } & Omit<CommNotification, "uri">;

export interface SnapshotMessage {
  type: "snapshot";
  kernel: string | null;
  state: Record<string, WidgetModelState>;
}

export interface KernelMessage {
  type: "kernel";
  state: string;
  id: string | null;
}

export interface ReconnectMessage {
  type: "reconnect";
}

export type RendererMessage = HelloMessage | CommMessage;
export type HostMessage = SnapshotMessage | CommMessage | KernelMessage | ReconnectMessage;

const COMM_EVENTS: ReadonlySet<string> = new Set(["open", "msg", "close"]);

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/** A comm message from untyped input (a webview or the server), or undefined if it is not one. */
function parseComm(value: Record<string, unknown>): Omit<CommMessage, "type"> | undefined {
  const { kernel, event, commId, targetName, data, metadata, buffers } = value;
  if (typeof kernel !== "string" || typeof event !== "string" || !COMM_EVENTS.has(event)) return undefined;
  if (typeof commId !== "string" || commId === "") return undefined;
  if (targetName !== undefined && typeof targetName !== "string") return undefined;
  if (data !== undefined && !isObject(data)) return undefined;
  if (metadata !== undefined && metadata !== null && !isObject(metadata)) return undefined;
  if (buffers !== undefined && buffers !== null && !isStringArray(buffers)) return undefined;
  return {
    kernel,
    event: event as CommEvent,
    commId,
    ...(typeof targetName === "string" ? { targetName } : {}),
    data: data ?? {},
    ...(isObject(metadata) ? { metadata } : {}),
    ...(isStringArray(buffers) && buffers.length > 0 ? { buffers } : {}),
  };
}

/** What the renderer sent, checked: a webview is another process, its messages are untyped. */
export function parseRendererMessage(value: unknown): RendererMessage | undefined {
  if (!isObject(value)) return undefined;
  if (value.type === "hello") return { type: "hello" };
  if (value.type !== "comm") return undefined;
  const comm = parseComm(value);
  return comm && { type: "comm", ...comm };
}

/** The `sessions/comm` notification for a renderer's comm message. */
export function commToServer(uri: string, message: CommMessage): CommNotification {
  const { type: _type, ...rest } = message;
  return { uri, ...rest };
}

/** The renderer message for a server `sessions/comm` notification; undefined if it is malformed. */
export function commToRenderer(params: unknown): CommMessage | undefined {
  if (!isObject(params)) return undefined;
  const comm = parseComm(params);
  return comm && { type: "comm", ...comm };
}

export function kernelToRenderer(params: KernelNotification): KernelMessage {
  return { type: "kernel", state: String(params.state), id: typeof params.id === "string" ? params.id : null };
}

/** A well-formed model of nbformat's widget state (live or saved). */
export function isModelState(value: unknown): value is WidgetModelState {
  return (
    isObject(value) &&
    typeof value.model_name === "string" &&
    typeof value.model_module === "string" &&
    typeof value.model_module_version === "string" &&
    isObject(value.state)
  );
}

/** The `snapshot` answer from a `sessions.widgets` result; anything malformed counts as "no kernel". */
export function snapshotToRenderer(result: unknown): SnapshotMessage {
  if (!isObject(result) || typeof result.kernel !== "string" || !isObject(result.state)) {
    return { type: "snapshot", kernel: null, state: {} };
  }
  const state: Record<string, WidgetModelState> = {};
  for (const [modelId, model] of Object.entries(result.state)) {
    if (isModelState(model)) state[modelId] = model;
  }
  return { type: "snapshot", kernel: result.kernel, state };
}
