"""One kernel shared by the language server and ``sessions run`` in a terminal.

The editor's server starts (and registers) the notebook's kernel; a terminal
run attaches to it instead of starting another, so names defined from one
client are visible to the next run from the other, and the editor sees the
terminal's results without doing anything.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from tests.support.lsp import (
    CONFIG,
    command,
    initialize,
    latest_state,
    open_text,
    recorded,
    run_in_terminal,
    statuses,
    wait_until,
    write_notebook,
)

pytestmark = [pytest.mark.lsp, pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]

NOTEBOOK = """\
# %% define in the editor
secret = 41

# %% read from the terminal
print("terminal sees", secret + 1)

# %% define in the terminal
other = secret * 2

# %% read in the editor
print("editor sees", other)
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-sharing")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)
    yield
    await lsp_client.shutdown_session()


async def test_editor_and_terminal_share_one_kernel(client: LanguageClient, folder: Path) -> None:
    notebook = write_notebook(folder, "shared.py", NOTEBOOK)
    uri = open_text(client, notebook)
    await wait_until(lambda: statuses(client, uri), what="analysis")

    first = await command(client, "sessions.run", {"uri": uri, "cells": [0]})
    assert first["ok"] and first["ran"] == [0]

    # The terminal attaches to the editor's kernel: `secret` exists without running cell 0.
    terminal = run_in_terminal(notebook, "--cell", "1", "--no-upstream", "--json")
    assert terminal.returncode == 0, terminal.stderr
    summary = json.loads(terminal.stdout)
    assert summary["planned"] == [1]
    assert summary["cells"][0]["outputs"][0]["text"] == "terminal sees 42\n"

    # The editor learns about the terminal's run from the sidecar, without asking.
    await wait_until(
        lambda: (
            (latest_state(client, uri) or {"cells": []})["cells"][1:2]
            and latest_state(client, uri)["cells"][1]["status"] == "fresh"
        ),
        what="terminal run to show up in the editor",
    )

    defined = run_in_terminal(notebook, "--cell", "2", "--no-upstream")
    assert defined.returncode == 0, defined.stderr

    # ...and a name the terminal defined is visible to the editor's next run.
    last = await command(client, "sessions.run", {"uri": uri, "cells": [3], "runUpstream": False})
    assert last["ok"] and last["ran"] == [3]
    outputs = [o for o in recorded(client).output if o["uri"] == uri and o["cell"] == 3]
    assert "".join(o["output"].get("text", "") for o in outputs) == "editor sees 82\n"
