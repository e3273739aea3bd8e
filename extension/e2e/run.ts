// End-to-end test in a real VS Code (code-server + headless Chromium):
// builds and installs the .vsix, opens a copy of examples/tour.py whose
// outputs were cached by `sessions run`, and checks from the page that
//  1. the text editor shows the server's "Run cell" code lens;
//  2. "Sessions: Open as Notebook" shows the cells with their cached outputs
//     restored and every code cell "fresh";
//  3. editing an upstream cell marks it "stale: edited" and its dependents
//     "stale: cell N changed" in the cell status bar;
//  4. running the edited cell renders its new output live and makes it fresh;
//  5. saving the notebook rewrites exactly the edited cell, nothing else.
// Screenshots go to test-output/e2e/ and the user guide's docs/images/.
//   usage: npm run test:e2e     (needs .venv with sessions installed)

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { chromium, type Page } from "playwright-core";

import { CodeServer, installExtension, installTools } from "./codeServer";
import { LONG, openFile, runCommand, editCellContaining, waitForCellStatus, waitForTextAnywhere, waitForWorkbench } from "./workbench";

const ROOT = path.resolve(__dirname, "../../../..");
const OUT = path.join(ROOT, "test-output", "e2e");
const DOC_IMAGES = path.join(ROOT, "docs", "images");
const VENV_BIN = path.join(ROOT, ".venv", "bin");
const LIVE_TEXT = "e2e-live-output";

let passed = 0;
function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`assertion failed: ${message}`);
  passed += 1;
  console.log(`ok - ${message}`);
}

async function shot(page: Page, name: string, forDocs = false): Promise<void> {
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file });
  if (forDocs) fs.copyFileSync(file, path.join(DOC_IMAGES, `${name}.png`));
}

function prepareWorkspace(tmp: string): { folder: string; notebook: string; original: string } {
  const folder = path.join(tmp, "workspace");
  fs.mkdirSync(folder, { recursive: true });
  const notebook = path.join(folder, "tour.py");
  fs.copyFileSync(path.join(ROOT, "examples", "tour.py"), notebook);
  // Cache outputs with the CLI, as a user who ran it in a terminal would have.
  execFileSync(path.join(VENV_BIN, "sessions"), ["run", notebook], { cwd: folder, stdio: "pipe" });
  check(fs.existsSync(path.join(folder, "tour.sessions.toml")), "sessions run cached the outputs in the sidecar");
  return { folder, notebook, original: fs.readFileSync(notebook, "utf8") };
}

function writeSettings(userDataDir: string): void {
  const python = path.join(VENV_BIN, "python");
  const settings = {
    "security.workspace.trust.enabled": false,
    "sessions.server.python": python,
    "sessions.python": python,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "workbench.welcomePage.walkthroughs.openOnInstall": false,
    "extensions.ignoreRecommendations": true,
    "telemetry.telemetryLevel": "off",
    "chat.disableAIFeatures": true,
    "editor.codeLens": true,
    "notebook.output.textLineLimit": 60,
    "window.zoomLevel": -1,
  };
  fs.mkdirSync(path.join(userDataDir, "User"), { recursive: true });
  fs.writeFileSync(path.join(userDataDir, "User", "settings.json"), JSON.stringify(settings, null, 2));
}

