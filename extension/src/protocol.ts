// The shapes of docs/protocol.md: what the Sessions language server sends and
// accepts beyond plain LSP. Types only, so every module (pure ones included)
// can share them without importing vscode.

/** One nbformat output dict, as the kernel produced it. */
export interface NbOutput {
  output_type: string;
  [key: string]: unknown;
}

export type CellKind = "code" | "markdown" | "raw";

export type CellStatus = "never-run" | "edited" | "upstream" | "error" | "fresh";

export type KernelState = "starting" | "idle" | "busy" | "dead" | "restarting" | "stopped";

/** One cell of `sessions.state` (and of `sessions/state`, minus `outputs`). */
/** How the kernel got a cell's values from a checkpoint (docs/analysis.md, Checkpoints). */
export interface RestoredInfo {
  /** How long the restore took. */
  seconds: number;
  /** How long the run that made the checkpoint took. */
  duration: number | null;
  names: string[];
}

export interface CellState {
  index: number;
  kind: CellKind;
  title?: string | null;
  line: number;
  endLine: number;
  status: CellStatus;
  reason?: string | null;
  causes?: number[];
  defines?: string[];
  uses?: string[];
  mutates?: string[];
  loaded?: boolean;
  /** Set while the kernel holds this cell's values from a checkpoint, not from running it. */
  restored?: RestoredInfo | null;
  running?: boolean;
  run?: number | null;
  executionCount?: number | null;
  duration?: number | null;
  started?: string | null;
  /** How many outputs the cell's record has (all pages together). */
  outputCount?: number;
  /** `sessions.state`: this page's outputs of the cell; absent when the page does not reach it. */
  outputs?: NbOutput[];
  /** Index of `outputs[0]` among the cell's outputs (0 on the first page). */
  outputsFrom?: number;
}

export interface KernelInfo {
  state: KernelState | string;
  python?: string | null;
  reason?: string | null;
  /** Path of the running kernel's connection file (for `jupyter console --existing`). */
  connectionFile?: string | null;
}

export interface NotebookState {
  uri: string;
  version: number | null;
  kernel?: KernelInfo | null;
  cells: CellState[];
  /** `sessions.state` pages its outputs: pass this back as `cursor` for the next page; null when done. */
  nextCursor?: string | null;
}

/** The argument of `sessions.state`. */
export interface StateParams {
  uri: string;
  cursor?: string;
  maxBytes?: number;
}

/** Params of the `sessions/state` notification. */
export interface StateNotification {
  uri: string;
  version: number | null;
  cells: CellState[];
  /**
   * Only to a client that declared `experimental.sessionsStateChanges`: `cells`
   * holds just the cells whose entry changed since the previous `sessions/state`
   * for `uri` (see `stateChanges.ts`); absent or false, `cells` is every cell.
   */
  onlyChanged?: boolean;
  /** With `onlyChanged`: how many cells the notebook has now. */
  cellCount?: number;
}

/** What the client declares in `capabilities.experimental` to get partial `sessions/state`. */
export const STATE_CHANGES_CAPABILITY = "sessionsStateChanges";

/** Params of the `sessions/output` notification. */
export interface OutputNotification {
  uri: string;
  cell: number;
  run: number;
  output: NbOutput;
}

/** Params of the `sessions/kernel` notification. */
export interface KernelNotification {
  uri: string;
  state: KernelState | string;
  python?: string | null;
  /** The kernel process instance (new at each start and restart); the `kernel` of `sessions/comm`. */
  id?: string | null;
}

export type CommEvent = "open" | "msg" | "close";

/**
 * Params of the `sessions/comm` notification, both ways: one comm message of
 * the notebook's kernel (widgets use target `jupyter.widget`). Binary buffers
 * travel as base64 strings.
 */
export interface CommNotification {
  uri: string;
  kernel: string;
  event: CommEvent;
  commId: string;
  /** `open` only. */
  targetName?: string;
  data: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  buffers?: string[];
}

/** A binary buffer of a widget model, where it goes in the state (nbformat's shape). */
export interface WidgetBuffer {
  path: (string | number)[];
  encoding: "base64";
  data: string;
}

/** One live widget model of `sessions.widgets`, in nbformat's widget-state shape. */
export interface WidgetModelState {
  model_name: string;
  model_module: string;
  model_module_version: string;
  state: Record<string, unknown>;
  buffers?: WidgetBuffer[];
}

