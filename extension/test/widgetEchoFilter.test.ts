import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { EchoFilter } from "../src/widgets/echoFilter";

function clock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe("EchoFilter", () => {
  it("drops echoed keys this front end sent within the window, keeps the others", () => {
    const { now, advance } = clock();
    const filter = new EchoFilter(1000, now);
    filter.sending({ method: "update", state: { value: 5 }, buffer_paths: [] });
    advance(300);
    const echo = { method: "echo_update", state: { value: 4, description: "x" }, buffer_paths: [] };
    assert.deepEqual(filter.received(echo), { method: "echo_update", state: { description: "x" }, buffer_paths: [] });
    assert.deepEqual(echo.state, { value: 4, description: "x" }, "the message itself is not changed");
  });

  it("applies echoes again once the window passed (another front end's change)", () => {
    const { now, advance } = clock();
    const filter = new EchoFilter(1000, now);
    filter.sending({ method: "update", state: { value: 5 } });
    advance(1001);
    assert.deepEqual(filter.received({ method: "echo_update", state: { value: 7 } }).state, { value: 7 });
  });

  it("never filters updates (the kernel's own changes), custom messages, or echoes with buffers", () => {
    const { now } = clock();
    const filter = new EchoFilter(1000, now);
    filter.sending({ method: "update", state: { value: 5, data: {} } });
    const update = { method: "update", state: { value: 10 } };
    assert.equal(filter.received(update), update);
    const custom = { method: "custom", content: { event: "click" } };
    assert.equal(filter.received(custom), custom);
    const withBuffers = { method: "echo_update", state: { data: {} }, buffer_paths: [["data"]] };
    assert.equal(filter.received(withBuffers), withBuffers);
  });

  it("remembers only what updates send", () => {
    const { now } = clock();
    const filter = new EchoFilter(1000, now);
    filter.sending({ method: "custom", content: { value: 1 } });
    assert.deepEqual(filter.received({ method: "echo_update", state: { value: 2 } }).state, { value: 2 });
  });
});
