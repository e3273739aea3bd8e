// The core notebook scenario in a trusted workspace, on a copy of
// examples/tour.py whose outputs were cached by `sessions run`:
//  1. the text editor shows the server's "Run cell" code lens;
//  2. "Sessions: Open as Notebook" shows the cells with their cached outputs
//     restored and every code cell "fresh";
//  3. editing an upstream cell marks it "stale: edited" and its dependents
//     "stale: cell N changed" in the cell status bar;
//  4. running the edited cell renders its new output live and makes it fresh;
//     "Run Stale" in the toolbar re-runs the dependents;
//  5. saving the notebook rewrites exactly the edited cell, nothing else;
//  6. back in the text editor, Shift+Enter runs the cell under the cursor and
//     moves to the next cell.

import * as fs from "node:fs";
import * as path from "node:path";

import type { Page } from "playwright-core";

import { OUT, check, shot } from "./harness";
import type { Workspace } from "./workspace";
import { LONG, openFile, runCommand, editCellContaining, waitForCellStatus, waitForTextAnywhere } from "./workbench";

const LIVE_TEXT = "e2e-live-output";
const EDIT = `trips.pop(); print("${LIVE_TEXT}")`;

export async function notebookScenario(page: Page, { notebook, original }: Workspace): Promise<void> {
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

  // 3. Edit the Clean cell (defines `trips`) so that `trips` changes: it turns
  //    edited, its dependents upstream-stale. (A print alone would change no
  //    value the dependents read, and leave them fresh.)
  await editCellContaining(page, "MIN_MINUTES");
  await page.keyboard.press("Enter");
  await page.keyboard.type(`${EDIT}`, { delay: 10 });
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
    `len(trips)\n${EDIT}\n\n# %% Speed`,
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
