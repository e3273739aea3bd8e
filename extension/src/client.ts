// The language client: `sessions lsp` over stdio, restarted with backoff when
// it crashes, with its log in the "Sessions Server" output channel. Every other
// module talks to the server through `SessionsClient.command`.

import type { ChildProcess } from "node:child_process";
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  State,
  type LanguageClientOptions,
  type StaticFeature,
} from "vscode-languageclient/node";

import { Backoff } from "./backoff";
import { RUN_COMMANDS, STATE_CHANGES_CAPABILITY } from "./protocol";
import type { ServerSettings } from "./settings";
import { serverSettingsPayload } from "./settings";

export const UNTRUSTED_MESSAGE =
  "Sessions runs no code in an untrusted workspace. Trust the workspace to run cells.";

const READY_TIMEOUT_MS = 120_000;

/** Declares that the store applies partial `sessions/state` notifications (`stateChanges.ts`). */
const STATE_CHANGES_FEATURE: StaticFeature = {
  fillClientCapabilities: (capabilities) => {
    const experimental = (capabilities.experimental ?? {}) as Record<string, unknown>;
    capabilities.experimental = { ...experimental, [STATE_CHANGES_CAPABILITY]: true };
  },
  initialize: () => undefined,
  getState: () => ({ kind: "static" }),
  clear: () => undefined,
};

export class SessionsClient implements vscode.Disposable {
  readonly log: vscode.OutputChannel;
  private readonly client: LanguageClient;
  private readonly backoff = new Backoff();
  private starting: Promise<void> | undefined;
  private disposed = false;

  /**
   * `spawnServer` starts the server process (it may ask the user to install
   * the package first, and throws when there is no usable interpreter);
   * `serverSettings` gives the settings to send at initialization.
   */
  constructor(
    spawnServer: (log: vscode.OutputChannel) => Promise<ChildProcess>,
    serverSettings: () => ServerSettings,
  ) {
    this.log = vscode.window.createOutputChannel("Sessions Server");
    const options: LanguageClientOptions = {
      documentSelector: [{ scheme: "file", language: "python" }],
      outputChannel: this.log,
      initializationOptions: () => serverSettingsPayload(serverSettings()),
      errorHandler: {
        error: (_error, _message, count) => ({
          action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
        }),
        closed: async () => {
          if (this.disposed) return { action: CloseAction.DoNotRestart };
          const delay = this.backoff.nextDelay(Date.now());
          this.log.appendLine(`[sessions] server stopped; restarting in ${delay / 1000}s`);
          await new Promise((resolve) => setTimeout(resolve, delay));
          return this.disposed
            ? { action: CloseAction.DoNotRestart }
            : { action: CloseAction.Restart, handled: true };
        },
      },
      middleware: {
        // Code lenses call server commands directly: refuse the ones that run code.
        executeCommand: async (command, args, next) => {
          if (RUN_COMMANDS.has(command) && !vscode.workspace.isTrusted) {
            void vscode.window.showWarningMessage(UNTRUSTED_MESSAGE);
            return null;
          }
          return next(command, args);
        },
      },
    };
    this.client = new LanguageClient(
      "sessions",
      "Sessions",
      () => spawnServer(this.log),
      options,
    );
    this.client.registerFeature(STATE_CHANGES_FEATURE);
    this.client.onDidChangeState((event) => {
      if (event.newState === State.Running) this.backoff.started(Date.now());
    });
  }

  /** Starts the server; resolves when it is initialized. */
  start(): Promise<void> {
    this.starting ??= this.client.start().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  async restart(): Promise<void> {
    if (this.client.isRunning()) await this.client.stop();
    this.starting = undefined;
    await this.start();
  }

  get isRunning(): boolean {
    return this.client.isRunning();
  }

  /** Resolves once the server runs (waiting through a restart), or rejects after a timeout. */
  async ready(): Promise<LanguageClient> {
    if (this.client.state === State.Running) return this.client;
    if (this.client.state === State.Stopped && this.starting === undefined) await this.start();
    // `start()` may have changed the state while we awaited.
    if ((this.client.state as State) === State.Running) return this.client;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        listener.dispose();
        reject(new Error("The Sessions language server did not start (see Sessions: Show Server Log)."));
      }, READY_TIMEOUT_MS);
      const listener = this.client.onDidChangeState((event) => {
        if (event.newState !== State.Running) return;
        clearTimeout(timer);
        listener.dispose();
        resolve(this.client);
      });
    });
  }

  /** `workspace/executeCommand` with the one object argument of docs/protocol.md. */
  async command<R>(command: string, argument: object): Promise<R> {
    if (RUN_COMMANDS.has(command) && !vscode.workspace.isTrusted) {
      throw new Error(UNTRUSTED_MESSAGE);
    }
    const client = await this.ready();
    return (await client.sendRequest(ExecuteCommandRequest.type, {
      command,
      arguments: [argument],
    })) as R;
  }

  /** Registers a handler for a server notification; it survives restarts. */
  onNotification<P>(method: string, handler: (params: P) => void): vscode.Disposable {
    return this.client.onNotification(method, handler);
  }

  /** Sends changed settings (`workspace/didChangeConfiguration`). */
  async sendSettings(settings: ServerSettings): Promise<void> {
    if (!this.client.isRunning()) return;
    await this.client.sendNotification("workspace/didChangeConfiguration", {
      settings: serverSettingsPayload(settings),
    });
  }

  showLog(): void {
    this.log.show(true);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    try {
      if (this.client.isRunning()) await this.client.stop(2000);
    } finally {
      this.log.dispose();
    }
  }
}
