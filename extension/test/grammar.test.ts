// Loads the cell-marker injection grammar into vscode-textmate on top of a
// real Python grammar (the one tm-grammars ships, from VS Code's MagicPython)
// and checks the scopes VS Code would give each part of a marker line.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";

import * as oniguruma from "vscode-oniguruma";
import * as textmate from "vscode-textmate";

const ROOT = path.resolve(__dirname, "../../../..");
const INJECTION = "sessions.cell-markers.injection";
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
const contribution = manifest.contributes.grammars.find(
  (grammar: { scopeName: string }) => grammar.scopeName === INJECTION,
);
const GRAMMAR_FILES: Record<string, string> = {
  "source.python": require.resolve("tm-grammars/grammars/python.json"),
  [INJECTION]: path.join(ROOT, contribution.path),
};

let python: textmate.IGrammar;

before(async () => {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text: string) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName: string) => {
      const file = GRAMMAR_FILES[scopeName];
      return file ? textmate.parseRawGrammar(fs.readFileSync(file, "utf8"), file) : null;
    },
    // As VS Code does for `injectTo` in the manifest.
    getInjections: (scopeName: string) =>
      contribution.injectTo.includes(scopeName) ? [INJECTION] : undefined,
  });
  const grammar = await registry.loadGrammar("source.python");
  assert.ok(grammar, "the Python grammar loads");
  python = grammar;
});

/** Tokenizes `lines` and returns a lookup: the scopes of the token at `needle` on line `n`. */
function tokenize(lines: string[]): (n: number, needle: string) => string[] {
  let stack = textmate.INITIAL;
  const tokenized = lines.map((line) => {
    const result = python.tokenizeLine(line, stack);
    stack = result.ruleStack;
    return result.tokens;
  });
  return (n, needle) => {
    const at = lines[n].indexOf(needle);
    assert.ok(at >= 0, `${JSON.stringify(needle)} is on line ${n}`);
    const token = tokenized[n].find((t) => t.startIndex <= at && at < t.endIndex);
    assert.ok(token, `a token covers ${JSON.stringify(needle)}`);
    return token.scopes;
  };
}

function has(scopes: string[], scope: string): boolean {
  return scopes.some((s) => s === scope || s.startsWith(`${scope}.`));
}

describe("cell marker injection grammar", () => {
  it("scopes the marker, title, cell type and metadata", () => {
    const scopes = tokenize(['# %% Load data [markdown] tags=["setup", "x"] id="load" n=3']);
    assert.ok(has(scopes(0, "#"), "punctuation.definition.cell-marker.sessions"));
    assert.ok(has(scopes(0, "%%"), "keyword.control.cell-marker.sessions"));
    assert.ok(has(scopes(0, "%%"), "meta.cell-marker.sessions"));
    for (const word of ["Load", "data"]) {
      assert.ok(has(scopes(0, word), "markup.heading.cell-title.sessions"), word);
    }
    assert.ok(has(scopes(0, "markdown"), "storage.type.cell-type.sessions"));
    assert.ok(has(scopes(0, "[markdown"), "punctuation.definition.cell-type.begin.sessions"));
    assert.ok(has(scopes(0, "tags"), "entity.other.attribute-name.cell-metadata.sessions"));
    assert.ok(has(scopes(0, "="), "keyword.operator.assignment.cell-metadata.sessions"));
    assert.ok(has(scopes(0, "setup"), "string.quoted.double.cell-metadata.sessions"));
    assert.ok(has(scopes(0, "setup"), "meta.structure.array.cell-metadata.sessions"));
    assert.ok(has(scopes(0, "id"), "entity.other.attribute-name.cell-metadata.sessions"));
    assert.ok(has(scopes(0, '"load"'), "string.quoted.double.cell-metadata.sessions"));
    assert.ok(has(scopes(0, "3"), "constant.numeric.cell-metadata.sessions"));
    // A metadata value is not a title, and neither is the marker comment a comment.
    assert.ok(!has(scopes(0, "setup"), "markup.heading.cell-title.sessions"));
    assert.ok(!has(scopes(0, "%%"), "comment.line"));
  });

  it("knows [md] and [raw], with or without a title", () => {
    const scopes = tokenize(["# %% [md]", "#%% [raw] notes", "  # %%   Indented"]);
    assert.ok(has(scopes(0, "md"), "storage.type.cell-type.sessions"));
    assert.ok(has(scopes(1, "raw"), "storage.type.cell-type.sessions"));
    assert.ok(has(scopes(1, "notes"), "markup.heading.cell-title.sessions"));
    assert.ok(has(scopes(2, "%%"), "keyword.control.cell-marker.sessions"));
    assert.ok(has(scopes(2, "Indented"), "markup.heading.cell-title.sessions"));
  });

  it("leaves comments that are not markers to Python", () => {
    const scopes = tokenize(["# %%time", "# %%% x", "# plain comment", "x = 1  # %% not at line start"]);
    assert.ok(has(scopes(0, "%%time"), "comment.line.number-sign.python"));
    assert.ok(!has(scopes(0, "%%time"), "meta.cell-marker.sessions"));
    assert.ok(has(scopes(1, "%%%"), "meta.cell-marker.sessions"), "Spyder's # %%% x is a marker");
    assert.ok(has(scopes(2, "plain"), "comment.line.number-sign.python"));
    assert.ok(!has(scopes(3, "%%"), "meta.cell-marker.sessions"));
  });

  it("does not see markers inside a triple-quoted string", () => {
    const scopes = tokenize(['s = """', "# %% inside", '"""', "# %% outside"]);
    assert.ok(!has(scopes(1, "%%"), "meta.cell-marker.sessions"));
    assert.ok(has(scopes(1, "%%"), "string.quoted"));
    assert.ok(has(scopes(3, "%%"), "meta.cell-marker.sessions"));
  });

  it("marks a non-JSON metadata value invalid", () => {
    const scopes = tokenize(["# %% Title tags=setup"]);
    assert.ok(has(scopes(0, "setup"), "invalid.illegal.cell-metadata.sessions"));
    assert.ok(has(scopes(0, "Title"), "markup.heading.cell-title.sessions"));
  });
});