async function scenario(page: Page, notebook: string, original: string): Promise<void> {
  // 1. Text editor: the server's code lenses.
  await openFile(page, "tour.py");
  const lens = page.locator(".codelens-decoration", { hasText: "Run cell" }).first();
  await lens.waitFor({ state: "visible", timeout: LONG });
  check(await lens.isVisible(), 'the text editor shows the "Run cell" code lens');
  await shot(page, "text-editor-code-lens", true);

  // 2. Open as notebook: cached outputs restored, cells fresh.
  await runCommand(page, "Sessions: Open as Notebook");
  await page.locator(".notebook-editor").first().waitFor({ state: "visible", timeout: LONG });
  await waitForTextAnywhere(page, "12 trips in the raw data", { outputsOnly: true });
  check(true, "the notebook shows the cached output of the Raw data cell");
  const fresh = await waitForCellStatus(page, (texts) => texts.some((t) => t.includes("fresh")), '"fresh"');
  check(!fresh.some((t) => t.includes("stale")), "no cell is stale after opening");
  const orders = await page.locator(".notebook-editor .execution-count-label").allInnerTexts();
  check(
    orders.length > 0 && orders.every((label) => !/\d/.test(label)),
    `restored outputs claim no execution order (${JSON.stringify(orders)})`,
  );
  await shot(page, "notebook-restored", true);

  // 3. Edit the Clean cell (defines `trips`): it turns edited, its dependents upstream-stale.
  await editCellContaining(page, "MIN_MINUTES");
  await page.keyboard.press("Enter");
  await page.keyboard.type(`print("${LIVE_TEXT}")`, { delay: 10 });
  await page.keyboard.press("Escape"); // close any suggestion widget
  await page.keyboard.press("Escape"); // leave the cell editor (command mode)
  for (let step = 0; step < 2; step++) await page.keyboard.press("ArrowDown"); // reveal dependents
  const stale = await waitForCellStatus(
    page,
    (texts) => texts.some((t) => t.includes("stale: edited")) && texts.some((t) => /stale: cells? \d/.test(t)),
    '"stale: edited" and "stale: cell N changed"',
  );
  check(true, `editing an upstream cell marks its dependents stale: ${JSON.stringify(stale)}`);
  await shot(page, "notebook-stale", true);
  const staleItem = page.locator(".cell-status-item", { hasText: /stale: cells? \d/ }).first();
  await staleItem.hover();
  await page.locator(".monaco-hover, .workbench-hover", { hasText: "Defines" }).first()
    .waitFor({ state: "visible", timeout: 15_000 })
    .then(() => check(true, "the stale status tooltip lists what the cell defines and uses"))
    .catch(() => console.log("# note: no tooltip hover seen (not an assertion)"));
  await shot(page, "cell-status-tooltip", true);
  await page.mouse.move(5, 500);

  // 4. Run the edited cell: its new output renders live.
  for (let step = 0; step < 2; step++) await page.keyboard.press("ArrowUp");
  const focused = page.locator(".notebook-editor .monaco-list-row.focused", { hasText: "MIN_MINUTES" });
  check((await focused.count()) === 1, "the edited cell has the focus again");
  await focused.locator(".run-button-container .action-label").first().click();
  await waitForTextAnywhere(page, LIVE_TEXT, { outputsOnly: true });
  check(true, "running the cell rendered its new output");
  await waitForCellStatus(
    page,
    (texts) => texts.some((t) => t.includes("fresh")) && !texts.some((t) => t.includes("stale: edited")),
    "the edited cell fresh again",
  );
  check(true, "the edited cell is fresh after it ran");
  await focused.locator(".codicon-notebook-state-success").first().waitFor({ state: "visible", timeout: LONG });
  const order = (await focused.locator(".execution-count-label").first().innerText()).trim();
  check(/^\[\d+\]$/.test(order), `the cell shows its execution order ${order} and a success check`);
  await shot(page, "notebook-ran", true);

  // "Run Stale" in the notebook toolbar re-runs the dependents.
  await page.locator(".notebook-toolbar-container .action-item", { hasText: "Run Stale" }).first().click();
  await waitForCellStatus(
    page,
    (texts) => texts.length > 0 && !texts.some((t) => t.includes("stale") || t.includes("running")),
    "no stale cell after Run Stale",
  );
  check(true, "Run Stale (notebook toolbar) left no stale cell in view");

  // 5. Save: exactly the edited cell changes in the file.
  await page.keyboard.press("Control+S");
  const expected = original.replace(
    "len(trips)\n\n# %% Speed",
    `len(trips)\nprint("${LIVE_TEXT}")\n\n# %% Speed`,
  );
  const deadline = Date.now() + 30_000;
  let saved = fs.readFileSync(notebook, "utf8");
  while (saved === original && Date.now() < deadline) {
    await page.waitForTimeout(250);
    saved = fs.readFileSync(notebook, "utf8");
  }
  if (saved !== expected) fs.writeFileSync(path.join(OUT, "saved-tour.py"), saved);
  check(saved === expected, "saving the notebook rewrote only the edited cell (see saved-tour.py if not)");

  // 6. Back to text; Shift+Enter runs the cell under the cursor and moves to the next cell.
  await runCommand(page, "Sessions: Reopen as Text");
  await page.locator(".codelens-decoration", { hasText: "Run cell" }).first().waitFor({ timeout: LONG });
  const lines = saved.split("\n");
  const routes = lines.findIndex((line) => line.startsWith("# %% Busiest routes")) + 2; // 1-based body line
  const commute = lines.findIndex((line) => line.startsWith("# %% Commute hour")) + 2;
  await openFile(page, `:${routes}`);
  await page.keyboard.press("Shift+Enter");
  const cursor = page.locator(".statusbar-item", { hasText: `Ln ${commute},` }).first();
  await cursor.waitFor({ state: "visible", timeout: LONG });
  check(true, `Shift+Enter in the text editor moved from line ${routes} to the next cell (line ${commute})`);
  await page.waitForTimeout(1500); // let the run finish or fail
  const errors = await page.locator(".notifications-toasts .notification-toast", { hasText: "Sessions" }).allInnerTexts();
  check(errors.length === 0, `no Sessions error notification (${JSON.stringify(errors)})`);
}

