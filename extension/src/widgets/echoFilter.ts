// ipywidgets 8 kernels answer every update from a front end with an
// `echo_update` to all front ends. JupyterLab drops the echoes of its own
// older messages by their parent message id; the bridge carries no message
// ids, so this drops, instead, the keys of an echo that this front end itself
// changed a moment ago: while a slider is dragged, the echo of an earlier
// value would otherwise move it back. The kernel's own corrections (a value
// it clamps) come as `update`, which is never filtered. Pure, unit-tested.

/** How long after sending a key the echoes of that key are taken as answers to it. */
export const ECHO_WINDOW_MS = 1000;

export class EchoFilter {
  private readonly sentAt = new Map<string, number>();

  constructor(
    private readonly windowMs = ECHO_WINDOW_MS,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The data of a message this front end sends: remembers the keys of an update. */
  sending(data: Record<string, unknown>): void {
    if (data.method !== "update" || !isObject(data.state)) return;
    const time = this.now();
    for (const key of Object.keys(data.state)) this.sentAt.set(key, time);
  }

  /** The data of a message from the kernel, without the echoed keys this front end just changed. */
  received(data: Record<string, unknown>): Record<string, unknown> {
    if (data.method !== "echo_update" || !isObject(data.state)) return data;
    // Buffers are placed by path into the state: leave such messages whole.
    if (Array.isArray(data.buffer_paths) && data.buffer_paths.length > 0) return data;
    const time = this.now();
    const state: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(data.state)) {
      const sent = this.sentAt.get(key);
      if (sent !== undefined && time - sent <= this.windowMs) continue;
      this.sentAt.delete(key);
      state[key] = value;
    }
    return { ...data, state };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
