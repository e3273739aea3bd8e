// What the serializer keeps in notebook and cell metadata (the `sessions.parse`
// payload) and how it turns a notebook cell back into a `sessions.serialize`
// cell. Pure, so the byte-identical round-trip rules are unit-tested.

import type { CellKind, ParseResult, ParsedCell, SerializeParams } from "./protocol";

/** Cell metadata key; the server reads the same (docs/protocol.md "Notebook documents"). */
export const METADATA_KEY = "sessions";

export interface CellFields {
  kind: CellKind;
  source: string;
  raw?: string;
  preamble: boolean;
  /** The YAML header's root-level keys, shown as a raw cell on top. */
  frontmatter: boolean;
  title: string;
  metadata: Record<string, unknown>;
}

export interface NotebookFields {
  bom: boolean;
  newline: string;
  prefix: string;
  /** The Jupytext YAML header (notebook metadata): not a cell, written back unchanged. */
  header: string;
}

/** The cell metadata stored for one parsed cell. */
export function cellMetadata(cell: ParsedCell): { [METADATA_KEY]: CellFields } {
  const fields: CellFields = {
    kind: cell.kind,
    source: cell.source,
    preamble: cell.preamble === true,
    frontmatter: cell.frontmatter === true,
    title: cell.title ?? "",
    metadata: cell.metadata ?? {},
  };
  if (cell.raw !== undefined) fields.raw = cell.raw;
  return { [METADATA_KEY]: fields };
}

export function notebookMetadata(parsed: ParseResult): { [METADATA_KEY]: NotebookFields } {
  return {
    [METADATA_KEY]: {
      bom: parsed.bom,
      newline: parsed.newline,
      prefix: parsed.prefix,
      header: parsed.header ?? "",
    },
  };
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};
}

const sameText = (a: string, b: string): boolean =>
  a.replace(/\r\n?/g, "\n") === b.replace(/\r\n?/g, "\n");

/**
 * A notebook cell → a `sessions.serialize` cell. When the editor's text equals
 * the parsed source up to line endings (editors normalise them), the parsed
 * source is sent, so the server recognises the cell as untouched and writes
 * its original bytes.
 */
export function toSerializeCell(kind: CellKind, value: string, metadata: unknown): ParsedCell {
  const fields = record(record(metadata)[METADATA_KEY]);
  const source =
    typeof fields.source === "string" && fields.kind === kind && sameText(fields.source, value)
      ? fields.source
      : value;
  const cell: ParsedCell = {
    kind,
    source,
    preamble: fields.preamble === true,
    frontmatter: fields.frontmatter === true,
    title: typeof fields.title === "string" ? fields.title : "",
    metadata: record(fields.metadata),
  };
  if (typeof fields.raw === "string") cell.raw = fields.raw;
  return cell;
}

export function toSerializeParams(cells: ParsedCell[], notebookMeta: unknown): SerializeParams {
  const fields = record(record(notebookMeta)[METADATA_KEY]);
  const params: SerializeParams = { cells };
  if (typeof fields.bom === "boolean") params.bom = fields.bom;
  if (typeof fields.newline === "string") params.newline = fields.newline;
  if (typeof fields.prefix === "string") params.prefix = fields.prefix;
  if (typeof fields.header === "string") params.header = fields.header;
  return params;
}