async function main(): Promise<void> {
  fs.rmSync(OUT, { recursive: true, force: true }); // no screenshot of an earlier run survives
  fs.mkdirSync(OUT, { recursive: true });
  fs.mkdirSync(DOC_IMAGES, { recursive: true });
  if (!fs.existsSync(path.join(VENV_BIN, "sessions"))) {
    throw new Error("no .venv/bin/sessions: run ./scripts/test (or ./scripts/demo) first");
  }
  const started = Date.now();
  const tools = installTools(ROOT);
  const vsix = execFileSync(path.join(ROOT, "scripts", "package-extension"), { encoding: "utf8" })
    .trim()
    .split("\n")
    .pop() as string;
  check(/sessions-\d+\.\d+\.\d+\.vsix$/.test(vsix) && fs.existsSync(vsix), `built ${path.basename(vsix)}`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sessions-e2e-"));
  const { folder, notebook, original } = prepareWorkspace(tmp);
  const userDataDir = path.join(tmp, "user-data");
  const extensionsDir = path.join(tmp, "extensions");
  writeSettings(userDataDir);
  installExtension(tools, extensionsDir, vsix);
  check(
    fs.readdirSync(extensionsDir).some((name) => name.startsWith("sessions-dev.sessions-")),
    "the .vsix installed into code-server",
  );

  const server = await CodeServer.start(tools, {
    userDataDir,
    extensionsDir,
    folder,
    logFile: path.join(OUT, "code-server.log"),
  });
  const browser = await chromium.launch({
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
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  try {
    await page.goto(`${server.url}?folder=${encodeURIComponent(folder)}`);
    await waitForWorkbench(page);
    await scenario(page, notebook, original);
    console.log(`# e2e took ${Math.round((Date.now() - started) / 1000)}s`);
    console.log(`${passed} passed, 0 failed`);
  } catch (error) {
    await page.screenshot({ path: path.join(OUT, "failure.png") }).catch(() => undefined);
    console.error(`e2e failed: ${error instanceof Error ? error.message : String(error)}`);
    console.error(`screenshots and code-server.log in ${OUT}`);
    console.log(`${passed} passed, 1 failed`);
    process.exitCode = 1;
  } finally {
    await browser.close();
    await server.stop();
    // VS Code's logs (extension host, "Sessions Server" output channel) for diagnosis.
    const logs = path.join(userDataDir, "logs");
    fs.rmSync(path.join(OUT, "logs"), { recursive: true, force: true });
    if (fs.existsSync(logs)) fs.cpSync(logs, path.join(OUT, "logs"), { recursive: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`e2e could not run: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
});
