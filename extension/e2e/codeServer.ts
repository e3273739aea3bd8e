// code-server (the browser build of VS Code) for the end-to-end test:
// installed by scripts/install-code-server, started on a free port in
// its own process group, stopped by killing that group.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

export interface Tools {
  node24: string;
  codeServer: string;
  chromium: string;
}

/**
 * Runs the installer (idempotent) and reads the paths it prints as KEY=VALUE lines.
 * Always the checkout's scripts/install-code-server: that is what a fresh clone runs, so
 * that is what the suite (and CI) must exercise. The tools go to $SESSIONS_E2E_TOOLS when
 * set (.ci/run under CI=true: an empty temporary folder, so CI proves the fresh install),
 * else the installer's default, ~/.cache/sessions-e2e, reused from run to run.
 */
export function installTools(repoRoot: string): Tools {
  const installer = path.resolve(repoRoot, "scripts", "install-code-server");
  if (!fs.existsSync(installer)) throw new Error(`install-code-server not found at ${installer}`);
  const dir = process.env.SESSIONS_E2E_TOOLS;
  const args = dir ? [path.resolve(dir)] : [];
  // No environment filtering here: the installer itself drops the npm_config_* and other
  // npm/node settings inherited from `npm run test:e2e`, so it behaves the same when run
  // by hand or from any other npm script.
  const output = execFileSync(installer, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const values = new Map(
    output
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const),
  );
  const get = (key: string): string => {
    const value = values.get(key);
    if (!value) throw new Error(`install-code-server printed no ${key}`);
    return value;
  };
  return { node24: get("NODE24"), codeServer: get("CODE_SERVER"), chromium: get("CHROMIUM") };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (address && typeof address === "object" ? resolve(address.port) : reject()));
    });
  });
}

function withNode24(tools: Tools): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${path.dirname(tools.node24)}:${process.env.PATH ?? ""}` };
}

export function installExtension(tools: Tools, extensionsDir: string, vsix: string): void {
  execFileSync(tools.codeServer, ["--extensions-dir", extensionsDir, "--install-extension", vsix, "--force"], {
    env: withNode24(tools),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export class CodeServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    private readonly logFile: string,
  ) {}

  /** Starts code-server on `folder` and waits until it answers HTTP; without `workspaceTrust` every folder is trusted. */
  static async start(
    tools: Tools,
    options: { userDataDir: string; extensionsDir: string; folder: string; logFile: string; workspaceTrust: boolean },
  ): Promise<CodeServer> {
    const port = await freePort();
    const log = fs.openSync(options.logFile, "w");
    const child = spawn(
      tools.codeServer,
      [
        "--bind-addr", `127.0.0.1:${port}`,
        "--auth", "none",
        "--disable-telemetry",
        "--disable-update-check",
        // Not ~/.config/code-server/config.yaml, which an earlier run (or the user) left
        // behind and which could turn on a password or TLS.
        "--config", path.join(options.userDataDir, "code-server.yaml"),
        ...(options.workspaceTrust ? [] : ["--disable-workspace-trust"]),
        "--user-data-dir", options.userDataDir,
        "--extensions-dir", options.extensionsDir,
        options.folder,
      ],
      // detached = its own process group (setsid), so stop() can kill helpers too.
      { env: withNode24(tools), detached: true, stdio: ["ignore", log, log] },
    );
    const server = new CodeServer(child, `http://127.0.0.1:${port}/`, options.logFile);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      try {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (response.ok) return server;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await server.stop();
    throw new Error(
      `code-server did not start on port ${port} (exit code ${child.exitCode}). Its log:\n` +
        fs.readFileSync(options.logFile, "utf8").slice(-4000),
    );
  }

  log(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, "utf8") : "";
  }

  /** Stops code-server and every helper it started (the whole process group). */
  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    const alive = (): boolean => {
      try {
        process.kill(-pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (!alive()) return;
    process.kill(-pid, "SIGTERM");
    for (let waited = 0; waited < 5000 && alive(); waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (alive()) process.kill(-pid, "SIGKILL");
  }
}
