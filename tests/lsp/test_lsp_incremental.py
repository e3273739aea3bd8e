"""Typing into real notebooks gives what opening the typed text gives.

The server keeps a great deal between keystrokes (parsed cells moved to new
lines, analyses, graph columns, encoded diagnostics, line indexes); each of
those is a way for an edit to leave something stale. Here seeded random
edits of real notebooks (lines added and removed, markers typed, strings
opened, names defined and used) go to one document, and after each the
same text is opened afresh as another: their diagnostics and cell states
must be the same."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from sessions.cache.sidecar import save_sidecar, sidecar_path
from sessions.format.markers import cell_break, split_lines
from sessions.format.notebook import parse
from sessions.lsp.notebook_json import serialize_payload
from sessions.lsp.notebook_state import is_notebook
from tests.support.lsp import (
    CONFIG,
    command,
    initialize,
    latest_state,
    open_text,
    recorded,
    statuses,
    wait_until,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import notebook_documents  # the notebook view's messages, shared with the benchmarks
from workloads import ran_sidecar  # the records a run leaves, as the benchmarks make them

pytestmark = [pytest.mark.lsp, pytest.mark.asyncio(loop_scope="module")]

ROOT = Path(__file__).resolve().parents[2]
REAL_NOTEBOOKS = sorted((ROOT / "bench" / "corpus").glob("*.py.txt"))
"""Examples of scikit-learn, statsmodels, matplotlib, NumPy: 20 edits each."""
FORMAT_CORPUS = sorted((ROOT / "tests" / "corpus").rglob("*.py"))
"""Jupytext's own test notebooks, small and odd (headers, BOMs, magics): 6 edits each."""

SNIPPETS = [
    "x_new = 1\n",
    "print(x_new)\n",
    "\n",
    "\n\n",
    "# %%\n",
    "# %% [markdown]\n# Notes\n",
    "# %% typed title\nvalue = undefined_here + 1\n",
    '"""\n',
    "def helper():\n    return x_new\n",
    "import os\n",
    "del x_new\n",
    "  indented = (\n",
]


