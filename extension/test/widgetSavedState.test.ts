import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { base64ToDataView, bufferToBase64 } from "../src/widgets/buffers";
import { savedWidgetState, viewModelId, widgetStateDocument, widgetText } from "../src/widgets/savedState";

const model = (name: string) => ({
  model_name: name,
  model_module: "@jupyter-widgets/controls",
  model_module_version: "2.0.0",
  state: {},
});

describe("viewModelId", () => {
  it("reads the model id of a widget-view item", () => {
    assert.equal(viewModelId({ version_major: 2, version_minor: 0, model_id: "abc" }), "abc");
    for (const bad of [null, "abc", {}, { model_id: "" }, { model_id: 3 }]) assert.equal(viewModelId(bad), undefined);
  });
});

describe("savedWidgetState", () => {
  const key = "application/vnd.jupyter.widget-state+json";

  it("keeps the well-formed models of an nbformat widget-state document", () => {
    const metadata = { [key]: { version_major: 2, version_minor: 0, state: { A: model("IntSliderModel"), B: { state: {} } } } };
    assert.deepEqual(savedWidgetState(metadata), { version_major: 2, version_minor: 0, state: { A: model("IntSliderModel") } });
  });

  it("has none without the key, or for another major version", () => {
    assert.equal(savedWidgetState(undefined), undefined);
    assert.equal(savedWidgetState({ outputType: "display_data" }), undefined);
    assert.equal(savedWidgetState({ [key]: { version_major: 1, version_minor: 0, state: {} } }), undefined);
    assert.equal(savedWidgetState({ [key]: { version_major: 2, state: [] } }), undefined);
  });
});

describe("widgetStateDocument", () => {
  it("reads a widget-state output item's value as the metadata key's", () => {
    const document = { version_major: 2, version_minor: 0, state: { A: model("IntSliderModel"), B: "junk" } };
    assert.deepEqual(widgetStateDocument(document), { version_major: 2, version_minor: 0, state: { A: model("IntSliderModel") } });
    assert.deepEqual(widgetStateDocument({ version_major: 2, state: {} }), { version_major: 2, version_minor: 0, state: {} });
    for (const bad of [null, [], "state", { version_major: 3, state: {} }]) assert.equal(widgetStateDocument(bad), undefined);
  });
});

describe("widgetText", () => {
  it("reads the text/plain the extension put in the metadata", () => {
    assert.equal(widgetText({ sessionsWidgetText: "IntSlider(value=3)\n" }), "IntSlider(value=3)");
    assert.equal(widgetText({ sessionsWidgetText: "  " }), undefined);
    assert.equal(widgetText(null), undefined);
  });
});

describe("buffers as base64", () => {
  it("round-trips bytes, from an ArrayBuffer or a view of part of one", () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    assert.equal(bufferToBase64(bytes.buffer), "AAEC+v8=");
    assert.equal(bufferToBase64(new Uint8Array(bytes.buffer, 1, 2)), "AQI=");
    const view = base64ToDataView("AAEC+v8=");
    assert.deepEqual([...new Uint8Array(view.buffer)], [0, 1, 2, 250, 255]);
  });

  it("handles buffers larger than one String.fromCharCode call", () => {
    const big = new Uint8Array(100_000).map((_, index) => index % 256);
    const back = new Uint8Array(base64ToDataView(bufferToBase64(big)).buffer);
    assert.equal(back.length, big.length);
    assert.ok(back.every((value, index) => value === big[index]));
  });
});
