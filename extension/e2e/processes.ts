// Kernel and server processes seen from /proc: the server starts each notebook's kernel
// (`python -m ipykernel_launcher -f …`) with the notebook's folder as its
// working directory, so "kernels whose cwd is this folder" tells whether a
// workspace ran code, independently of anything the page shows; the language
// server is `PYTHON -m sessions.cli lsp`, so its interpreter names it.

import * as fs from "node:fs";
import * as path from "node:path";

export interface KernelProcess {
  pid: number;
  cwd: string;
  commandLine: string;
}

function readProcess(pid: number): KernelProcess | undefined {
  try {
    const commandLine = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
    return { pid, cwd, commandLine };
  } catch {
    return undefined; // exited while we looked, or not ours to read
  }
}

/** ipykernel processes (not their watchdogs) whose working directory is `folder` or below it. */
export function kernelProcessesIn(folder: string): KernelProcess[] {
  const root = fs.realpathSync(folder);
  return fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readProcess(Number(name)))
    .filter((proc): proc is KernelProcess => proc !== undefined)
    .filter((proc) => /(^|\s)-m ipykernel(_launcher)?(\s|$)/.test(proc.commandLine))
    .filter((proc) => !proc.commandLine.includes(" -- ")) // the watchdog names the kernel after `--`
    .filter((proc) => proc.cwd === root || proc.cwd.startsWith(root + path.sep));
}

/** `sessions lsp` server processes started with the interpreter `python` (`python -m sessions.cli lsp`). */
export function serverProcessesOf(python: string): number[] {
  return fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readProcess(Number(name)))
    .filter((proc): proc is KernelProcess => proc !== undefined)
    .filter((proc) => proc.commandLine.startsWith(`${python} `))
    .filter((proc) => /\bsessions\b/.test(proc.commandLine) && /(^|\s)lsp(\s|$)/.test(proc.commandLine))
    .map((proc) => proc.pid);
}
