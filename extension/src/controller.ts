// The notebook controller of `sessions-notebook`: runs cells through
// `sessions.run`, shows them running, streams `sessions/output` into them,
// and restores the sidecar's outputs when a notebook opens — with an
// execution that sets no order and no time, so no cell claims it ran now.

import * as vscode from "vscode";

import { UNTRUSTED_MESSAGE, type SessionsClient } from "./client";
import { accumulate, emptyCellOutputs, toOutputSpecs, type CellOutputs } from "./outputs";
import {
  Command,
  NOTEBOOK_TYPE,
  type CellState,
  type NbOutput,
  type NotebookState,
  type OutputNotification,
  type RunParams,
  type RunResult,
} from "./protocol";
import { fetchState } from "./statePages";
import type { StateStore } from "./stateStore";

export const CONTROLLER_ID = "sessions-kernel";
export const EXTENSION_ID = "sessions-dev.sessions";

interface LiveCell {
  execution: vscode.NotebookCellExecution;
  startedAt: number | null;
}

/** A finished run's summary, as the cell's execution status shows it. */
interface Summary {
  order: number | undefined;
  success: boolean;
  startMs: number | undefined;
  endMs: number | undefined;
}

function toCellOutputs(outputs: readonly NbOutput[]): vscode.NotebookCellOutput[] {
  return toOutputSpecs(outputs).map(
    (spec) =>
      new vscode.NotebookCellOutput(
        spec.items.map((item) => new vscode.NotebookCellOutputItem(item.data, item.mime)),
        spec.metadata,
      ),
  );
}

function summaryOf(cell: CellState): Summary {
  const startMs = cell.started ? Date.parse(cell.started) : Number.NaN;
  const hasTime = Number.isFinite(startMs) && cell.duration != null;
  return {
    order: cell.executionCount ?? undefined,
    success: cell.status !== "error",
    startMs: hasTime ? startMs : undefined,
    endMs: hasTime ? startMs + (cell.duration ?? 0) * 1000 : undefined,
  };
}

export class SessionsController implements vscode.Disposable {
  private readonly controller: vscode.NotebookController;
  // Per-cell bookkeeping is keyed by the cell object, not its index, so cells
  // inserted or deleted above do not mix it up.
  private readonly live = new Map<vscode.NotebookCell, LiveCell>();
  private readonly accumulated = new WeakMap<vscode.NotebookCell, CellOutputs>();
  /** The run id whose outputs each cell shows, to notice runs made elsewhere. */
  private readonly shownRun = new WeakMap<vscode.NotebookCell, number | null>();
  /** Notebooks whose restore started / finished. */
  private readonly restored = new Set<string>();
  private readonly restoreDone = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly pendingRefresh = new Set<string>();

  constructor(
    private readonly client: SessionsClient,
    private readonly store: StateStore,
  ) {
    this.controller = vscode.notebooks.createNotebookController(
      CONTROLLER_ID,
      NOTEBOOK_TYPE,
      "Sessions Kernel",
    );
    this.controller.supportedLanguages = ["python"];
    this.controller.supportsExecutionOrder = true;
    this.controller.description = "Jupyter kernel run by the Sessions language server";
    this.controller.executeHandler = (cells, notebook) =>
      this.run(notebook, { mode: "cell", cells: cells.map((cell) => cell.index) }).then(() => undefined);
    this.controller.interruptHandler = (notebook) => this.interrupt(notebook);

    this.disposables.push(
      this.controller,
      this.controller.onDidChangeSelectedNotebooks(({ notebook, selected }) => {
        if (selected) void this.restore(notebook);
      }),
      vscode.workspace.onDidOpenNotebookDocument((notebook) => this.claim(notebook)),
      vscode.workspace.onDidCloseNotebookDocument((notebook) => this.forget(notebook)),
      vscode.window.onDidChangeActiveNotebookEditor((editor) => {
        if (editor) void this.select(editor.notebook);
      }),
      this.store.onDidChange((uri) => this.onState(uri)),
      client.onNotification<OutputNotification>("sessions/output", (params) => this.onOutput(params)),
    );
    for (const notebook of vscode.workspace.notebookDocuments) this.claim(notebook);
    const active = vscode.window.activeNotebookEditor;
    if (active) void this.select(active.notebook);
  }

