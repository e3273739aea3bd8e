// Export as HTML: a notebook run in a terminal (`sessions run`), one cell then
// edited on disk, opened in VS Code; "Sessions: Export as HTML…" asks where
// (VS Code's own save dialog, answered with its default, report.html), the
// server writes the report, a message offers to open it. Then the report is
// read the way a reader would: in a plain Chromium page of the same browser,
// with JavaScript off and the network cut, where it shows the table, the
// figure, and the stale marker of the edited cell.

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import path from "node:path";

import type { Browser, Page } from "playwright-core";

import { VENV_BIN, check, poll, shot } from "./harness";
import { addNotebook, type Workspace } from "./workspace";
import {
  LONG,
  activeNotebook,
  notificationTexts,
  openFromExplorer,
  runCommand,
  waitForCellStatus,
} from "./workbench";

const REPORT_NOTEBOOK = `# %% [markdown]
# # Lake depths
# Measured in May.

# %% Table
import pandas as pd

lakes = pd.DataFrame({"lake": ["Lakeside", "Mirror"], "depth_m": [12.5, 40.1]})
lakes

# %% Plot
import matplotlib.pyplot as plt

plt.figure(figsize=(3.2, 1.6))
plt.bar(lakes["lake"], lakes["depth_m"])
plt.title("depth (m)")
plt.show()

# %% Deepest
deepest = lakes["depth_m"].max()
print("deepest:", deepest, "m")
`;

/** The part of an HTMLImageElement the test reads (no DOM types in this tsconfig). */
interface DecodedImage {
  naturalWidth: number;
  naturalHeight: number;
}

export async function exportScenario(page: Page, workspace: Workspace, browser: Browser): Promise<void> {
  addNotebook(workspace, "report.py", REPORT_NOTEBOOK);
  execFileSync(path.join(VENV_BIN, "sessions"), ["run", "report.py", "-q"], { cwd: workspace.folder, stdio: "pipe" });
  const notebook = path.join(workspace.folder, "report.py");
  // Edited as an agent would, on disk, after the run: its cached output is now stale.
  fs.writeFileSync(notebook, fs.readFileSync(notebook, "utf8").replace('["depth_m"].max()', '["depth_m"].min()'));

  await openFromExplorer(page, "report.py");
  await runCommand(page, "Sessions: Open as Notebook");
  await activeNotebook(page).waitFor({ state: "visible", timeout: LONG });
  await waitForCellStatus(page, (texts) => texts.some((t) => t.includes("stale")), "the edited cell's stale status");

  // VS Code's save dialog (in the browser, a quick input holding the path): keep its default.
  await runCommand(page, "Sessions: Export as HTML…");
  const dialog = page.locator(".quick-input-widget input").first();
  await dialog.waitFor({ state: "visible", timeout: 20_000 });
  const proposed = await poll(
    page,
    async () => ((await dialog.inputValue()).endsWith("report.html") ? await dialog.inputValue() : undefined),
    "the save dialog's default report.html",
    20_000,
  );
  check(proposed.endsWith("/report.html"), `the save dialog proposes report.html beside the notebook (${proposed})`);
  await dialog.press("Enter");

  const report = path.join(workspace.folder, "report.html");
  const message = await poll(
    page,
    async () => (await notificationTexts(page)).find((text) => text.includes("exported report.html")),
    "the export message",
    LONG,
  );
  check(fs.existsSync(report), "the server wrote report.html beside the notebook");
  check(message.includes("Open"), `the message offers to open the report: ${JSON.stringify(message)}`);

  // A reader's browser: no JavaScript, no network.
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1100, height: 940 } });
  const requested: string[] = [];
  await context.route(/^https?:/, (route) => {
    requested.push(route.request().url());
    return route.abort();
  });
  const reader = await context.newPage();
  try {
    await reader.goto(`file://${report}`);
    const header = reader.locator("header.sessions-report");
    await header.waitFor({ state: "visible", timeout: 10_000 });
    const headerText = await header.innerText();
    check(
      headerText.includes("report.py") && headerText.includes("Outputs produced") && headerText.includes("python"),
      `the report's header names the notebook, when and by which interpreter: ${JSON.stringify(headerText)}`,
    );
    const cells = await reader.locator("table.dataframe td").allInnerTexts();
    check(cells.includes("Lakeside") && cells.includes("40.1"), `the DataFrame shows as a table (${JSON.stringify(cells)})`);
    const image = reader.locator('img[src^="data:image/png;base64,"]').first();
    await image.waitFor({ state: "visible", timeout: 10_000 });
    const size = await image.evaluate((element) => {
      const img = element as unknown as DecodedImage;
      return [img.naturalWidth, img.naturalHeight];
    });
    check(size[0] > 100 && size[1] > 50, `the figure shows, inline in the file (${size[0]}×${size[1]} px)`);
    const stale = reader.locator(".sessions-status.sessions-stale");
    await stale.first().waitFor({ state: "visible", timeout: 10_000 });
    const staleText = await stale.first().innerText();
    check(
      (await stale.count()) === 1 && staleText.includes("stale: code changed since this output"),
      `the edited cell is marked stale, and only it: ${JSON.stringify(staleText)}`,
    );
    check(requested.length === 0, `reading it asked the network for nothing (${JSON.stringify(requested)})`);
    await shot(reader, "export-html", true);
  } finally {
    await context.close();
  }
}
