// End-to-end test in a real VS Code (code-server + headless Chromium): builds
// and installs the .vsix, then drives the workbench from the page.
//  - trusted workspace, one code-server start for all of these scenarios:
//    the tour notebook (code lens, cached outputs, stale, run, save,
//    Shift+Enter), the kernel console, rich outputs, interrupt, Jupyter
//    widgets, checkpoints, Export as HTML (the report then read in a plain
//    Chromium page), the dependency graph webview; then a second code-server on that folder, where the widgets
//    show their saved state without a kernel;
//  - a remote kernel: a real `jupyter server`, reached through the
//    sessions.kernel.server and sessions.kernel.tokenFile settings;
//  - an untrusted workspace, in a second code-server with workspace trust on:
//    cached outputs show, running is refused, no kernel starts;
//  - server launch, in a third code-server whose server Python is a fresh
//    virtualenv without sessions: the install offer, then a crash and restart.
// Screenshots go to test-output/e2e/ and the user guide's docs/images/.
// The last line is `N passed, 0 failed` (or `N passed, 1 failed`).
//   usage: npm run test:e2e     (needs .venv with sessions installed)
//   SESSIONS_E2E_ONLY=rich,interrupt runs only those scenarios (while developing; also
//   notebook, console, widgets, checkpoints, export, graph, remote, untrusted, serverlaunch).

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { chromium, type Browser, type Page } from "playwright-core";

import { CodeServer, installExtension, installTools, type Tools } from "./codeServer";
import { checkpointsScenario } from "./checkpointsScenario";
import { consoleScenario } from "./consoleScenario";
import { exportScenario } from "./exportScenario";
import { graphScenario } from "./graphScenario";
import { DOC_IMAGES, OUT, ROOT, VENV_BIN, check, passedCount, timed } from "./harness";
import { interruptScenario } from "./interruptScenario";
import { notebookScenario } from "./notebookScenario";
import { remoteKernels, remoteScenario, remoteSettings, startJupyterServer } from "./remoteScenario";
import { richOutputsScenario } from "./richOutputsScenario";
import { launchWorkspace, serverLaunchScenario } from "./serverLaunchScenario";
import { declineTrust, untrustedScenario } from "./untrustedScenario";
import { waitForWorkbench } from "./workbench";
import { widgetsReopenedScenario, widgetsScenario } from "./widgetsScenario";
import { trustedWorkspace, untrustedWorkspace, writeSettings } from "./workspace";

interface WorkbenchOptions {
  name: string;
  folder: string;
  workspaceTrust: boolean;
  /** `sessions.server.python`, when not the repository's .venv. */
  serverPython?: string;
  /** More user settings. */
  settings?: Record<string, unknown>;
}

/**
 * Starts code-server on `folder` with its own user data, opens it in a new
 * page, runs `body`, and always stops code-server and keeps VS Code's logs
 * (extension host, "Sessions Server" output channel) in test-output/e2e/logs-NAME.
 */
async function withWorkbench(
  tools: Tools,
  browser: Browser,
  tmp: string,
  extensionsDir: string,
  options: WorkbenchOptions,
  body: (page: Page) => Promise<void>,
): Promise<void> {
  const userDataDir = path.join(tmp, `user-data-${options.name}`);
  writeSettings(userDataDir, {
    trust: options.workspaceTrust,
    serverPython: options.serverPython,
    extra: options.settings,
  });
  const server = await CodeServer.start(tools, {
    userDataDir,
    extensionsDir,
    folder: options.folder,
    logFile: path.join(OUT, `code-server-${options.name}.log`),
    workspaceTrust: options.workspaceTrust,
  });
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  try {
    await page.goto(`${server.url}?folder=${encodeURIComponent(options.folder)}`);
    await body(page);
  } catch (error) {
    await page.screenshot({ path: path.join(OUT, `failure-${options.name}.png`) }).catch(() => undefined);
    throw error;
  } finally {
    await page.close().catch(() => undefined);
    await server.stop();
    const logs = path.join(userDataDir, "logs");
    if (fs.existsSync(logs)) fs.cpSync(logs, path.join(OUT, `logs-${options.name}`), { recursive: true });
  }
}

function buildAndInstall(tools: Tools, extensionsDir: string): void {
  const vsix = execFileSync(path.join(ROOT, "scripts", "package-extension"), { encoding: "utf8" })
    .trim()
    .split("\n")
    .pop() as string;
  check(/sessions-\d+\.\d+\.\d+\.vsix$/.test(vsix) && fs.existsSync(vsix), `built ${path.basename(vsix)}`);
  installExtension(tools, extensionsDir, vsix);
  check(
    fs.readdirSync(extensionsDir).some((name) => name.startsWith("sessions-dev.sessions-")),
    "the .vsix installed into code-server",
  );
}

