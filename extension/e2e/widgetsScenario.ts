// Jupyter widgets in the notebook view, through the sessions-widgets renderer
// and the comm bridge, on widgets.py (WIDGETS_NOTEBOOK):
//  1. "Run All": the sliders (one of them in two outputs), interact, a
//     tqdm.auto bar that reaches 50/50 and an anywidget counter render live; a
//     view of a model no kernel has shows the notebook's widget-state output;
//  2. a keyboard change of the plain slider reaches the kernel (the next cell,
//     run again, prints it) and its other view; one of the bound slider
//     re-runs its reader at once;
//     one of interact's slider re-renders its Output widget; clicks on the
//     anywidget counter reach the kernel;
//  3. closed and reopened while the kernel runs: the new renderer gets the
//     live models from the server (current values, not the saved ones);
//  4. restarting the kernel turns the live views into placeholders;
//  5. (widgetsReopenedScenario, in a new VS Code on the same folder: no server,
//     no kernel) every widget shows its saved state, static.

import type { Frame, Locator, Page } from "playwright-core";

import { check, poll, shot } from "./harness";
import { WIDGETS_NOTEBOOK, addNotebook, type Workspace } from "./workspace";
import {
  LONG,
  activeNotebook,
  focusCellList,
  kernelStatusText,
  openFromExplorer,
  runCellContaining,
  runCommand,
  waitForCellStatus,
  waitForOutputFrame,
} from "./workbench";

/** The budget: a bound slider's dependent output is updated within this. */
const BOUND_UPDATE_MS = 1000;
const PLACEHOLDER = "Widget not live: the kernel restarted";
const SAVED_NOTE = "Saved state: no kernel runs this widget";

/** Every slider (ipywidgets 8, noUiSlider) whose description label is `label`. */
function slidersIn(frame: Frame, label: string): Locator {
  const exactly = new RegExp(`^\\s*${label}\\s*$`);
  return frame.locator(".widget-slider", { has: frame.locator(".widget-label", { hasText: exactly }) });
}

/** The first slider whose description label is `label`. */
function sliderIn(frame: Frame, label: string): Locator {
  return slidersIn(frame, label).first();
}

/** The readouts of every slider labelled `label`, in page order. */
async function readouts(frame: Frame, label: string): Promise<string[]> {
  const sliders = slidersIn(frame, label);
  const values: string[] = [];
  for (let i = 0; i < (await sliders.count()); i++) values.push(await readout(sliders.nth(i)));
  return values;
}

/** How many "saved state" notes sit under a slider labelled `label` (the note is its view's sibling). */
async function savedNotesBy(frame: Frame, label: string): Promise<number> {
  const notes = frame.locator(".sessions-widget-note");
  let count = 0;
  for (let i = 0; i < (await notes.count()); i++) {
    if ((await slidersIn(frame, label).and(notes.nth(i).locator("xpath=..").locator(".widget-slider")).count()) > 0) count++;
  }
  return count;
}

/** Polls until exactly `count` sliders labelled `label` all read `value`. */
async function allRead(page: Page, frame: Frame, label: string, count: number, value: string, ms: number): Promise<string[]> {
  let last: string[] = [];
  try {
    await poll(
      page,
      async () => {
        last = await readouts(frame, label);
        return last.length === count && last.every((v) => v === value) ? true : undefined;
      },
      `${count} "${label}" sliders at ${value}`,
      ms,
    );
  } catch {
    // The check below reports what was seen.
  }
  return last;
}

/** The slider's readout (its text content: VS Code hides the outputs of cells far out of view). */
async function readout(slider: Locator): Promise<string> {
  return ((await slider.locator(".widget-readout").first().textContent()) ?? "").trim();
}

/** Presses ArrowRight on the slider's handle (focused first, as a keyboard user would). */
async function stepRight(slider: Locator): Promise<void> {
  const handle = slider.locator(".noUi-handle").first();
  await handle.focus();
  await handle.press("ArrowRight");
}

