// `sessions/state` notifications that carry only the cells that changed.
//
// The extension declares `experimental.sessionsStateChanges` when it starts the
// server; from then on, every `sessions/state` after a notebook's first holds
// only the cells whose entry differs from the previous notification's (a
// keystroke in a 50,000-line notebook: a few cells, not 1 MB of JSON), with
// `onlyChanged: true` and `cellCount`. Pure: no `vscode` import.

import type { CellState, StateNotification } from "./protocol";

/**
 * The cells `params` describes, given `base`, the cells the previous
 * `sessions/state` notifications for its URI added up to. A complete
 * notification is its own cells; a partial one replaces the cells it carries
 * (by `index`) and keeps `cellCount` cells. `undefined` when a partial one
 * comes without a base (the notebook was forgotten meanwhile): it cannot be
 * applied, and the next complete one will be.
 */
export function applyStateChanges(
  base: readonly CellState[] | undefined,
  params: StateNotification,
): CellState[] | undefined {
  if (!params.onlyChanged) return params.cells.slice();
  if (base === undefined) return undefined;
  const count = params.cellCount ?? base.length;
  const cells = base.slice(0, count);
  for (const cell of params.cells) {
    if (cell.index >= 0 && cell.index < count) cells[cell.index] = cell;
  }
  // A cell past the base that the notification did not carry would be a hole.
  for (let index = 0; index < count; index++) if (cells[index] === undefined) return undefined;
  return cells;
}
