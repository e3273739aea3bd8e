// The serializer's metadata round trip, checked against the real server-side
// parser and serializer (sessions.lsp.notebook_json in the repository's .venv):
// an untouched notebook saves byte-identical, an edit rewrites only its cell.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

import { cellMetadata, notebookMetadata, toSerializeCell, toSerializeParams } from "../src/cellPayload";
import type { ParseResult, ParsedCell, SerializeParams } from "../src/protocol";

const ROOT = path.resolve(__dirname, "../../../..");
const PYTHON = path.join(ROOT, ".venv", "bin", "python");

function python(code: string, input: unknown): unknown {
  const output = execFileSync(PYTHON, ["-c", code], { input: JSON.stringify(input), encoding: "utf8" });
  return JSON.parse(output);
}

const parse = (text: string): ParseResult =>
  python(
    "import json, sys\nfrom sessions.lsp.notebook_json import parse_payload\nprint(json.dumps(parse_payload(json.load(sys.stdin))))",
    text,
  ) as ParseResult;

const serialize = (params: SerializeParams): string =>
  python(
    "import json, sys\nfrom sessions.lsp.notebook_json import serialize_payload\nprint(json.dumps(serialize_payload(json.load(sys.stdin))))",
    params,
  ) as string;

/** What the editor would hold after opening: cell values, kinds and stored metadata. */
function open(text: string): { cells: { kind: ParsedCell["kind"]; value: string; metadata: unknown }[]; metadata: unknown } {
  const parsed = parse(text);
  return {
    cells: parsed.cells.map((cell) => ({ kind: cell.kind, value: cell.source, metadata: cellMetadata(cell) })),
    metadata: notebookMetadata(parsed),
  };
}

function save(notebook: ReturnType<typeof open>): string {
  const cells = notebook.cells.map((cell) => toSerializeCell(cell.kind, cell.value, cell.metadata));
  return serialize(toSerializeParams(cells, notebook.metadata));
}

describe("serializer metadata round trip (with the server's parser)", () => {
  const tour = fs.readFileSync(path.join(ROOT, "examples", "tour.py"), "utf8");

  it("saves an untouched notebook byte-identical", () => {
    assert.equal(save(open(tour)), tour);
  });

  it("keeps BOM, CRLF and a missing final newline", () => {
    const text = "\ufeffimport os\r\n\r\n# %% [markdown]\r\n# Title\r\n\r\n# %% Load\r\nx = 1";
    assert.equal(save(open(text)), text);
  });

  it("survives an editor that normalised line endings in untouched cells", () => {
    const text = "# %% A\r\nx = 1\r\n\r\n# %% B\r\ny = x\r\n";
    const notebook = open(text);
    for (const cell of notebook.cells) cell.value = cell.value.replace(/\r\n/g, "\n");
    assert.equal(save(notebook), text);
  });

  it("rewrites only the edited cell", () => {
    const notebook = open(tour);
    const clean = notebook.cells.find((cell) => cell.value.includes("MIN_MINUTES = 6"));
    assert.ok(clean);
    clean.value = clean.value.replace("MIN_MINUTES = 6", "MIN_MINUTES = 9");
    assert.equal(save(notebook), tour.replace("MIN_MINUTES = 6", "MIN_MINUTES = 9"));
  });

  const header = "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n";

  it("keeps the YAML header out of the cells and writes it back unchanged", () => {
    const text = header + "# %% [markdown]\n# Title\n\n# %%\nx = 1\n";
    const notebook = open(text);
    assert.deepEqual(
      notebook.cells.map((cell) => cell.value),
      ["Title", "x = 1"],
    );
    assert.equal(save(notebook), text);
    notebook.cells[1].value = "x = 2";
    assert.equal(save(notebook), text.replace("x = 1", "x = 2"));
  });

  it("shows root-level YAML as a raw cell on top and keeps the metadata when it is deleted", () => {
    const text = "# ---\n# title: Trips\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n# %%\nx = 1\n";
    const notebook = open(text);
    assert.deepEqual(
      notebook.cells.map((cell) => [cell.kind, cell.value]),
      [
        ["raw", "---\ntitle: Trips\n---"],
        ["code", "x = 1"],
      ],
    );
    assert.equal(save(notebook), text);
    notebook.cells.shift();
    assert.equal(save(notebook), text.replace("# title: Trips\n", ""));
  });

  it("gives a new cell a header from its kind", () => {
    const text = "# %% A\nx = 1\n";
    const notebook = open(text);
    notebook.cells.push({ kind: "markdown", value: "Notes", metadata: undefined });
    const saved = save(notebook);
    assert.ok(saved.startsWith(text), saved);
    assert.match(saved, /# %% \[markdown\]\n# Notes\n$/);
  });
});
