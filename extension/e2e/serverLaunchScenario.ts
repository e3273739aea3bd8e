// Server launch without the package, and restart after a crash. The server
// interpreter (`sessions.server.python`) is a fresh virtualenv with pip but
// without sessions: opening a notebook as text offers to install the wheel the
// .vsix carries; accepting installs it with pip and starts the server (its
// "Run cell" code lens shows). Then the server process is killed with
// SIGKILL: the extension starts a new one (backoff: 1 s after a first crash),
// and a cell run through the new server's code lens is cached in the sidecar.

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

import type { Page } from "playwright-core";

import { PYTHON, check, poll, shot } from "./harness";
import { serverProcessesOf } from "./processes";
import { LONG, openFromExplorer } from "./workbench";

/** pip resolves and installs the server's dependencies (from the machine's cache when warm). */
const INSTALL_WITHIN_MS = 300_000;
const RESTART_WITHIN_MS = 15_000;
const HELLO_TEXT = "hello from the restarted server";

export const HELLO_NOTEBOOK = `# %% Hello
print("hello from the", "restarted server")
`;

export interface LaunchWorkspace {
  folder: string;
  /** The interpreter of the fresh virtualenv (no sessions in it yet). */
  python: string;
}

/** A virtualenv made by the repository's Python (same version), with pip and without sessions, and a folder with one notebook. */
export function launchWorkspace(tmp: string): LaunchWorkspace {
  const venv = path.join(tmp, "bare-venv");
  execFileSync(PYTHON, ["-m", "venv", venv], { stdio: "pipe" });
  const python = path.join(venv, "bin", "python");
  const folder = path.join(tmp, "launch");
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, "hello.py"), HELLO_NOTEBOOK);
  return { folder, python };
}

function importsSessions(python: string): boolean {
  try {
    execFileSync(python, ["-c", "import sessions"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

function hasPip(python: string): boolean {
  try {
    execFileSync(python, ["-m", "pip", "--version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

export async function serverLaunchScenario(page: Page, { folder, python }: LaunchWorkspace): Promise<void> {
  check(hasPip(python) && !importsSessions(python), "the fresh virtualenv has pip and no sessions");

  await openFromExplorer(page, "hello.py");
  const offer = page
    .locator(".notifications-toasts .notification-toast", { hasText: 'The Python package "sessions" is not importable' })
    .first();
  await offer.waitFor({ state: "visible", timeout: LONG });
  const offerText = (await offer.innerText()).replace(/\s+/g, " ").trim();
  check(offerText.includes(python), `a notification offers the install: ${JSON.stringify(offerText)}`);
  await shot(page, "server-install-offer");

  const clicked = Date.now();
  await offer.locator(".monaco-button", { hasText: "Install Sessions" }).first().click();
  const lens = page.locator(".codelens-decoration", { hasText: "Run cell" }).first();
  await lens.waitFor({ state: "visible", timeout: INSTALL_WITHIN_MS });
  const installTook = (Date.now() - clicked) / 1000;
  check(true, `after "Install Sessions" the server started: the "Run cell" code lens shows (${installTook.toFixed(1)}s)`);
  check(importsSessions(python), "`import sessions` now works in the virtualenv");

  const first = serverProcessesOf(python);
  check(first.length === 1, `one server process runs with the virtualenv's Python (${JSON.stringify(first)})`);
  const [crashed] = first as [number];
  process.kill(crashed, "SIGKILL");
  const killedAt = Date.now();
  const restarted = await poll(
    page,
    async () => serverProcessesOf(python).find((pid) => pid !== crashed),
    "a new server process",
    RESTART_WITHIN_MS,
  );
  check(
    !serverProcessesOf(python).includes(crashed),
    `after SIGKILL of server ${crashed}, the extension started server ${restarted} ` +
      `(${((Date.now() - killedAt) / 1000).toFixed(1)}s)`,
  );

  // The restarted server answers: its code lens runs the cell, and the run is cached.
  const sidecar = path.join(folder, "hello.sessions.toml");
  const cached = (): boolean => fs.existsSync(sidecar) && fs.readFileSync(sidecar, "utf8").includes(HELLO_TEXT);
  check(!cached(), "no output of hello.py is cached yet");
  await poll(
    page,
    async () => {
      const run = page.locator(".codelens-decoration a", { hasText: "Run cell" }).first();
      if ((await run.count()) > 0 && !cached()) await run.click().catch(() => undefined);
      // Clicking again while the run is on its way would only run it twice; give it time.
      for (let waited = 0; waited < 10_000 && !cached(); waited += 250) await page.waitForTimeout(250);
      return cached() ? true : undefined;
    },
    "the output of the cell run through the restarted server in the sidecar",
    LONG,
  );
  check(true, `the cell ran on the restarted server: its output "${HELLO_TEXT}" is cached in hello.sessions.toml`);
  const errors = await page
    .locator(".notifications-toasts .notification-toast", { hasText: "did not start" })
    .allInnerTexts();
  check(errors.length === 0, `no "server did not start" notification (${JSON.stringify(errors)})`);
  await shot(page, "server-restarted");
}
