// The widgets of one notebook webview: one live widget manager (the models of
// the kernel process that runs now, with proxied comms), the outputs that show
// them, and what happens when the kernel changes. Several outputs of one model
// are views of the same live model, so they stay in sync.
//
// A widget output shows, in this order of preference:
//   1. its live model (waiting up to MODEL_WAIT_MS for it: an output may be
//      rendered before its model's comm `open` arrives; one that arrives
//      later still replaces what the output settled for);
//   2. a placeholder, if its model was live in a kernel that ended since;
//   3. its saved state (output metadata, else a widget-state output of the
//      same notebook), static, when no kernel runs it;
//   4. a one-line notice with its text/plain.
//
// A `application/vnd.jupyter.widget-state+json` output (what an embedding
// tool writes, or a kernel displays raw) shows one line; its models join the
// saved state the widget outputs of this webview can show.

import { put_buffers, type DOMWidgetView } from "@jupyter-widgets/base";
import type { OutputItem } from "vscode-notebook-renderer";

import type { WidgetModelState } from "../protocol";
import { WIDGET_COMM_TARGET, WIDGET_STATE_MIME, type CommMessage, type HostMessage, type RendererMessage } from "../widgetMessages";
import { base64ToDataView } from "./buffers";
import { ProxyComm, type OutgoingComm } from "./comm";
import { judgeComm, judgeKernel, judgeSnapshot, type EndReason, type KernelVerdict } from "./kernelGate";
import { SessionsWidgetManager } from "./manager";
import { endedText, missingText, savedNote, showNotice, stateText } from "./notices";
import {
  savedWidgetState,
  viewModelId,
  widgetStateDocument,
  widgetText,
  type WidgetStateDocument,
} from "./savedState";

/** How long an output waits for its model to arrive from the kernel. */
export const MODEL_WAIT_MS = 2000;
/** How long the renderer waits for the host's snapshot before it goes on without one. */
export const SNAPSHOT_WAIT_MS = 3000;
/** The widget protocol version a comm `open` without metadata is taken to speak. */
const PROTOCOL_VERSION = "2.1.0";

/** The models of one kernel process. */
interface LiveKernel {
  id: string | null;
  manager: SessionsWidgetManager;
  comms: Map<string, ProxyComm>;
}

/** One rendered widget output. */
interface Shown {
  element: HTMLElement;
  modelId: string;
  /** Still deciding what to show (waiting for the snapshot or the model). */
  deciding: boolean;
  /** Whether it is still the output's current rendering. */
  current: () => boolean;
  /** Set while it shows a live view of this kernel's model. */
  live?: LiveKernel;
  view?: DOMWidgetView;
  /** The manager of its saved state, when it shows that. */
  saved?: SessionsWidgetManager;
  /** Set while it shows the "not available" notice (a widget-state output may still bring its model). */
  missing?: boolean;
}

type Post = (message: RendererMessage) => void;

export class WidgetHost {
  private kernel: LiveKernel;
  /** Kernel processes that ended: their late messages are dropped. */
  private readonly endedKernels = new Set<string>();
  /** Models that were live in an ended kernel, and why it ended. */
  private readonly endedModels = new Map<string, EndReason>();
  private readonly shown = new Map<string, Shown>();
  /** Host messages that came before the snapshot, applied after it. */
  private queued: HostMessage[] | undefined = [];
  /** Resolved once the snapshot asked for by the last hello arrived (or was given up on). */
  private settled: Promise<void> = Promise.resolve();
  private settle: () => void = () => undefined;
  /** Woken whenever models or the kernel change, by outputs waiting for a model. */
  private readonly wakers = new Set<() => void>();
  /** The models of the widget-state outputs rendered in this webview. */
  private readonly embedded: Record<string, WidgetModelState> = {};

  constructor(private readonly post: Post | undefined) {
    this.kernel = this.newKernel(null);
    if (post) {
      this.hello(post);
    } else {
      // No messaging (e.g. a diff view): saved state only.
      this.queued = undefined;
    }
  }

