// A notebook on a remote kernel: a real `jupyter server` on 127.0.0.1 with a
// random token, `sessions.kernel.server` and `sessions.kernel.tokenFile` in the
// user settings. "Run All" runs the cells on a kernel the server started (the
// kernel's parent process is the server), the outputs show, the kernel item
// names the server, and closing the workbench leaves no kernel on the server.

import { spawn, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";

import type { Page } from "playwright-core";

import { PYTHON, check, poll, shot } from "./harness";
import { LONG, activeNotebook, kernelStatusText, openFromExplorer, runCommand, waitForOutputElement } from "./workbench";

export const REMOTE_NOTEBOOK = `# %% Where
import os
print("kernel parent", os.getppid())

# %% Work
total = sum(range(10))
print("remote total", total)
`;

export interface RemoteServer {
  url: string;
  token: string;
  tokenFile: string;
  folder: string;
  process: ChildProcess;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** GET `path` of the server with its token: the status code and the parsed body. */
function get(server: { url: string; token: string }, route: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve) => {
    const request = http.get(
      server.url + route,
      { headers: { Authorization: `token ${server.token}` }, timeout: 2000 },
      (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => (text += chunk.toString()));
        response.on("end", () => {
          let body: unknown = undefined;
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
          resolve({ status: response.statusCode ?? 0, body });
        });
      },
    );
    request.on("error", () => resolve({ status: 0, body: undefined }));
    request.on("timeout", () => request.destroy());
  });
}

/** Starts `python -m jupyter_server` of the repository's .venv in `folder`. */
export async function startJupyterServer(tmp: string): Promise<RemoteServer> {
  const folder = path.join(tmp, "jupyter-server");
  fs.mkdirSync(folder, { recursive: true });
  const token = crypto.randomBytes(16).toString("hex");
  const tokenFile = path.join(tmp, "jupyter-token");
  fs.writeFileSync(tokenFile, token + "\n", { mode: 0o600 });
  const port = await freePort();
  const log = fs.openSync(path.join(folder, "server.log"), "w");
  const process = spawn(
    PYTHON,
    [
      "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", `--port=${port}`, "--port-retries=0",
      `--ServerApp.root_dir=${folder}`, `--IdentityProvider.token=${token}`, "--allow-root",
    ],
    { cwd: folder, stdio: ["ignore", log, log], env: { ...globalThis.process.env, HOME: folder } },
  );
  const server = { url: `http://127.0.0.1:${port}/`, token, tokenFile, folder, process };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await get(server, "api/kernelspecs")).status === 200) return server;
    if (process.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  process.kill();
  throw new Error(`jupyter server did not start: ${fs.readFileSync(path.join(folder, "server.log"), "utf8")}`);
}

export async function remoteKernels(server: RemoteServer): Promise<unknown[]> {
  const { status, body } = await get(server, "api/kernels");
  return status === 200 && Array.isArray(body) ? body : [];
}

export async function remoteScenario(page: Page, folder: string, server: RemoteServer): Promise<void> {
  fs.writeFileSync(path.join(folder, "remote.py"), REMOTE_NOTEBOOK);
  await openFromExplorer(page, "remote.py");
  await runCommand(page, "Sessions: Open as Notebook");
  const editor = activeNotebook(page);
  await editor.waitFor({ state: "visible", timeout: LONG });
  await editor.locator(".notebook-toolbar-container .action-item", { hasText: "Run All" }).first().click();

  await waitForOutputElement(page, "*", { text: "remote total 45" });
  check(true, "Run All on the remote kernel: the cell's output shows (remote total 45)");
  const parent = await waitForOutputElement(page, "*", { text: "kernel parent" });
  const printed = (await parent.innerText()).match(/kernel parent (\d+)/);
  check(
    printed !== null && Number(printed[1]) === server.process.pid,
    `the kernel is the Jupyter server's child (its parent pid ${printed?.[1]}, the server's ${server.process.pid})`,
  );
  const kernels = await remoteKernels(server);
  check(kernels.length === 1, `the Jupyter server runs exactly one kernel (${kernels.length})`);
  const item = await poll(
    page,
    async () => {
      const text = await kernelStatusText(page);
      return text.includes(server.url) && text.includes("idle") ? text : undefined;
    },
    "the kernel item naming the server",
    LONG,
  );
  check(true, `the kernel status bar item names the server: "${item}"`);
  await page.mouse.move(5, 500);
  await shot(page, "notebook-remote-kernel", true);
}

export function remoteSettings(server: RemoteServer): Record<string, unknown> {
  return { "sessions.kernel.server": server.url, "sessions.kernel.tokenFile": server.tokenFile };
}
