import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  accumulate,
  emptyCellOutputs,
  ERROR_MIME,
  STDERR_MIME,
  STDOUT_MIME,
  toOutputSpec,
  toOutputSpecs,
  type CellOutputs,
} from "../src/outputs";
import type { NbOutput } from "../src/protocol";

const decode = (data: Uint8Array): string => new TextDecoder().decode(data);

function feed(messages: NbOutput[], run = 1, start: CellOutputs = emptyCellOutputs()): CellOutputs {
  return messages.reduce((state, output) => accumulate(state, run, output), start);
}

describe("toOutputSpec", () => {
  it("maps streams to stdout/stderr items, joining multiline text", () => {
    const out = toOutputSpec({ output_type: "stream", name: "stdout", text: ["a\n", "b\n"] });
    assert.equal(out?.items.length, 1);
    assert.equal(out?.items[0].mime, STDOUT_MIME);
    assert.equal(decode(out!.items[0].data), "a\nb\n");
    const err = toOutputSpec({ output_type: "stream", name: "stderr", text: "oops" });
    assert.equal(err?.items[0].mime, STDERR_MIME);
  });

  it("orders a bundle richest first and keeps every mime type", () => {
    const out = toOutputSpec({
      output_type: "execute_result",
      execution_count: 3,
      data: { "text/plain": "<table>", "text/html": "<b>t</b>", "application/json": { a: [1, 2] } },
      metadata: {},
    });
    assert.deepEqual(
      out?.items.map((item) => item.mime),
      ["text/html", "application/json", "text/plain"],
    );
    assert.deepEqual(JSON.parse(decode(out!.items[1].data)), { a: [1, 2] });
    assert.equal(decode(out!.items[2].data), "<table>");
  });

  it("decodes base64 images to bytes", () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]);
    const b64 = png.toString("base64");
    const out = toOutputSpec({
      output_type: "display_data",
      data: { "image/png": `${b64.slice(0, 4)}\n${b64.slice(4)}`, "text/plain": "<Figure>" },
    });
    assert.equal(out?.items[0].mime, "image/png");
    assert.deepEqual(Buffer.from(out!.items[0].data), png);
  });

  it("maps errors to the error renderer's {name, message, stack}", () => {
    const out = toOutputSpec({
      output_type: "error",
      ename: "KeyError",
      evalue: "'x'",
      traceback: ["Traceback", "  line 1", "KeyError: 'x'"],
    });
    assert.equal(out?.items[0].mime, ERROR_MIME);
    assert.deepEqual(JSON.parse(decode(out!.items[0].data)), {
      name: "KeyError",
      message: "'x'",
      stack: "Traceback\n  line 1\nKeyError: 'x'",
    });
  });

  it("skips messages that render nothing", () => {
    assert.equal(toOutputSpec({ output_type: "clear_output", wait: false }), null);
    assert.equal(toOutputSpec({ output_type: "display_data", data: {} }), null);
    const specs = toOutputSpecs([
      { output_type: "clear_output", wait: true },
      { output_type: "stream", name: "stdout", text: "x" },
    ]);
    assert.equal(specs.length, 1);
  });
});

