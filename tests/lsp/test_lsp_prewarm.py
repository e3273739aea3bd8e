"""``sessions.prewarmKernel``: the kernel starts when a notebook is opened, not on first run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.support.lsp import (
    CONFIG,
    codes_by_line,
    command,
    initialize,
    open_text,
    recorded,
    wait_until,
    write_notebook,
)

pytestmark = [pytest.mark.lsp, pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-prewarm")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder, {"sessions": {"prewarmKernel": True}})
    yield
    await lsp_client.shutdown_session()


def kernel_states(client: LanguageClient, uri: str) -> list[str]:
    return [k["state"] for k in recorded(client).kernel if k["uri"] == uri]


async def test_opening_a_notebook_starts_its_kernel_once(
    client: LanguageClient, folder: Path
) -> None:
    uri = open_text(client, write_notebook(folder, "warm.py", "# %%\nvalue = 6 * 7\n"))
    await wait_until(lambda: "idle" in kernel_states(client, uri), 60, "the pre-warmed kernel")
    state = await command(client, "sessions.state", {"uri": uri})
    assert state["kernel"]["state"] == "idle"
    assert Path(state["kernel"]["connectionFile"]).exists()
    assert [c["status"] for c in state["cells"]] == ["never-run"]  # warm, but nothing ran

    result = await command(client, "sessions.run", {"uri": uri, "cells": [0]})
    assert result["ok"]
    assert kernel_states(client, uri).count("starting") == 1  # the run used the warm kernel


async def test_a_setup_problem_shows_on_open(client: LanguageClient, folder: Path) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"sessions": {"prewarmKernel": True, "python": str(folder / "no-python")}}
        )
    )
    try:
        uri = open_text(client, write_notebook(folder, "cold.py", "# %%\nq = 1\n"))
        await wait_until(
            lambda: "kernel-setup" in codes_by_line(client, uri).get(0, set()), 30, "kernel-setup"
        )
    finally:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"sessions": {"prewarmKernel": True}})
        )
