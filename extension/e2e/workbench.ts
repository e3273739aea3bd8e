// Driving the VS Code workbench in the page: the command palette, quick open
// and the Explorer, the notebook editor on screen and its cells, text in the
// output webviews (notebook outputs render inside them), the integrated
// terminal, notifications and the Sessions kernel item in the status bar.

import type { Frame, Locator, Page } from "playwright-core";

export const LONG = 90_000;

/** The notebook editor on screen (editors of other tabs stay in the DOM, hidden). */
export function activeNotebook(page: Page): Locator {
  return page.locator(".notebookOverlay.notebook-editor").filter({ visible: true }).first();
}

export async function waitForWorkbench(page: Page): Promise<void> {
  await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: LONG });
  // The explorer shows the folder once the workbench has restored.
  await page.locator(".explorer-folders-view, .explorer-viewlet").first().waitFor({ timeout: LONG });
}

async function quickInput(page: Page): Promise<Locator> {
  const input = page.locator(".quick-input-widget input.input, .quick-input-widget input").first();
  await input.waitFor({ state: "visible", timeout: 20_000 });
  return input;
}

/**
 * Runs a command by its palette title, e.g. "Sessions: Open as Notebook".
 * The palette lists the commands known when it opens: right after the
 * workbench loads, an extension's may not be registered yet, so a palette
 * without the command is closed and opened again.
 */
export async function runCommand(page: Page, title: string): Promise<void> {
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press("F1");
    const input = await quickInput(page);
    await input.fill(`>${title}`);
    try {
      await row.waitFor({ state: "visible", timeout: attempt < 3 ? 10_000 : 20_000 });
    } catch (error) {
      if (attempt >= 3) throw error;
      await page.keyboard.press("Escape");
      await page.waitForTimeout(1000);
      continue;
    }
    await page.waitForTimeout(200);
    await input.press("Enter");
    await page.locator(".quick-input-widget").waitFor({ state: "hidden", timeout: 20_000 }).catch(() => undefined);
    return;
  }
}

/** Opens a workspace file through Quick Open (or goes to a line with `:N`). */
export async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press("F1");
  const input = await quickInput(page);
  await input.fill(name);
  if (!name.startsWith(":")) {
    const row = page.locator(".quick-input-list .monaco-list-row", { hasText: name }).first();
    await row.waitFor({ state: "visible", timeout: 20_000 });
  }
  await page.waitForTimeout(200);
  await input.press("Enter");
  await page.locator(".quick-input-widget").waitFor({ state: "hidden", timeout: 20_000 }).catch(() => undefined);
}

async function frameHasText(frame: Frame, text: string): Promise<boolean> {
  try {
    return (await frame.getByText(text).count()) > 0;
  } catch {
    return false; // frame detached while we looked
  }
}

/**
 * Waits until `text` shows in the page or in any of its frames; with
 * `outputsOnly`, only in webview frames (where notebook outputs render), so
 * text in a cell's source does not count.
 */
export async function waitForTextAnywhere(
  page: Page,
  text: string,
  { outputsOnly = false, timeout = LONG }: { outputsOnly?: boolean; timeout?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (outputsOnly && frame === page.mainFrame()) continue;
      if (await frameHasText(frame, text)) return;
    }
    await page.waitForTimeout(500);
  }
  throw new Error(`"${text}" did not appear within ${timeout / 1000}s`);
}

/** The texts of the notebook cell status bar items currently rendered. */
export async function cellStatusTexts(page: Page): Promise<string[]> {
  return activeNotebook(page).locator(".cell-statusbar-container .cell-status-item").allInnerTexts();
}

/** Waits until some rendered cell status item satisfies `predicate`. */
export async function waitForCellStatus(
  page: Page,
  predicate: (texts: string[]) => boolean,
  what: string,
  timeout = LONG,
): Promise<string[]> {
  const deadline = Date.now() + timeout;
  let texts: string[] = [];
  while (Date.now() < deadline) {
    texts = await cellStatusTexts(page);
    if (predicate(texts)) return texts;
    await page.waitForTimeout(500);
  }
  throw new Error(`cell status bar: ${what} not seen within ${timeout / 1000}s; last seen: ${JSON.stringify(texts)}`);
}

/**
 * Focuses the notebook's cell list in command mode: clicks a line of code of
 * a cell that is wholly in view (a row scrolled half out of view is covered by
 * the breadcrumbs), then leaves the cell editor.
 */
export async function focusCellList(page: Page): Promise<void> {
  const list = await activeNotebook(page).locator(".monaco-list").first().boundingBox();
  const lines = activeNotebook(page).locator(".monaco-list-row .view-line");
  for (let index = 0; list && index < (await lines.count()); index++) {
    const box = await lines.nth(index).boundingBox();
    if (box && box.y >= list.y + 40 && box.y + box.height <= list.y + list.height - 20) {
      await lines.nth(index).click();
      // Escape leaves the cell editor (a first one may only close a hover or a suggestion).
      const editing = activeNotebook(page).locator(".monaco-list-row .monaco-editor.focused");
      for (let attempt = 0; attempt < 3 && (await editing.count()) > 0; attempt++) {
        await page.keyboard.press("Escape");
        await page.waitForTimeout(100);
      }
      return;
    }
  }
  throw new Error("no cell of the notebook is in view");
}