/**
 * Milliseconds from the key press to `text` appearing in the output webview,
 * both read in the webview (its keydown event and a MutationObserver), so
 * neither Playwright's action overhead nor its back-off polling (up to 500 ms
 * between checks) is counted.
 */
async function keyToText(frame: Frame, press: () => Promise<void>, text: string, ms: number): Promise<number> {
  await frame.evaluate(`(() => {
    const w = window;
    w.__sessionsKeyAt = undefined;
    w.__sessionsSeenAt = undefined;
    document.addEventListener("keydown", () => {
      if (w.__sessionsKeyAt === undefined) w.__sessionsKeyAt = performance.now();
    }, { capture: true });
    const observer = new MutationObserver(() => {
      if ((document.body.textContent || "").includes(${JSON.stringify(text)})) {
        w.__sessionsSeenAt = performance.now();
        observer.disconnect();
      }
    });
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
  })()`);
  await press();
  await frame.getByText(text).first().waitFor({ timeout: ms });
  const took = (await frame.evaluate(
    "window.__sessionsKeyAt === undefined || window.__sessionsSeenAt === undefined ? -1 : window.__sessionsSeenAt - window.__sessionsKeyAt",
  )) as number;
  if (took < 0) throw new Error(`the webview saw no key press or no ${JSON.stringify(text)} appear: could not time it`);
  return Math.round(took);
}

async function openWidgetsNotebook(page: Page): Promise<void> {
  await openFromExplorer(page, "widgets.py");
  await runCommand(page, "Sessions: Open as Notebook");
  await activeNotebook(page).waitFor({ state: "visible", timeout: LONG });
}

async function closeEditors(page: Page): Promise<void> {
  await runCommand(page, "View: Close All Editors");
  await activeNotebook(page).waitFor({ state: "hidden", timeout: LONG });
}

/**
 * Scrolls the notebook so that the cell whose source contains `text` (and its
 * output: the list renders only what is near the view) is rendered.
 */
async function reveal(page: Page, text: string): Promise<void> {
  // A notebook just opened may not have laid out its cells yet.
  for (let attempt = 1; ; attempt++) {
    try {
      await focusCellList(page);
      break;
    } catch (error) {
      if (attempt >= 20) throw error;
      await page.waitForTimeout(500);
    }
  }
  await page.keyboard.press("Control+Home");
  const focused = activeNotebook(page).locator(".monaco-list-row.focused");
  for (let step = 0; step < 20; step++) {
    if ((await focused.filter({ hasText: text }).count()) > 0) return;
    await page.keyboard.press("ArrowDown");
    await page.waitForTimeout(100);
  }
  throw new Error(`no cell contains ${JSON.stringify(text)}`);
}

