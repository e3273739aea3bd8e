"""``sessions.export {uri, to, output, force, onlyFresh}`` on the real language server
over stdio, with real nbconvert, after a run on a real kernel: the report of the
text as the editor has it (an unsaved edit shows as stale), the default output
beside the notebook, ``onlyFresh`` refusing with the list, and the requests it
refuses (an output outside the workspace, an existing file, a bad format)
without writing anything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.support.lsp import (
    CONFIG,
    change_text,
    command,
    initialize,
    open_text,
    statuses,
    wait_until,
    write_notebook,
)

pytestmark = [pytest.mark.lsp, pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]

NOTEBOOK = """\
# %% Stations
stations = {"Harbour": 3.1, "Lakeside": 14.2}

# %% Longest
longest = max(stations, key=stations.get)
print("longest:", longest)
"""
INVALID_PARAMS, REQUEST_FAILED = -32602, -32803


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lsp-export")
    (root / "ws").mkdir()
    return root / "ws"


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)
    yield
    await lsp_client.shutdown_session()


async def refused(client: LanguageClient, argument: dict[str, object]) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as caught:
        await command(client, "sessions.export", argument)
    return caught.value


async def test_export_writes_the_report_of_the_open_text(
    client: LanguageClient, folder: Path
) -> None:
    path = write_notebook(folder, "trips.py", NOTEBOOK)
    uri = open_text(client, path)
    result = await command(client, "sessions.run", {"uri": uri, "mode": "all"})
    assert result["ok"], result
    await wait_until(lambda: statuses(client, uri) == ["fresh", "fresh"], what="fresh cells")

    written = await command(client, "sessions.export", {"uri": uri, "onlyFresh": True})
    report = folder / "trips.html"
    assert written == {"output": str(report), "files": [], "cells": 2, "withOutputs": 1}
    html = report.read_text()
    assert "longest: Lakeside" in html
    assert html.count('data-sessions-status="fresh"') == 2

    # An unsaved edit of the first cell: the report says its reader is stale.
    change_text(client, uri, 2, 1, 40, 44, "15.0")
    await wait_until(lambda: statuses(client, uri) == ["edited", "upstream"], what="an edit")
    error = await refused(client, {"uri": uri, "onlyFresh": True, "force": True})
    assert error.code == REQUEST_FAILED
    assert "cell 0 (Stations): edited: code changed since this output" in error.message
    assert "cell 1 (Longest): upstream:" in error.message
    assert report.read_text() == html  # refused: untouched

    output = folder / "reports" / "trips-edited.html"
    output.parent.mkdir()
    written = await command(
        client, "sessions.export", {"uri": uri, "to": "html", "output": output.as_uri()}
    )
    assert written["output"] == str(output)
    edited = output.read_text()
    assert 'data-sessions-status="edited"' in edited and 'data-sessions-status="upstream"' in edited
    assert '"Lakeside": 14.2' in path.read_text()  # the export did not save the edit


async def test_export_refuses_what_it_must_not_write(client: LanguageClient, folder: Path) -> None:
    path = write_notebook(folder, "refused.py", NOTEBOOK)
    uri = open_text(client, path)
    outside = folder.parent / "outside.html"

    error = await refused(client, {"uri": uri, "output": str(outside)})
    assert error.code == INVALID_PARAMS
    assert "outside the workspace folders and the notebook's folder" in error.message
    error = await refused(client, {"uri": uri, "output": "relative.html"})
    assert error.code == INVALID_PARAMS and "absolute path" in error.message
    error = await refused(client, {"uri": uri, "to": "pdf"})
    assert error.code == INVALID_PARAMS and "use one of ipynb, html, md, script" in error.message
    error = await refused(client, {"uri": uri, "force": "yes"})
    assert error.code == INVALID_PARAMS and "`force` must be true or false" in error.message
    assert not outside.exists()

    existing = folder / "refused.md"
    existing.write_text("mine")
    error = await refused(client, {"uri": uri, "to": "md", "output": str(existing)})
    assert error.code == REQUEST_FAILED and "already exists" in error.message
    assert existing.read_text() == "mine"
    written = await command(
        client, "sessions.export", {"uri": uri, "to": "md", "output": str(existing), "force": True}
    )
    assert written["output"] == str(existing)
    assert "○ never run" in existing.read_text()