/**
 * Puts the cursor at the end of the code cell that contains `text`: focus the
 * first cell, then walk down in command mode (each step reveals the focused
 * cell of the virtualized list) until the focused row holds `text`.
 */
export async function editCellContaining(page: Page, text: string): Promise<Locator> {
  await focusCellList(page);
  await page.keyboard.press("Control+Home");
  const focused = activeNotebook(page).locator(".monaco-list-row.focused");
  for (let step = 0; step < 60; step++) {
    if ((await focused.filter({ hasText: text }).count()) > 0) {
      await page.keyboard.press("Enter");
      await page.keyboard.press("Control+End");
      return focused.first();
    }
    await page.keyboard.press("ArrowDown");
    await page.waitForTimeout(150);
  }
  throw new Error(`no notebook cell contains ${JSON.stringify(text)}`);
}

/**
 * The frames where notebook outputs render (webviews, and the frames nested
 * in them), of the editors on screen: the webviews of notebooks in other tabs
 * stay in the page, hidden.
 */
export async function outputFrames(page: Page): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (const frame of page.frames()) {
    let top = frame;
    while (top.parentFrame() !== null && top.parentFrame() !== page.mainFrame()) top = top.parentFrame() as Frame;
    if (top === page.mainFrame()) continue;
    try {
      if (await (await top.frameElement()).isVisible()) frames.push(frame);
    } catch {
      // detached while we looked
    }
  }
  return frames;
}

/**
 * Waits until some output frame has an element matching `selector` (with
 * `text`, if given); returns that frame too, for checks that must not wait
 * for the next half-second poll.
 */
export async function waitForOutputFrame(
  page: Page,
  selector: string,
  { text, timeout = LONG }: { text?: string | RegExp; timeout?: number } = {},
): Promise<{ frame: Frame; element: Locator }> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    for (const frame of await outputFrames(page)) {
      const locator = frame.locator(selector, text === undefined ? {} : { hasText: text });
      try {
        if ((await locator.count()) > 0) return { frame, element: locator.first() };
      } catch {
        // frame detached while we looked
      }
    }
    await page.waitForTimeout(500);
  }
  throw new Error(`no output element ${selector}${text ? ` with "${String(text)}"` : ""} within ${timeout / 1000}s`);
}

/** Waits until some output frame has an element matching `selector` (with `text`, if given). */
export async function waitForOutputElement(
  page: Page,
  selector: string,
  options: { text?: string | RegExp; timeout?: number } = {},
): Promise<Locator> {
  return (await waitForOutputFrame(page, selector, options)).element;
}

/** Runs the code cell that contains `text` with its run button. */
export async function runCellContaining(page: Page, text: string): Promise<void> {
  await editCellContaining(page, text);
  const row = activeNotebook(page).locator(".monaco-list-row.focused", { hasText: text }).first();
  await row.locator(".run-button-container .action-label").first().click();
}

/** The visible text of the integrated terminal (its DOM renderer's rows). */
export async function terminalText(page: Page): Promise<string> {
  const rows = page.locator(".terminal-wrapper.active .xterm-rows, .integrated-terminal .xterm-rows");
  return (await rows.allInnerTexts()).join("\n").replace(/\u00a0/g, " ");
}

/** Waits until the terminal shows text matching `pattern`; returns the match. */
export async function waitForTerminal(page: Page, pattern: RegExp, timeout = LONG): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeout;
  let text = "";
  while (Date.now() < deadline) {
    text = await terminalText(page);
    const match = text.match(pattern);
    if (match) return match;
    await page.waitForTimeout(250);
  }
  throw new Error(`terminal: ${pattern} not seen within ${timeout / 1000}s; it shows:\n${text.slice(-2000)}`);
}

/** The texts of the notification toasts on screen. */
export async function notificationTexts(page: Page): Promise<string[]> {
  return page.locator(".notifications-toasts .notification-toast").allInnerTexts();
}

/** The text of the Sessions kernel item in the status bar. */
export async function kernelStatusText(page: Page): Promise<string> {
  const item = page.locator('.statusbar-item[id="sessions-dev.sessions.sessions.kernel"]');
  return (await item.count()) > 0 ? (await item.innerText()).replace(/\s+/g, " ").trim() : "";
}

/**
 * Opens a file by clicking it in the Explorer, once the Explorer lists it (new
 * files show up there first; when the file watcher is slow to tell, the
 * Explorer is refreshed).
 */
export async function openFromExplorer(page: Page, name: string): Promise<void> {
  const row = page.locator(".explorer-folders-view .monaco-list-row", { hasText: name }).first();
  const listed = await row.waitFor({ state: "visible", timeout: 15_000 }).then(() => true, () => false);
  if (!listed) {
    // The Explorer's own refresh action (in its title bar, shown on hover).
    await page.locator(".explorer-folders-view").first().hover();
    await page.locator('.action-label[aria-label*="Refresh Explorer"], .action-label.codicon-refresh').first().click();
    await row.waitFor({ state: "visible", timeout: LONG });
  }
  await row.click();
  await page.locator(".tabs-container .tab.active", { hasText: name }).first().waitFor({ timeout: LONG });
}
