// The short texts a widget output shows instead of a view: while it waits for
// its model, when its kernel ended, when nothing can show it. Never a broken
// view, never an exception out of the renderer.

import type { EndReason } from "./kernelGate";

const ENDED: Record<EndReason, string> = {
  restarted: "Widget not live: the kernel restarted. Run the cell again.",
  died: "Widget not live: the kernel died. Run the cell again.",
  stopped: "Widget not live: the kernel stopped. Run the cell again.",
};

export function endedText(reason: EndReason): string {
  return ENDED[reason];
}

/** No live model and no saved state: say what the widget was (its text/plain), and how to get it back. */
export function missingText(fallback: string | undefined): string {
  const what = fallback ? ` ${fallback}` : "";
  return `Widget not available${what ? ":" : ""}${what}. Its state was not saved and no kernel runs it; run the cell to show it.`;
}

export const SAVED_NOTE = "Saved state: no kernel runs this widget. Run the cell to make it live.";

/** What a widget-state output shows: it is data for the widget outputs, not a view. */
export function stateText(models: number): string {
  if (models === 0) return "Widget state: no models this version of the widgets can show.";
  const noun = models === 1 ? "model" : "models";
  return `Widget state: ${models} ${noun}, shown by this notebook's widget outputs when no kernel runs them.`;
}

export type NoticeKind = "ended" | "missing" | "waiting" | "state";

/** Replaces what `element` shows by one line of text. */
export function showNotice(element: HTMLElement, text: string, kind: NoticeKind): void {
  const notice = document.createElement("div");
  notice.className = `sessions-widget-notice sessions-widget-${kind}`;
  notice.textContent = text;
  element.replaceChildren(notice);
}

/** The line under a widget shown from its saved state. */
export function savedNote(): HTMLElement {
  const note = document.createElement("div");
  note.className = "sessions-widget-note";
  note.textContent = SAVED_NOTE;
  return note;
}
