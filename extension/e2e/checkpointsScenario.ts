// Checkpoints: a notebook run in a terminal (`sessions run`, which saves the
// values of its `checkpoint=true` cell), then opened in VS Code, whose kernel
// is new: running the last cell restores its upstream cell from the
// checkpoint instead of running it, and that cell's status item says
// "restored from checkpoint".

import { execFileSync } from "node:child_process";
import path from "node:path";

import type { Page } from "playwright-core";

import { VENV_BIN, check, shot } from "./harness";
import { CHECKPOINT_NOTEBOOK, addNotebook, type Workspace } from "./workspace";
import {
  LONG,
  activeNotebook,
  openFromExplorer,
  runCellContaining,
  runCommand,
  waitForCellStatus,
} from "./workbench";

export async function checkpointsScenario(page: Page, workspace: Workspace): Promise<void> {
  addNotebook(workspace, "checkpointed.py", CHECKPOINT_NOTEBOOK);
  const saved = execFileSync(path.join(VENV_BIN, "sessions"), ["run", "checkpointed.py"], {
    cwd: workspace.folder,
    encoding: "utf8",
  });
  check(saved.includes("checkpoint saved: table"), "sessions run in a terminal saved the checkpoint of the slow cell");

  await openFromExplorer(page, "checkpointed.py");
  await runCommand(page, "Sessions: Open as Notebook");
  await activeNotebook(page).waitFor({ state: "visible", timeout: LONG });
  await waitForCellStatus(page, (texts) => texts.filter((t) => t.includes("fresh")).length >= 2, "two fresh cells");

  await runCellContaining(page, 'print("checkpointed total"');
  const texts = await waitForCellStatus(
    page,
    (all) => all.some((t) => t.includes("restored from checkpoint")),
    '"restored from checkpoint"',
  );
  check(
    texts.some((t) => t.includes("restored from checkpoint")),
    `running the last cell in a new kernel restored its upstream cell: ${JSON.stringify(texts)}`,
  );
  await page.mouse.move(5, 500);
  await shot(page, "checkpoint-restored", true);
}
