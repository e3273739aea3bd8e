// What every scenario of the end-to-end test shares: the paths, the running
// count of checks (each one prints `ok - …` and can fail), screenshots, and
// timing of the scenarios.

import * as fs from "node:fs";
import * as path from "node:path";

import type { Page } from "playwright-core";

export const ROOT = path.resolve(__dirname, "../../../..");
export const OUT = path.join(ROOT, "test-output", "e2e");
export const DOC_IMAGES = path.join(ROOT, "docs", "images");
export const VENV_BIN = path.join(ROOT, ".venv", "bin");
export const PYTHON = path.join(VENV_BIN, "python");

let passed = 0;

export function passedCount(): number {
  return passed;
}

/** One assertion of the test: throws (ending the run) unless `condition` holds. */
export function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`assertion failed: ${message}`);
  passed += 1;
  console.log(`ok - ${message}`);
}

/** A screenshot into test-output/e2e/; `forDocs` also copies it to docs/images/. */
export async function shot(page: Page, name: string, forDocs = false): Promise<void> {
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file });
  if (forDocs) fs.copyFileSync(file, path.join(DOC_IMAGES, `${name}.png`));
}

/** Runs one scenario, printing how long it took (the whole test must stay fast). */
export async function timed(name: string, body: () => Promise<void>): Promise<void> {
  const started = Date.now();
  console.log(`# scenario: ${name}`);
  await body();
  console.log(`# ${name} took ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

/** Polls `probe` until it returns a value other than undefined, or throws after `timeout` ms. */
export async function poll<T>(
  page: Page,
  probe: () => Promise<T | undefined>,
  what: string,
  timeout: number,
): Promise<T> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await page.waitForTimeout(250);
  }
  throw new Error(`${what} not seen within ${timeout / 1000}s`);
}