IN_A_CELL = [snippet for snippet in SNIPPETS if "# %%" not in snippet]
"""What the notebook view types: a marker typed in a cell makes the file one
cell more than the view has, and then diagnostics wait (docs/protocol.md)."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-incremental")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)
    yield
    await lsp_client.shutdown_session()


def random_edit(text: str, rng: random.Random) -> tuple[types.Range, str, str]:
    """A ranged change of ``text``: (range, inserted text, the text after it)."""
    lines = text.split("\n")
    line = rng.randrange(len(lines))
    kind = rng.random()
    if kind < 0.5:  # a snippet typed at the start of a line
        start = end = types.Position(line, 0)
        inserted = rng.choice(SNIPPETS)
    elif kind < 0.75:  # lines removed
        last = min(len(lines) - 1, line + rng.randint(1, 4))
        start, end = types.Position(line, 0), types.Position(last, 0)
        inserted = ""
    else:  # a few characters typed or removed inside a line
        column = rng.randint(0, len(lines[line]))
        stop = min(len(lines[line]), column + rng.randint(0, 3))
        start, end = types.Position(line, column), types.Position(line, stop)
        inserted = rng.choice(["", "1", "_", " ", "(", ")", "'", "a."])
    offsets = [0]
    for row in lines:
        offsets.append(offsets[-1] + len(row) + 1)
    begin = offsets[start.line] + start.character
    finish = offsets[end.line] + end.character
    return types.Range(start, end), inserted, text[:begin] + inserted + text[finish:]


def seen(client: LanguageClient, uri: str) -> list[tuple[Any, ...]]:
    return sorted(
        (
            d.range.start.line,
            d.range.start.character,
            d.range.end.line,
            d.range.end.character,
            str(d.code),
            d.message,
            d.severity,
        )
        for d in client.diagnostics.get(uri, [])
    )


async def state_cells(client: LanguageClient, uri: str) -> list[dict[str, Any]]:
    state = await command(client, "sessions.state", {"uri": uri})
    return [{k: v for k, v in cell.items() if k not in {"uri"}} for cell in state["cells"]]


@pytest.mark.parametrize(
    ("path", "edits", "ran"),
    [(path, 20, False) for path in REAL_NOTEBOOKS]
    + [(path, 20, True) for path in REAL_NOTEBOOKS]
    + [(path, 6, False) for path in FORMAT_CORPUS],
    ids=lambda value: value.name if isinstance(value, Path) else str(value),
)
async def test_typing_gives_what_opening_the_typed_text_gives(
    client: LanguageClient, folder: Path, path: Path, edits: int, ran: bool
) -> None:
    """``ran``: beside the notebook, the sidecar a run of every cell of the
    untyped text leaves (the same records beside each fresh copy): then the
    edits make cells stale, and the statuses are compared too."""
    rng = random.Random(path.name)
    text = path.read_text(encoding="utf-8")
    typed = folder / f"typed_{path.stem}_{ran}.py"
    typed.write_text(text, encoding="utf-8")
    records = ran_sidecar(parse(text), typed.name) if ran else None
    if records is not None:
        save_sidecar(sidecar_path(typed), records)
    uri = open_text(client, typed, text)
    await wait_until(lambda: recorded(client).diagnostic_versions.get(uri) == 1, what="opened")
    if ran:  # the records are read: the cells start fresh
        await wait_until(lambda: "fresh" in (statuses(client, uri) or []), what="fresh cells")
    for version in range(2, 2 + edits):
        where, inserted, edited = random_edit(text, rng)
        while not is_notebook(parse(edited)):  # a plain file gets no diagnostics to compare
            where, inserted, edited = random_edit(text, rng)
        text = edited
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=where, text=inserted)
                ],
            )
        )
        await wait_until(
            lambda v=version: recorded(client).diagnostic_versions.get(uri) == v, what="typed"
        )
        fresh = folder / f"fresh_{version}_{path.stem}_{ran}.py"
        fresh.write_text(text, encoding="utf-8")
        if records is not None:
            save_sidecar(sidecar_path(fresh), replace(records, notebook=fresh.name))
        fresh_uri = open_text(client, fresh, text)
        await wait_until(
            lambda u=fresh_uri: recorded(client).diagnostic_versions.get(u) == 1, what="fresh"
        )
        assert seen(client, uri) == seen(client, fresh_uri), (version, where, inserted)
        assert await state_cells(client, uri) == await state_cells(client, fresh_uri), version
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=fresh_uri)
            )
        )


def cell_diagnostics(client: LanguageClient, cell_uris: list[str]) -> list[tuple[Any, ...]]:
    """(cell, line in the cell, column, end, code, message) of a notebook document's cells."""
    return sorted(
        (position, *entry[:-1])
        for position, cell_uri in enumerate(cell_uris)
        for entry in seen(client, cell_uri)
    )


def file_diagnostics_by_cell(client: LanguageClient, uri: str, text: str) -> list[tuple[Any, ...]]:
    """A text document's diagnostics as a notebook document's: by cell, on its code's lines."""
    cells = [cell for cell in parse(text).cells if not cell.is_frontmatter]
    found = []
    for line, column, end_line, end_column, code, message, _ in seen(client, uri):
        position = next(
            i for i, cell in enumerate(cells) if cell.start_line <= line < cell.end_line
        )
        body = cells[position].body_line
        found.append((position, line - body, column, end_line - body, end_column, code, message))
    return sorted(found)


async def settled(client: LanguageClient, uri: str, version: int) -> None:
    """Until the ``sessions/state`` of ``version`` came (after its diagnostics)."""
    await wait_until(
        lambda: (latest_state(client, uri) or {}).get("version") == version, what=f"v{version}"
    )


async def analysed(client: LanguageClient, uri: str, version: int) -> None:
    """Until the server has analysed ``version`` (and published what it does for
    it): also when the cells no longer make a notebook, when no state is sent.
    While the view's cells are not the file's, ``sessions.state`` is refused:
    the refusal came after ``version``'s change, from its text."""
    deadline = time.monotonic() + 15
    while True:
        try:
            state = await command(client, "sessions.state", {"uri": uri})
        except JsonRpcException as exc:
            assert "of the notebook view" in str(exc), exc
            return
        if state["version"] == version:
            return
        assert time.monotonic() < deadline, f"v{version} was not analysed"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.name)
