import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { CellState } from "../src/protocol";
import {
  cellStatusText,
  cellStatusView,
  formatDuration,
  kernelStatusView,
  shortInterpreter,
} from "../src/statusText";

function cell(fields: Partial<CellState>): CellState {
  return { index: 0, kind: "code", line: 0, endLine: 1, status: "fresh", ...fields };
}

describe("formatDuration", () => {
  it("scales units with the magnitude", () => {
    assert.equal(formatDuration(0.041), "41 ms");
    assert.equal(formatDuration(0.41), "0.41s");
    assert.equal(formatDuration(12.34), "12.3s");
    assert.equal(formatDuration(125), "2m 05s");
    assert.equal(formatDuration(Number.NaN), "");
  });
});

describe("cellStatusText", () => {
  it("names every status", () => {
    assert.equal(cellStatusText(cell({ status: "fresh", duration: 0.41 })), "$(pass) fresh · 0.41s");
    assert.equal(cellStatusText(cell({ status: "fresh" })), "$(pass) fresh");
    assert.equal(cellStatusText(cell({ status: "edited" })), "$(circle-filled) stale: edited");
    assert.equal(
      cellStatusText(cell({ status: "upstream", causes: [1] })),
      "$(circle-filled) stale: cell 1 changed",
    );
    assert.equal(
      cellStatusText(cell({ status: "upstream", causes: [1, 4] })),
      "$(circle-filled) stale: cells 1, 4 changed",
    );
    assert.equal(cellStatusText(cell({ status: "never-run" })), "$(circle-outline) never run");
    assert.equal(cellStatusText(cell({ status: "error" })), "$(error) error");
  });

  it("says when a fresh cell's values came from a checkpoint", () => {
    const restored = { seconds: 0.3, duration: 31.2, names: ["arr"] };
    assert.equal(cellStatusText(cell({ status: "fresh", duration: 31.2, restored })), "$(history) fresh · restored from checkpoint");
    const view = cellStatusView(cell({ status: "fresh", duration: 31.2, started: "2026-12-02T10:00:00Z", restored }));
    assert.ok(view);
    assert.match(view.tooltip, /Restored from checkpoint in 0\.30s instead of running it again \(its run took 31\.2s\): `arr`/);
    assert.match(view.tooltip, /Side effects of the run .* were not repeated/);
  });

  it("shows running over any status", () => {
    assert.equal(cellStatusText(cell({ status: "edited", running: true })), "$(sync~spin) running");
  });
});

describe("cellStatusView", () => {
  it("has none for markdown and raw cells", () => {
    assert.equal(cellStatusView(cell({ kind: "markdown" })), null);
    assert.equal(cellStatusView(cell({ kind: "raw" })), null);
  });

  it("names the upstream cell that changed and lists defines / uses", () => {
    const cells = [cell({ index: 1, title: "Parse" }), cell({ index: 3 })];
    const view = cellStatusView(
      cell({
        index: 3,
        status: "upstream",
        causes: [1],
        reason: "upstream code changed since this output",
        defines: ["df"],
        uses: ["path", "pd"],
      }),
      (index) => cells.find((other) => other.index === index),
    );
    assert.ok(view);
    assert.match(view.tooltip, /Upstream cell that changed: cell 1 "Parse"/);
    assert.match(view.tooltip, /Defines: `df`/);
    assert.match(view.tooltip, /Uses: `path`, `pd`/);
    assert.match(view.tooltip, /upstream code changed since this output/);
  });
});

describe("kernel status", () => {
  it("shows state and a short interpreter", () => {
    assert.equal(shortInterpreter("/home/u/p/.venv/bin/python"), ".venv/bin/python");
    assert.equal(shortInterpreter("python3"), "python3");
    const view = kernelStatusView({ state: "idle", python: "/home/u/p/.venv/bin/python" });
    assert.equal(view.text, "$(circle-large-outline) idle · .venv/bin/python");
    assert.match(view.tooltip, /Interpreter: `\/home\/u\/p\/.venv\/bin\/python`/);
    assert.match(kernelStatusView(null).text, /not started/);
  });
});
