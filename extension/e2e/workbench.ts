// Driving the VS Code workbench in the page: the command palette, quick open,
// and waiting for text in the workbench or in any webview frame (notebook
// outputs render inside webviews).

import type { Frame, Locator, Page } from "playwright-core";

export const LONG = 90_000;

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

/** Runs a command by its palette title, e.g. "Sessions: Open as Notebook". */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press("F1");
  const input = await quickInput(page);
  await input.fill(`>${title}`);
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
  await row.waitFor({ state: "visible", timeout: 20_000 });
  await page.waitForTimeout(200);
  await input.press("Enter");
  await page.locator(".quick-input-widget").waitFor({ state: "hidden", timeout: 20_000 }).catch(() => undefined);
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
  return page.locator(".notebook-editor .cell-statusbar-container .cell-status-item").allInnerTexts();
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
 * Puts the cursor at the end of the code cell that contains `text`: focus the
 * first cell, then walk down in command mode (each step reveals the focused
 * cell of the virtualized list) until the focused row holds `text`.
 */
export async function editCellContaining(page: Page, text: string): Promise<Locator> {
  const rows = page.locator(".notebook-editor .monaco-list-row");
  await rows.first().locator(".view-line").first().click();
  await page.keyboard.press("Escape");
  const focused = page.locator(".notebook-editor .monaco-list-row.focused");
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