async def test_the_notebook_view_gives_what_opening_its_text_gives(
    client: LanguageClient, folder: Path, path: Path
) -> None:
    """The same in the notebook view (one text document per cell): typing in
    cells, cells added (no raw) and deleted. The file the cells stand for is
    made afresh here (``serialize_payload``, nothing kept) and opened as a
    text document; its diagnostics, cell by cell, and its cells' states must
    be the notebook document's."""
    rng = random.Random("view " + path.name)
    text = path.read_text(encoding="utf-8")
    notebook = folder / f"view_{path.stem}.py"
    notebook.write_text(text, encoding="utf-8")
    uri = notebook.as_uri()
    parsed = await command(client, "sessions.parse", {"text": text})
    cells: list[dict[str, Any]] = parsed["cells"]
    uris = notebook_documents.cell_uris(uri, parsed)
    client.notebook_document_did_open(notebook_documents.did_open(uri, parsed))
    await settled(client, uri, 1)
    for version in range(2, 22):
        step = rng.choice(["type", "type", "type", "add", "delete"])
        position = rng.randrange(len(cells))
        if step == "add":
            source = rng.choice(IN_A_CELL).rstrip("\n")
            new_uri = f"{uri}#added{version}"
            client.notebook_document_did_change(
                notebook_documents.cell_insert(uri, version, position, new_uri, source)
            )
            cells.insert(position, {"kind": "code", "source": source})
            uris.insert(position, new_uri)
        elif step == "delete" and len(cells) > 2 and not cells[position].get("frontmatter"):
            client.notebook_document_did_change(
                notebook_documents.cell_delete(uri, version, position, uris[position])
            )
            del cells[position], uris[position]
        else:
            while cells[position].get("frontmatter"):
                position = rng.randrange(len(cells))
            lines = cells[position]["source"].split("\n")
            line = rng.randrange(len(lines))
            column = rng.randint(0, len(lines[line]))
            typed = rng.choice([*IN_A_CELL, "1", "_", "(", "'"])
            where = types.Range(types.Position(line, column), types.Position(line, column))
            client.notebook_document_did_change(
                notebook_documents.cell_edit(uri, version, uris[position], where, typed)
            )
            lines[line] = lines[line][:column] + typed + lines[line][column:]
            cells[position]["source"] = "\n".join(lines)
        await analysed(client, uri, version)
        afresh = serialize_payload({**parsed, "cells": cells})
        fresh = folder / f"view_fresh_{version}_{path.stem}.py"
        fresh.write_text(afresh, encoding="utf-8")
        fresh_uri = open_text(client, fresh, afresh)
        await analysed(client, fresh_uri, 1)
        fresh_state = await state_cells(client, fresh_uri)
        fresh_diagnostics = file_diagnostics_by_cell(client, fresh_uri, afresh)
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=fresh_uri)
            )
        )
        reread = parse(afresh)
        if not is_notebook(reread) or len([c for c in reread.cells if not c.is_frontmatter]) != len(
            [c for c in cells if not c.get("frontmatter")]
        ):
            # A string opened in a cell takes in the markers below it: the
            # file's cells are no longer the view's (or no notebook at all),
            # and its diagnostics wait, but for the one on the cell to fix.
            found = cell_diagnostics(client, uris)
            if is_notebook(reread):
                await wait_until(
                    lambda: any(e[5] == "cell-boundary" for e in cell_diagnostics(client, uris)),
                    what=f"the cell-boundary diagnostic of v{version}",
                )
                found = cell_diagnostics(client, uris)
                assert [entry[5] for entry in found] == ["cell-boundary"], version
                culprit = cells[found[0][0]]["source"]
                assert cell_break(split_lines(culprit)) == (found[0][1], "string"), version
            else:
                assert found == [], version
            continue
        assert cell_diagnostics(client, uris) == fresh_diagnostics, (version, step, position)
        assert await state_cells(client, uri) == fresh_state, version
