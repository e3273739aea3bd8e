"""The notebook view's cells while they are not the file's (a string left
open, a marker typed in a cell): the cell to fix is pointed at, and nothing
is run, cleared, formatted or shown for one cell in another's place
(``sessions.lsp.view_cells``, docs/protocol.md)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from sessions.format.notebook import parse
from tests.support.lsp import (
    CONFIG,
    command,
    initialize,
    latest_state,
    recorded,
    wait_until,
    write_notebook,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import notebook_documents  # the notebook view's messages, shared with the benchmarks

pytestmark = [pytest.mark.lsp, pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]

# The third cell's comment holds a triple quote: harmless, until a string is
# left open above it; then it closes that string, and the file reads the
# second and third cells as one, its third cell being the view's fourth.
NOTEBOOK = (
    "# %% a\na = 1\n\n"
    "# %% b\nb = 2\n\n"
    '# %% c\nprint( "C ran" )  # ends with """\n\n'
    '# %% d\nprint("D ran")\n'
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-view-cells")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)
    yield
    await lsp_client.shutdown_session()


async def open_view(client: LanguageClient, path: Path) -> tuple[str, list[str]]:
    text = path.read_text(encoding="utf-8")
    parsed = await command(client, "sessions.parse", {"text": text})
    uri = path.as_uri()
    uris = notebook_documents.cell_uris(uri, parsed)
    client.notebook_document_did_open(notebook_documents.did_open(uri, parsed))
    await wait_until(lambda: (latest_state(client, uri) or {}).get("version") == 1, what="open")
    return uri, uris


async def analysed(client: LanguageClient, uri: str, version: int) -> None:
    await wait_until(lambda: recorded(client).diagnostic_versions.get(uri) == version, what="v")


def codes(client: LanguageClient, uris: list[str]) -> list[list[Any]]:
    return [[d.code for d in client.diagnostics.get(u, [])] for u in uris]


async def test_a_string_left_open_runs_and_formats_no_cell_for_another(
    client: LanguageClient, folder: Path
) -> None:
    path = write_notebook(folder, "open_string.py", NOTEBOOK)
    uri, uris = await open_view(client, path)
    end_of_b = types.Range(types.Position(0, 5), types.Position(0, 5))
    client.notebook_document_did_change(
        notebook_documents.cell_edit(uri, 2, uris[1], end_of_b, ' + """')
    )
    await analysed(client, uris[1], 2)
    # The cell that opened the string is pointed at; no other cell gets anything.
    assert codes(client, uris) == [[], ["cell-boundary"], [], []]
    [boundary] = client.diagnostics[uris[1]]
    assert boundary.range.start.line == 0 and "string open" in boundary.message
    assert boundary.severity == types.DiagnosticSeverity.Error
    # No statuses for version 2, sent or asked for: they would go to cells by
    # position (and the graph's nodes name cells by position too).
    assert latest_state(client, uri)["version"] == 1  # type: ignore[index]
    with pytest.raises(JsonRpcException, match=r"sessions\.state: cell 2 of the notebook view"):
        await command(client, "sessions.state", {"uri": uri})
    with pytest.raises(JsonRpcException, match=r"sessions\.graph: cell 2 of the notebook view"):
        await command(client, "sessions.graph", {"uri": uri})

    # Running the view's third cell would have run the file's third, "d".
    with pytest.raises(JsonRpcException, match=r"cell 2 of the notebook view \(index 1\)"):
        await command(client, "sessions.run", {"uri": uri, "cells": [2]})
    with pytest.raises(JsonRpcException, match="string open"):
        await command(client, "sessions.run", {"uri": uri, "mode": "all"})
    with pytest.raises(JsonRpcException, match=r"sessions\.clearOutputs: cell 2"):
        await command(client, "sessions.clearOutputs", {"uri": uri, "cells": [2]})
    assert not recorded(client).output
    # A refusal is an answer, not a crash: logged as such (pygls logs it as an error).
    refusals = [m for m in client.log_messages if "cell 2 of the notebook view" in m.message]
    assert refusals and all(m.type == types.MessageType.Info for m in refusals)
    assert not any("internal error" in m.message for m in refusals)
    # Formatting the third cell would have replaced its code with "d"'s.
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uris[2]),
            options=types.FormattingOptions(tab_size=4, insert_spaces=True),
        )
    )
    assert edits is not None and list(edits) == []  # no edit, and not None: it was asked
    hover = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri=uris[3]), types.Position(0, 1))
    )
    assert hover is None

    # The string closed: everything comes back, and the third cell is "c".
    client.notebook_document_did_change(
        notebook_documents.cell_edit(
            uri, 3, uris[1], types.Range(types.Position(0, 5), types.Position(0, 11)), ""
        )
    )
    await wait_until(lambda: (latest_state(client, uri) or {}).get("version") == 3, what="v3")
    assert codes(client, uris) == [[], [], [], []]
    assert (await command(client, "sessions.state", {"uri": uri}))["version"] == 3
    result = await command(client, "sessions.run", {"uri": uri, "cells": [2]})
    assert result["ran"] == [2]
    printed = "".join(o["output"].get("text", "") for o in recorded(client).output)
    assert printed == "C ran\n"
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uris[2]),
            options=types.FormattingOptions(tab_size=4, insert_spaces=True),
        )
    )
    assert edits and edits[0].new_text == 'print("C ran")  # ends with """'


