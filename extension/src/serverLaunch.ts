// Which Python runs the language server, and starting it there. The
// interpreter is `sessions.server.python`, else the Python extension's
// selected one, else `python3`. When `import sessions` fails there, the user
// is offered the wheel this .vsix carries (`python -m pip install <wheel>`).

import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";

import type { Settings } from "./settings";

const IMPORT_CHECK_TIMEOUT_MS = 30_000;
const INSTALL_TIMEOUT_MS = 300_000;

export interface ServerPython {
  python: string;
  /** Where the choice came from, for the log. */
  source: string;
}

/** The part of the Python extension's API used here (ms-python.python). */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined;
    resolveEnvironment(
      env: { path: string },
    ): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
  };
  settings?: {
    getExecutionDetails(resource?: vscode.Uri): { execCommand?: string[] } | undefined;
  };
}

async function pythonExtensionInterpreter(): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>("ms-python.python");
  if (!extension) return undefined;
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
    const active = api.environments?.getActiveEnvironmentPath(resource);
    if (active) {
      const resolved = await api.environments?.resolveEnvironment(active);
      return resolved?.executable?.uri?.fsPath ?? active.path;
    }
    return api.settings?.getExecutionDetails(resource)?.execCommand?.[0];
  } catch {
    return undefined;
  }
}

/**
 * The server's interpreter. In an untrusted workspace the Python extension's
 * choice (often a workspace virtualenv, i.e. code from the workspace) is not used.
 */
export async function findServerPython(settings: Settings): Promise<ServerPython> {
  if (settings.serverPython) return { python: settings.serverPython, source: "sessions.server.python" };
  if (vscode.workspace.isTrusted) {
    const fromExtension = await pythonExtensionInterpreter();
    if (fromExtension) return { python: fromExtension, source: "the Python extension's interpreter" };
  }
  return { python: "python3", source: "default" };
}

function run(
  file: string,
  args: string[],
  timeout: number,
  cwd: string,
): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout, cwd }, (error, stdout, stderr) => {
      resolve({ ok: error === null, output: `${stdout}${stderr}${error && !stderr ? error.message : ""}` });
    });
  });
}

/** The server wheel shipped inside the .vsix (`dist/wheels/sessions-*.whl`). */
export function bundledWheel(extensionPath: string): string | undefined {
  const folder = path.join(extensionPath, "dist", "wheels");
  try {
    const wheel = fs.readdirSync(folder).find((name) => /^sessions-.*\.whl$/.test(name));
    return wheel ? path.join(folder, wheel) : undefined;
  } catch {
    return undefined;
  }
}

async function offerInstall(
  python: string,
  extensionPath: string,
  log: vscode.OutputChannel,
): Promise<boolean> {
  const wheel = bundledWheel(extensionPath);
  const install = "Install Sessions";
  const choose = "Choose Interpreter";
  const message = `The Python package "sessions" is not importable with ${python}.`;
  const answer = wheel
    ? await vscode.window.showWarningMessage(`${message} Install it there from the extension?`, install, choose)
    : await vscode.window.showErrorMessage(`${message} Run: ${python} -m pip install sessions`, choose);
  if (answer === choose) {
    void vscode.commands.executeCommand("workbench.action.openSettings", "sessions.server.python");
  }
  if (answer !== install || !wheel) return false;
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Installing Sessions into ${python}…` },
    () => run(python, ["-m", "pip", "install", "--disable-pip-version-check", wheel], INSTALL_TIMEOUT_MS, extensionPath),
  );
  log.appendLine(`[sessions] ${python} -m pip install ${wheel}\n${result.output}`);
  if (!result.ok) {
    void vscode.window.showErrorMessage(
      `Installing Sessions into ${python} failed (see Sessions: Show Server Log). ` +
        "Set sessions.server.python to a virtualenv's Python if this one is managed by the system.",
    );
  }
  return result.ok;
}

/** Checks the interpreter (offering the install), then starts `sessions lsp` over stdio. */
export async function spawnServer(
  settings: Settings,
  extensionPath: string,
  log: vscode.OutputChannel,
): Promise<ChildProcess> {
  const { python, source } = await findServerPython(settings);
  log.appendLine(`[sessions] server Python: ${python} (${source})`);
  const check = await run(python, ["-c", "import sessions"], IMPORT_CHECK_TIMEOUT_MS, extensionPath);
  if (!check.ok) {
    log.appendLine(`[sessions] import sessions failed:\n${check.output}`);
    const installed = await offerInstall(python, extensionPath, log);
    if (!installed) throw new Error(`"sessions" is not installed for ${python}`);
  }
  // The working directory is the extension's, not the workspace's: `python -m`
  // puts it first on sys.path, and workspace files must not shadow the server.
  return spawn(python, ["-m", "sessions.cli", "lsp"], {
    cwd: extensionPath,
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
    stdio: "pipe",
  });
}
