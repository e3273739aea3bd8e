// "Sessions: Show Dependency Graph": a webview panel per notebook that draws
// the server's `sessions.graph` with the bundled mermaid (dist/graph, under a
// strict Content-Security-Policy: no network, scripts by nonce only). It asks
// again whenever the server reports new statuses (`sessions/state`) or the
// document changes, and a click on a node reveals that cell in the notebook
// editor, or at its line in the text editor.

import { randomBytes } from "node:crypto";
import * as vscode from "vscode";

import type { SessionsClient } from "./client";
import { isViewMessage, type PanelMessage } from "./graphMessages";
import { Command, NOTEBOOK_TYPE, type GraphPayload } from "./protocol";
import type { StateStore } from "./stateStore";
import { activeNotebookUri } from "./statusBar";

export const SHOW_GRAPH_COMMAND = "sessions.showGraph";
const VIEW_TYPE = "sessions.graph";
/** Edits arrive per keystroke; the server coalesces analyses, this coalesces requests. */
const REFRESH_DELAY_MS = 250;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function baseName(uri: vscode.Uri): string {
  return uri.path.slice(uri.path.lastIndexOf("/") + 1);
}

class GraphPanel implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private graph: GraphPayload | undefined;
  private requests = 0;

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly uri: vscode.Uri,
    private readonly client: SessionsClient,
    private readonly onClosed: () => void,
  ) {
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((message: unknown) => {
        if (!isViewMessage(message)) return;
        if (message.type === "ready") void this.refresh();
        else void this.reveal(message.cell).catch((error: unknown) => this.showError(error));
      }),
    );
  }

  /** Asks for the graph soon; calls in quick succession make one request. */
  schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, REFRESH_DELAY_MS);
  }

  async refresh(): Promise<void> {
    const mine = ++this.requests;
    let message: PanelMessage;
    try {
      const graph = await this.client.command<GraphPayload>(Command.graph, { uri: this.uri.toString() });
      message = { type: "graph", graph };
      if (mine === this.requests) this.graph = graph;
    } catch (error) {
      message = { type: "error", message: `Sessions: ${errorText(error)}` };
    }
    // An answer to an older request must not replace a newer one's.
    if (mine === this.requests) void this.panel.webview.postMessage(message);
  }

  private showError(error: unknown): void {
    void vscode.window.showErrorMessage(`Sessions: ${errorText(error)}`);
  }

  /** Shows cell `cell` where the notebook is open: its notebook editor, else its text. */
  private async reveal(cell: number): Promise<void> {
    const key = this.uri.toString();
    const notebook = vscode.workspace.notebookDocuments.find(
      (document) => document.notebookType === NOTEBOOK_TYPE && document.uri.toString() === key,
    );
    if (notebook) {
      if (cell >= notebook.cellCount) throw new Error(`the notebook has no cell ${cell} any more`);
      const visible = vscode.window.visibleNotebookEditors.find((editor) => editor.notebook === notebook);
      const range = new vscode.NotebookRange(cell, cell + 1);
      const editor = await vscode.window.showNotebookDocument(notebook, {
        viewColumn: visible?.viewColumn,
        selections: [range],
        preserveFocus: false,
      });
      editor.revealRange(range, vscode.NotebookEditorRevealType.InCenterIfOutsideViewport);
      return;
    }
    const node = this.graph?.nodes.find((candidate) => candidate.cell === cell);
    const line = node?.line ?? 0;
    const document = await vscode.workspace.openTextDocument(this.uri);
    const visible = vscode.window.visibleTextEditors.find((editor) => editor.document === document);
    const position = new vscode.Position(Math.min(line, document.lineCount - 1), 0);
    const editor = await vscode.window.showTextDocument(document, {
      viewColumn: visible?.viewColumn ?? vscode.ViewColumn.One,
      selection: new vscode.Range(position, position),
      preserveFocus: false,
    });
    editor.revealRange(new vscode.Range(position, position), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const disposable of this.disposables) disposable.dispose();
    this.disposables.length = 0;
    this.onClosed();
  }
}

/**
 * The page: the bundle under a CSP that allows it (by nonce) and mermaid's
 * inline SVG styles. The bundle must be read as UTF-8 (mermaid decodes label
 * entities with non-ASCII markers), hence the charset on the script too.
 */