/** Result of `sessions.widgets {uri}`: the live comm models of the notebook's running kernel. */
export interface WidgetsSnapshot {
  kernel: string | null;
  state: Record<string, WidgetModelState>;
}

export type RunMode = "cell" | "stale" | "all" | "above" | "below" | "downstream";

export interface RunParams {
  uri: string;
  mode?: RunMode;
  cells?: number[];
  line?: number;
  runUpstream?: boolean;
}

export interface RunResult {
  planned: number[];
  ran: number[];
  /** Cells whose values came from checkpoints instead of a run. */
  restored: number[];
  /** E.g. a checkpoint refused, and why. */
  notes: string[];
  skipped: number[];
  ok: boolean;
  stoppedBecause: string | null;
}

/** One cell as `sessions.parse` returns it. */
export interface ParsedCell {
  kind: CellKind;
  source: string;
  title?: string | null;
  metadata?: Record<string, unknown> | null;
  raw?: string;
  preamble?: boolean;
  /** The raw cell that shows the YAML header's root-level keys (no bytes of its own). */
  frontmatter?: boolean;
}

export interface ParseResult {
  cells: ParsedCell[];
  bom: boolean;
  newline: string;
  prefix: string;
  /** The Jupytext YAML header (notebook metadata), exact text; "" when none. */
  header?: string;
}

export interface SerializeParams {
  cells: ParsedCell[];
  bom?: boolean;
  newline?: string;
  prefix?: string;
  header?: string;
}

export type ExportFormat = "html" | "md" | "ipynb" | "script";

/** The argument of `sessions.export`. */
export interface ExportParams {
  uri: string;
  /** Default `html`. */
  to?: ExportFormat;
  /** A `file:` URI or an absolute path inside the workspace folders or the notebook's folder; default beside the notebook. */
  output?: string;
  /** Overwrite `output` if it exists (else the request fails). */
  force?: boolean;
  /** Fail, listing them, when a cell is not fresh. */
  onlyFresh?: boolean;
}

/** Result of `sessions.export`. */
export interface ExportResult {
  /** The file written (an absolute path). */
  output: string;
  /** Files written beside it (Markdown's images). */
  files: string[];
  cells: number;
  withOutputs: number;
}

export type GraphEdgeKind = "value" | "mutation" | "state";

/** A cell of `sessions.graph` (docs/cli.md, `sessions graph --format json`). */
export interface GraphNode {
  cell: number;
  /** The title, or the first line of code, shortened. */
  label: string;
  title: string | null;
  line: number;
  status: CellStatus;
  reason: string;
  defines: string[];
  mutates: string[];
  /** Part of a dependency cycle. */
  cycle: boolean;
}

/** Names that flow from cell `from` (the provider) to cell `to` (the reader). */
export interface GraphEdge {
  from: number;
  to: number;
  kind: GraphEdgeKind;
  /** Python names and state names (`rng:numpy`). */
  names: string[];
  /** `names` in words ("NumPy's global random state"). */
  labels: string[];
  /** The provider is below the reader (used before defined). */
  backward: boolean;
  cycle: boolean;
}

/** Result of `sessions.graph {uri}`: the notebook's dependency graph as it is open. */
export interface GraphPayload {
  uri: string;
  version: number | null;
  notebook: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  cycles: number[][];
  problems: string[];
}

/** Server commands (workspace/executeCommand) and notifications. */
export const Command = {
  run: "sessions.run",
  interrupt: "sessions.interrupt",
  restart: "sessions.restart",
  clearOutputs: "sessions.clearOutputs",
  state: "sessions.state",
  parse: "sessions.parse",
  serialize: "sessions.serialize",
  widgets: "sessions.widgets",
  graph: "sessions.graph",
  export: "sessions.export",
} as const;

/** Server commands that execute code: refused in an untrusted workspace. */
export const RUN_COMMANDS: ReadonlySet<string> = new Set([Command.run, Command.restart]);

export const Notification = {
  state: "sessions/state",
  output: "sessions/output",
  kernel: "sessions/kernel",
  comm: "sessions/comm",
} as const;

export const NOTEBOOK_TYPE = "sessions-notebook";
