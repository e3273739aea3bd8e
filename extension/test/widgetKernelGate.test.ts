import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { judgeComm, judgeKernel, judgeSnapshot, type KernelGate } from "../src/widgets/kernelGate";

const gate = (current: string | null, ...ended: string[]): KernelGate => ({ current, ended: new Set(ended) });

describe("judgeComm", () => {
  it("accepts the current kernel's messages and adopts a first kernel", () => {
    assert.deepEqual(judgeComm(gate("k1"), "k1", "msg"), { action: "accept" });
    assert.deepEqual(judgeComm(gate(null), "k1", "open"), { action: "adopt", kernel: "k1" });
  });

  it("drops messages of ended kernels, even as the first ones after a restart", () => {
    assert.deepEqual(judgeComm(gate(null, "k1"), "k1", "msg"), { action: "drop" });
    assert.deepEqual(judgeComm(gate("k2", "k1"), "k1", "open"), { action: "drop" });
  });

  it("takes an open from an unknown kernel as a restart, but not a msg or close", () => {
    assert.deepEqual(judgeComm(gate("k1"), "k2", "open"), { action: "replace", kernel: "k2", reason: "restarted" });
    assert.deepEqual(judgeComm(gate("k1"), "k2", "msg"), { action: "drop" });
    assert.deepEqual(judgeComm(gate("k1"), "k2", "close"), { action: "drop" });
  });
});

describe("judgeKernel", () => {
  it("ends the live kernel on restarting, dead and stopped, each with its reason", () => {
    assert.deepEqual(judgeKernel(gate("k1"), "restarting", "k1"), { end: "restarted", current: null });
    assert.deepEqual(judgeKernel(gate("k1"), "dead", null), { end: "died", current: null });
    assert.deepEqual(judgeKernel(gate("k1"), "stopped", null), { end: "stopped", current: null });
    assert.deepEqual(judgeKernel(gate(null), "stopped", null), { end: null, current: null });
  });

  it("adopts a new kernel id, and ends the live one when the id differs", () => {
    assert.deepEqual(judgeKernel(gate(null), "starting", "k2"), { end: null, current: "k2" });
    assert.deepEqual(judgeKernel(gate("k1"), "idle", "k2"), { end: "restarted", current: "k2" });
    assert.deepEqual(judgeKernel(gate("k1"), "busy", "k1"), { end: null, current: "k1" });
  });

  it("changes nothing for a state without id, or with an ended kernel's id", () => {
    assert.deepEqual(judgeKernel(gate("k1"), "busy", null), { end: null, current: "k1" });
    assert.deepEqual(judgeKernel(gate("k2", "k1"), "idle", "k1"), { end: null, current: "k2" });
  });
});

describe("judgeSnapshot", () => {
  it("follows the snapshot's kernel: none, the same, another", () => {
    assert.deepEqual(judgeSnapshot(gate(null), null), { end: null, current: null });
    assert.deepEqual(judgeSnapshot(gate("k1"), null), { end: "stopped", current: null });
    assert.deepEqual(judgeSnapshot(gate(null), "k1"), { end: null, current: "k1" });
    assert.deepEqual(judgeSnapshot(gate("k1"), "k1"), { end: null, current: "k1" });
    assert.deepEqual(judgeSnapshot(gate("k1"), "k2"), { end: "restarted", current: "k2" });
    assert.deepEqual(judgeSnapshot(gate("k2", "k1"), "k1"), { end: null, current: "k2" });
  });
});
