// The widget manager: @jupyter-widgets/html-manager's, which already knows
// the ipywidgets 7 and 8 controls (base, controls, output), plus the anywidget
// front end, and comms that go through the extension host instead of a
// browser-side kernel connection.

import type { IClassicComm } from "@jupyter-widgets/base";
import { HTMLManager } from "@jupyter-widgets/html-manager/lib/htmlmanager";

import { anywidgetModule } from "./anywidget";
import type { ProxyComm } from "./comm";

/** Makes a comm the front end opens (a widget created in the UI); undefined: no kernel to open it on. */
export type CommOpener = (targetName: string, commId: string) => ProxyComm | undefined;

/** Front ends other than the three html-manager bundles. */
async function loadFrontEnd(moduleName: string, moduleVersion: string): Promise<unknown> {
  if (moduleName === "anywidget") return anywidgetModule();
  // Sessions bundles its front ends; it loads no code from the network.
  throw new Error(`the widget front end ${moduleName}@${moduleVersion} is not available in Sessions`);
}

export class SessionsWidgetManager extends HTMLManager {
  constructor(private readonly openComm: CommOpener | undefined) {
    super({ loader: loadFrontEnd });
  }

  override _create_comm(
    targetName: string,
    modelId: string,
    data?: unknown,
    metadata?: unknown,
    buffers?: ArrayBuffer[] | ArrayBufferView[],
  ): Promise<IClassicComm> {
    const comm = this.openComm?.(targetName, modelId);
    if (!comm) return Promise.reject(new Error("no kernel runs this notebook's widgets"));
    comm.open(data ?? {}, undefined, metadata, buffers);
    return Promise.resolve(comm);
  }

  /** Live comms are given to the manager by the host (from the server's snapshot), never asked for. */
  override _get_comm_info(): Promise<{}> {
    return Promise.resolve({});
  }
}