async function main(): Promise<void> {
  fs.rmSync(OUT, { recursive: true, force: true }); // no screenshot of an earlier run survives
  fs.mkdirSync(OUT, { recursive: true });
  fs.mkdirSync(DOC_IMAGES, { recursive: true });
  if (!fs.existsSync(path.join(VENV_BIN, "sessions"))) {
    throw new Error("no .venv/bin/sessions: run ./scripts/test (or ./scripts/demo) first");
  }
  const only = (process.env.SESSIONS_E2E_ONLY ?? "").split(",").filter((name) => name !== "");
  const wanted = (name: string): boolean => only.length === 0 || only.includes(name);
  const started = Date.now();
  const tools = installTools(ROOT);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sessions-e2e-"));
  // Checkpoints of this run (the terminal runs and every server inherit it), not the user's cache.
  process.env.SESSIONS_CHECKPOINT_DIR = path.join(tmp, "checkpoints");
  const extensionsDir = path.join(tmp, "extensions");
  let browser: Browser | undefined;
  try {
    buildAndInstall(tools, extensionsDir);
    const trusted = trustedWorkspace(tmp);
    const untrusted = untrustedWorkspace(tmp);
    browser = await chromium.launch({
      executablePath: tools.chromium,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    });
    const opened = browser;
    const trustedOptions = { name: "trusted", folder: trusted.folder, workspaceTrust: false };
    await withWorkbench(tools, opened, tmp, extensionsDir, trustedOptions, async (page) => {
      await waitForWorkbench(page);
      if (wanted("notebook")) await timed("notebook", () => notebookScenario(page, trusted));
      if (wanted("console")) await timed("kernel console", () => consoleScenario(page, trusted));
      if (wanted("rich")) await timed("rich outputs", () => richOutputsScenario(page, trusted));
      if (wanted("interrupt")) await timed("interrupt", () => interruptScenario(page, trusted));
      if (wanted("widgets")) await timed("widgets", () => widgetsScenario(page, trusted));
      if (wanted("checkpoints")) await timed("checkpoints", () => checkpointsScenario(page, trusted));
      if (wanted("graph")) await timed("dependency graph", () => graphScenario(page, trusted));
      if (wanted("export")) await timed("export as HTML", () => exportScenario(page, trusted, opened));
    });
    if (wanted("widgets")) {
      // A new VS Code on the same folder: its server starts no kernel, so widgets show their saved state.
      const reopenedOptions = { name: "widgets-reopened", folder: trusted.folder, workspaceTrust: false };
      await withWorkbench(tools, opened, tmp, extensionsDir, reopenedOptions, async (page) => {
        await waitForWorkbench(page);
        await timed("widgets, reopened without a kernel", () => widgetsReopenedScenario(page));
      });
    }
    if (wanted("remote")) {
      const jupyter = await startJupyterServer(tmp);
      try {
        const remoteFolder = path.join(tmp, "remote-workspace");
        fs.mkdirSync(remoteFolder, { recursive: true });
        const remoteOptions = {
          name: "remote",
          folder: remoteFolder,
          workspaceTrust: false,
          settings: remoteSettings(jupyter),
        };
        await withWorkbench(tools, opened, tmp, extensionsDir, remoteOptions, async (page) => {
          await waitForWorkbench(page);
          await timed("remote kernel on a Jupyter server", () => remoteScenario(page, remoteFolder, jupyter));
        });
        const deadline = Date.now() + 15_000;
        let left = await remoteKernels(jupyter);
        while (left.length > 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          left = await remoteKernels(jupyter);
        }
        check(left.length === 0, `closing VS Code deleted its kernel on the server (${left.length} left)`);
      } finally {
        jupyter.process.kill();
      }
    }
    if (wanted("untrusted")) {
      const untrustedOptions = { name: "untrusted", folder: untrusted.folder, workspaceTrust: true };
      await withWorkbench(tools, opened, tmp, extensionsDir, untrustedOptions, async (page) => {
        await timed("untrusted workspace", async () => {
          await declineTrust(page);
          await waitForWorkbench(page);
          await untrustedScenario(page, untrusted);
        });
      });
    }
    if (wanted("serverlaunch")) {
      const launch = launchWorkspace(tmp);
      const launchOptions = { name: "serverlaunch", folder: launch.folder, workspaceTrust: false, serverPython: launch.python };
      await withWorkbench(tools, opened, tmp, extensionsDir, launchOptions, async (page) => {
        await waitForWorkbench(page);
        await timed("server launch and restart", () => serverLaunchScenario(page, launch));
      });
    }
    console.log(`# e2e took ${Math.round((Date.now() - started) / 1000)}s`);
    console.log(`${passedCount()} passed, 0 failed`);
  } catch (error) {
    console.error(`e2e failed: ${error instanceof Error ? error.message : String(error)}`);
    console.error(`screenshots, code-server logs and VS Code logs in ${OUT}`);
    console.log(`${passedCount()} passed, 1 failed`);
    process.exitCode = 1;
  } finally {
    await browser?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`e2e could not run: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
});
