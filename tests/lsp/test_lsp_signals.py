"""The server ended by a signal (SIGTERM, SIGHUP: the editor's host stopped,
its terminal closed) stops its kernels as the end of stdin does: a kernel it
started on a real Jupyter server is deleted there, not left running."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from tests.support.jupyter_server import JupyterServer
from tests.support.lsp import CONFIG, command, initialize, open_text, wait_until, write_notebook

pytestmark = [pytest.mark.lsp, pytest.mark.kernel, pytest.mark.asyncio(loop_scope="function")]


@pytest_lsp.fixture(config=CONFIG)
async def client(
    lsp_client: LanguageClient, tmp_path: Path, jupyter: JupyterServer
) -> AsyncIterator[None]:
    (tmp_path / "token").write_text(jupyter.token)
    options = {
        "sessions": {"kernel": {"server": jupyter.url, "tokenFile": str(tmp_path / "token")}}
    }
    await initialize(lsp_client, tmp_path, options)
    yield
    # The server is gone by now: nothing to shut down.


@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
async def test_a_signal_ends_the_server_and_deletes_its_kernel_on_the_jupyter_server(
    client: LanguageClient, tmp_path: Path, jupyter: JupyterServer, ending: signal.Signals
) -> None:
    path = write_notebook(tmp_path, "nb.py", "# %%\nx = 1\n")
    uri = open_text(client, path)
    before = {kernel["id"] for kernel in jupyter.kernels()}
    result = await command(client, "sessions.run", {"uri": uri, "cells": [0]})
    assert result["ok"], result
    ours = {kernel["id"] for kernel in jupyter.kernels()} - before
    assert len(ours) == 1

    server = client._server
    assert server is not None
    server.send_signal(ending)
    code = await asyncio.wait_for(server.wait(), 30)
    assert code == 1  # no `shutdown` came first (LSP's exit code)
    await wait_until(
        lambda: not ours & {kernel["id"] for kernel in jupyter.kernels()},
        what="the kernel deleted on the Jupyter server",
    )
