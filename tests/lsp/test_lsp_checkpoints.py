"""Checkpoints through the language server on a real kernel: a notebook run
in a terminal, then opened in an editor whose kernel is new, restores the
saved upstream values instead of running them, and says so in the cell's
state (``restored``) and the run result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from tests.support.lsp import (
    CONFIG,
    change_text,
    command,
    initialize,
    latest_state,
    open_text,
    run_in_terminal,
    statuses,
    wait_until,
    write_notebook,
)

pytestmark = [pytest.mark.lsp, pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]

NOTEBOOK = """\
# %% Load checkpoint=true
table = {i: i * 2 for i in range(100)}

# %% Report
print("total", sum(table.values()))
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-checkpoints")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)
    yield
    await lsp_client.shutdown_session()


async def test_an_editor_kernel_restores_what_a_terminal_run_saved(
    client: LanguageClient, folder: Path
) -> None:
    path = write_notebook(folder, "ck.py", NOTEBOOK)
    done = run_in_terminal(path)
    assert done.returncode == 0, done.stderr

    uri = open_text(client, path)
    await wait_until(
        lambda: statuses(client, uri) == ["fresh", "fresh"], what="fresh from the terminal run"
    )
    assert NOTEBOOK.splitlines()[4][7:12] == "total"
    change_text(client, uri, 2, 4, 7, 12, "sum")
    await wait_until(lambda: statuses(client, uri) == ["fresh", "edited"], what="the report edited")

    result = await command(client, "sessions.run", {"uri": uri, "mode": "stale"})
    assert result["restored"] == [0] and result["ran"] == [1] and result["ok"] is True
    await wait_until(lambda: statuses(client, uri) == ["fresh", "fresh"], what="fresh again")
    state = latest_state(client, uri)
    assert state is not None
    restored = state["cells"][0]["restored"]
    assert restored is not None and restored["names"] == ["table"] and restored["seconds"] >= 0
    assert state["cells"][0]["loaded"] is True and state["cells"][1]["restored"] is None
    full = await command(client, "sessions.state", {"uri": uri})
    assert full["cells"][1]["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "sum 9900\n"}
    ]

    # A restart: the restored values are gone with the kernel, and so is the mark.
    await command(client, "sessions.restart", {"uri": uri})
    await wait_until(
        lambda: (latest_state(client, uri) or {"cells": [{}]})["cells"][0].get("restored") is None,
        what="no longer restored",
    )
