// Rich outputs render with VS Code's built-in renderers: "Run All" on
// rich.py (an HTML table from `_repr_html_`, a matplotlib PNG, IPython's
// JSON, and an error with a traceback), asserted inside the output webview.

import type { Page } from "playwright-core";

import { check, shot } from "./harness";
import { RICH_EXPECTED, RICH_NOTEBOOK, addNotebook, type Workspace } from "./workspace";
import {
  LONG,
  activeNotebook,
  focusCellList,
  openFromExplorer,
  runCommand,
  waitForCellStatus,
  waitForOutputElement,
} from "./workbench";

/** The part of an HTMLImageElement the test reads (no DOM types in this tsconfig). */
interface DecodedImage {
  naturalWidth: number;
  naturalHeight: number;
  decode(): Promise<void>;
}

export async function richOutputsScenario(page: Page, workspace: Workspace): Promise<void> {
  addNotebook(workspace, "rich.py", RICH_NOTEBOOK);
  await openFromExplorer(page, "rich.py");
  await runCommand(page, "Sessions: Open as Notebook");
  const editor = activeNotebook(page);
  await editor.waitFor({ state: "visible", timeout: LONG });
  await waitForCellStatus(page, (texts) => texts.some((t) => t.includes("never run")), '"never run"');
  await editor.locator(".notebook-toolbar-container .action-item", { hasText: "Run All" }).first().click();

  const cell = await waitForOutputElement(page, "td", { text: RICH_EXPECTED.tableCell });
  const headers = await cell.locator("xpath=ancestor::table//th").allInnerTexts();
  check(
    JSON.stringify(headers) === JSON.stringify(["station", "km"]),
    `the HTML table renders as a <table> in the output webview (headers ${JSON.stringify(headers)})`,
  );

  const image = await waitForOutputElement(page, "img");
  const size = await image.evaluate(async (element) => {
    const img = element as unknown as DecodedImage;
    await img.decode().catch(() => undefined);
    return [img.naturalWidth, img.naturalHeight];
  });
  check(size[0] > 100 && size[1] > 50, `the matplotlib figure renders as a decoded <img> (${size[0]}×${size[1]} px)`);
  // The picture once the run is over ("Run All" is back in place of "Interrupt").
  await editor.locator(".notebook-toolbar-container .action-item", { hasText: "Run All" }).first()
    .waitFor({ state: "visible", timeout: LONG });
  await page.mouse.move(5, 500); // no toolbar hover in the picture
  await shot(page, "notebook-rich-outputs", true);

  // The last cells are below the fold: the virtualized list renders their outputs once in view.
  await focusCellList(page);
  await page.keyboard.press("Control+End");
  await waitForCellStatus(page, (texts) => texts.some((t) => t.includes("error")), '"error" status');
  check(true, 'the failing cell shows the "error" status');
  await waitForOutputElement(page, "*", { text: RICH_EXPECTED.errorName });
  await waitForOutputElement(page, "*", { text: "implausible speed: 99.5 km/h" });
  await waitForOutputElement(page, "*", { text: RICH_EXPECTED.frame });
  check(true, `the error renders its name ${RICH_EXPECTED.errorName}, its message and the traceback`);
  await waitForOutputElement(page, "*", { text: RICH_EXPECTED.json });
  const fallback = await waitForOutputElement(page, "*", { text: "IPython.core.display.JSON object", timeout: 500 }).then(
    () => true,
    () => false,
  );
  check(!fallback, `the JSON output renders its computed value ${RICH_EXPECTED.json}, not the text/plain fallback`);
  await runCommand(page, "Notifications: Clear All Notifications");
  await page.mouse.move(5, 500);
  await shot(page, "notebook-error-output", true);
}
