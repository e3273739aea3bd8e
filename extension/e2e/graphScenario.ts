// The dependency graph: a notebook run in a terminal, opened as a notebook,
// then "Sessions: Show Dependency Graph":
//  1. the webview draws a node per code cell (a title with quotes and angle
//     brackets shown as written) and the edges' names, a mutation among them;
//  2. an edit of the first cell turns its node "edited" and the nodes below
//     it "upstream" in the open graph, without asking again;
//  3. a click on a node focuses that cell in the notebook editor.

import { execFileSync } from "node:child_process";
import path from "node:path";

import type { Frame, Locator, Page } from "playwright-core";

import { VENV_BIN, check, poll, shot } from "./harness";
import { addNotebook, type Workspace } from "./workspace";
import {
  LONG,
  activeNotebook,
  editCellContaining,
  openFromExplorer,
  runCommand,
  waitForCellStatus,
} from "./workbench";

const TITLE = 'Load "trips" <csv>';

/** Cells: 0 the preamble, 1 Load, 2 Noise (mutates `trips`), 3 Total, 4 Average. */
export const GRAPH_NOTEBOOK = `"""Trips by bike."""
import random

# %% ${TITLE}
trips = [3.1, 14.2, 7.4]
random.seed(7)

# %% Noise
trips.append(round(random.uniform(1, 20), 1))

# %% Total
total = sum(trips)
print("graph total", total)

# %% Average
average = total / len(trips)
print("graph average", round(average, 2))
`;

/** The frame of the graph webview (the page the panel's HTML made), once it has drawn its nodes. */
async function graphFrame(page: Page): Promise<Frame> {
  return poll(
    page,
    async () => {
      for (const frame of page.frames()) {
        try {
          if ((await frame.locator('#graph g.node[data-cell="1"]').count()) > 0) return frame;
        } catch {
          // detached while we looked
        }
      }
      return undefined;
    },
    "the dependency graph webview with its nodes",
    LONG,
  );
}

function graphNode(frame: Frame, cell: number): Locator {
  return frame.locator(`#graph g.node[data-cell="${cell}"]`);
}

async function nodeClasses(frame: Frame, cells: number[]): Promise<string[]> {
  const classes: string[] = [];
  for (const cell of cells) classes.push((await graphNode(frame, cell).getAttribute("class")) ?? "");
  return classes;
}

/** Waits until each cell's node has the class of its expected status. */
async function waitForNodeStatuses(page: Page, frame: Frame, expected: Record<number, string>): Promise<void> {
  const cells = Object.keys(expected).map(Number);
  let seen: string[] = [];
  await poll(
    page,
    async () => {
      seen = await nodeClasses(frame, cells).catch(() => []);
      return cells.every((cell, i) => (seen[i] ?? "").split(/\s+/).includes(expected[cell] as string)) ? true : undefined;
    },
    `graph nodes ${JSON.stringify(expected)} (last seen: ${JSON.stringify(seen)})`,
    LONG,
  );
}

export async function graphScenario(page: Page, workspace: Workspace): Promise<void> {
  addNotebook(workspace, "graphed.py", GRAPH_NOTEBOOK);
  execFileSync(path.join(VENV_BIN, "sessions"), ["run", "graphed.py"], { cwd: workspace.folder, stdio: "pipe" });
  // The Explorer lists the sidecar too before the notebook is clicked: a row
  // that appears meanwhile would move the notebook's row under the click.
  await page
    .locator(".explorer-folders-view .monaco-list-row", { hasText: "graphed.sessions.toml" })
    .first()
    .waitFor({ state: "visible", timeout: 15_000 })
    .catch(() => undefined);
  await openFromExplorer(page, "graphed.py");
  await runCommand(page, "Sessions: Open as Notebook");
  await activeNotebook(page).waitFor({ state: "visible", timeout: LONG });
  await waitForCellStatus(page, (texts) => texts.filter((t) => t.includes("fresh")).length >= 3, "fresh cells");

  // 1. The graph: nodes, a title as written, edge labels.
  await runCommand(page, "Sessions: Show Dependency Graph");
  const frame = await graphFrame(page);
  const nodes = await frame.locator("#graph g.node[data-cell]").count();
  check(nodes === 5, `the graph webview draws a node per code cell (${nodes})`);
  const load = (await graphNode(frame, 1).locator(".nodeLabel").first().innerText()).replace(/\s+/g, " ");
  check(load.includes(`1 · ${TITLE}`), `a title with quotes and brackets shows as written: ${JSON.stringify(load)}`);
  await frame.locator(".edgeLabel", { hasText: "mutates trips" }).first().waitFor({ timeout: LONG });
  check(true, 'the edge from Load to Noise is labelled "mutates trips"');
  const total = frame.locator(".edgeLabel", { hasText: /^\s*total\s*$/ });
  // (mermaid nests one .edgeLabel in another: each label counts twice)
  check((await total.count()) > 0, "the edge from Total to Average is labelled with the name `total`");
  await waitForNodeStatuses(page, frame, { 1: "fresh", 2: "fresh", 3: "fresh", 4: "fresh" });
  check(true, "every node is fresh after the terminal run");

  // 2. Edit the Load cell (a statement that changes `trips`): the graph follows.
  await editCellContaining(page, "random.seed(7)");
  await page.keyboard.press("Enter");
  await page.keyboard.type("trips.insert(0, 2.5)", { delay: 10 });
  await page.keyboard.press("Escape");
  await page.keyboard.press("Escape");
  await waitForNodeStatuses(page, frame, { 1: "edited", 2: "upstream", 3: "upstream", 4: "upstream" });
  check(true, 'after the edit the Load node is "edited" and the three below it "upstream"');
  const fill = await graphNode(frame, 1)
    .locator("rect, path, polygon")
    .first()
    // Runs in the page: its global getComputedStyle (this file has no DOM types).
    .evaluate((shape) => (globalThis as unknown as { getComputedStyle(e: unknown): { fill: string } }).getComputedStyle(shape).fill);
  check(fill === "rgb(255, 227, 179)", `the edited node is filled with the "edited" colour (${fill})`);
  await page.mouse.move(5, 500);
  await shot(page, "graph-view", true);

  // 3. A click on the Total node focuses that cell in the notebook editor.
  await graphNode(frame, 3).click();
  const focused = activeNotebook(page).locator(".monaco-list-row.focused", { hasText: 'print("graph total"' });
  await focused.first().waitFor({ state: "visible", timeout: 20_000 });
  check(true, "clicking the Total node focused the Total cell in the notebook");

  // Leave the workbench as it was: the edit reverted, the panel closed.
  await runCommand(page, "File: Revert File");
  await runCommand(page, "View: Close All Editor Groups");
}
