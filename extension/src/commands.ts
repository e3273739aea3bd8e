// The extension's commands: open as notebook / reopen as text, run stale /
// with upstream / downstream, run the cell under the cursor and advance
// (Shift+Enter in the text editor), interrupt, restart, kernel console,
// interpreter picker, server log.

import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";

import type { SessionsClient } from "./client";
import type { SessionsController } from "./controller";
import { Command, NOTEBOOK_TYPE, type NotebookState, type RunParams, type RunResult } from "./protocol";
import { activeNotebookUri } from "./statusBar";

function activeSessionsNotebook(): vscode.NotebookEditor | undefined {
  const editor = vscode.window.activeNotebookEditor;
  return editor?.notebook.notebookType === NOTEBOOK_TYPE ? editor : undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The cell a cell-menu command was invoked on, else the notebook's selected cell. */
function targetCell(argument: unknown): vscode.NotebookCell | undefined {
  if (argument && typeof argument === "object" && "notebook" in argument && "index" in argument) {
    return argument as vscode.NotebookCell;
  }
  const editor = activeSessionsNotebook();
  if (!editor) return undefined;
  const index = editor.selection.start;
  return index < editor.notebook.cellCount ? editor.notebook.cellAt(index) : undefined;
}

export class Commands implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly client: SessionsClient,
    private readonly controller: SessionsController,
  ) {
    const register = (id: string, handler: (...args: unknown[]) => unknown): void => {
      this.disposables.push(
        vscode.commands.registerCommand(id, async (...args: unknown[]) => {
          try {
            await handler(...args);
          } catch (error) {
            void vscode.window.showErrorMessage(`Sessions: ${errorText(error)}`);
          }
        }),
      );
    };
    register("sessions.openAsNotebook", (uri) => this.openAsNotebook(uri));
    register("sessions.reopenAsText", () => this.reopenAsText());
    register("sessions.runStale", () => this.runIn({ mode: "stale" }));
    register("sessions.runCellAndUpstream", (cell) => this.runCell(cell, { runUpstream: true }));
    register("sessions.runDownstream", (cell) => this.runCell(cell, { mode: "downstream" }));
    register("sessions.runCellAndAdvance", () => this.runCellAndAdvance());
    register("sessions.interruptKernel", () => this.onKernel(Command.interrupt));
    register("sessions.restartKernel", () => this.onKernel(Command.restart));
    register("sessions.openKernelConsole", () => this.openKernelConsole());
    register("sessions.selectInterpreter", () => this.selectInterpreter());
    register("sessions.showServerLog", () => client.showLog());
  }

  private async openAsNotebook(argument: unknown): Promise<void> {
    const uri = argument instanceof vscode.Uri ? argument : vscode.window.activeTextEditor?.document.uri;
    if (!uri) throw new Error("open a .py file first");
    const editor = vscode.window.activeTextEditor;
    if (editor?.document.uri.toString() === uri.toString() && !editor.document.isDirty) {
      await vscode.commands.executeCommand("workbench.action.closeActiveEditor");
    }
    await vscode.commands.executeCommand("vscode.openWith", uri, NOTEBOOK_TYPE);
  }

  private async reopenAsText(): Promise<void> {
    const editor = activeSessionsNotebook();
    if (!editor) throw new Error("no Sessions notebook is active");
    const uri = editor.notebook.uri;
    if (!editor.notebook.isDirty) await vscode.commands.executeCommand("workbench.action.closeActiveEditor");
    await vscode.commands.executeCommand("vscode.openWith", uri, "default");
  }

  /** Runs in the active notebook (through the controller, so cells show running) or text editor. */
  private async runIn(params: Omit<RunParams, "uri">): Promise<RunResult | undefined> {
    const notebook = activeSessionsNotebook()?.notebook;
    if (notebook) return this.controller.run(notebook, params);
    const uri = activeNotebookUri();
    if (!uri) throw new Error("no Sessions notebook or Python file with cells is active");
    return this.client.command<RunResult>(Command.run, { uri, ...params });
  }

  private async runCell(argument: unknown, params: Omit<RunParams, "uri" | "cells">): Promise<void> {
    const cell = targetCell(argument);
    if (!cell) throw new Error("select a cell first");
    await this.controller.run(cell.notebook, { mode: "cell", ...params, cells: [cell.index] });
  }

  /** Shift+Enter in the text editor: run the cell under the cursor, move to the next cell. */
  private async runCellAndAdvance(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) return;
    const uri = editor.document.uri.toString();
    const line = editor.selection.active.line;
    const run = this.client.command<RunResult>(Command.run, { uri, line });
    const state = await this.client.command<NotebookState>(Command.state, { uri });
    const next = state.cells.find((cell) => cell.line > line && cell.kind === "code");
    const target = next
      ? new vscode.Position(Math.min(next.line + 1, editor.document.lineCount - 1), 0)
      : editor.document.lineAt(editor.document.lineCount - 1).range.end;
    editor.selection = new vscode.Selection(target, target);
    editor.revealRange(new vscode.Range(target, target));
    await run;
  }

  private async onKernel(command: string): Promise<void> {
    const uri = activeNotebookUri();
    if (!uri) throw new Error("no Sessions notebook is active");
    await this.client.command(command, { uri });
  }

  /** An integrated terminal with `jupyter console --existing` on the notebook's kernel. */
  private async openKernelConsole(): Promise<void> {
    if (!vscode.workspace.isTrusted) throw new Error("the kernel console needs a trusted workspace");
    const uri = activeNotebookUri();
    if (!uri) throw new Error("no Sessions notebook is active");
    const state = await this.client.command<NotebookState>(Command.state, { uri });
    const connectionFile = state.kernel?.connectionFile;
    if (!connectionFile) {
      throw new Error(
        state.kernel?.state === "idle" || state.kernel?.state === "busy"
          ? "the server does not report the kernel's connection file (sessions.state kernel.connectionFile)"
          : "no kernel is running for this notebook yet: run a cell first",
      );
    }
    const python = state.kernel?.python ?? "python3";
    const hasConsole = await new Promise<boolean>((resolve) =>
      execFile(python, ["-c", "import jupyter_console"], (error) => resolve(error === null)),
    );
    const quote = (text: string): string => `'${text.replace(/'/g, "'\\''")}'`;
    const launch = `${quote(python)} -m jupyter_console --existing ${quote(connectionFile)}`;
    let commandLine = launch;
    if (!hasConsole) {
      const install = "Install jupyter-console";
      const answer = await vscode.window.showInformationMessage(
        `The kernel console needs jupyter-console in ${python}.`,
        install,
      );
      if (answer !== install) return;
      commandLine = `${quote(python)} -m pip install jupyter-console && ${launch}`;
    }
    const terminal = vscode.window.createTerminal({ name: "Sessions Kernel Console" });
    terminal.show();
    terminal.sendText(commandLine, true);
  }

  /** Picks the kernel interpreter (`sessions.python`). */
  private async selectInterpreter(): Promise<void> {
    const uri = activeNotebookUri();
    const state = uri
      ? await this.client.command<NotebookState>(Command.state, { uri }).catch(() => undefined)
      : undefined;
    type Item = vscode.QuickPickItem & { value?: string | null; action?: "browse" | "enter" };
    const items: Item[] = [
      {
        label: "$(sparkle) Automatic",
        description: state?.kernel?.python ?? "",
        detail: state?.kernel?.reason ?? "pyproject.toml, nearest .venv, active environment, else the server's Python",
        value: null,
      },
    ];
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      for (const venv of [".venv", "venv", "env"]) {
        const python = path.join(folder.uri.fsPath, venv, "bin", "python");
        if (fs.existsSync(python)) items.push({ label: `$(folder) ${venv}`, description: python, value: python });
      }
    }
    items.push({ label: "$(file-directory) Browse…", action: "browse" });
    items.push({ label: "$(edit) Enter interpreter path…", action: "enter" });
    const picked = await vscode.window.showQuickPick(items, { title: "Sessions: kernel interpreter" });
    if (!picked) return;
    let value = picked.value;
    if (picked.action === "browse") {
      const chosen = await vscode.window.showOpenDialog({ canSelectMany: false, title: "Python interpreter" });
      if (!chosen?.[0]) return;
      value = chosen[0].fsPath;
    } else if (picked.action === "enter") {
      const entered = await vscode.window.showInputBox({ prompt: "Path of the Python interpreter for kernels" });
      if (!entered) return;
      value = entered.trim();
    }
    const target = vscode.workspace.workspaceFolders
      ? vscode.ConfigurationTarget.Workspace
      : vscode.ConfigurationTarget.Global;
    await vscode.workspace.getConfiguration("sessions").update("python", value ?? undefined, target);
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }
}
