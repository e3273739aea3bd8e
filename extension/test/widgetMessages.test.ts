import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  commToRenderer,
  commToServer,
  kernelToRenderer,
  parseRendererMessage,
  snapshotToRenderer,
} from "../src/widgetMessages";

const slider = {
  model_name: "IntSliderModel",
  model_module: "@jupyter-widgets/controls",
  model_module_version: "2.0.0",
  state: { value: 3, layout: "IPY_MODEL_L" },
};

describe("parseRendererMessage", () => {
  it("accepts hello and well-formed comm messages", () => {
    assert.deepEqual(parseRendererMessage({ type: "hello" }), { type: "hello" });
    const comm = {
      type: "comm",
      kernel: "k1",
      event: "msg",
      commId: "m1",
      data: { method: "update", state: { value: 4 }, buffer_paths: [] },
      metadata: {},
    };
    assert.deepEqual(parseRendererMessage(comm), comm);
  });

  it("keeps buffers and the target name, defaults data to {}", () => {
    const parsed = parseRendererMessage({
      type: "comm",
      kernel: "k1",
      event: "open",
      commId: "m2",
      targetName: "jupyter.widget",
      buffers: ["AAEC"],
    });
    assert.deepEqual(parsed, {
      type: "comm",
      kernel: "k1",
      event: "open",
      commId: "m2",
      targetName: "jupyter.widget",
      data: {},
      buffers: ["AAEC"],
    });
  });

  it("refuses anything else: the webview is another process", () => {
    for (const bad of [
      null,
      "hello",
      [],
      { type: "snapshot" },
      { type: "comm", kernel: "k", event: "exec", commId: "m", data: {} },
      { type: "comm", kernel: 1, event: "msg", commId: "m", data: {} },
      { type: "comm", kernel: "k", event: "msg", commId: "", data: {} },
      { type: "comm", kernel: "k", event: "msg", commId: "m", data: [] },
      { type: "comm", kernel: "k", event: "msg", commId: "m", data: {}, buffers: [1] },
    ]) {
      assert.equal(parseRendererMessage(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe("comm messages between renderer and server", () => {
  it("adds the notebook uri on the way to the server and drops the type", () => {
    const message = { type: "comm" as const, kernel: "k1", event: "close" as const, commId: "m1", data: {} };
    assert.deepEqual(commToServer("file:///p/nb.py", message), {
      uri: "file:///p/nb.py",
      kernel: "k1",
      event: "close",
      commId: "m1",
      data: {},
    });
  });

  it("turns a server notification into a renderer message, without the uri", () => {
    const params = {
      uri: "file:///p/nb.py",
      kernel: "k1",
      event: "open",
      commId: "m1",
      targetName: "jupyter.widget",
      data: { state: slider.state, buffer_paths: [] },
      metadata: { version: "2.1.0" },
      buffers: [],
    };
    assert.deepEqual(commToRenderer(params), {
      type: "comm",
      kernel: "k1",
      event: "open",
      commId: "m1",
      targetName: "jupyter.widget",
      data: { state: slider.state, buffer_paths: [] },
      metadata: { version: "2.1.0" },
    });
    assert.equal(commToRenderer({ uri: "file:///p/nb.py", event: "open" }), undefined);
  });
});

describe("kernelToRenderer", () => {
  it("passes the state and the kernel id, null when the server sends none", () => {
    assert.deepEqual(kernelToRenderer({ uri: "u", state: "idle", id: "k2" }), { type: "kernel", state: "idle", id: "k2" });
    assert.deepEqual(kernelToRenderer({ uri: "u", state: "restarting" }), { type: "kernel", state: "restarting", id: null });
  });
});

describe("snapshotToRenderer", () => {
  it("keeps the well-formed models of a sessions.widgets result", () => {
    const result = { kernel: "k1", state: { S: slider, bad: { model_name: "X" } } };
    assert.deepEqual(snapshotToRenderer(result), { type: "snapshot", kernel: "k1", state: { S: slider } });
  });

  it("means no kernel when there is no result, none runs, or it is malformed", () => {
    const none = { type: "snapshot", kernel: null, state: {} };
    assert.deepEqual(snapshotToRenderer(undefined), none);
    assert.deepEqual(snapshotToRenderer({ kernel: null, state: {} }), none);
    assert.deepEqual(snapshotToRenderer({ kernel: "k", state: [] }), none);
  });
});
