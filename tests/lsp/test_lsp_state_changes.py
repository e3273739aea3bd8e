"""Partial ``sessions/state`` (docs/protocol.md, "Only what changed"): a client
that declares ``experimental.sessionsStateChanges`` gets one complete
notification per notebook, then only the cells that changed, and what it adds
up to is the state ``sessions.state`` answers; a client that does not declare
it gets every cell every time. The real server over stdio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.support.lsp import (
    CONFIG,
    command,
    initialize,
    latest_state,
    open_text,
    recorded,
    wait_until,
    write_notebook,
)

pytestmark = [pytest.mark.lsp, pytest.mark.asyncio(loop_scope="module")]

CELLS = 40


def notebook_text(cells: int) -> str:
    # A chain: each cell uses the name the one before defines.
    parts = ["# %% c0\nv0 = 0\n"]
    parts += [f"# %% c{i}\nv{i} = v{i - 1} + {i}\n" for i in range(1, cells)]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-state-changes")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def partial(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)  # declares sessionsStateChanges, as VS Code does
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def complete(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder, state_changes=False)
    yield
    await lsp_client.shutdown_session()


def replace_text(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def sent_for(client: LanguageClient, uri: str) -> list[dict[str, Any]]:
    return [params for params in recorded(client).state_sent if params["uri"] == uri]


async def answered_cells(client: LanguageClient, uri: str) -> list[dict[str, Any]]:
    """``sessions.state``'s cells without the outputs a notification never carries."""
    answer = await command(client, "sessions.state", {"uri": uri})
    return [
        {k: v for k, v in cell.items() if k not in ("outputs", "outputsFrom")}
        for cell in answer["cells"]
    ]


async def at_version(client: LanguageClient, uri: str, version: int) -> dict[str, Any]:
    state: dict[str, Any] = await wait_until(
        lambda: (found := latest_state(client, uri)) and found["version"] == version and found,
        what=f"sessions/state for version {version}",
    )
    return state


async def test_after_the_first_only_changed_cells_are_sent_and_they_add_up(
    partial: LanguageClient, folder: Path
) -> None:
    text = notebook_text(CELLS)
    uri = open_text(partial, write_notebook(folder, "partial.py", text))
    first = await at_version(partial, uri, 1)
    assert len(first["cells"]) == CELLS
    opening = sent_for(partial, uri)
    assert not opening[0].get("onlyChanged") and len(opening[0]["cells"]) == CELLS

    # A constant changed: no entry shows it (nothing ran, so no status moves),
    # and only the new version is sent.
    edited = text.replace("v20 = v19 + 20", "v20 = v19 + 2000")
    replace_text(partial, uri, 2, edited)
    merged = await at_version(partial, uri, 2)
    last = sent_for(partial, uri)[-1]
    assert last["onlyChanged"] is True and last["cellCount"] == CELLS
    assert last["cells"] == []
    assert merged["cells"] == first["cells"] == await answered_cells(partial, uri)

    # A name added to one cell's definitions: that cell's entry and no other.
    edited = edited.replace("v20 = v19 + 2000", "v20 = v19 + 2000; extra = 1")
    replace_text(partial, uri, 3, edited)
    merged = await at_version(partial, uri, 3)
    last = sent_for(partial, uri)[-1]
    assert [cell["index"] for cell in last["cells"]] == [20]
    assert last["cells"][0]["defines"] == ["extra", "v20"]
    assert merged["cells"] == await answered_cells(partial, uri)

    # A cell inserted near the top: the cells below it moved (new index and
    # lines) and are sent; the count grows.
    inserted = edited.replace("# %% c1\n", "# %% new\nw = 1\n\n# %% c1\n", 1)
    replace_text(partial, uri, 4, inserted)
    merged = await at_version(partial, uri, 4)
    last = sent_for(partial, uri)[-1]
    assert last["onlyChanged"] is True and last["cellCount"] == CELLS + 1
    assert {cell["index"] for cell in last["cells"]} == set(range(1, CELLS + 1))
    assert merged["cells"] == await answered_cells(partial, uri)

    # The last ten cells deleted: nothing is left to send but the count.
    shortened = inserted[: inserted.index("# %% c30\n")]
    replace_text(partial, uri, 5, shortened)
    merged = await at_version(partial, uri, 5)
    last = sent_for(partial, uri)[-1]
    assert last["onlyChanged"] is True and last["cellCount"] == 31
    assert merged["cells"] == await answered_cells(partial, uri)
    assert len(merged["cells"]) == 31


async def test_a_closed_and_reopened_notebook_starts_again_with_every_cell(
    partial: LanguageClient, folder: Path
) -> None:
    path = write_notebook(folder, "reopened.py", notebook_text(5))
    uri = open_text(partial, path)
    await at_version(partial, uri, 1)
    partial.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    before = len(sent_for(partial, uri))
    open_text(partial, path, version=7)
    await at_version(partial, uri, 7)
    reopened = sent_for(partial, uri)[before:]
    assert reopened and not reopened[0].get("onlyChanged")
    assert len(reopened[0]["cells"]) == 5


async def test_a_client_that_does_not_ask_gets_every_cell_every_time(
    complete: LanguageClient, folder: Path
) -> None:
    text = notebook_text(CELLS)
    uri = open_text(complete, write_notebook(folder, "complete.py", text))
    await at_version(complete, uri, 1)
    replace_text(complete, uri, 2, text.replace("v20 = v19 + 20", "v20 = v19 + 2000"))
    await at_version(complete, uri, 2)
    sent = sent_for(complete, uri)
    assert len(sent) >= 2
    assert all("onlyChanged" not in params and len(params["cells"]) == CELLS for params in sent)
    assert sent[-1]["cells"] == await answered_cells(complete, uri)
