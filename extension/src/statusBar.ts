// Status bar items: one per notebook cell (fresh / edited / upstream / never
// run / error / running, with a tooltip naming the upstream cell that changed
// and what the cell defines and uses), and the kernel item (state and
// interpreter; click → pick the interpreter).

import * as vscode from "vscode";

import type { SessionsClient } from "./client";
import { hasCellMarker } from "./editorContext";
import { Command, NOTEBOOK_TYPE, type NotebookState } from "./protocol";
import type { StateStore } from "./stateStore";
import { cellStatusView, kernelStatusView, plainText } from "./statusText";

export class CellStatusProvider implements vscode.NotebookCellStatusBarItemProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCellStatusBarItems = this.changed.event;
  private readonly subscription: { dispose(): void };

  constructor(private readonly store: StateStore) {
    this.subscription = store.onDidChange(() => this.changed.fire());
  }

  provideCellStatusBarItems(cell: vscode.NotebookCell): vscode.NotebookCellStatusBarItem[] {
    const uri = cell.notebook.uri.toString();
    const state = this.store.cell(uri, cell.index);
    if (!state) return [];
    const view = cellStatusView(state, (index) => this.store.cell(uri, index));
    if (!view) return [];
    const item = new vscode.NotebookCellStatusBarItem(view.text, vscode.NotebookCellStatusBarAlignment.Left);
    item.tooltip = plainText(view.tooltip);
    item.accessibilityInformation = { label: `Sessions: ${plainText(view.text.replace(/\$\([^)]*\)\s*/g, ""))}` };
    return [item];
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}

/** The `.py` URI of the active Sessions notebook, or of an active text editor with cells. */
export function activeNotebookUri(): string | undefined {
  const notebook = vscode.window.activeNotebookEditor?.notebook;
  if (notebook?.notebookType === NOTEBOOK_TYPE) return notebook.uri.toString();
  const document = vscode.window.activeTextEditor?.document;
  if (document?.languageId === "python" && document.uri.scheme === "file" && hasCellMarker(document.getText())) {
    return document.uri.toString();
  }
  return undefined;
}

export class KernelStatusItem implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly asked = new Set<string>();

  constructor(
    private readonly client: SessionsClient,
    private readonly store: StateStore,
  ) {
    this.item = vscode.window.createStatusBarItem("sessions.kernel", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "Sessions Kernel";
    this.item.command = "sessions.selectInterpreter";
    const subscription = store.onDidChange(() => this.update());
    this.disposables.push(
      this.item,
      { dispose: () => subscription.dispose() },
      vscode.window.onDidChangeActiveNotebookEditor(() => this.update()),
      vscode.window.onDidChangeActiveTextEditor(() => this.update()),
    );
    this.update();
  }

  private update(): void {
    const uri = activeNotebookUri();
    if (!uri) {
      this.item.hide();
      return;
    }
    const kernel = this.store.get(uri)?.kernel;
    if (!kernel) void this.ask(uri);
    const view = kernelStatusView(kernel);
    this.item.text = `Sessions: ${view.text}`;
    this.item.tooltip = new vscode.MarkdownString(view.tooltip);
    this.item.show();
  }

  /** Asks the server once per document for the kernel it would use. */
  private async ask(uri: string): Promise<void> {
    if (this.asked.has(uri)) return;
    this.asked.add(uri);
    try {
      this.store.update(await this.client.command<NotebookState>(Command.state, { uri }));
    } catch {
      this.asked.delete(uri);
    }
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }
}