  /** Asks the host for the live models; host messages wait until they came. */
  private hello(post: Post): void {
    const queued: HostMessage[] = [];
    this.queued = queued;
    this.settled = new Promise((resolve) => (this.settle = resolve));
    post({ type: "hello" });
    setTimeout(() => {
      if (this.queued === queued) this.drainQueue();
    }, SNAPSHOT_WAIT_MS);
  }

  receive(message: HostMessage): void {
    if (message.type === "reconnect") {
      // A new extension host or server: the kernels this renderer knew died with the old one.
      if (this.kernel.id !== null || this.kernel.comms.size > 0) this.endKernel("stopped");
      if (this.post) this.hello(this.post);
      return;
    }
    if (message.type !== "snapshot" && this.queued) {
      this.queued.push(message);
      return;
    }
    try {
      if (message.type === "snapshot") this.applySnapshot(message.kernel, message.state);
      else if (message.type === "comm") this.applyComm(message);
      else if (message.type === "kernel") this.applyVerdict(judgeKernel(this.gate(), message.state, message.id));
    } catch (error) {
      console.error("[sessions widgets] message not applied", message, error);
    }
    if (message.type === "snapshot") this.drainQueue();
  }

  async render(item: OutputItem, element: HTMLElement, signal: AbortSignal): Promise<void> {
    this.dispose(item.id);
    if (item.mime === WIDGET_STATE_MIME) return this.renderState(item, element);
    let modelId: string | undefined;
    try {
      modelId = viewModelId(item.json());
    } catch {
      modelId = undefined;
    }
    const current = (): boolean => this.shown.get(item.id) === shown && !signal.aborted;
    const shown: Shown = { element, modelId: modelId ?? "", deciding: true, current };
    this.shown.set(item.id, shown);
    const own = savedWidgetState(item.metadata);
    const fallback = widgetText(item.metadata);
    const missing = (): void => {
      shown.missing = true;
      showNotice(element, missingText(fallback), "missing");
    };
    try {
      if (modelId === undefined) return showNotice(element, missingText(fallback), "missing");
      const saved = own?.state[modelId] ? own : this.embeddedState(modelId);
      if (this.queued && !this.kernel.manager.has_model(modelId)) {
        showNotice(element, "Loading widget…", "waiting");
        await this.settled;
        if (!current()) return;
      }
      const live = await this.liveKernelOf(modelId, saved !== undefined, signal);
      if (!current()) return;
      shown.deciding = false;
      if (live) return await this.showLive(shown, live);
      const ended = this.endedModels.get(modelId);
      if (ended) return showNotice(element, endedText(ended), "ended");
      const latest = saved ?? this.embeddedState(modelId);
      if (latest) return await this.showSaved(shown, latest);
      missing();
    } catch (error) {
      console.error(`[sessions widgets] could not show widget ${modelId ?? "?"}`, error);
      if (current()) missing();
    } finally {
      shown.deciding = false;
    }
  }

  /**
   * A widget-state output: one line saying what it holds; its models become
   * saved state for the widget outputs that have none of their own, and those
   * that said "not available" show them now.
   */
  private renderState(item: OutputItem, element: HTMLElement): void {
    let document: WidgetStateDocument | undefined;
    try {
      document = widgetStateDocument(item.json());
    } catch {
      document = undefined;
    }
    const count = document ? Object.keys(document.state).length : 0;
    showNotice(element, stateText(count), "state");
    if (!document || count === 0) return;
    Object.assign(this.embedded, structuredClone(document.state));
    for (const shown of this.shown.values()) {
      if (!shown.missing || shown.deciding || !shown.current()) continue;
      const saved = this.embeddedState(shown.modelId);
      if (!saved) continue;
      shown.missing = false;
      void this.showSaved(shown, saved).catch((error: unknown) =>
        console.error(`[sessions widgets] could not show widget ${shown.modelId}`, error),
      );
    }
  }

  /** The embedded widget state, when it has `modelId`. */
  private embeddedState(modelId: string): WidgetStateDocument | undefined {
    if (!this.embedded[modelId]) return undefined;
    return { version_major: 2, version_minor: 0, state: this.embedded };
  }

