// The extension's settings, parsed with their defaults. Pure: the caller hands
// in a getter over VS Code's configuration, so the rules are unit-tested.

export type OnRun = "lazy" | "autorun";

/** The server settings of docs/protocol.md, sent as `{sessions: {...}}`. */
export interface ServerSettings {
  python: string | null;
  onRun: OnRun;
  runUpstream: boolean;
  outputCap: number;
  prewarmKernel: boolean;
  /** Largest notebook the server analyses, in bytes; null: the server's default. */
  maxNotebookBytes: number | null;
  /** `sessions.kernel.*`: a Jupyter server to run kernels on (null: local kernels). */
  kernel: KernelServerSettings;
}

export interface KernelServerSettings {
  server: string | null;
  /** A file holding the server's token (else the server process's JUPYTER_TOKEN). */
  tokenFile: string | null;
  name: string | null;
  caBundle: string | null;
}

export interface Settings {
  /** `sessions.server.python`: the interpreter that runs the language server. */
  serverPython: string | null;
  server: ServerSettings;
}

export const DEFAULT_SERVER_SETTINGS: Readonly<ServerSettings> = Object.freeze({
  python: null,
  onRun: "lazy",
  runUpstream: true,
  outputCap: 1_000_000,
  prewarmKernel: false,
  maxNotebookBytes: null,
  kernel: Object.freeze({ server: null, tokenFile: null, name: null, caBundle: null }),
});

export interface ParsedSettings {
  settings: Settings;
  /** One line per value that was invalid and replaced by its default. */
  warnings: string[];
}

export interface PathContext {
  home?: string;
  workspaceFolder?: string;
}

/** A configured interpreter path: trimmed, `~` and `${workspaceFolder}` expanded; blank → null. */
export function parsePath(value: unknown, context: PathContext = {}): string | null {
  if (typeof value !== "string") return null;
  let path = value.trim();
  if (path === "") return null;
  if (context.workspaceFolder !== undefined) {
    path = path.split("${workspaceFolder}").join(context.workspaceFolder);
  }
  if (context.home !== undefined && (path === "~" || path.startsWith("~/"))) {
    path = context.home + path.slice(1);
  }
  return path;
}

/**
 * Reads every `sessions.*` setting through `get` (keys without the
 * `sessions.` prefix). In an untrusted workspace `onRun` is forced to `lazy`
 * (`autorun` would execute code after an edit) and no kernel is pre-warmed.
 */
export function parseSettings(
  get: (key: string) => unknown,
  options: { trusted: boolean } & PathContext = { trusted: true },
): ParsedSettings {
  const warnings: string[] = [];
  const invalid = (key: string, value: unknown, fallback: unknown): void => {
    warnings.push(
      `sessions.${key}: ${JSON.stringify(value)} is not valid; using ${JSON.stringify(fallback)}`,
    );
  };

  const onRunValue = get("onRun");
  let onRun: OnRun = DEFAULT_SERVER_SETTINGS.onRun;
  if (onRunValue === "lazy" || onRunValue === "autorun") onRun = onRunValue;
  else if (onRunValue !== undefined && onRunValue !== null) invalid("onRun", onRunValue, onRun);
  if (!options.trusted) onRun = "lazy";

  const upstreamValue = get("runUpstream");
  let runUpstream = DEFAULT_SERVER_SETTINGS.runUpstream;
  if (typeof upstreamValue === "boolean") runUpstream = upstreamValue;
  else if (upstreamValue !== undefined && upstreamValue !== null) {
    invalid("runUpstream", upstreamValue, runUpstream);
  }

  const capValue = get("outputCap");
  let outputCap = DEFAULT_SERVER_SETTINGS.outputCap;
  if (typeof capValue === "number" && Number.isInteger(capValue) && capValue >= 1) {
    outputCap = capValue;
  } else if (capValue !== undefined && capValue !== null) {
    invalid("outputCap", capValue, outputCap);
  }

  const prewarmValue = get("prewarmKernel");
  let prewarmKernel = DEFAULT_SERVER_SETTINGS.prewarmKernel;
  if (typeof prewarmValue === "boolean") prewarmKernel = prewarmValue;
  else if (prewarmValue !== undefined && prewarmValue !== null) {
    invalid("prewarmKernel", prewarmValue, prewarmKernel);
  }
  if (!options.trusted) prewarmKernel = false;

  const maxValue = get("maxNotebookBytes");
  let maxNotebookBytes = DEFAULT_SERVER_SETTINGS.maxNotebookBytes;
  if (typeof maxValue === "number" && Number.isInteger(maxValue) && maxValue >= 1) {
    maxNotebookBytes = maxValue;
  } else if (maxValue !== undefined && maxValue !== null) {
    invalid("maxNotebookBytes", maxValue, maxNotebookBytes);
  }

  const text = (key: string): string | null => {
    const value = get(key);
    if (typeof value === "string" && value.trim() !== "") return value.trim();
    if (value !== undefined && value !== null && value !== "") invalid(key, value, null);
    return null;
  };
  const kernel: KernelServerSettings = {
    server: text("kernel.server"),
    tokenFile: parsePath(text("kernel.tokenFile"), options),
    name: text("kernel.name"),
    caBundle: parsePath(text("kernel.caBundle"), options),
  };

  for (const key of ["python", "server.python"]) {
    const value = get(key);
    if (value !== undefined && value !== null && typeof value !== "string") {
      invalid(key, value, null);
    }
  }

  return {
    settings: {
      serverPython: parsePath(get("server.python"), options),
      server: {
        python: parsePath(get("python"), options),
        onRun,
        runUpstream,
        outputCap,
        prewarmKernel,
        maxNotebookBytes,
        kernel,
      },
    },
    warnings,
  };
}

/** What the server reads from `initializationOptions` and `didChangeConfiguration`. */
export function serverSettingsPayload(settings: ServerSettings): { sessions: ServerSettings } {
  return { sessions: { ...settings } };
}
