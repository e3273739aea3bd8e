import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { CellState } from "../src/protocol";
import { StateStore } from "../src/stateStore";

const cell = (index: number, fields: Partial<CellState> = {}): CellState => ({
  index,
  kind: "code",
  line: index * 3,
  endLine: index * 3 + 2,
  status: "fresh",
  ...fields,
});

describe("StateStore", () => {
  it("keeps the latest cells per notebook, without outputs, and tells listeners", () => {
    const store = new StateStore();
    const seen: string[] = [];
    store.onDidChange((uri) => seen.push(uri));
    store.update({
      uri: "file:///a.py",
      version: 1,
      kernel: { state: "idle", python: "/p/bin/python" },
      cells: [cell(0, { outputs: [{ output_type: "stream", name: "stdout", text: "x" }] }), cell(1)],
    });
    store.update({ uri: "file:///a.py", version: 2, cells: [cell(0), cell(1, { status: "upstream", causes: [0] })] });
    assert.deepEqual(seen, ["file:///a.py", "file:///a.py"]);
    const snapshot = store.get("file:///a.py");
    assert.equal(snapshot?.version, 2);
    assert.equal(store.cell("file:///a.py", 1)?.status, "upstream");
    assert.equal("outputs" in (store.cell("file:///a.py", 0) ?? {}), false);
    assert.equal(snapshot?.kernel?.state, "idle", "a sessions/state without kernel keeps the known kernel");
  });

  it("adds partial sessions/state notifications up, apart from sessions.state results", () => {
    const store = new StateStore();
    const uri = "file:///b.py";
    assert.equal(store.notify({ uri, version: 1, onlyChanged: true, cellCount: 1, cells: [cell(0)] }), false);
    assert.equal(store.get(uri), undefined, "nothing to apply it to");
    assert.equal(store.notify({ uri, version: 1, cells: [cell(0), cell(1)] }), true);
    store.updateKernel(uri, { state: "idle" });
    // A result of sessions.state is shown, but the next partial notification
    // applies to what the notifications added up to.
    store.update({ uri, version: 1, cells: [cell(0, { status: "edited" }), cell(1)] });
    assert.equal(store.cell(uri, 0)?.status, "edited");
    assert.equal(
      store.notify({ uri, version: 2, onlyChanged: true, cellCount: 2, cells: [cell(1, { status: "upstream" })] }),
      true,
    );
    assert.equal(store.get(uri)?.version, 2);
    assert.equal(store.cell(uri, 0)?.status, "fresh");
    assert.equal(store.cell(uri, 1)?.status, "upstream");
    assert.equal(store.get(uri)?.kernel?.state, "idle");
    store.forget(uri);
    assert.equal(store.notify({ uri, version: 3, onlyChanged: true, cellCount: 2, cells: [] }), false);
  });

  it("merges kernel notifications and normalizes URIs", () => {
    const store = new StateStore((uri) => uri.replace("%3A", ":"));
    store.updateKernel("file:///c%3A/a.py", { state: "busy", python: "/p/bin/python" });
    store.updateKernel("file:///c:/a.py", { state: "idle" });
    assert.deepEqual(store.get("file:///c:/a.py")?.kernel, { state: "idle", python: "/p/bin/python" });
    store.forget("file:///c%3A/a.py");
    assert.equal(store.get("file:///c:/a.py"), undefined);
  });
});