async def test_a_marker_typed_in_a_cell_is_pointed_at(client: LanguageClient, folder: Path) -> None:
    path = write_notebook(folder, "marker.py", NOTEBOOK)
    uri, uris = await open_view(client, path)
    end_of_a = types.Range(types.Position(0, 5), types.Position(0, 5))
    client.notebook_document_did_change(
        notebook_documents.cell_edit(uri, 2, uris[0], end_of_a, "\n# %% split\nsplit = 1")
    )
    await analysed(client, uris[0], 2)
    assert codes(client, uris) == [["cell-boundary"], [], [], []]
    [boundary] = client.diagnostics[uris[0]]
    assert boundary.range.start.line == 1 and "cell marker" in boundary.message
    with pytest.raises(JsonRpcException, match=r"cell 1 of the notebook view \(index 0\), line 2"):
        await command(client, "sessions.run", {"uri": uri, "cells": [1]})


def two_cell_edits(
    uri: str, version: int, edits: list[tuple[str, types.Range, str]]
) -> types.DidChangeNotebookDocumentParams:
    """One ``notebookDocument/didChange`` that types in several cells (a
    replace-all, a paste over a selection of cells)."""
    return types.DidChangeNotebookDocumentParams(
        notebook_document=types.VersionedNotebookDocumentIdentifier(uri=uri, version=version),
        change=types.NotebookDocumentChangeEvent(
            cells=types.NotebookDocumentCellChanges(
                text_content=[
                    types.NotebookDocumentCellContentChanges(
                        document=types.VersionedTextDocumentIdentifier(uri=cell, version=version),
                        changes=[types.TextDocumentContentChangePartial(range=where, text=text)],
                    )
                    for cell, where, text in edits
                ]
            )
        ),
    )


END_OF_FIRST_LINE = types.Range(types.Position(0, 5), types.Position(0, 5))


@pytest.mark.parametrize("together", [False, True], ids=["two changes", "one change"])
async def test_a_merge_and_a_split_that_cancel_out_in_count_are_still_pointed_at(
    client: LanguageClient, folder: Path, together: bool
) -> None:
    """A string opened in b takes in c (whose triple quote closes it) and a
    marker typed in d splits it: the file has the view's four cells again,
    but its second and third are not the view's. The cell count cannot tell;
    the edited cells are compared with the file's."""
    path = write_notebook(folder, f"cancel_out_{together}.py", NOTEBOOK)
    uri, uris = await open_view(client, path)
    opened = (uris[1], END_OF_FIRST_LINE, ' + """')
    split = (uris[3], types.Range(types.Position(0, 14), types.Position(0, 14)), "\n# %% d2")
    if together:
        client.notebook_document_did_change(two_cell_edits(uri, 2, [opened, split]))
        last = 2
    else:
        client.notebook_document_did_change(two_cell_edits(uri, 2, [opened]))
        await analysed(client, uris[1], 2)
        assert codes(client, uris) == [[], ["cell-boundary"], [], []]
        client.notebook_document_did_change(two_cell_edits(uri, 3, [split]))
        last = 3
    await analysed(client, uris[3], last)
    file_text = NOTEBOOK.replace("b = 2", 'b = 2 + """').replace('"D ran")', '"D ran")\n# %% d2')
    assert len(parse(file_text).cells) == 4  # as many cells as the view, not the same ones
    assert codes(client, uris) == [[], ["cell-boundary"], [], []]
    assert latest_state(client, uri)["version"] == 1  # type: ignore[index]
    with pytest.raises(JsonRpcException, match=r"cell 2 of the notebook view \(index 1\)"):
        await command(client, "sessions.run", {"uri": uri, "cells": [3]})


CORPUS = Path(__file__).resolve().parents[2] / "bench" / "corpus"


@pytest.mark.parametrize(
    "name", ["sklearn_cost_complexity_pruning.py.txt", "statsmodels_glm.py.txt"]
)
async def test_a_string_opened_in_a_real_notebook_points_at_its_cell_and_closing_it_restores_all(
    client: LanguageClient, folder: Path, name: str
) -> None:
    """On real notebooks: a string opened at the top of a code cell (one with
    no triple quote below it, so it stays open to the end) gives that cell
    the one diagnostic of the notebook; deleting it again gives every cell
    back exactly the diagnostics it had."""
    path = write_notebook(folder, name.removesuffix(".txt"), (CORPUS / name).read_text())
    uri, uris = await open_view(client, path)
    parsed = await command(client, "sessions.parse", {"text": path.read_text()})
    cells = parsed["cells"]
    await analysed(client, uris[-1], 1)
    before = codes(client, uris)
    target = max(
        i
        for i, cell in enumerate(cells[:-1])
        if cell["kind"] == "code"
        and not any('"""' in c["source"] or "'''" in c["source"] for c in cells[i:])
    )
    start = types.Range(types.Position(0, 0), types.Position(0, 0))
    client.notebook_document_did_change(
        notebook_documents.cell_edit(uri, 2, uris[target], start, 'opened = """')
    )
    await analysed(client, uris[target], 2)
    expected: list[list[Any]] = [[] for _ in uris]
    expected[target] = ["cell-boundary"]
    assert codes(client, uris) == expected
    with pytest.raises(JsonRpcException, match=f"cell {target + 1} of the notebook view"):
        await command(client, "sessions.run", {"uri": uri, "cells": [target]})

    typed = types.Range(types.Position(0, 0), types.Position(0, len('opened = """')))
    client.notebook_document_did_change(
        notebook_documents.cell_edit(uri, 3, uris[target], typed, "")
    )
    await analysed(client, uris[target], 3)
    await wait_until(lambda: codes(client, uris) == before, what="the diagnostics of before")