  /** Runs cells through the server; `params` as `sessions.run` takes them (without `uri`). */
  async run(
    notebook: vscode.NotebookDocument,
    params: Omit<RunParams, "uri">,
  ): Promise<RunResult | undefined> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage(UNTRUSTED_MESSAGE);
      return undefined;
    }
    await this.select(notebook);
    const uri = notebook.uri.toString();
    for (const index of params.cells ?? []) {
      const cell = this.cellAt(notebook, index);
      if (cell) this.execution(cell);
    }
    let result: RunResult | undefined;
    try {
      result = await this.client.command<RunResult>(Command.run, { uri, ...params });
      if (!result.ok && result.stoppedBecause) {
        void vscode.window.showWarningMessage(`Sessions: run stopped — ${result.stoppedBecause}`);
      }
      for (const note of result.notes ?? []) void vscode.window.showInformationMessage(`Sessions: ${note}`);
    } catch (error) {
      void vscode.window.showErrorMessage(`Sessions: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await this.settle(notebook, result);
    }
    return result;
  }

  /** `sessions.state` with every cell's outputs (the server sends them in pages). */
  private fullState(uri: string): Promise<NotebookState> {
    return fetchState((params) => this.client.command<NotebookState>(Command.state, params), uri);
  }

  async interrupt(notebook: vscode.NotebookDocument): Promise<void> {
    await this.client.command(Command.interrupt, { uri: notebook.uri.toString() });
  }

  /** Makes this controller the notebook's kernel (so executions can be created). */
  private async select(notebook: vscode.NotebookDocument): Promise<void> {
    if (notebook.notebookType !== NOTEBOOK_TYPE) return;
    this.claim(notebook);
    if (vscode.window.activeNotebookEditor?.notebook !== notebook) return;
    try {
      await vscode.commands.executeCommand("notebook.selectKernel", {
        id: CONTROLLER_ID,
        extension: EXTENSION_ID,
        skipIfAlreadySelected: true,
      });
    } catch {
      // The kernel picker stays available to the user.
    }
  }

  private claim(notebook: vscode.NotebookDocument): void {
    if (notebook.notebookType !== NOTEBOOK_TYPE) return;
    this.controller.updateNotebookAffinity(notebook, vscode.NotebookControllerAffinity.Preferred);
  }

  private forget(notebook: vscode.NotebookDocument): void {
    for (const [cell, live] of [...this.live]) {
      if (cell.notebook !== notebook) continue;
      live.execution.end(undefined);
      this.live.delete(cell);
    }
    this.restored.delete(notebook.uri.toString());
    this.restoreDone.delete(notebook.uri.toString());
  }

  private notebookFor(uri: string): vscode.NotebookDocument | undefined {
    return vscode.workspace.notebookDocuments.find(
      (notebook) => notebook.notebookType === NOTEBOOK_TYPE && notebook.uri.toString() === uri,
    );
  }

  /** The notebook cell a server cell index names now (indexes shift on insert/delete). */
  private cellAt(notebook: vscode.NotebookDocument, index: number): vscode.NotebookCell | undefined {
    return index >= 0 && index < notebook.cellCount ? notebook.cellAt(index) : undefined;
  }

  private shows(cell: vscode.NotebookCell, run: number | null | undefined): boolean {
    return (this.shownRun.get(cell) ?? null) === (run ?? null);
  }

  /** The cell's live execution, created (pending) if needed; undefined if VS Code refuses. */
  private execution(cell: vscode.NotebookCell): LiveCell | undefined {
    const existing = this.live.get(cell);
    if (existing) return existing;
    try {
      const live = { execution: this.controller.createNotebookCellExecution(cell), startedAt: null };
      this.live.set(cell, live);
      return live;
    } catch {
      return undefined; // another kernel is selected for this notebook
    }
  }

  private start(cell: vscode.NotebookCell): LiveCell | undefined {
    const live = this.execution(cell);
    if (live && live.startedAt === null) {
      live.startedAt = Date.now();
      live.execution.start(live.startedAt);
      void live.execution.clearOutput();
      this.accumulated.set(cell, emptyCellOutputs());
    }
    return live;
  }

  private finish(cell: vscode.NotebookCell, state: CellState | undefined): void {
    const live = this.live.get(cell);
    if (!live) return;
    this.live.delete(cell);
    if (live.startedAt === null || !state) {
      live.execution.end(undefined); // queued, then skipped: it did not run
      return;
    }
    live.execution.executionOrder = state.executionCount ?? undefined;
    const took = state.duration != null ? live.startedAt + state.duration * 1000 : Date.now();
    live.execution.end(state.status !== "error", Math.max(took, live.startedAt));
    this.shownRun.set(cell, state.run ?? null);
  }

  /** Shows outputs through a short execution; with no summary it shows no order, time or icon. */
  private paint(cell: vscode.NotebookCell, outputs: readonly NbOutput[], summary: Summary | undefined): void {
    const live = this.execution(cell);
    if (!live) return;
    this.live.delete(cell);
    const { execution } = live;
    execution.start(summary?.startMs);
    void execution.replaceOutput(toCellOutputs(outputs));
    if (summary) execution.executionOrder = summary.order;
    execution.end(summary ? summary.success : undefined, summary?.endMs);
  }

  /** Restores the sidecar's outputs when a notebook is first shown with this kernel. */
  private async restore(notebook: vscode.NotebookDocument): Promise<void> {
    const uri = notebook.uri.toString();
    if (notebook.notebookType !== NOTEBOOK_TYPE || this.restored.has(uri)) return;
    this.restored.add(uri);
    try {
      const state = await this.fullState(uri);
      this.store.update(state);
      for (const cellState of state.cells) {
        const cell = this.cellAt(notebook, cellState.index);
        if (!cell || this.live.has(cell)) continue;
        this.shownRun.set(cell, cellState.run ?? null);
        if (cellState.outputs && cellState.outputs.length > 0) this.paint(cell, cellState.outputs, undefined);
      }
      this.restoreDone.add(uri);
    } catch (error) {
      this.restored.delete(uri);
      this.client.log.appendLine(`[sessions] restoring outputs of ${uri} failed: ${String(error)}`);
    }
  }

  private onOutput({ uri, cell: index, run, output }: OutputNotification): void {
    const notebook = this.notebookFor(vscode.Uri.parse(uri).toString());
    const cell = notebook && this.cellAt(notebook, index);
    if (!cell) return;
    const live = this.start(cell);
    const next = accumulate(this.accumulated.get(cell) ?? emptyCellOutputs(), run, output);
    this.accumulated.set(cell, next);
    this.shownRun.set(cell, run);
    if (live) void live.execution.replaceOutput(toCellOutputs(next.outputs));
  }

  /** Statuses changed: cells that start or stop running; runs made elsewhere (terminal, agent). */
  private onState(uri: string): void {
    const notebook = this.notebookFor(uri);
    const snapshot = this.store.get(uri);
    if (!notebook || !snapshot) return;
    for (const state of snapshot.cells) {
      const cell = this.cellAt(notebook, state.index);
      if (!cell) continue;
      const live = this.live.get(cell);
      if (state.running) {
        if (vscode.workspace.isTrusted) this.start(cell);
      } else if (live && live.startedAt !== null) {
        this.finish(cell, state);
      } else if (!live && this.restoreDone.has(uri) && !this.shows(cell, state.run)) {
        this.pendingRefresh.add(uri);
      }
    }
    if (this.pendingRefresh.size > 0 && this.refreshTimer === undefined) {
      this.refreshTimer = setTimeout(() => void this.refresh(), 300);
    }
  }

  /** Repaints the outputs of cells whose last run changed outside this editor. */
  private async refresh(): Promise<void> {
    this.refreshTimer = undefined;
    const uris = [...this.pendingRefresh];
    this.pendingRefresh.clear();
    for (const uri of uris) {
      const notebook = this.notebookFor(uri);
      if (!notebook) continue;
      try {
        const state = await this.fullState(uri);
        for (const cellState of state.cells) {
          const cell = this.cellAt(notebook, cellState.index);
          if (!cell || this.live.has(cell) || this.shows(cell, cellState.run)) continue;
          const summary = cellState.run != null ? summaryOf(cellState) : undefined;
          this.paint(cell, cellState.outputs ?? [], summary);
          this.shownRun.set(cell, cellState.run ?? null);
        }
      } catch (error) {
        this.client.log.appendLine(`[sessions] refreshing outputs of ${uri} failed: ${String(error)}`);
      }
    }
  }

  /** After `sessions.run` resolved: end every execution still open, with the final outputs. */
  private async settle(notebook: vscode.NotebookDocument, result: RunResult | undefined): Promise<void> {
    const uri = notebook.uri.toString();
    let state: NotebookState | undefined;
    try {
      state = await this.fullState(uri);
    } catch {
      state = undefined;
    }
    if (state) this.store.update(state);
    const states = new Map((state?.cells ?? []).map((cellState) => [cellState.index, cellState]));
    for (const index of result?.ran ?? []) {
      const cell = this.cellAt(notebook, index);
      const cellState = states.get(index);
      if (!cell || !cellState) continue;
      const live = this.live.get(cell);
      if (live && live.startedAt !== null) {
        if (cellState.outputs) void live.execution.replaceOutput(toCellOutputs(cellState.outputs));
        this.finish(cell, cellState);
      } else if (!this.shows(cell, cellState.run)) {
        // Ran too fast to be seen running: show its outputs and summary now.
        live?.execution.end(undefined);
        this.live.delete(cell);
        this.paint(cell, cellState.outputs ?? [], summaryOf(cellState));
        this.shownRun.set(cell, cellState.run ?? null);
      }
    }
    for (const [cell, live] of [...this.live]) {
      if (cell.notebook !== notebook) continue;
      this.finish(cell, live.startedAt !== null ? states.get(cell.index) : undefined);
    }
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    for (const live of this.live.values()) live.execution.end(undefined);
    this.live.clear();
    for (const disposable of this.disposables) disposable.dispose();
  }
}
