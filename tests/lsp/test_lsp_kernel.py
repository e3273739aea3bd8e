"""Running cells through the language server on real kernels: outputs, statuses,
progress, ``line`` addressing, interrupt, restart, kernel death, kernel setup."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from jupyter_client.blocking.client import BlockingKernelClient
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.support.lsp import (
    CONFIG,
    change_text,
    codes_by_line,
    command,
    initialize,
    latest_state,
    open_text,
    recorded,
    statuses,
    wait_until,
    write_notebook,
)

pytestmark = [pytest.mark.lsp, pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]

NOTEBOOK = """\
# %% setup
x = 1

# %% greet
print("hello", x)

# %% slow
import time
time.sleep(60)

# %% boom
y = 2
raise KeyError("k")

# %% die
import os
os._exit(1)
"""
SETUP, GREET, SLOW, BOOM, DIE = 0, 1, 2, 3, 4


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-kernel")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def notebook(folder: Path) -> Path:
    return write_notebook(folder, "k.py", NOTEBOOK)


def read_variable(connection_file: Path, name: str) -> str:
    client = BlockingKernelClient()
    client.load_connection_file(str(connection_file))
    client.start_channels()
    try:
        reply = client.execute_interactive(
            "", user_expressions={"value": name}, timeout=10, store_history=False
        )
        return str(reply["content"]["user_expressions"]["value"]["data"]["text/plain"])
    finally:
        client.stop_channels()


def kernel_states(client: LanguageClient, uri: str) -> list[str]:
    return [k["state"] for k in recorded(client).kernel if k["uri"] == uri]


async def test_run_streams_outputs_and_publishes_fresh_statuses(
    client: LanguageClient, notebook: Path
) -> None:
    uri = open_text(client, notebook)
    await wait_until(lambda: statuses(client, uri), what="opened")
    result = await command(client, "sessions.run", {"uri": uri, "cells": [GREET]})
    assert result == {
        "planned": [SETUP, GREET],
        "ran": [SETUP, GREET],
        "restored": [],
        "notes": [],
        "skipped": [],
        "ok": True,
        "stoppedBecause": None,
    }
    outputs = [o for o in recorded(client).output if o["uri"] == uri and o["cell"] == GREET]
    text = "".join(o["output"].get("text", "") for o in outputs)
    assert text == "hello 1\n"
    assert all(o["output"]["output_type"] == "stream" for o in outputs)
    await wait_until(lambda: statuses(client, uri)[:2] == ["fresh", "fresh"], what="fresh")
    state = latest_state(client, uri)
    assert state is not None and [c["loaded"] for c in state["cells"][:2]] == [True, True]
    assert "starting" in kernel_states(client, uri) and "idle" in kernel_states(client, uri)
    # The queue was reported as $/progress, cell by cell.
    reports = [
        value.message
        for values in client.progress_reports.values()
        for value in values
        if isinstance(value, types.WorkDoneProgressReport)
    ]
    assert 'Running cell 1 "greet" (2/2)' in reports
    full = await command(client, "sessions.state", {"uri": uri})
    assert full["cells"][GREET]["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "hello 1\n"}
    ]
    assert full["kernel"]["state"] == "idle"
    # The connection file a client gives `jupyter console --existing` reaches the notebook's
    # kernel, with the notebook's variables.
    assert read_variable(Path(full["kernel"]["connectionFile"]), "x") == "1"


async def test_stale_run_clears_edited_diagnostics(client: LanguageClient, notebook: Path) -> None:
    uri = notebook.as_uri()
    change_text(client, uri, 2, 1, 4, 5, "5")  # x = 1 -> x = 5
    await wait_until(lambda: codes_by_line(client, uri).get(0) == {"edited"}, what="edited")
    assert codes_by_line(client, uri)[3] == {"upstream"}
    result = await command(client, "sessions.run", {"uri": uri, "cells": [SETUP, GREET]})
    assert result["ok"] is True
    await wait_until(
        lambda: not ({"edited", "upstream"} & set().union(*codes_by_line(client, uri).values())),
        what="diagnostics cleared",
    )
    await wait_until(lambda: statuses(client, uri)[:2] == ["fresh", "fresh"], what="fresh")


async def test_run_by_line_and_run_error_diagnostic(client: LanguageClient, notebook: Path) -> None:
    uri = notebook.as_uri()
    result = await command(client, "sessions.run", {"uri": uri, "line": 11})  # inside "boom"
    assert result["ran"] == [BOOM] and result["ok"] is False
    assert "cell 3" in result["stoppedBecause"]
    await wait_until(lambda: codes_by_line(client, uri).get(12) == {"run-error"}, what="error")
    error = next(d for d in client.diagnostics[uri] if d.code == "run-error")
    assert "KeyError" in error.message
    await wait_until(lambda: statuses(client, uri)[BOOM] == "error", what="error status")
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert lenses is not None
    titles = [lens.command.title for lens in lenses if lens.range.start.line == 10 and lens.command]
    assert titles[-1] == "✗ KeyError"


async def test_bad_requests_are_error_responses(client: LanguageClient, notebook: Path) -> None:
    uri = notebook.as_uri()
    with pytest.raises(JsonRpcException, match="no cell 99"):
        await command(client, "sessions.run", {"uri": uri, "cells": [99]})
    with pytest.raises(JsonRpcException, match="unknown mode"):
        await command(client, "sessions.run", {"uri": uri, "mode": "sideways"})
    with pytest.raises(JsonRpcException, match="line 500"):
        await command(client, "sessions.run", {"uri": uri, "line": 500})


async def test_interrupt_a_sleeping_cell(client: LanguageClient, notebook: Path) -> None:
    uri = notebook.as_uri()
    running = asyncio.ensure_future(command(client, "sessions.run", {"uri": uri, "cells": [SLOW]}))
    await wait_until(
        lambda: (latest_state(client, uri) or {"cells": []})["cells"][SLOW]["running"],
        what="slow cell running",
    )
    await asyncio.sleep(0.3)
    started = time.monotonic()
    await command(client, "sessions.interrupt", {"uri": uri})
    result = await asyncio.wait_for(running, 15)
    assert time.monotonic() - started < 10
    assert result["ok"] is False and result["ran"] == [SLOW]
    assert "interrupted" in result["stoppedBecause"]
    await wait_until(lambda: statuses(client, uri)[SLOW] == "error", what="interrupted status")


async def test_restart_unloads_every_cell(client: LanguageClient, notebook: Path) -> None:
    uri = notebook.as_uri()
    before = len(kernel_states(client, uri))
    await command(client, "sessions.restart", {"uri": uri})
    assert "restarting" in kernel_states(client, uri)[before:]
    await wait_until(
        lambda: not any(c["loaded"] for c in (latest_state(client, uri) or {"cells": []})["cells"]),
        what="nothing loaded",
    )
    await wait_until(lambda: statuses(client, uri)[:2] == ["fresh", "fresh"], what="still fresh")


async def test_kernel_death_is_reported(client: LanguageClient, notebook: Path) -> None:
    uri = notebook.as_uri()
    result = await command(
        client, "sessions.run", {"uri": uri, "cells": [DIE], "runUpstream": False}
    )
    assert result["ok"] is False and "died" in result["stoppedBecause"]
    await wait_until(lambda: "dead" in kernel_states(client, uri), what="dead kernel")
    await wait_until(
        lambda: any(
            d.code == "run-error" and "KernelDied" in d.message
            for d in client.diagnostics.get(uri, [])
        ),
        what="kernel death diagnostic",
    )


async def test_kernel_setup_problem_is_a_diagnostic(client: LanguageClient, folder: Path) -> None:
    path = write_notebook(folder, "setup.py", "# %%\nq = 1\n")
    uri = open_text(client, path)
    await wait_until(lambda: uri in client.diagnostics, what="opened")
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"sessions": {"python": str(folder / "no-such-python")}}
        )
    )
    try:
        with pytest.raises(JsonRpcException, match="no-such-python"):
            await command(client, "sessions.run", {"uri": uri, "cells": [0]})
        await wait_until(lambda: codes_by_line(client, uri).get(0) == {"kernel-setup"}, what="diag")
        assert "no-such-python" in client.diagnostics[uri][0].message
    finally:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"sessions": {}})
        )
