// An untrusted workspace (workspace trust on, "Don't Trust" chosen): the
// notebook opens with its cached outputs, but running a cell is refused with
// an explanation, nothing new is shown or cached, and no kernel starts.

import * as fs from "node:fs";
import * as path from "node:path";

import type { Page } from "playwright-core";

import { check, shot } from "./harness";
import { kernelProcessesIn } from "./processes";
import type { Workspace } from "./workspace";
import {
  LONG,
  activeNotebook,
  notificationTexts,
  openFile,
  runCommand,
  waitForCellStatus,
  waitForTextAnywhere,
} from "./workbench";

/** Answers VS Code's startup trust prompt with "No, I don't trust the authors". */
export async function declineTrust(page: Page): Promise<void> {
  const dialog = page.locator(".monaco-dialog-box");
  await dialog.waitFor({ state: "visible", timeout: LONG });
  await dialog.locator(".monaco-button", { hasText: /don.t trust/i }).first().click();
  await dialog.waitFor({ state: "hidden", timeout: 20_000 });
}

export async function untrustedScenario(page: Page, { folder, notebook, original }: Workspace): Promise<void> {
  await page.locator(".statusbar-item", { hasText: "Restricted Mode" }).first().waitFor({ timeout: LONG });
  check(true, "the workspace opened in Restricted Mode");
  const sidecar = path.join(folder, "tour.sessions.toml");
  const cached = fs.readFileSync(sidecar, "utf8");

  await openFile(page, "tour.py");
  await runCommand(page, "Sessions: Open as Notebook");
  await activeNotebook(page).waitFor({ state: "visible", timeout: LONG });
  await waitForTextAnywhere(page, "12 trips in the raw data", { outputsOnly: true });
  check(true, "the untrusted notebook shows its cached outputs");
  await waitForCellStatus(page, (texts) => texts.some((t) => t.includes("fresh")), '"fresh"');
  check(true, "the untrusted notebook shows its cells' statuses");

  // The cell's run button: VS Code or the extension must refuse, with an explanation.
  const row = activeNotebook(page).locator(".monaco-list-row", { hasText: "RAW.count" }).first();
  await row.locator(".view-line").first().click();
  await page.keyboard.press("Escape");
  await row.locator(".run-button-container .action-label").first().click();
  const dialog = page.locator(".monaco-dialog-box");
  const explanation = await Promise.race([
    dialog.waitFor({ state: "visible", timeout: 15_000 }).then(async () => dialog.innerText()),
    page
      .locator(".notifications-toasts .notification-toast", { hasText: "untrusted" })
      .first()
      .waitFor({ state: "visible", timeout: 15_000 })
      .then(async () => (await notificationTexts(page)).join(" | ")),
  ]);
  check(/trust/i.test(explanation), `running a cell is refused with an explanation: ${JSON.stringify(explanation.replace(/\s+/g, " "))}`);
  await shot(page, "untrusted-run-refused", true);
  if (await dialog.isVisible()) {
    await dialog.locator(".monaco-button", { hasText: /cancel|don.t trust|no/i }).first().click();
    await dialog.waitFor({ state: "hidden", timeout: 20_000 });
  }

  // The extension's own run commands are refused too.
  await runCommand(page, "Sessions: Run Stale");
  await page
    .locator(".notifications-toasts .notification-toast", { hasText: "runs no code in an untrusted workspace" })
    .first()
    .waitFor({ state: "visible", timeout: 15_000 });
  check(true, '"Sessions: Run Stale" is refused: "Sessions runs no code in an untrusted workspace"');

  await page.waitForTimeout(1500); // what would have started, would have by now
  const orders = await activeNotebook(page).locator(".execution-count-label").allInnerTexts();
  check(orders.every((label) => !/\d/.test(label)), `no cell ran: no execution order (${JSON.stringify(orders)})`);
  check(fs.readFileSync(sidecar, "utf8") === cached, "the sidecar cache is untouched");
  const kernels = kernelProcessesIn(folder);
  check(kernels.length === 0, `no kernel process runs in the untrusted workspace (${JSON.stringify(kernels)})`);
  check(fs.readFileSync(notebook, "utf8") === original, "the notebook file is untouched");
}