export async function widgetsScenario(page: Page, workspace: Workspace): Promise<void> {
  addNotebook(workspace, "widgets.py", WIDGETS_NOTEBOOK);
  await openWidgetsNotebook(page);
  await waitForCellStatus(page, (texts) => texts.some((t) => t.includes("never run")), '"never run"');
  await activeNotebook(page).locator(".notebook-toolbar-container .action-item", { hasText: "Run All" }).first().click();

  // 1. Live widgets.
  const { frame } = await waitForOutputFrame(page, ".widget-slider", { text: "plain" });
  const plain = sliderIn(frame, "plain");
  check((await readout(plain)) === "3", "the IntSlider renders live as an ipywidgets slider, at 3");
  await frame.getByText("value 3").first().waitFor({ timeout: LONG });

  const bound = sliderIn(frame, "bound");
  await bound.waitFor({ timeout: LONG });
  await frame.getByText("bound 10").first().waitFor({ timeout: LONG });
  check(true, "the bound slider renders, its reader printed bound 10");

  await frame.locator(".widget-output", { hasText: "square 16" }).first().waitFor({ timeout: LONG });
  check(true, "interact renders its slider and prints into its Output widget (square 16)");

  await reveal(page, "tqdm(range(50))");
  const bar = frame.locator(".widget-hprogress, .widget-progress").first();
  await bar.waitFor({ timeout: LONG });
  const progressBox = frame.locator(".widget-hbox", { has: bar }).first();
  await progressBox.filter({ hasText: "50/50" }).waitFor({ timeout: LONG });
  const progressText = (await progressBox.innerText()).replace(/\s+/g, " ").trim();
  check(/100%/.test(progressText), `the tqdm.auto bar reached 100 %: "${progressText}"`);

  // The counter's view comes from its _esm, imported from a blob: URL inside the webview.
  await reveal(page, 'print("kernel count"');
  const counter = frame.locator("button.e2e-counter").first();
  await counter.waitFor({ timeout: LONG });
  check((await counter.innerText()).trim() === "count is 0", "the anywidget counter renders its ESM view (count is 0)");
  await frame.getByText("kernel count 0").first().waitFor({ timeout: LONG });
  await activeNotebook(page).locator(".notebook-toolbar-container .action-item", { hasText: "Run All" }).first()
    .waitFor({ state: "visible", timeout: LONG });

  await reveal(page, "slider_model = {");
  const twice = await allRead(page, frame, "plain", 2, "3", LONG);
  check(twice.length === 2, `the cell that shows the same slider again renders a second view of it (${JSON.stringify(twice)})`);

  // A view whose model no kernel has, with its state in a widget-state output (as an embedding tool writes it).
  const embedded = sliderIn(frame, "embedded");
  await embedded.waitFor({ timeout: LONG });
  await frame.getByText("Widget state: 1 model").first().waitFor({ timeout: LONG });
  check(
    (await readout(embedded)) === "7" && (await savedNotesBy(frame, "embedded")) === 1,
    "a widget view no kernel knows shows the state of the notebook's widget-state output (embedded, at 7, saved state)",
  );

  // 2. Changes from the UI reach the kernel.
  await reveal(page, "slider = widgets.IntSlider");
  await stepRight(plain);
  await poll(page, async () => ((await readout(plain)) === "4" ? true : undefined), "the plain slider at 4", 5000);
  const synced = await allRead(page, frame, "plain", 2, "4", 5000);
  check(
    synced.length === 2 && synced.every((v) => v === "4"),
    `the other output of the same model follows the change: both plain sliders read ${JSON.stringify(synced)}`,
  );
  await waitForCellStatus(page, (texts) => texts.some((t) => t.includes("stale")), "a stale reader of the plain slider");
  check(true, "ArrowRight on the plain slider's handle moved it to 4, and its reader became stale");
  await runCellContaining(page, 'print("value"');
  await frame.getByText("value 4").first().waitFor({ timeout: LONG });
  check(true, "the kernel has the new value: the reader, run again, printed value 4");

  await reveal(page, 'print("bound"');
  const handle = bound.locator(".noUi-handle").first();
  await handle.focus();
  const took = await keyToText(frame, () => handle.press("ArrowRight"), "bound 20", 10_000);
  check(
    took <= BOUND_UPDATE_MS,
    `the bound slider's change re-ran its reader at once: bound 20 shown ${took} ms after the key press (≤ ${BOUND_UPDATE_MS} ms)`,
  );

  await reveal(page, "@interact");
  await stepRight(sliderIn(frame, "n"));
  await frame.locator(".widget-output", { hasText: "square 25" }).first().waitFor({ timeout: 10_000 });
  check(true, "interact's slider re-ran its function into the Output widget (square 25)");

  await reveal(page, 'print("kernel count"');
  await counter.click();
  await counter.click();
  await poll(page, async () => ((await counter.innerText()).includes("count is 2") ? true : undefined), "count is 2", 5000);
  await page.waitForTimeout(300); // the last click's update on its way to the kernel
  await runCellContaining(page, 'print("kernel count"');
  await frame.getByText("kernel count 2").first().waitFor({ timeout: LONG });
  check(true, "two clicks on the anywidget counter reached the kernel: kernel count 2");

  // The lower half: interact's Output widget, the finished bar, the counter and what the kernel says of it.
  await reveal(page, 'print("kernel count"');
  await page.mouse.move(5, 500);
  await shot(page, "widgets-live", true);

  // 3. A new renderer (the notebook reopened) gets the live models from the server.
  await closeEditors(page);
  await openWidgetsNotebook(page);
  await reveal(page, "slider = widgets.IntSlider");
  const reopened = await waitForOutputFrame(page, ".widget-slider", { text: "plain" });
  const plainAgain = sliderIn(reopened.frame, "plain");
  await poll(page, async () => ((await readout(plainAgain)) === "4" ? true : undefined), "the reopened plain slider at 4", 10_000);
  const savedNotes = await savedNotesBy(reopened.frame, "plain");
  check(
    savedNotes === 0,
    `reopened while the kernel runs, the slider is live with the kernel's value 4 (${savedNotes} "saved state" notes)`,
  );

  // 4. Restart: live views become placeholders.
  await runCommand(page, "Sessions: Restart Kernel");
  await reopened.frame.getByText(PLACEHOLDER).first().waitFor({ timeout: LONG });
  // Only the kernel's sliders: the embedded one is saved state, live in no kernel, and stays a
  // slider (it is rendered here when VS Code restored the scroll position the notebook was closed
  // at, near its cell, before reveal() went back to the top).
  const kernelSliders = async (): Promise<number> => {
    let count = 0;
    for (const label of ["plain", "bound", "n"]) count += await slidersIn(reopened.frame, label).count();
    return count;
  };
  await poll(page, async () => ((await kernelSliders()) === 0 ? true : undefined), "no live slider left", 10_000);
  const placeholders = await reopened.frame.getByText(PLACEHOLDER).count();
  check(placeholders >= 1, `restarting the kernel turned the live widgets into ${placeholders} "kernel restarted" placeholder(s)`);
  await page.mouse.move(5, 500);
  await shot(page, "widgets-restarted");

}

