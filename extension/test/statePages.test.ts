// `fetchState` joins the pages of `sessions.state` (docs/protocol.md): pages
// made by the real server-side pager (sessions.lsp.state_payload in the
// repository's .venv) give back every output, in order; a notebook that runs
// between pages is fetched again.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { describe, it } from "node:test";

import type { CellState, NbOutput, NotebookState, StateParams } from "../src/protocol";
import { fetchState } from "../src/statePages";

const ROOT = path.resolve(__dirname, "../../../..");
const PYTHON = path.join(ROOT, ".venv", "bin", "python");

const PAGER = `
import json, sys
from sessions.lsp.state_payload import OutputsCursor, add_outputs_page
from sessions.cache.records import CellRecord
request = json.load(sys.stdin)
records = [CellRecord(hash="h", index=i, run=r, outputs=o) if r is not None else None
           for i, (r, o) in enumerate(request["records"])]
cells = [{"index": i, "run": r, "outputCount": len(o)} for i, (r, o) in enumerate(request["records"])]
cursor = OutputsCursor.decode(request["cursor"]) if request.get("cursor") else None
following = add_outputs_page(cells, records, cursor=cursor, max_bytes=request["maxBytes"])
print(json.dumps({"uri": "file:///n.py", "version": 1, "cells": cells,
                  "nextCursor": following.encode() if following else None}))
`;

type Records = [number | null, NbOutput[]][];

/** A `sessions.state` served by the real pager over `records` (which may change between calls). */
function server(records: () => Records, pageBytes: number): { request: (p: StateParams) => Promise<NotebookState>; calls: StateParams[] } {
  const calls: StateParams[] = [];
  const request = async (params: StateParams): Promise<NotebookState> => {
    calls.push(params);
    const output = execFileSync(PYTHON, ["-c", PAGER], {
      input: JSON.stringify({ records: records(), cursor: params.cursor, maxBytes: pageBytes }),
      encoding: "utf8",
    });
    return JSON.parse(output) as NotebookState;
  };
  return { request, calls };
}

const image = (n: number): NbOutput => ({
  output_type: "display_data",
  data: { "image/png": `${n}`.padEnd(1000, "A") },
  metadata: {},
});

describe("fetchState", () => {
  it("joins every page of outputs, in order", async () => {
    const records: Records = [
      [1, [image(0), image(1), image(2)]],
      [null, []],
      [2, []],
      [3, Array.from({ length: 7 }, (_, n) => image(10 + n))],
    ];
    const fake = server(() => records, 2500);
    const state = await fetchState(fake.request, "file:///n.py");
    assert.ok(fake.calls.length > 3, "the outputs came in several pages");
    assert.equal(state.nextCursor, null);
    assert.deepEqual(
      state.cells.map((cell: CellState) => cell.outputs),
      records.map(([, outputs]) => outputs),
    );
  });

  it("a single page is the reply as it is", async () => {
    const fake = server(() => [[1, [image(0)]]], 1_000_000);
    const state = await fetchState(fake.request, "file:///n.py");
    assert.equal(fake.calls.length, 1);
    assert.deepEqual(state.cells[0].outputs, [image(0)]);
  });

  it("starts over when a cell ran again between pages", async () => {
    let run = 1;
    const records = (): Records => [[run, [image(run), image(run + 1), image(run + 2)]]];
    const fake = server(records, 1500);
    const request = async (params: StateParams): Promise<NotebookState> => {
      const reply = await fake.request(params);
      if (fake.calls.length === 2) run = 5; // the cell ran while the client paged
      return reply;
    };
    const state = await fetchState(request, "file:///n.py");
    assert.deepEqual(state.cells[0].outputs, [image(5), image(6), image(7)]);
    assert.equal(state.cells[0].run, 5);
  });

  it("passes maxBytes on", async () => {
    const fake = server(() => [[1, [image(0)]]], 1_000_000);
    await fetchState(fake.request, "file:///n.py", 64);
    assert.deepEqual(fake.calls, [{ uri: "file:///n.py", maxBytes: 64 }]);
  });
});
