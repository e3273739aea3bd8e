import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { DEFAULT_SERVER_SETTINGS, parsePath, parseSettings, serverSettingsPayload } from "../src/settings";

const from =
  (values: Record<string, unknown>) =>
  (key: string): unknown =>
    values[key];

describe("parseSettings", () => {
  it("falls back to the defaults of docs/protocol.md", () => {
    const { settings, warnings } = parseSettings(from({}));
    assert.deepEqual(settings.server, DEFAULT_SERVER_SETTINGS);
    assert.equal(settings.serverPython, null);
    assert.deepEqual(warnings, []);
  });

  it("reads valid values", () => {
    const { settings, warnings } = parseSettings(
      from({
        python: " /p/.venv/bin/python ",
        "server.python": "/usr/bin/python3",
        onRun: "autorun",
        runUpstream: false,
        outputCap: 500,
        prewarmKernel: true,
        maxNotebookBytes: 10_000_000,
        "kernel.server": " https://hub.example/user/me/ ",
        "kernel.tokenFile": "~/.jupyter-token",
        "kernel.name": "python3",
      }),
      { trusted: true, home: "/home/u" },
    );
    assert.deepEqual(settings, {
      serverPython: "/usr/bin/python3",
      server: {
        python: "/p/.venv/bin/python",
        onRun: "autorun",
        runUpstream: false,
        outputCap: 500,
        prewarmKernel: true,
        maxNotebookBytes: 10_000_000,
        kernel: {
          server: "https://hub.example/user/me/",
          tokenFile: "/home/u/.jupyter-token",
          name: "python3",
          caBundle: null,
        },
      },
    });
    assert.deepEqual(warnings, []);
  });

  it("replaces invalid values by their default, with a warning each", () => {
    const { settings, warnings } = parseSettings(
      from({ onRun: "eager", runUpstream: "yes", outputCap: -3, python: 7, maxNotebookBytes: 0 }),
    );
    assert.deepEqual(settings.server, DEFAULT_SERVER_SETTINGS);
    assert.equal(warnings.length, 5);
    assert.match(warnings[0], /sessions\.onRun: "eager"/);
  });

  it("never autoruns or pre-warms a kernel in an untrusted workspace", () => {
    const { settings } = parseSettings(from({ onRun: "autorun", prewarmKernel: true }), {
      trusted: false,
    });
    assert.equal(settings.server.onRun, "lazy");
    assert.equal(settings.server.prewarmKernel, false);
  });

  it("expands ~ and ${workspaceFolder} in paths; blank means unset", () => {
    const context = { home: "/home/u", workspaceFolder: "/w" };
    assert.equal(parsePath("~/py/bin/python", context), "/home/u/py/bin/python");
    assert.equal(parsePath("${workspaceFolder}/.venv/bin/python", context), "/w/.venv/bin/python");
    assert.equal(parsePath("   ", context), null);
    assert.equal(parsePath(undefined), null);
  });

  it("wraps the server settings as the server reads them", () => {
    assert.deepEqual(serverSettingsPayload(DEFAULT_SERVER_SETTINGS), {
      sessions: {
        python: null,
        onRun: "lazy",
        runUpstream: true,
        outputCap: 1_000_000,
        prewarmKernel: false,
        maxNotebookBytes: null,
        kernel: { server: null, tokenFile: null, name: null, caBundle: null },
      },
    });
  });
});
