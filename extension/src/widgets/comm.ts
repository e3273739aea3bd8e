// A comm of a live widget model, proxied: what the model sends goes to the
// extension host (renderer messaging), then to the server (`sessions/comm`),
// then to the kernel; what the kernel sends comes back through `receive`.
// It has the "classic comm" shape the widget managers of @jupyter-widgets use.

import type { ICallbacks, IClassicComm } from "@jupyter-widgets/base";

import type { CommEvent, CommNotification } from "../protocol";
import { bufferToBase64 } from "./buffers";
import { EchoFilter } from "./echoFilter";

/** One outgoing comm message, before the host adds the notebook and the kernel. */
export type OutgoingComm = Omit<CommNotification, "uri" | "kernel">;

/**
 * No kernel status comes back through the bridge, but a widget model sends
 * its next update only after the kernel reported "idle" for the previous one
 * (and merges the changes made meanwhile): an idle status is made up this long
 * after each message, which keeps a dragged slider to one update per interval
 * and the last value always sent.
 */
export const THROTTLE_MS = 40;

type Handler = (message: unknown) => void;

function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

export class ProxyComm implements IClassicComm {
  private onMessage: Handler | undefined;
  private onClose: Handler | undefined;
  private live = true;
  private sent = 0;
  private readonly echoes = new EchoFilter();

  constructor(
    readonly comm_id: string,
    readonly target_name: string,
    private readonly transport: (message: OutgoingComm) => void,
  ) {}

  open(data: unknown, callbacks?: ICallbacks, metadata?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): string {
    return this.post("open", data, callbacks, metadata, buffers);
  }

  send(data: unknown, callbacks?: ICallbacks, metadata?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): string {
    return this.post("msg", data, callbacks, metadata, buffers);
  }

  close(data?: unknown, callbacks?: ICallbacks, metadata?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): string {
    const id = this.post("close", data, callbacks, metadata, buffers);
    this.live = false;
    return id;
  }

  on_msg(callback: Handler): void {
    this.onMessage = callback;
  }

  on_close(callback: Handler): void {
    this.onClose = callback;
  }

  /**
   * A comm_msg from the kernel, in the shape the model's handler reads. It has
   * no parent header (the bridge carries none), so the model applies an
   * `echo_update` like an update: the echo filter drops what would undo a
   * change this front end just made.
   */
  receive(data: Record<string, unknown>, metadata: Record<string, unknown> | undefined, buffers: DataView[]): void {
    const content = { comm_id: this.comm_id, data: this.echoes.received(data) };
    this.onMessage?.({ content, metadata: metadata ?? {}, buffers });
  }

  /** The kernel closed the comm: the model closes (and its views go). */
  receiveClose(data: Record<string, unknown>, metadata: Record<string, unknown> | undefined): void {
    this.live = false;
    this.onClose?.({ content: { comm_id: this.comm_id, data }, metadata: metadata ?? {} });
  }

  /** The kernel process is gone: nothing more is sent, not even the close of its models. */
  detach(): void {
    this.live = false;
  }

  private post(
    event: CommEvent,
    data: unknown,
    callbacks: ICallbacks | undefined,
    metadata: unknown,
    buffers: ArrayBuffer[] | ArrayBufferView[] | undefined,
  ): string {
    if (!this.live) return "";
    this.sent += 1;
    const encoded = (buffers ?? []).map((buffer: ArrayBuffer | ArrayBufferView) => bufferToBase64(buffer));
    const body = asObject(data);
    this.echoes.sending(body);
    this.transport({
      event,
      commId: this.comm_id,
      ...(event === "open" ? { targetName: this.target_name } : {}),
      data: body,
      ...(metadata !== undefined ? { metadata: asObject(metadata) } : {}),
      ...(encoded.length > 0 ? { buffers: encoded } : {}),
    });
    const status = callbacks?.iopub?.status as Handler | undefined;
    if (status) setTimeout(() => status({ content: { execution_state: "idle" } }), THROTTLE_MS);
    return `${this.comm_id}.${this.sent}`;
  }
}
