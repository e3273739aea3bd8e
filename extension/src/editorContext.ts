// The `sessions.editorHasCells` context key: the active text editor is a
// Python file with `# %%` cells (gates Shift+Enter and "Open as Notebook").

import * as vscode from "vscode";

const MARKER = /^[ \t]*#[ \t]*%%(?:%*[ \t]|[ \t]*\r?$)/m;

/** Whether `text` has a line shaped like a cell marker (the server's parser decides exactly). */
export function hasCellMarker(text: string): boolean {
  return MARKER.test(text);
}

export function trackEditorHasCells(): vscode.Disposable {
  let last: boolean | undefined;
  const update = (): void => {
    const document = vscode.window.activeTextEditor?.document;
    const value = document?.languageId === "python" && hasCellMarker(document.getText());
    if (value === last) return;
    last = value;
    void vscode.commands.executeCommand("setContext", "sessions.editorHasCells", value);
  };
  update();
  return vscode.Disposable.from(
    vscode.window.onDidChangeActiveTextEditor(update),
    vscode.workspace.onDidChangeTextDocument((event) => {
      if (event.document === vscode.window.activeTextEditor?.document) update();
    }),
  );
}
