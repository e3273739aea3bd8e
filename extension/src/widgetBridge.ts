// The comm bridge between the widget renderer of each notebook webview and
// the server: renderer messaging (`sessions-widgets`) on one side, the LSP
// notification `sessions/comm` and the command `sessions.widgets` on the
// other. The extension keeps no widget state: the server has the live models
// (a renderer that starts late asks it for them), the renderer shows them.

import * as vscode from "vscode";
import { State } from "vscode-languageclient/node";

import type { SessionsClient } from "./client";
import { Command, Notification, type KernelNotification } from "./protocol";
import {
  WIDGET_RENDERER_ID,
  commToRenderer,
  commToServer,
  kernelToRenderer,
  parseRendererMessage,
  snapshotToRenderer,
  type HostMessage,
} from "./widgetMessages";

export class WidgetBridge implements vscode.Disposable {
  private readonly messaging: vscode.NotebookRendererMessaging;
  /** Notebook editors whose renderer said hello: only they have one to talk to. */
  private readonly renderers = new Set<vscode.NotebookEditor>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly client: SessionsClient) {
    this.messaging = vscode.notebooks.createRendererMessaging(WIDGET_RENDERER_ID);
    this.disposables.push(
      this.messaging.onDidReceiveMessage(({ editor, message }) => void this.fromRenderer(editor, message)),
      client.onNotification<unknown>(Notification.comm, (params) => this.fromServer(params)),
      vscode.workspace.onDidCloseNotebookDocument((notebook) => {
        for (const editor of [...this.renderers]) if (editor.notebook === notebook) this.renderers.delete(editor);
      }),
    );
  }

  /**
   * The server runs (extension.ts calls this once it started): renderers left
   * from an earlier extension host or server are told to say hello again,
   * and so they are after each restart of the server, whose kernels die with it.
   */
  async serverStarted(): Promise<void> {
    const client = await this.client.ready();
    this.reconnect();
    this.disposables.push(
      client.onDidChangeState(({ newState }) => {
        if (newState === State.Running) this.reconnect();
      }),
    );
  }

  private reconnect(): void {
    this.renderers.clear();
    // No editor: to every renderer of this id, in every notebook.
    void this.messaging.postMessage({ type: "reconnect" } satisfies HostMessage);
  }

  /**
   * A `sessions/kernel` notification (extension.ts has the one handler the
   * language client allows per method, and passes it on): live widgets of an
   * ended kernel become placeholders.
   */
  kernelChanged(params: KernelNotification): void {
    this.toRenderers(params.uri, kernelToRenderer(params));
  }

  private fromServer(params: unknown): void {
    const message = commToRenderer(params);
    const uri = (params as { uri?: unknown } | null)?.uri;
    if (message && typeof uri === "string") this.toRenderers(uri, message);
  }

  private toRenderers(uri: string, message: HostMessage): void {
    const target = vscode.Uri.parse(uri).toString();
    for (const editor of [...this.renderers]) {
      if (editor.notebook.isClosed) this.renderers.delete(editor);
      else if (editor.notebook.uri.toString() === target) void this.messaging.postMessage(message, editor);
    }
  }

  private async fromRenderer(editor: vscode.NotebookEditor, raw: unknown): Promise<void> {
    const message = parseRendererMessage(raw);
    if (!message) return;
    const uri = editor.notebook.uri.toString();
    if (message.type === "hello") {
      // Subscribed first: comm messages that arrive while the snapshot is on its way
      // reach the renderer, which applies them after it (they are idempotent there).
      this.renderers.add(editor);
      let snapshot: unknown;
      try {
        snapshot = await this.client.command<unknown>(Command.widgets, { uri });
      } catch (error) {
        // An older server, or none yet: the renderer shows saved state.
        this.client.log.appendLine(`[sessions] sessions.widgets for ${uri} failed: ${String(error)}`);
      }
      void this.messaging.postMessage(snapshotToRenderer(snapshot), editor);
      return;
    }
    // A model change runs code in the kernel (callbacks, reactive re-runs).
    if (!vscode.workspace.isTrusted) return;
    try {
      const client = await this.client.ready();
      await client.sendNotification(Notification.comm, commToServer(uri, message));
    } catch (error) {
      this.client.log.appendLine(`[sessions] a widget message for ${uri} was not sent: ${String(error)}`);
    }
  }

  dispose(): void {
    this.renderers.clear();
    for (const disposable of this.disposables) disposable.dispose();
  }
}