function pageHtml(webview: vscode.Webview, script: vscode.Uri, title: string): string {
  const nonce = randomBytes(16).toString("base64");
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    // mermaid writes a <style> into each SVG and style attributes on its nodes.
    `style-src ${webview.cspSource} 'unsafe-inline'`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource} data:`,
  ].join("; ");
  const escapedTitle = title.replace(/[&<>"]/g, (char) => `&#${char.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapedTitle}</title>
<style>
  body { padding: 0 12px; color: var(--vscode-foreground); font-family: var(--vscode-font-family); }
  header { position: sticky; top: 0; padding: 8px 0; background: var(--vscode-editor-background); z-index: 1; }
  #summary { font-weight: 600; }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 4px; font-size: 0.9em; opacity: 0.85; }
  .chip { display: inline-block; padding: 0 6px; border-radius: 4px; border: 1px solid; color: #222; }
  #problems { color: var(--vscode-errorForeground); white-space: pre-wrap; margin: 4px 0; }
  #graph { overflow: auto; padding-bottom: 24px; }
  #graph g.node { cursor: pointer; }
  #graph g.node:focus { outline: 2px solid var(--vscode-focusBorder); }
</style>
</head>
<body>
<header>
  <div id="summary">Loading the dependency graph…</div>
  <div class="legend">
    <span class="chip" style="background:#dcf5e3;border-color:#2e7d32">fresh</span>
    <span class="chip" style="background:#ffe3b3;border-color:#e08a00">stale: edited</span>
    <span class="chip" style="background:#fff3cd;border-color:#c9a227">stale: upstream</span>
    <span class="chip" style="background:#f9d6d5;border-color:#c62828">error</span>
    <span class="chip" style="background:#eceff1;border-color:#90a4ae">never run</span>
    <span>→ value · ⇒ mutation · ⇢ hidden state · <span style="color:#ef6c00">orange</span>: used before defined · <span style="color:#d32f2f">red</span>: cycle</span>
  </div>
  <div id="problems" hidden></div>
</header>
<div id="graph" role="img" aria-label="${escapedTitle}"></div>
<script nonce="${nonce}" charset="utf-8" src="${webview.asWebviewUri(script).toString()}"></script>
</body>
</html>`;
}

/** The command and one panel per notebook, kept up to date from the state store. */
export class GraphPanels implements vscode.Disposable {
  private readonly panels = new Map<string, GraphPanel>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly client: SessionsClient,
    store: StateStore,
    private readonly extensionUri: vscode.Uri,
  ) {
    this.disposables.push(
      vscode.commands.registerCommand(SHOW_GRAPH_COMMAND, async (argument: unknown) => {
        try {
          await this.show(argument instanceof vscode.Uri ? argument : undefined);
        } catch (error) {
          void vscode.window.showErrorMessage(`Sessions: ${errorText(error)}`);
        }
      }),
      // The store's keys are normalized like the panels' (vscode.Uri.toString()).
      store.onDidChange((uri) => this.panels.get(uri)?.schedule()),
      vscode.workspace.onDidChangeTextDocument((event) => this.panels.get(event.document.uri.toString())?.schedule()),
      vscode.workspace.onDidChangeNotebookDocument((event) => this.panels.get(event.notebook.uri.toString())?.schedule()),
    );
  }

  private async show(target: vscode.Uri | undefined): Promise<void> {
    const active = activeNotebookUri();
    const uri = target ?? (active ? vscode.Uri.parse(active) : undefined);
    if (!uri) throw new Error("open a Sessions notebook or a Python file with # %% cells first");
    const key = uri.toString();
    const existing = this.panels.get(key);
    if (existing) {
      existing.panel.reveal(undefined, true);
      await existing.refresh();
      return;
    }
    const root = vscode.Uri.joinPath(this.extensionUri, "dist", "graph");
    const title = `Graph: ${baseName(uri)}`;
    const panel = vscode.window.createWebviewPanel(
      VIEW_TYPE,
      title,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, localResourceRoots: [root] },
    );
    panel.webview.html = pageHtml(panel.webview, vscode.Uri.joinPath(root, "graphView.js"), title);
    this.panels.set(key, new GraphPanel(panel, uri, this.client, () => this.panels.delete(key)));
  }

  dispose(): void {
    for (const panel of [...this.panels.values()]) panel.panel.dispose();
    for (const disposable of this.disposables) disposable.dispose();
  }
}
