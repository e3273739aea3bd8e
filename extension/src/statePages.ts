// `sessions.state` with all of its outputs. The server pages outputs
// (docs/protocol.md, "sessions.state"): a reply holds a bounded amount of
// output JSON and `nextCursor` names the next page. This follows the cursor
// and joins the pages, so callers get every cell's outputs as before. Pure:
// the request function is passed in, so the joining rules are unit-tested.

import type { CellState, NotebookState, StateParams } from "./protocol";

export type StateRequest = (params: StateParams) => Promise<NotebookState>;

/** Attempts before giving up on a notebook that keeps running between pages. */
const ATTEMPTS = 3;

/** Whether a later page describes the same runs as the first (no cell ran in between). */
function samePicture(first: NotebookState, page: NotebookState): boolean {
  if (page.version !== first.version || page.cells.length !== first.cells.length) return false;
  return page.cells.every((cell, i) => (cell.run ?? null) === (first.cells[i].run ?? null));
}

/**
 * Every page of `sessions.state` for `uri`, joined: each cell's `outputs` is
 * complete. If the notebook changed between pages (a cell ran again, an edit),
 * it starts over; after `ATTEMPTS` it returns the latest first page, whose cells
 * beyond that page have no `outputs` (callers treat that as "none known").
 */
export async function fetchState(request: StateRequest, uri: string, maxBytes?: number): Promise<NotebookState> {
  const params = (cursor?: string): StateParams => ({
    uri,
    ...(cursor !== undefined ? { cursor } : {}),
    ...(maxBytes !== undefined ? { maxBytes } : {}),
  });
  let first: NotebookState | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    first = await request(params());
    const cells: CellState[] = first.cells.map((cell) => ({ ...cell }));
    let cursor = first.nextCursor ?? null;
    let consistent = true;
    while (cursor !== null && consistent) {
      const page = await request(params(cursor));
      consistent = samePicture(first, page) && page.nextCursor !== cursor;
      for (const cell of page.cells) {
        if (!consistent || cell.outputs === undefined) continue;
        const joined = cells[cell.index];
        const have = joined?.outputs ?? [];
        if (!joined || (cell.outputsFrom ?? 0) !== have.length) {
          consistent = false;
          continue;
        }
        joined.outputs = have.concat(cell.outputs);
      }
      cursor = page.nextCursor ?? null;
    }
    if (consistent) return { ...first, cells, nextCursor: null };
  }
  if (first === undefined) throw new Error("sessions.state: no reply");
  return first;
}