  dispose(id?: string): void {
    for (const key of id === undefined ? [...this.shown.keys()] : [id]) {
      const shown = this.shown.get(key);
      if (!shown) continue;
      this.shown.delete(key);
      shown.view?.remove();
      if (shown.saved) void shown.saved.clear_state().catch(() => undefined);
    }
  }

  private newKernel(id: string | null): LiveKernel {
    const kernel: LiveKernel = {
      id,
      comms: new Map(),
      manager: new SessionsWidgetManager((targetName, commId) =>
        kernel === this.kernel && kernel.id !== null ? this.comm(kernel, commId, targetName) : undefined,
      ),
    };
    return kernel;
  }

  private gate(): { current: string | null; ended: ReadonlySet<string> } {
    return { current: this.kernel.id, ended: this.endedKernels };
  }

  private drainQueue(): void {
    const queued = this.queued ?? [];
    this.queued = undefined;
    this.settle();
    for (const message of queued) this.receive(message);
  }

  private wake(): void {
    for (const waker of [...this.wakers]) waker();
  }

  /** Waits until something changes, `ms` passes or the render is aborted. */
  private changed(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakers.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
      signal.addEventListener("abort", done);
    });
  }

  /** The live kernel that has `modelId`, waiting a little for it; undefined when it is not coming. */
  private async liveKernelOf(modelId: string, hasSaved: boolean, signal: AbortSignal): Promise<LiveKernel | undefined> {
    const deadline = Date.now() + MODEL_WAIT_MS;
    for (;;) {
      if (this.kernel.manager.has_model(modelId)) return this.kernel;
      if (this.endedModels.has(modelId) || !this.post) return undefined;
      // No kernel runs and the output has its state: a reopened notebook, nothing to wait for.
      if (this.kernel.id === null && hasSaved) return undefined;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal.aborted) return undefined;
      await this.changed(remaining, signal);
    }
  }

  private async showLive(shown: Shown, kernel: LiveKernel): Promise<void> {
    shown.live = kernel; // claimed at once, so an upgrade does not start a second view
    let view: DOMWidgetView;
    try {
      const model = await kernel.manager.get_model(shown.modelId);
      view = (await kernel.manager.create_view(model, {})) as DOMWidgetView;
    } catch (error) {
      if (shown.live === kernel) shown.live = undefined;
      throw error;
    }
    if (!shown.current() || kernel !== this.kernel || shown.live !== kernel) {
      view.remove();
      return;
    }
    const container = document.createElement("div");
    shown.element.replaceChildren(container);
    shown.missing = false;
    this.dropSaved(shown);
    await kernel.manager.display_view(view, container);
    shown.view = view;
  }

  /** Forgets the saved-state rendering of an output (its models, its view). */
  private dropSaved(shown: Shown): void {
    if (!shown.saved) return;
    shown.view?.remove();
    shown.view = undefined;
    void shown.saved.clear_state().catch(() => undefined);
    shown.saved = undefined;
  }

  /**
   * Models arrived: outputs that settled for their saved state or a notice
   * (the snapshot came late, or the model's `open` after its output) show
   * the live model now.
   */
  private upgrade(): void {
    for (const shown of this.shown.values()) {
      if (shown.deciding || shown.live || this.endedModels.has(shown.modelId)) continue;
      if (!this.kernel.manager.has_model(shown.modelId)) continue;
      void this.showLive(shown, this.kernel).catch((error: unknown) =>
        console.error(`[sessions widgets] could not show widget ${shown.modelId}`, error),
      );
    }
  }

  private async showSaved(shown: Shown, saved: WidgetStateDocument): Promise<void> {
    // A manager of its own: saved models must not mix with live ones, nor with
    // another output's saved state of the same model id.
    const manager = new SessionsWidgetManager(undefined);
    shown.saved = manager;
    await manager.set_state(structuredClone(saved) as unknown as Parameters<SessionsWidgetManager["set_state"]>[0]);
    const model = await manager.get_model(shown.modelId);
    const view = (await manager.create_view(model, {})) as DOMWidgetView;
    if (!shown.current() || shown.saved !== manager) {
      view.remove();
      void manager.clear_state().catch(() => undefined);
      return;
    }
    const container = document.createElement("div");
    shown.element.replaceChildren(container, savedNote());
    await manager.display_view(view, container);
    shown.view = view;
  }

  private applyVerdict({ end, current }: KernelVerdict): void {
    if (end) this.endKernel(end);
    if (current !== null && this.kernel.id === null) {
      this.kernel.id = current;
      this.wake();
    }
  }

  /** The kernel process ended (or another one runs): its views become placeholders, its models go. */
  private endKernel(reason: EndReason): void {
    const old = this.kernel;
    this.kernel = this.newKernel(null);
    if (old.id !== null) this.endedKernels.add(old.id);
    for (const comm of old.comms.values()) {
      comm.detach();
      this.endedModels.set(comm.comm_id, reason);
    }
    for (const shown of this.shown.values()) {
      if (shown.live !== old) continue;
      shown.live = undefined;
      shown.view = undefined;
      showNotice(shown.element, endedText(reason), "ended");
    }
    // The views go with their models (without telling the gone kernel: the comms are detached).
    void old.manager.clear_state().catch(() => undefined);
    this.wake();
  }

  private comm(kernel: LiveKernel, commId: string, targetName: string): ProxyComm {
    const comm = new ProxyComm(commId, targetName, (message) => this.send(kernel, message));
    kernel.comms.set(commId, comm);
    return comm;
  }

  private send(kernel: LiveKernel, message: OutgoingComm): void {
    if (kernel !== this.kernel || kernel.id === null) return;
    this.post?.({ type: "comm", kernel: kernel.id, ...message });
  }

  private applySnapshot(kernel: string | null, state: Record<string, WidgetModelState>): void {
    this.applyVerdict(judgeSnapshot(this.gate(), kernel));
    const live = this.kernel;
    if (live.id === null || live.id !== kernel) return;
    // Every model registers before any is built (new_model registers synchronously),
    // so references between them ("IPY_MODEL_…") resolve in any order.
    for (const [modelId, model] of Object.entries(state)) {
      if (live.manager.has_model(modelId)) continue;
      const modelState = structuredClone(model.state);
      const buffers = model.buffers ?? [];
      if (buffers.length > 0) {
        put_buffers(modelState as Parameters<typeof put_buffers>[0], buffers.map((buffer) => buffer.path), buffers.map((buffer) => base64ToDataView(buffer.data)));
      }
      void live.manager
        .new_model(
          {
            model_id: modelId,
            model_name: model.model_name,
            model_module: model.model_module,
            model_module_version: model.model_module_version,
            comm: this.comm(live, modelId, WIDGET_COMM_TARGET),
          },
          modelState,
        )
        .catch((error: unknown) => console.error(`[sessions widgets] model ${modelId} not created`, error));
    }
    this.wake();
    this.upgrade();
  }

  private applyComm(message: CommMessage): void {
    const verdict = judgeComm(this.gate(), message.kernel, message.event);
    if (verdict.action === "drop") return;
    if (verdict.action === "replace") this.endKernel(verdict.reason);
    if (verdict.action !== "accept") this.kernel.id = verdict.kernel;
    const live = this.kernel;
    const buffers = (message.buffers ?? []).map(base64ToDataView);
    if (message.event === "open") {
      // Other targets belong to other front ends; a model the snapshot already made is not made twice.
      if (message.targetName !== WIDGET_COMM_TARGET || live.manager.has_model(message.commId)) return;
      const comm = this.comm(live, message.commId, WIDGET_COMM_TARGET);
      const open = {
        content: { comm_id: message.commId, target_name: WIDGET_COMM_TARGET, data: message.data },
        metadata: message.metadata ?? { version: PROTOCOL_VERSION },
        buffers,
      };
      void live.manager
        .handle_comm_open(comm, open as unknown as Parameters<SessionsWidgetManager["handle_comm_open"]>[1])
        .catch((error: unknown) => console.error(`[sessions widgets] model ${message.commId} not created`, error));
      this.wake();
      this.upgrade();
    } else if (message.event === "msg") {
      live.comms.get(message.commId)?.receive(message.data, message.metadata, buffers);
    } else {
      const comm = live.comms.get(message.commId);
      live.comms.delete(message.commId);
      comm?.receiveClose(message.data, message.metadata);
    }
  }
}
