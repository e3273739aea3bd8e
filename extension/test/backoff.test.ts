import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Backoff } from "../src/backoff";

describe("Backoff", () => {
  const options = { initialMs: 1000, maxMs: 8000, stableAfterMs: 60_000 };

  it("doubles the delay after each quick crash, up to the maximum", () => {
    const backoff = new Backoff(options);
    const delays: number[] = [];
    let now = 0;
    for (let crash = 0; crash < 6; crash++) {
      backoff.started(now);
      now += 500; // crashes half a second after each start
      delays.push(backoff.nextDelay(now));
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it("starts over once the server stayed up long enough", () => {
    const backoff = new Backoff(options);
    backoff.started(0);
    backoff.nextDelay(100);
    backoff.started(1100);
    assert.equal(backoff.nextDelay(1200), 2000);
    backoff.started(5000);
    assert.equal(backoff.nextDelay(5000 + 60_000), 1000);
  });
});
