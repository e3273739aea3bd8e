// "Sessions: Export as HTML…": asks where (a save dialog, NB.html beside the
// notebook by default), has the server write the report (`sessions.export`,
// docs/protocol.md: nbconvert, cached outputs, each cell's status), then
// offers to open it. Invoked with an argument `{output, force?}` (tests,
// other extensions, keybindings with args), it skips the dialog.

import * as fs from "node:fs";
import * as vscode from "vscode";

import type { SessionsClient } from "./client";
import { Command, type ExportParams, type ExportResult } from "./protocol";
import { activeNotebookUri } from "./statusBar";

export const EXPORT_HTML_COMMAND = "sessions.exportHtml";

/** What a programmatic caller may pass instead of answering the dialog. */
interface ExportArgument {
  output: string | vscode.Uri;
  force?: boolean;
}

function isExportArgument(value: unknown): value is ExportArgument {
  if (!value || typeof value !== "object" || !("output" in value)) return false;
  const output = (value as { output: unknown }).output;
  return typeof output === "string" || output instanceof vscode.Uri;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class ExportHtmlCommand implements vscode.Disposable {
  private readonly registration: vscode.Disposable;

  constructor(private readonly client: SessionsClient) {
    this.registration = vscode.commands.registerCommand(EXPORT_HTML_COMMAND, async (argument?: unknown) => {
      try {
        return await this.export(argument);
      } catch (error) {
        void vscode.window.showErrorMessage(`Sessions: ${errorText(error)}`);
        return undefined;
      }
    });
  }

  /** Exports the active notebook; resolves to the server's reply (undefined when cancelled). */
  private async export(argument: unknown): Promise<ExportResult | undefined> {
    const notebook = activeNotebookUri();
    if (!notebook) throw new Error("no Sessions notebook or Python file with cells is active");
    const source = vscode.Uri.parse(notebook);
    let target: vscode.Uri;
    let force: boolean;
    if (isExportArgument(argument)) {
      target = typeof argument.output === "string" ? vscode.Uri.file(argument.output) : argument.output;
      force = argument.force === true;
    } else {
      const chosen = await vscode.window.showSaveDialog({
        title: "Sessions: Export as HTML",
        defaultUri: source.with({ path: source.path.replace(/\.py$/, "") + ".html" }),
        filters: { HTML: ["html"] },
        saveLabel: "Export",
      });
      if (!chosen) return undefined;
      target = chosen;
      // The dialog already asked whether to replace an existing file.
      force = target.scheme === "file" && fs.existsSync(target.fsPath);
    }
    if (target.scheme !== "file") throw new Error(`cannot export to ${target.toString()}: choose a local file`);
    const params: ExportParams = { uri: notebook, to: "html", output: target.toString(), force };
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "Sessions: exporting as HTML…" },
      () => this.client.command<ExportResult>(Command.export, params),
    );
    const written = vscode.Uri.file(result.output);
    const name = written.path.slice(written.path.lastIndexOf("/") + 1);
    void vscode.window
      .showInformationMessage(
        `Sessions: exported ${name} (${result.cells} cells, ${result.withOutputs} with outputs).`,
        "Open",
      )
      .then((answer) => (answer === "Open" ? open(written) : undefined));
    return result;
  }

  dispose(): void {
    this.registration.dispose();
  }
}

/**
 * The report in the system's browser on a desktop; in a remote or web VS Code
 * (where a file: link would name a file on another machine), as text in an editor.
 */
async function open(file: vscode.Uri): Promise<void> {
  if (vscode.env.uiKind === vscode.UIKind.Desktop && vscode.env.remoteName === undefined) {
    if (await vscode.env.openExternal(file)) return;
  }
  await vscode.commands.executeCommand("vscode.open", file);
}
