// "Sessions: Open Kernel Console" after the tour's cells ran in the notebook:
// an integrated terminal attaches `jupyter console` to the notebook's kernel,
// so the notebook's variables are there; leaving it with Ctrl-D keeps the
// kernel alive, and the notebook goes on running cells on that same kernel.

import type { Page } from "playwright-core";

import { check, poll, shot } from "./harness";
import { kernelProcessesIn } from "./processes";
import { tripsAfterTour, type Workspace } from "./workspace";
import { LONG, activeNotebook, editCellContaining, runCommand, waitForTerminal, waitForTextAnywhere } from "./workbench";

/** Typed into the console; its output line `trips=N count=C` cannot match the typed line itself. */
const PROBE = 'print(f"trips={len(trips)} count={get_ipython().execution_count}")';
const PROBE_OUTPUT = /trips=(\d+) count=(\d+)/;

export async function consoleScenario(page: Page, { folder, notebook }: Workspace): Promise<void> {
  await runCommand(page, "Sessions: Open as Notebook");
  await activeNotebook(page).waitFor({ state: "visible", timeout: LONG });
  await waitForTextAnywhere(page, "12 trips in the raw data", { outputsOnly: true });
  const kernels = kernelProcessesIn(folder);
  check(kernels.length === 1, `one kernel process runs in the workspace (${kernels.map((k) => k.pid).join(", ")})`);
  const kernelPid = kernels[0]?.pid;

  await runCommand(page, "Sessions: Open Kernel Console");
  await waitForTerminal(page, /In \[\d+\]:/, LONG);
  check(true, "Open Kernel Console started jupyter console in an integrated terminal");
  await page.locator(".terminal-wrapper.active .xterm, .integrated-terminal .xterm").first().click();
  await page.keyboard.type(PROBE, { delay: 5 });
  await page.keyboard.press("Enter");
  const [, trips, count] = await waitForTerminal(page, PROBE_OUTPUT, 30_000);
  const expected = tripsAfterTour(notebook);
  check(Number(trips) === expected, `the console sees the notebook's variables: len(trips) = ${trips} (expected ${expected})`);
  await shot(page, "kernel-console", true);

  // Ctrl-D asks for confirmation, then detaches and keeps the kernel (`exit` would shut it down).
  await page.keyboard.press("Control+D");
  await waitForTerminal(page, /Do you really want to exit/, 15_000);
  await page.keyboard.type("y");
  await page.keyboard.press("Enter");
  await waitForTerminal(page, /keeping kernel alive/, 15_000);
  check(true, 'Ctrl-D left the console, which says "keeping kernel alive"');
  const after = kernelProcessesIn(folder).map((k) => k.pid);
  check(
    kernelPid !== undefined && after.length === 1 && after[0] === kernelPid,
    `the notebook's kernel process ${kernelPid} survived the console (${after.join(", ")})`,
  );

  // The notebook still runs cells, on the same kernel: its execution count goes on from the
  // console's (`execution_count` inside a cell is that cell's number, or the next one in IPython 9).
  const row = await editCellContaining(page, "routes = Counter");
  await page.keyboard.press("Escape");
  await row.locator(".run-button-container .action-label").first().click();
  const order = await poll(
    page,
    async () => {
      const label = (await row.locator(".execution-count-label").first().innerText()).trim();
      const match = label.match(/^\[(\d+)\]$/);
      return match && Number(match[1]) >= Number(count) ? Number(match[1]) : undefined;
    },
    `an execution order from the console's ${count} on`,
    LONG,
  );
  await row.locator(".codicon-notebook-state-success").first().waitFor({ state: "visible", timeout: LONG });
  await runCommand(page, "View: Hide Panel");
  check(true, `after the console the notebook ran a cell on the same kernel: [${order}], counting on from the console's ${count}`);
}
