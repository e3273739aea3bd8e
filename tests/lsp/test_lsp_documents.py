"""The language server over stdio on text and notebook documents: diagnostics,
edits, lenses, formatting, outline, hints, hover, external sidecar writes and
notebook document sync (docs/protocol.md)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from sessions.format.notebook import parse
from tests.support.lsp import (
    CONFIG,
    change_text,
    codes_by_line,
    command,
    initialize,
    latest_state,
    open_text,
    plain,
    recorded,
    run_in_terminal,
    statuses,
    wait_until,
    write_notebook,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import notebook_documents  # the notebook view's messages, shared with the benchmarks

pytestmark = [pytest.mark.lsp, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-docs")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)
    yield
    await lsp_client.shutdown_session()


CHAIN = """\
# %% a
x = 1

# %% b
y = x + 1
print(y)

# %% c
z = 3
z
"""


async def test_open_publishes_analysis_diagnostics(client: LanguageClient, folder: Path) -> None:
    path = write_notebook(
        folder,
        "open.py",
        """\
        # %% a
        x = 1
        # %% b
        y = x + missing
        # %% c
        def broken(:
        """,
    )
    uri = open_text(client, path, version=3)
    await wait_until(lambda: uri in client.diagnostics, what="diagnostics")
    by_line = codes_by_line(client, uri)
    assert by_line == {3: {"undefined-name"}, 5: {"syntax-error"}}
    assert all(d.source == "sessions" for d in client.diagnostics[uri])
    assert recorded(client).diagnostic_versions[uri] == 3
    await wait_until(lambda: statuses(client, uri), what="sessions/state")
    assert statuses(client, uri) == ["never-run", "never-run", "never-run"]


async def test_plain_python_file_gets_nothing(client: LanguageClient, folder: Path) -> None:
    plain = write_notebook(folder, "plain.py", "import os\nprint(undefined_here)\n")
    notebook = write_notebook(folder, "after_plain.py", "# %%\nq = nope\n")
    plain_uri = open_text(client, plain)
    notebook_uri = open_text(client, notebook)
    # The notebook opened after it is published; the plain file never is.
    await wait_until(lambda: notebook_uri in client.diagnostics, what="notebook diagnostics")
    assert plain_uri not in client.diagnostics
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=plain_uri))
    )
    assert not lenses


async def test_edit_marks_exactly_the_edited_cell_and_its_dependents(
    client: LanguageClient, folder: Path
) -> None:
    path = write_notebook(folder, "chain.py", CHAIN)
    assert run_in_terminal(path).returncode == 0
    uri = open_text(client, path)
    await wait_until(lambda: statuses(client, uri) == ["fresh"] * 3, what="fresh statuses")
    assert codes_by_line(client, uri) == {}

    change_text(client, uri, 2, 1, 4, 5, "2")  # x = 1 -> x = 2
    await wait_until(lambda: recorded(client).diagnostic_versions.get(uri) == 2, what="v2")
    assert codes_by_line(client, uri) == {0: {"edited"}, 3: {"upstream"}}
    await wait_until(lambda: statuses(client, uri) == ["edited", "upstream", "fresh"], what="st")
    state = latest_state(client, uri)
    assert state is not None and state["version"] == 2 and state["cells"][1]["causes"] == [0]

    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert lenses is not None
    by_line: dict[int, list[str]] = {}
    for lens in lenses:
        assert lens.command is not None
        by_line.setdefault(lens.range.start.line, []).append(lens.command.title)
    assert by_line[0] == ["▶ Run cell", "▶ Run with upstream", "▶ Run stale (2)", "● stale: edited"]
    assert by_line[3][3] == "● stale: cell 0 changed"
    assert by_line[7][3].startswith("✓ ") and "s" in by_line[7][3]
    run_lens = next(lens for lens in lenses if lens.range.start.line == 3)
    assert run_lens.command is not None and run_lens.command.command == "sessions.run"
    assert plain(run_lens.command.arguments) == [{"uri": uri, "mode": "cell", "cells": [1]}]

    # A burst of edits: only the latest version is published.
    for version, digit in ((3, "3"), (4, "4"), (5, "1")):
        change_text(client, uri, version, 1, 4, 5, digit)
    await wait_until(lambda: recorded(client).diagnostic_versions.get(uri) == 5, what="v5")
    assert codes_by_line(client, uri) == {}  # back to the code that produced the outputs

    hints = await client.text_document_inlay_hint_async(
        types.InlayHintParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(types.Position(0, 0), types.Position(20, 0)),
        )
    )
    assert hints is not None
    assert [(h.position.line, h.label) for h in hints] == [(9, "→ 3")]

    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(4, 4)
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "`x`" in hover.contents.value and "cell 0" in hover.contents.value


async def test_diagnostics_and_hover_follow_lines_added_and_removed_above(
    client: LanguageClient, folder: Path
) -> None:
    """Cells below an edit that changes the line count are moved, not read
    again: their warnings and hovers must move with them (they stayed on the
    old lines when a moved cell kept its old body line)."""
    text = "# %% a\nx = 1\n\n# %% b\ny = x\n\n# %% c\nz = 3\n\n# %% d\nprint(nope, y)\n"
    path = write_notebook(folder, "moving_lines.py", text)
    uri = open_text(client, path)
    await wait_until(lambda: uri in client.diagnostics, what="diagnostics")
    assert codes_by_line(client, uri) == {10: {"undefined-name"}}

    async def hover_of_y(line: int) -> str:
        found = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line, 12),
            )
        )
        assert found is not None and isinstance(found.contents, types.MarkupContent)
        return found.contents.value

    assert "`y`" in await hover_of_y(10)
    change_text(client, uri, 2, 1, 5, 5, "\nq = 0\nr = 0")  # two lines more in cell a
    await wait_until(lambda: recorded(client).diagnostic_versions.get(uri) == 2, what="v2")
    assert codes_by_line(client, uri) == {12: {"undefined-name"}}
    assert "`y`" in await hover_of_y(12)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(1, 5), types.Position(3, 5)), text=""
                )
            ],
        )
    )
    await wait_until(lambda: recorded(client).diagnostic_versions.get(uri) == 3, what="v3")
    assert codes_by_line(client, uri) == {10: {"undefined-name"}}
    assert "`y`" in await hover_of_y(10)


async def test_sidecar_written_by_another_process_refreshes_statuses(
    client: LanguageClient, folder: Path
) -> None:
    path = write_notebook(
        folder,
        "external.py",
        """\
        # %% a
        a = 1

        # %% b
        b = a + 1
        raise ValueError("bad")
        """,
    )
    uri = open_text(client, path)
    await wait_until(lambda: statuses(client, uri) == ["never-run", "never-run"], what="opened")
    result = run_in_terminal(path)
    assert result.returncode == 1, result.stderr
    # No request from the client: the watcher notices the sidecar write.
    await wait_until(lambda: statuses(client, uri) == ["fresh", "error"], what="refreshed")
    await wait_until(lambda: codes_by_line(client, uri) == {5: {"run-error"}}, what="run-error")
    message = client.diagnostics[uri][0].message
    assert "ValueError" in message


async def test_formatting_edits_only_changed_code_cells(
    client: LanguageClient, folder: Path
) -> None:
    text = "# %% a\nx=[1,2]\n\n# %% [markdown]\n# keep   *this*\n\n# %% b\ny = 1\n\n# %% c\nz = {'k':1}\n"
    path = write_notebook(folder, "fmt.py", text)
    uri = open_text(client, path)
    await wait_until(lambda: uri in client.diagnostics, what="opened")
    ident = types.TextDocumentIdentifier(uri=uri)
    options = types.FormattingOptions(tab_size=4, insert_spaces=True)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=ident, options=options)
    )
    assert edits is not None
    assert [e.range.start.line for e in edits] == [0, 9]
    assert apply_edits(text, edits) == text.replace("x=[1,2]", "x = [1, 2]").replace(
        "z = {'k':1}", 'z = {"k": 1}'
    )

    ranged = await client.text_document_range_formatting_async(
        types.DocumentRangeFormattingParams(
            text_document=ident,
            range=types.Range(types.Position(9, 0), types.Position(10, 3)),
            options=options,
        )
    )
    assert ranged is not None and [e.range.start.line for e in ranged] == [9]


async def test_symbols_and_folding_follow_cells(client: LanguageClient, folder: Path) -> None:
    path = write_notebook(
        folder, "outline.py", "import os\n\n# %% Load\nx = 1\ny = 2\n\n# %%\nprint(x)\n"
    )
    uri = open_text(client, path)
    ident = types.TextDocumentIdentifier(uri=uri)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=ident)
    )
    assert symbols is not None
    assert [(s.name, s.range.start.line) for s in symbols] == [
        ("import os", 0),
        ("Load", 2),
        ("print(x)", 6),
    ]
    folds = await client.text_document_folding_range_async(
        types.FoldingRangeParams(text_document=ident)
    )
    assert folds is not None
    assert [(f.start_line, f.end_line) for f in folds] == [(2, 4), (6, 7)]


def apply_edits(text: str, edits: Any) -> str:
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def offset(position: types.Position) -> int:
        return offsets[position.line] + position.character

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


async def test_notebook_document_sync_and_serializer_round_trip(
    client: LanguageClient, folder: Path
) -> None:
    text = "import os\n\n# %% Load\nvalue = os.sep\n\n# %% [markdown]\n# Notes\n\n# %% use\nprint(value, nope)\n"
    path = write_notebook(folder, "nbdoc.py", text)
    parsed = await command(client, "sessions.parse", {"text": text})
    assert await command(client, "sessions.serialize", parsed) == {"text": text}

    uri = path.as_uri()
    cells = parsed["cells"]
    cell_uris = notebook_documents.cell_uris(uri, parsed)
    client.notebook_document_did_open(notebook_documents.did_open(uri, parsed))
    # `nope` is on the cell's first line (file line 9): cell-relative line 0.
    await wait_until(lambda: client.diagnostics.get(cell_uris[3]), what="cell diagnostics")
    assert [(d.code, d.range.start.line) for d in client.diagnostics[cell_uris[3]]] == [
        ("undefined-name", 0)
    ]
    assert list(client.diagnostics[cell_uris[1]]) == []
    assert uri not in client.diagnostics
    counts = dict(recorded(client).diagnostic_counts)
    assert all(counts.get(cell) for cell in cell_uris)  # every cell got its (maybe empty) set

    # Define `nope` in the Load cell (its second line): the warning goes away.
    end_of_line = types.Range(types.Position(0, 14), types.Position(0, 14))
    client.notebook_document_did_change(
        notebook_documents.cell_edit(uri, 2, cell_uris[1], end_of_line, "\nnope = 1")
    )
    await wait_until(lambda: list(client.diagnostics[cell_uris[3]]) == [], what="cleared")
    state = await command(client, "sessions.state", {"uri": uri})
    assert state["version"] == 2
    # Sent again: the edited cell (a new version) and the one whose warning went;
    # not the preamble and the markdown cell, whose diagnostics did not change.
    after = recorded(client).diagnostic_counts
    assert [after[cell] - counts[cell] for cell in cell_uris] == [0, 1, 0, 1]
    assert recorded(client).diagnostic_versions[cell_uris[1]] == 2
    assert [c["title"] for c in state["cells"]] == ["", "Load", "", "use"]
    assert state["cells"][1]["defines"] == ["nope", "value"]
    # The rebuilt file keeps every other cell's bytes.
    payload = dict(parsed)
    payload["cells"] = [dict(c) for c in cells]
    payload["cells"][1]["source"] = "value = os.sep\nnope = 1"
    rebuilt = (await command(client, "sessions.serialize", payload))["text"]
    assert rebuilt == text.replace("value = os.sep\n", "value = os.sep\nnope = 1\n")
    assert [c.raw for i, c in enumerate(parse(rebuilt).cells) if i != 1] == [
        c["raw"] for i, c in enumerate(cells) if i != 1
    ]


HEADED = """\
# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# Notes

# %% language="bash"
# echo "$undefined_in_bash"

# %% use
print(nope)
"""


async def test_a_yaml_header_is_no_cell_and_lines_stay_right(
    client: LanguageClient, folder: Path
) -> None:
    path = write_notebook(folder, "headed.py", HEADED)
    uri = open_text(client, path)
    # `nope` is on file line 15; the bash cell is not Python: nothing there.
    await wait_until(lambda: uri in client.diagnostics, what="diagnostics")
    assert codes_by_line(client, uri) == {15: {"undefined-name"}}
    state = await command(client, "sessions.state", {"uri": uri})
    assert [(c["kind"], c["title"]) for c in state["cells"]] == [
        ("markdown", ""),
        ("code", ""),
        ("code", "use"),
    ]
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert symbols is not None
    assert [s.range.start.line for s in symbols] == [8, 11, 14]  # type: ignore[union-attr]


async def test_notebook_document_with_a_header_rebuilds_the_file(
    client: LanguageClient, folder: Path
) -> None:
    path = write_notebook(folder, "headed_nb.py", HEADED)
    parsed = await command(client, "sessions.parse", {"text": HEADED})
    assert parsed["header"].startswith("# ---\n# jupyter:")
    assert [c["source"] for c in parsed["cells"]] == [
        "Notes",
        '%%bash\necho "$undefined_in_bash"',
        "print(nope)",
    ]
    uri = path.as_uri()
    cell_uris = notebook_documents.cell_uris(uri, parsed)
    client.notebook_document_did_open(notebook_documents.did_open(uri, parsed))
    await wait_until(lambda: client.diagnostics.get(cell_uris[2]), what="cell diagnostics")
    assert [(d.code, d.range.start.line) for d in client.diagnostics[cell_uris[2]]] == [
        ("undefined-name", 0)
    ]
    state = await command(client, "sessions.state", {"uri": uri})
    assert len(state["cells"]) == 3
    assert await command(client, "sessions.serialize", parsed) == {"text": HEADED}


async def test_typing_after_a_cell_is_added_in_the_notebook_view(
    client: LanguageClient, folder: Path
) -> None:
    """Typing changes cells in place (only their text changed); adding a
    cell reads the whole notebook again. Both give the file's true text: a
    new cell typed into after both defines what the cell below reads."""
    text = "# %% load\nvalue = 1\n\n# %% use\nprint(value, later)\n"
    path = write_notebook(folder, "typing_then_structure.py", text)
    parsed = await command(client, "sessions.parse", {"text": text})
    uri = path.as_uri()
    cell_uris = notebook_documents.cell_uris(uri, parsed)
    client.notebook_document_did_open(notebook_documents.did_open(uri, parsed))
    await wait_until(lambda: client.diagnostics.get(cell_uris[1]), what="cell diagnostics")
    assert [d.code for d in client.diagnostics[cell_uris[1]]] == ["undefined-name"]

    # Typing in the first cell: a text-only change.
    end = types.Range(types.Position(0, 9), types.Position(0, 9))
    client.notebook_document_did_change(
        notebook_documents.cell_edit(uri, 2, cell_uris[0], end, "\nother = 2")
    )
    await wait_until(
        lambda: recorded(client).diagnostic_versions.get(cell_uris[0]) == 2, what="typed"
    )
    # A new, empty cell between the two (no raw: VS Code made it).
    new_uri = f"{uri}#new"
    client.notebook_document_did_change(notebook_documents.cell_insert(uri, 3, 1, new_uri, ""))
    await wait_until(lambda: new_uri in recorded(client).diagnostic_versions, what="new cell")
    # Typing in the new cell defines `later`: the warning below goes.
    start = types.Range(types.Position(0, 0), types.Position(0, 0))
    client.notebook_document_did_change(
        notebook_documents.cell_edit(uri, 4, new_uri, start, "later = value + other")
    )
    await wait_until(lambda: list(client.diagnostics[cell_uris[1]]) == [], what="cleared")
    state = await command(client, "sessions.state", {"uri": uri})
    assert state["version"] == 4
    assert [c["title"] for c in state["cells"]] == ["load", "", "use"]
    assert state["cells"][0]["defines"] == ["other", "value"]
    assert state["cells"][1]["defines"] == ["later"]
    assert state["cells"][1]["uses"] == ["other", "value"]


async def test_a_cell_added_above_the_preamble_stays_on_top(
    client: LanguageClient, folder: Path
) -> None:
    """A cell added above a notebook's preamble (the docstring every
    scikit-learn example starts with) is the file's first cell too, so what
    is said about it goes to it: the preamble was kept above it, and the new
    cell's warning was published on the preamble's cell."""
    text = (
        Path(__file__).resolve().parents[2] / "bench/corpus/sklearn_cv_predict.py.txt"
    ).read_text()
    path = write_notebook(folder, "above_preamble.py", text)
    parsed = await command(client, "sessions.parse", {"text": text})
    assert parsed["cells"][0]["preamble"]
    uri = path.as_uri()
    cell_uris = notebook_documents.cell_uris(uri, parsed)
    client.notebook_document_did_open(notebook_documents.did_open(uri, parsed))
    await wait_until(lambda: cell_uris[-1] in recorded(client).diagnostic_versions, what="open")
    new_uri = f"{uri}#top"
    client.notebook_document_did_change(
        notebook_documents.cell_insert(uri, 2, 0, new_uri, "print(not_defined_anywhere)")
    )
    await wait_until(lambda: client.diagnostics.get(new_uri), what="the new cell's warning")
    assert [d.code for d in client.diagnostics[new_uri]] == ["undefined-name"]
    assert not client.diagnostics.get(cell_uris[0])  # the preamble's
    state = await command(client, "sessions.state", {"uri": uri})
    assert state["cells"][0]["uses"] == ["not_defined_anywhere"]
    assert state["cells"][1]["line"] > 0
