// The notebook renderer `sessions-widgets` (package.json contributes it for
// application/vnd.jupyter.widget-view+json): an ES module that VS Code loads
// once per notebook webview. It shows Jupyter widgets with the widget packages
// of @jupyter-widgets and anywidget, live through the extension host's
// renderer messaging when a kernel runs them, else from their saved state.

import type { ActivationFunction } from "vscode-notebook-renderer";

import "./styles.css";
import type { HostMessage, RendererMessage } from "../widgetMessages";
import { WidgetHost } from "./host";

const HOST_MESSAGES: ReadonlySet<unknown> = new Set(["snapshot", "comm", "kernel", "reconnect"]);

export const activate: ActivationFunction = (context) => {
  const { postMessage, onDidReceiveMessage } = context;
  // Messaging is optional (requiresMessaging: "optional"): without it, e.g. in a diff view, widgets show their saved state.
  const post =
    postMessage && onDidReceiveMessage ? (message: RendererMessage): void => postMessage(message) : undefined;
  const host = new WidgetHost(post);
  onDidReceiveMessage?.((message: unknown) => {
    const type = message !== null && typeof message === "object" ? (message as { type?: unknown }).type : undefined;
    if (HOST_MESSAGES.has(type)) host.receive(message as HostMessage);
  });
  return {
    renderOutputItem: (item, element, signal) => host.render(item, element, signal),
    disposeOutputItem: (id) => host.dispose(id),
  };
};
