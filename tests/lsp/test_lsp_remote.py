"""The language server on a remote kernel: ``sessions.kernel.server`` and
``sessions.kernel.tokenFile`` point it at a real ``jupyter server``; runs
stream their outputs, statuses follow, interrupt and restart go through the
server, and a wrong token fails the run with one clear message."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.support.jupyter_server import JupyterServer
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

pytestmark = [pytest.mark.lsp, pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, jupyter: JupyterServer) -> Path:
    folder = tmp_path_factory.mktemp("lsp-remote")
    (folder / "token").write_text(jupyter.token)
    return folder


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(
    lsp_client: LanguageClient, folder: Path, jupyter: JupyterServer
) -> AsyncIterator[None]:
    options = {"sessions": {"kernel": {"server": jupyter.url, "tokenFile": str(folder / "token")}}}
    await initialize(lsp_client, folder, options)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def lsp(client: LanguageClient) -> LanguageClient:
    return client


async def test_runs_on_the_remote_kernel(
    lsp: LanguageClient, folder: Path, jupyter: JupyterServer
) -> None:
    path = write_notebook(
        folder,
        "r.py",
        "# %% a\nx = 6\n\n# %% b\nprint('remote', x * 7)\n\n# %% slow\nimport time\ntime.sleep(30)\n",
    )
    uri = open_text(lsp, path)
    result = await command(lsp, "sessions.run", {"uri": uri, "cells": [0, 1]})
    assert result["ok"] and result["ran"] == [0, 1], result
    printed = "".join(
        str(n["output"].get("text", "")) for n in recorded(lsp).output if n["uri"] == uri
    )
    assert "remote 42" in printed
    kernels = [k for k in recorded(lsp).kernel if k["uri"] == uri]
    assert kernels[-1]["python"] == f"python3 on {jupyter.url}"
    assert len(jupyter.kernels()) == 1
    await wait_until(
        lambda: [c["status"] for c in latest_state(lsp, uri)["cells"]][:2] == ["fresh", "fresh"],  # type: ignore[index]
        what="both cells fresh",
    )

    # Interrupt through the server's REST API.
    running = asyncio.ensure_future(command(lsp, "sessions.run", {"uri": uri, "cells": [2]}))
    await wait_until(lambda: latest_state(lsp, uri)["cells"][2].get("running"), what="running")  # type: ignore[index]
    await command(lsp, "sessions.interrupt", {"uri": uri})
    interrupted = await asyncio.wait_for(running, 15)
    assert interrupted["stoppedBecause"] is not None

    # Restart: the namespace is empty, so cell a is not loaded any more.
    await command(lsp, "sessions.restart", {"uri": uri})
    again = await command(lsp, "sessions.run", {"uri": uri, "cells": [1]})
    assert again["ran"] == [0, 1]  # x had to be defined again: upstream first


async def test_a_wrong_token_fails_the_run_with_the_fix(lsp: LanguageClient, folder: Path) -> None:
    (folder / "token").write_text("wrong")
    path = write_notebook(folder, "w.py", "# %%\nprint(1)\n")
    uri = open_text(lsp, path)
    with pytest.raises(JsonRpcException, match=r"refused.*HTTP 403"):
        await command(lsp, "sessions.run", {"uri": uri, "mode": "all"})
