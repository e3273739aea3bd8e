"""The LSP messages a notebook view sends for a Sessions notebook: a notebook
document whose cells are text documents, built from ``sessions.parse``'s
payload as the VS Code extension builds it (each cell's fields in its
metadata, the notebook's in the notebook's). Shared by the benchmarks and
the tests that drive the server the way the notebook view does."""

from __future__ import annotations

from typing import Any, cast

from lsprotocol import types

NOTEBOOK_FIELDS = ("bom", "newline", "prefix", "header")


def cell_uris(uri: str, parsed: dict[str, Any]) -> list[str]:
    return [f"{uri}#cell{i}" for i in range(len(parsed["cells"]))]


def did_open(uri: str, parsed: dict[str, Any]) -> types.DidOpenNotebookDocumentParams:
    """``notebookDocument/didOpen`` of the notebook ``parsed`` (version 1)."""
    cells = parsed["cells"]
    uris = cell_uris(uri, parsed)
    return types.DidOpenNotebookDocumentParams(
        notebook_document=types.NotebookDocument(
            uri=uri,
            notebook_type="sessions-notebook",
            version=1,
            metadata=cast(types.LSPObject, {k: parsed[k] for k in NOTEBOOK_FIELDS if k in parsed}),
            cells=[
                types.NotebookCell(
                    kind=types.NotebookCellKind.Markup
                    if cell["kind"] == "markdown"
                    else types.NotebookCellKind.Code,
                    document=uris[i],
                    metadata=cast(
                        types.LSPObject, {k: v for k, v in cell.items() if k != "source"}
                    ),
                )
                for i, cell in enumerate(cells)
            ],
        ),
        cell_text_documents=[
            types.TextDocumentItem(
                uri=uris[i],
                language_id="markdown" if cell["kind"] == "markdown" else "python",
                version=1,
                text=cell["source"],
            )
            for i, cell in enumerate(cells)
        ],
    )


def cell_edit(
    uri: str, version: int, cell_uri: str, where: types.Range, text: str
) -> types.DidChangeNotebookDocumentParams:
    """``notebookDocument/didChange``: ``text`` typed over ``where`` in one cell,
    which (like the notebook) is now at ``version``."""
    change = types.NotebookDocumentCellContentChanges(
        document=types.VersionedTextDocumentIdentifier(uri=cell_uri, version=version),
        changes=[types.TextDocumentContentChangePartial(range=where, text=text)],
    )
    return types.DidChangeNotebookDocumentParams(
        notebook_document=types.VersionedNotebookDocumentIdentifier(uri=uri, version=version),
        change=types.NotebookDocumentChangeEvent(
            cells=types.NotebookDocumentCellChanges(text_content=[change])
        ),
    )


def cell_insert(
    uri: str, version: int, index: int, cell_uri: str, text: str
) -> types.DidChangeNotebookDocumentParams:
    """``notebookDocument/didChange``: a new code cell ``cell_uri`` holding
    ``text`` inserted at ``index``, as the notebook view sends a cell the user
    added (it has no ``raw``: nothing was read from the file for it)."""
    structure = types.NotebookDocumentCellChangeStructure(
        array=types.NotebookCellArrayChange(
            start=index,
            delete_count=0,
            cells=[types.NotebookCell(kind=types.NotebookCellKind.Code, document=cell_uri)],
        ),
        did_open=[types.TextDocumentItem(uri=cell_uri, language_id="python", version=1, text=text)],
    )
    return types.DidChangeNotebookDocumentParams(
        notebook_document=types.VersionedNotebookDocumentIdentifier(uri=uri, version=version),
        change=types.NotebookDocumentChangeEvent(
            cells=types.NotebookDocumentCellChanges(structure=structure)
        ),
    )


def cell_delete(
    uri: str, version: int, index: int, cell_uri: str
) -> types.DidChangeNotebookDocumentParams:
    """``notebookDocument/didChange``: the cell ``cell_uri`` at ``index`` deleted."""
    structure = types.NotebookDocumentCellChangeStructure(
        array=types.NotebookCellArrayChange(start=index, delete_count=1),
        did_close=[types.TextDocumentIdentifier(uri=cell_uri)],
    )
    return types.DidChangeNotebookDocumentParams(
        notebook_document=types.VersionedNotebookDocumentIdentifier(uri=uri, version=version),
        change=types.NotebookDocumentChangeEvent(
            cells=types.NotebookDocumentCellChanges(structure=structure)
        ),
    )
