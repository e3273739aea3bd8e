"""Stream-heavy cells through the language server (issue 9), on real kernels:
the client, applying docs/protocol.md's rules to the ``sessions/output``
notifications it received, ends with every line the cell printed, the run
command returns, and it takes no more than 2× nbclient on the same cell."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from sessions.run.outputs import resolve_carriage_returns
from tests.run.test_stream_heavy import (
    FLUSHED_LINES,
    FLUSHED_LINES_TEXT,
    LOG_TEXT,
    LOG_THEN_PROGRESS,
    Nbclient,
)
from tests.support.lsp import CONFIG, command, initialize, open_text, recorded, write_notebook

pytestmark = [pytest.mark.lsp, pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]

LINES_CELL, PROGRESS_CELL = 0, 1
NOTEBOOK = f"# %% lines\n{FLUSHED_LINES}\n# %% progress\n{LOG_THEN_PROGRESS}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-streaming")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def uri(client: LanguageClient, folder: Path) -> str:
    return open_text(client, write_notebook(folder, "heavy.py", NOTEBOOK))


def client_outputs(client: LanguageClient, uri: str, cell: int, run: int) -> list[dict[str, Any]]:
    """The cell's outputs as a client accumulates them (docs/protocol.md)."""
    outputs: list[dict[str, Any]] = []
    clear_pending = False
    for params in recorded(client).output:
        if params["uri"] != uri or params["cell"] != cell or params["run"] != run:
            continue
        output = params["output"]
        kind = output["output_type"]
        if kind == "clear_output":
            if output.get("wait"):
                clear_pending = True
            else:
                outputs = []
            continue
        if clear_pending:
            outputs, clear_pending = [], False
        last = outputs[-1] if outputs else None
        if (
            kind == "stream"
            and last
            and (last["output_type"], last["name"]) == (kind, output["name"])
        ):
            last["text"] += output["text"]
            continue
        outputs.append(dict(output))
    return outputs


async def run_cell(client: LanguageClient, uri: str, cell: int) -> tuple[float, int]:
    before = {p["run"] for p in recorded(client).output if p["cell"] == cell}
    start = time.perf_counter()
    result = await command(client, "sessions.run", {"uri": uri, "cells": [cell]})
    elapsed = time.perf_counter() - start
    assert result["ok"] is True and result["ran"] == [cell], result
    (run,) = {p["run"] for p in recorded(client).output if p["cell"] == cell} - before
    return elapsed, run


@pytest.mark.parametrize(
    ("cell", "code", "expected"),
    [
        (LINES_CELL, FLUSHED_LINES, FLUSHED_LINES_TEXT),
        (PROGRESS_CELL, LOG_THEN_PROGRESS, LOG_TEXT + "progress 2999\n"),
    ],
    ids=["20000-flushed-lines", "log-then-progress"],
)
async def test_the_client_receives_every_line(
    client: LanguageClient, uri: str, folder: Path, cell: int, code: str, expected: str
) -> None:
    reference = Nbclient(code, folder)
    ours: list[float] = []
    theirs: list[float] = []
    async with reference.client.async_setup_kernel():
        for _ in range(2):
            elapsed, run = await run_cell(client, uri, cell)
            ours.append(elapsed)
            (output,) = client_outputs(client, uri, cell, run)
            assert output["name"] == "stdout"
            assert resolve_carriage_returns(output["text"]) == expected
            sent = [p for p in recorded(client).output if p["run"] == run]
            assert len(sent) < 1000  # stream chunks were batched
            theirs.append(await reference.run())
    assert statistics.median(ours) <= 2 * statistics.median(theirs), (ours, theirs)
