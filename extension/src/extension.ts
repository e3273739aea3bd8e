// Entry point: wires the language client, the notebook serializer and
// controller, the widget bridge, the status bar, the commands and the settings
// together.

import * as os from "node:os";
import * as vscode from "vscode";

import { SessionsClient } from "./client";
import { Commands } from "./commands";
import { SessionsController } from "./controller";
import { trackEditorHasCells } from "./editorContext";
import { ExportHtmlCommand } from "./exportHtml";
import { GraphPanels } from "./graphPanel";
import {
  NOTEBOOK_TYPE,
  Notification,
  type KernelNotification,
  type StateNotification,
} from "./protocol";
import { SERIALIZER_OPTIONS, SessionsSerializer } from "./serializer";
import { spawnServer } from "./serverLaunch";
import { parseSettings, type Settings } from "./settings";
import { StateStore } from "./stateStore";
import { CellStatusProvider, KernelStatusItem } from "./statusBar";
import { WidgetBridge } from "./widgetBridge";

let client: SessionsClient | undefined;

function readSettings(log?: vscode.OutputChannel): Settings {
  const config = vscode.workspace.getConfiguration("sessions");
  const { settings, warnings } = parseSettings((key) => config.get(key), {
    trusted: vscode.workspace.isTrusted,
    home: os.homedir(),
    workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
  });
  for (const warning of warnings) log?.appendLine(`[sessions] ${warning}`);
  return settings;
}

export function activate(context: vscode.ExtensionContext): void {
  const sessions = new SessionsClient(
    (log) => spawnServer(readSettings(log), context.extensionPath, log),
    () => readSettings().server,
  );
  client = sessions;
  const store = new StateStore((uri) => vscode.Uri.parse(uri).toString());
  const controller = new SessionsController(sessions, store);
  const cellStatus = new CellStatusProvider(store);
  const widgets = new WidgetBridge(sessions);

  context.subscriptions.push(
    vscode.workspace.registerNotebookSerializer(NOTEBOOK_TYPE, new SessionsSerializer(sessions), SERIALIZER_OPTIONS),
    controller,
    cellStatus,
    vscode.notebooks.registerNotebookCellStatusBarItemProvider(NOTEBOOK_TYPE, cellStatus),
    new KernelStatusItem(sessions, store),
    new Commands(sessions, controller),
    new GraphPanels(sessions, store, context.extensionUri),
    new ExportHtmlCommand(sessions),
    trackEditorHasCells(),
    sessions.onNotification<StateNotification>(Notification.state, (params) => {
      if (!store.notify(params)) {
        sessions.log.appendLine(`[sessions] ${params.uri}: changed cells of a notebook not shown any more; ignored`);
      }
    }),
    widgets,
    // One handler per method (the language client keeps only the last one registered).
    sessions.onNotification<KernelNotification>(Notification.kernel, (params) => {
      const { uri, state, python } = params;
      store.updateKernel(uri, python ? { state, python } : { state });
      widgets.kernelChanged(params);
    }),
    vscode.workspace.onDidCloseNotebookDocument((notebook) => {
      const stillOpenAsText = vscode.workspace.textDocuments.some(
        (document) => document.uri.toString() === notebook.uri.toString(),
      );
      if (!stillOpenAsText) store.forget(notebook.uri.toString());
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("sessions.server.python")) {
        void sessions.restart().catch((error: unknown) => sessions.log.appendLine(String(error)));
      } else if (event.affectsConfiguration("sessions")) {
        void sessions.sendSettings(readSettings(sessions.log).server);
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void sessions.sendSettings(readSettings().server)),
  );

  // Not awaited: activation must not wait on the server (or on the install prompt);
  // requests wait for it in `SessionsClient.ready`.
  sessions.start().then(
    () =>
      widgets.serverStarted().catch((error: unknown) => sessions.log.appendLine(`[sessions] widget bridge: ${String(error)}`)),
    (error: unknown) => {
      sessions.log.appendLine(`[sessions] the language server did not start: ${String(error)}`);
      const show = "Show Server Log";
      void vscode.window
        .showErrorMessage(`Sessions: the language server did not start (${String(error)}).`, show)
        .then((answer) => (answer === show ? sessions.showLog() : undefined));
    },
  );
}

export async function deactivate(): Promise<void> {
  await client?.dispose();
  client = undefined;
}
