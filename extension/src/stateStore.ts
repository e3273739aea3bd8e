// The latest state the server reported, per notebook URI: cell statuses (from
// `sessions/state` and `sessions.state`) and the kernel (from `sessions/kernel`).
// Pure: listeners are plain callbacks, so the status bar, the controller and
// the commands share one picture without importing each other.

import type { CellState, KernelInfo, NotebookState, StateNotification } from "./protocol";

export interface NotebookSnapshot {
  version: number | null;
  cells: CellState[];
  kernel: KernelInfo | null;
}

type Listener = (uri: string) => void;

export class StateStore {
  private readonly notebooks = new Map<string, NotebookSnapshot>();
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

  /** A `sessions/state` notification or a `sessions.state` result (outputs are not kept). */
  update(state: StateNotification | NotebookState): void {
    const key = this.normalize(state.uri);
    const previous = this.notebooks.get(key);
    const kernel = "kernel" in state && state.kernel ? state.kernel : (previous?.kernel ?? null);
    const cells = state.cells.map(({ outputs: _outputs, ...cell }) => cell);
    this.notebooks.set(key, { version: state.version, cells, kernel });
    this.emit(key);
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
    if (this.notebooks.delete(key)) this.emit(key);
  }

  private emit(key: string): void {
    for (const listener of this.listeners) listener(key);
  }
}