describe("widget outputs", () => {
  const view = { version_major: 2, version_minor: 0, model_id: "abc" };
  const saved = { version_major: 2, version_minor: 0, state: { abc: { model_name: "IntSliderModel", state: { value: 3 } } } };

  it("puts the widget view first and passes its saved state and text/plain to the renderer", () => {
    const out = toOutputSpec({
      output_type: "display_data",
      data: { "text/plain": "IntSlider(value=3)", "application/vnd.jupyter.widget-view+json": view },
      metadata: { "application/vnd.jupyter.widget-state+json": saved, other: 1 },
    });
    assert.equal(out?.items[0].mime, "application/vnd.jupyter.widget-view+json");
    assert.deepEqual(JSON.parse(decode(out!.items[0].data)), view);
    assert.deepEqual(out?.metadata, {
      outputType: "display_data",
      "application/vnd.jupyter.widget-state+json": saved,
      sessionsWidgetText: "IntSlider(value=3)",
    });
  });

  it("has only the text without saved state, and other outputs keep their metadata as before", () => {
    const live = toOutputSpec({
      output_type: "display_data",
      data: { "text/plain": ["Int", "Slider()"], "application/vnd.jupyter.widget-view+json": view },
      metadata: {},
    });
    assert.deepEqual(live?.metadata, { outputType: "display_data", sessionsWidgetText: "IntSlider()" });
    const html = toOutputSpec({
      output_type: "display_data",
      data: { "text/html": "<b>x</b>" },
      metadata: { "application/vnd.jupyter.widget-state+json": saved },
    });
    assert.deepEqual(html?.metadata, { outputType: "display_data" });
  });
});

describe("accumulate", () => {
  it("merges consecutive streams of the same name only", () => {
    const state = feed([
      { output_type: "stream", name: "stdout", text: "a" },
      { output_type: "stream", name: "stdout", text: ["b", "c\n"] },
      { output_type: "stream", name: "stderr", text: "e" },
      { output_type: "stream", name: "stdout", text: "d" },
    ]);
    assert.deepEqual(
      state.outputs.map((output) => [output.name, output.text]),
      [
        ["stdout", "abc\n"],
        ["stderr", "e"],
        ["stdout", "d"],
      ],
    );
  });

  it("adds display data, results and errors", () => {
    const state = feed([
      { output_type: "display_data", data: { "text/plain": "1" } },
      { output_type: "execute_result", data: { "text/plain": "2" } },
      { output_type: "error", ename: "E", evalue: "", traceback: [] },
    ]);
    assert.deepEqual(
      state.outputs.map((output) => output.output_type),
      ["display_data", "execute_result", "error"],
    );
  });

  it("starts from an empty list when a new run begins", () => {
    const first = feed([{ output_type: "stream", name: "stdout", text: "old" }], 1);
    const second = accumulate(first, 2, { output_type: "stream", name: "stdout", text: "new" });
    assert.equal(second.run, 2);
    assert.deepEqual(second.outputs.map((output) => output.text), ["new"]);
  });

  it("clears at once, or just before the next output with wait", () => {
    const cleared = feed([
      { output_type: "stream", name: "stdout", text: "a" },
      { output_type: "clear_output", wait: false },
    ]);
    assert.deepEqual(cleared.outputs, []);

    const waiting = feed([
      { output_type: "stream", name: "stdout", text: "a" },
      { output_type: "clear_output", wait: true },
    ]);
    assert.equal(waiting.outputs.length, 1, "wait keeps the old output until the next one");
    const next = accumulate(waiting, 1, { output_type: "stream", name: "stdout", text: "b" });
    assert.deepEqual(next.outputs.map((output) => output.text), ["b"]);
    assert.equal(next.clearPending, false);
  });

  it("replaces the data of outputs with the same display id", () => {
    const state = feed([
      { output_type: "display_data", data: { "text/plain": "0%" }, transient: { display_id: "p" } },
      { output_type: "display_data", data: { "text/plain": "other" }, transient: { display_id: "q" } },
      { output_type: "update_display_data", data: { "text/plain": "100%" }, transient: { display_id: "p" } },
    ]);
    assert.deepEqual(
      state.outputs.map((output) => (output.data as Record<string, string>)["text/plain"]),
      ["100%", "other"],
    );
  });

  it("does not mutate the previous state", () => {
    const before = feed([{ output_type: "stream", name: "stdout", text: "a" }]);
    const snapshot = JSON.stringify(before);
    accumulate(before, 1, { output_type: "stream", name: "stdout", text: "b" });
    assert.equal(JSON.stringify(before), snapshot);
  });
});
