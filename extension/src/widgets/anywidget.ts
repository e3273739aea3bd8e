// The anywidget front end (model_module "anywidget"): its AnyModel and AnyView,
// built on the bundled @jupyter-widgets/base. A widget's `_esm` source is
// imported from a blob: URL by anywidget itself (VS Code's notebook webview
// sets no Content-Security-Policy unless `notebook.experimental.enableCsp` is
// on; with it, blob: scripts are refused and such widgets show an error).

import { takeAmdFactory } from "./amdCapture"; // first: the next import calls its `define`
import "anywidget";
import * as base from "@jupyter-widgets/base";

const factory = takeAmdFactory();

let front: Record<string, unknown> | undefined;

/** `{AnyModel, AnyView}`, made once. */
export function anywidgetModule(): Record<string, unknown> {
  if (!factory) throw new Error("the bundled anywidget front end did not load");
  front ??= factory(base) as Record<string, unknown>;
  return front;
}
