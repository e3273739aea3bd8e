// Which kernel process the renderer's live models belong to, and what each
// message from the host does to that. Pure (no DOM), so it is unit-tested.
//
// The kernel id changes at every start and restart. Models of an ended kernel
// must never come back to life: a late message of that kernel is dropped, and
// a comm `open` from a kernel the renderer has not heard of means the kernel
// changed without a `sessions/kernel` notice reaching the renderer yet.

import { ENDED_KERNEL_STATES } from "../widgetMessages";
import type { CommEvent } from "../protocol";

/** Why live widgets stopped being live; each has its own placeholder text. */
export type EndReason = "restarted" | "died" | "stopped";

export interface KernelGate {
  /** The kernel whose models are live; null while none is known. */
  readonly current: string | null;
  /** Kernels that ended: their messages are stale. */
  readonly ended: ReadonlySet<string>;
}

export type CommVerdict =
  /** Handle it with the current kernel's models. */
  | { action: "accept" }
  /** A first kernel (none was live): it becomes current. */
  | { action: "adopt"; kernel: string }
  /** Another kernel is live now: end the current one's models, then adopt. */
  | { action: "replace"; kernel: string; reason: EndReason }
  /** Stale: from an ended kernel, or a message for a model the renderer cannot have. */
  | { action: "drop" };

export function judgeComm(gate: KernelGate, kernel: string, event: CommEvent): CommVerdict {
  if (gate.ended.has(kernel)) return { action: "drop" };
  if (gate.current === kernel) return { action: "accept" };
  if (gate.current === null) return { action: "adopt", kernel };
  // Only an `open` proves a new kernel runs; a msg or close of an unknown one has no model here.
  return event === "open" ? { action: "replace", kernel, reason: "restarted" } : { action: "drop" };
}

export interface KernelVerdict {
  /** End the current kernel's models (with this reason), if any. */
  end: EndReason | null;
  /** The kernel that is current afterwards. */
  current: string | null;
}

function reasonOf(state: string): EndReason {
  if (state === "dead") return "died";
  if (state === "stopped") return "stopped";
  return "restarted";
}

/** A `sessions/kernel` state (with the kernel's id, when the server sends it). */
export function judgeKernel(gate: KernelGate, state: string, id: string | null): KernelVerdict {
  if (ENDED_KERNEL_STATES.has(state)) {
    return { end: gate.current !== null ? reasonOf(state) : null, current: null };
  }
  if (id === null || gate.ended.has(id)) return { end: null, current: gate.current };
  if (gate.current !== null && gate.current !== id) return { end: "restarted", current: id };
  return { end: null, current: id };
}

/** The `sessions.widgets` snapshot's kernel (null: none runs). */
export function judgeSnapshot(gate: KernelGate, kernel: string | null): KernelVerdict {
  if (kernel === null) return { end: gate.current !== null ? "stopped" : null, current: null };
  if (gate.ended.has(kernel)) return { end: null, current: gate.current };
  if (gate.current !== null && gate.current !== kernel) return { end: "restarted", current: kernel };
  return { end: null, current: kernel };
}
