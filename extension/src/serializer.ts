// NotebookSerializer for `sessions-notebook`: the `.py` text ⇄ notebook cells,
// delegating both directions to the server (`sessions.parse` /
// `sessions.serialize`, the one parser). Each cell keeps its parse payload in
// its metadata, so an untouched notebook saves byte-identical.

import * as vscode from "vscode";

import type { SessionsClient } from "./client";
import {
  cellMetadata,
  notebookMetadata,
  toSerializeCell,
  toSerializeParams,
} from "./cellPayload";
import { Command, type CellKind, type ParseResult, type ParsedCell } from "./protocol";

/** Language of raw cells: not Python, so the controller never runs them. */
const RAW_LANGUAGE = "raw";

export const SERIALIZER_OPTIONS: vscode.NotebookDocumentContentOptions = {
  // Outputs live in the sidecar, never in the .py: changing them is not an edit.
  transientOutputs: true,
};

function toCellData(cell: ParsedCell): vscode.NotebookCellData {
  const data =
    cell.kind === "markdown"
      ? new vscode.NotebookCellData(vscode.NotebookCellKind.Markup, cell.source, "markdown")
      : new vscode.NotebookCellData(
          vscode.NotebookCellKind.Code,
          cell.source,
          cell.kind === "raw" ? RAW_LANGUAGE : "python",
        );
  data.metadata = cellMetadata(cell);
  return data;
}

function kindOf(cell: vscode.NotebookCellData): CellKind {
  if (cell.kind === vscode.NotebookCellKind.Markup) return "markdown";
  return cell.languageId === "python" ? "code" : "raw";
}

export class SessionsSerializer implements vscode.NotebookSerializer {
  constructor(private readonly client: SessionsClient) {}

  async deserializeNotebook(content: Uint8Array): Promise<vscode.NotebookData> {
    // Keep a BOM in the text: the parser records it and serialize writes it back.
    const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(content);
    const parsed = await this.client.command<ParseResult>(Command.parse, { text });
    const data = new vscode.NotebookData(parsed.cells.map(toCellData));
    data.metadata = notebookMetadata(parsed);
    return data;
  }

  async serializeNotebook(data: vscode.NotebookData): Promise<Uint8Array> {
    const cells = data.cells.map((cell) => toSerializeCell(kindOf(cell), cell.value, cell.metadata));
    const params = toSerializeParams(cells, data.metadata);
    const { text } = await this.client.command<{ text: string }>(Command.serialize, params);
    return new TextEncoder().encode(text);
  }
}
