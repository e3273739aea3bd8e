// The latest state the server reported, per notebook URI: cell statuses (from
// `sessions/state` and `sessions.state`) and the kernel (from `sessions/kernel`).
// Pure: listeners are plain callbacks, so the status bar, the controller and
// the commands share one picture without importing each other.

import type { CellState, KernelInfo, NotebookState, StateNotification } from "./protocol";
import { applyStateChanges } from "./stateChanges";

export interface NotebookSnapshot {
  version: number | null;
  cells: CellState[];
  kernel: KernelInfo | null;
}

type Listener = (uri: string) => void;

export class StateStore {
  private readonly notebooks = new Map<string, NotebookSnapshot>();
  /** Per notebook: the cells the `sessions/state` notifications added up to. */
  private readonly notified = new Map<string, CellState[]>();
  private readonly listeners = new Set<Listener>();

  /** `normalize` maps the server's URI spelling onto the editor's. */
  constructor(private readonly normalize: (uri: string) => string = (uri) => uri) {}

  onDidChange(listener: Listener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  get(uri: string): NotebookSnapshot | undefined {
    return this.notebooks.get(this.normalize(uri));
  }

  cell(uri: string, index: number): CellState | undefined {
    return this.get(uri)?.cells.find((cell) => cell.index === index);
  }

  /** A `sessions.state` result (outputs are not kept). */
  update(state: NotebookState): void {
    const key = this.normalize(state.uri);
    const previous = this.notebooks.get(key);
    const kernel = state.kernel ? state.kernel : (previous?.kernel ?? null);
    const cells = state.cells.map(({ outputs: _outputs, ...cell }) => cell);
    this.notebooks.set(key, { version: state.version, cells, kernel });
    this.emit(key);
  }

  /**
   * A `sessions/state` notification, complete or with only the changed cells
   * (`stateChanges.ts`). Partial ones apply to what the earlier notifications
   * added up to, kept apart from `sessions.state` results: the server counts
   * what it notified, not what it answered. False when it could not be applied.
   */
  notify(state: StateNotification): boolean {
    const key = this.normalize(state.uri);
    const cells = applyStateChanges(this.notified.get(key), state);
    if (cells === undefined) return false;
    this.notified.set(key, cells);
    const kernel = this.notebooks.get(key)?.kernel ?? null;
    this.notebooks.set(key, { version: state.version, cells, kernel });
    this.emit(key);
    return true;
  }

  /** A `sessions/kernel` notification. */
  updateKernel(uri: string, kernel: KernelInfo): void {
    const key = this.normalize(uri);
    const previous = this.notebooks.get(key) ?? { version: null, cells: [], kernel: null };
    this.notebooks.set(key, { ...previous, kernel: { ...(previous.kernel ?? {}), ...kernel } });
    this.emit(key);
  }

  forget(uri: string): void {
    const key = this.normalize(uri);
    this.notified.delete(key);
    if (this.notebooks.delete(key)) this.emit(key);
  }

  private emit(key: string): void {
    for (const listener of this.listeners) listener(key);
  }
}
