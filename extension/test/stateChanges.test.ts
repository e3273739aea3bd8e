import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { CellState, CellStatus } from "../src/protocol";
import { applyStateChanges } from "../src/stateChanges";

const cell = (index: number, status: CellStatus = "fresh"): CellState => ({
  index,
  kind: "code",
  line: index * 3,
  endLine: index * 3 + 2,
  status,
});

const uri = "file:///a.py";

describe("applyStateChanges", () => {
  it("takes a complete notification as it is", () => {
    const cells = [cell(0), cell(1)];
    assert.deepEqual(applyStateChanges([cell(0, "edited")], { uri, version: 1, cells }), cells);
    assert.deepEqual(applyStateChanges(undefined, { uri, version: 1, cells }), cells);
  });

  it("replaces the cells a partial one carries and keeps the others", () => {
    const base = [cell(0), cell(1), cell(2)];
    const merged = applyStateChanges(base, {
      uri,
      version: 2,
      onlyChanged: true,
      cellCount: 3,
      cells: [cell(1, "edited")],
    });
    assert.deepEqual(merged, [cell(0), cell(1, "edited"), cell(2)]);
    assert.deepEqual(base, [cell(0), cell(1), cell(2)], "the base is not changed in place");
  });

  it("grows and shrinks to cellCount", () => {
    const base = [cell(0), cell(1), cell(2)];
    const shrunk = applyStateChanges(base, { uri, version: 2, onlyChanged: true, cellCount: 2, cells: [] });
    assert.deepEqual(shrunk, [cell(0), cell(1)]);
    const grown = applyStateChanges(base, {
      uri,
      version: 3,
      onlyChanged: true,
      cellCount: 4,
      cells: [cell(3, "never-run")],
    });
    assert.deepEqual(grown, [...base, cell(3, "never-run")]);
  });

  it("refuses what it cannot apply: no base, or a hole", () => {
    assert.equal(applyStateChanges(undefined, { uri, version: 2, onlyChanged: true, cellCount: 1, cells: [cell(0)] }), undefined);
    assert.equal(
      applyStateChanges([cell(0)], { uri, version: 2, onlyChanged: true, cellCount: 3, cells: [cell(2)] }),
      undefined,
    );
  });
});
