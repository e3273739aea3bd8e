// Reading what a widget output carries: the view's model id, the saved state of
// its models (nbformat's widget-state shape, which Sessions keeps in the output
// metadata) and its text/plain. Untyped input from the notebook, checked here.
// Pure (no DOM), so it is unit-tested.

import type { WidgetModelState } from "../protocol";
import { WIDGET_STATE_MIME, WIDGET_TEXT_KEY, isModelState, isObject } from "../widgetMessages";

/** nbformat's `application/vnd.jupyter.widget-state+json`. */
export interface WidgetStateDocument {
  version_major: number;
  version_minor: number;
  state: Record<string, WidgetModelState>;
}


/** The model id of a `application/vnd.jupyter.widget-view+json` item. */
export function viewModelId(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const id = value.model_id;
  return typeof id === "string" && id !== "" ? id : undefined;
}


/**
 * An nbformat widget-state document (the value of a
 * `application/vnd.jupyter.widget-state+json` output item, or of the key of
 * that name in an output's metadata), keeping only well-formed models;
 * undefined when it is not one or is of another major version.
 */
export function widgetStateDocument(document: unknown): WidgetStateDocument | undefined {
  if (!isObject(document) || document.version_major !== 2 || !isObject(document.state)) return undefined;
  const state: Record<string, WidgetModelState> = {};
  for (const [modelId, model] of Object.entries(document.state)) {
    if (isModelState(model)) state[modelId] = model;
  }
  const minor = typeof document.version_minor === "number" ? document.version_minor : 0;
  return { version_major: 2, version_minor: minor, state };
}

/** The saved widget state in an output's metadata; undefined when there is none. */
export function savedWidgetState(metadata: unknown): WidgetStateDocument | undefined {
  if (!isObject(metadata)) return undefined;
  return widgetStateDocument(metadata[WIDGET_STATE_MIME]);
}

/** The output's text/plain, as the extension put it in the metadata. */
export function widgetText(metadata: unknown): string | undefined {
  if (!isObject(metadata)) return undefined;
  const text = metadata[WIDGET_TEXT_KEY];
  return typeof text === "string" && text.trim() !== "" ? text.trim() : undefined;
}
