// Interrupt: a cell sleeping for a minute, stopped with the cell's stop
// button, ends within seconds as interrupted (KeyboardInterrupt, error
// state), and the kernel status bar item is back to idle.

import type { Page } from "playwright-core";

import { check, poll, shot } from "./harness";
import { SLOW_NOTEBOOK, addNotebook, type Workspace } from "./workspace";
import {
  LONG,
  activeNotebook,
  cellStatusTexts,
  kernelStatusText,
  openFromExplorer,
  runCommand,
  waitForOutputElement,
  waitForTextAnywhere,
} from "./workbench";

const INTERRUPTED_WITHIN_MS = 8_000;

export async function interruptScenario(page: Page, workspace: Workspace): Promise<void> {
  addNotebook(workspace, "slow.py", SLOW_NOTEBOOK);
  await openFromExplorer(page, "slow.py");
  await runCommand(page, "Sessions: Open as Notebook");
  await activeNotebook(page).waitFor({ state: "visible", timeout: LONG });
  const row = activeNotebook(page).locator(".monaco-list-row", { hasText: "time.sleep(60)" }).first();
  await row.waitFor({ state: "visible", timeout: LONG });
  await row.locator(".run-button-container .action-label").first().click();

  await waitForTextAnywhere(page, "sleeping for a minute", { outputsOnly: true });
  await poll(
    page,
    async () => ((await cellStatusTexts(page)).some((t) => t.includes("running")) ? true : undefined),
    'the cell status "running"',
    LONG,
  );
  const busy = await poll(
    page,
    async () => {
      const text = await kernelStatusText(page);
      return text.includes("busy") ? text : undefined;
    },
    "the kernel item busy",
    LONG,
  );
  check(true, `the sleeping cell runs: its status says running, the kernel item "${busy}"`);

  const stop = row.locator(".run-button-container .codicon-notebook-stop").first();
  await stop.waitFor({ state: "visible", timeout: 10_000 });
  check(true, "the running cell shows a stop button");
  const clicked = Date.now();
  await stop.click();
  await row.locator(".codicon-notebook-state-error").first().waitFor({ state: "visible", timeout: INTERRUPTED_WITHIN_MS });
  const took = Date.now() - clicked;
  const statuses = await cellStatusTexts(page);
  check(
    !statuses.some((t) => t.includes("running")),
    `the interrupted cell ended within ${(took / 1000).toFixed(1)}s (${JSON.stringify(statuses)})`,
  );
  await waitForOutputElement(page, "*", { text: "KeyboardInterrupt", timeout: 10_000 });
  check(true, "the cell's output shows the KeyboardInterrupt");
  const woke = await waitForOutputElement(page, "*", { text: "woke up", timeout: 1000 }).then(
    () => true,
    () => false,
  );
  check(!woke, "the rest of the cell did not run");
  const idle = await poll(
    page,
    async () => {
      const text = await kernelStatusText(page);
      return text.includes("idle") ? text : undefined;
    },
    "the kernel item idle",
    10_000,
  );
  check(true, `the kernel status bar item is back to "${idle}"`);
  const warning = page.locator(".notifications-toasts .notification-toast", { hasText: "interrupted" }).first();
  await warning.waitFor({ state: "visible", timeout: 10_000 });
  check(true, `a notification says so: ${JSON.stringify((await warning.innerText()).trim())}`);
  await page.mouse.move(5, 500); // no hover in the picture
  await shot(page, "notebook-interrupted", true);
}