/**
 * The same workspace in a new VS Code (the first one and its server, with the
 * kernel, are gone): the reopened notebook shows every widget from the state
 * saved with its output, static.
 */
export async function widgetsReopenedScenario(page: Page): Promise<void> {
  await openWidgetsNotebook(page);
  const restored = await waitForOutputFrame(page, ".widget-slider", { text: "plain", timeout: LONG });
  // The second view's cell is further down: VS Code renders outputs only near the view (as above).
  await reveal(page, "slider_model = {");
  const saved = await allRead(page, restored.frame, "plain", 2, "4", 10_000);
  check(
    saved.length === 2 && saved.every((v) => v === "4"),
    `with no kernel, the reopened notebook shows both views of the slider where the UI left it (${JSON.stringify(saved)}; the cell made it 3)`,
  );
  await restored.frame.getByText(SAVED_NOTE).first().waitFor({ timeout: 10_000 });
  const kernel = await kernelStatusText(page);
  check(!/idle|busy/.test(kernel), `no kernel runs (kernel item "${kernel}"); the view says it is saved state`);
  await reveal(page, "tqdm(range(50))");
  const savedBar = await waitForOutputFrame(page, ".widget-hbox", { text: "50/50", timeout: LONG });
  const barText = (await savedBar.element.innerText()).replace(/\s+/g, " ").trim();
  check(/100%/.test(barText), `the saved tqdm bar shows ${JSON.stringify(barText)}`);
  await reveal(page, "class Counter");
  const counter = await waitForOutputFrame(page, "button.e2e-counter", { timeout: LONG });
  check(true, `the anywidget counter shows its saved view: ${JSON.stringify((await counter.element.innerText()).trim())}`);
  await reveal(page, "sessions.bind");
  await page.mouse.move(5, 500);
  await shot(page, "widgets-restored", true);
}
