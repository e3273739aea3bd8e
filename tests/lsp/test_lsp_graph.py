"""``sessions.graph {uri}`` on the real language server over stdio: the graph of
the text as the editor has it (unsaved edits included), statuses after a run
on a real kernel and after an edit, and requests it refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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
# %% Load [data]
xs = [1, 2, 3]

# %% Grow
xs.append(4)

# %% Total
total = sum(xs)
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-graph")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)
    yield
    await lsp_client.shutdown_session()


def node_statuses(graph: dict[str, Any]) -> list[tuple[int, str]]:
    return [(node["cell"], node["status"]) for node in graph["nodes"]]


async def test_graph_follows_runs_and_unsaved_edits(client: LanguageClient, folder: Path) -> None:
    path = write_notebook(folder, "grow.py", NOTEBOOK)
    uri = open_text(client, path)
    graph = await command(client, "sessions.graph", {"uri": uri})
    assert graph["uri"] == uri and graph["version"] == 1
    assert graph["notebook"] == "grow.py"
    assert [node["label"] for node in graph["nodes"]] == ["Load [data]", "Grow", "Total"]
    assert node_statuses(graph) == [(0, "never-run"), (1, "never-run"), (2, "never-run")]
    assert [(e["from"], e["to"], e["kind"], e["names"]) for e in graph["edges"]] == [
        (0, 1, "mutation", ["xs"]),
        (1, 2, "value", ["xs"]),
    ]

    result = await command(client, "sessions.run", {"uri": uri, "mode": "all"})
    assert result["ok"], result
    await wait_until(lambda: statuses(client, uri) == ["fresh"] * 3, what="fresh cells")
    graph = await command(client, "sessions.graph", {"uri": uri})
    assert node_statuses(graph) == [(0, "fresh"), (1, "fresh"), (2, "fresh")]

    # An unsaved edit of the first cell's list: it is edited, the others stale upstream.
    change_text(client, uri, 2, 1, 12, 13, "5")
    await wait_until(lambda: (statuses(client, uri) or [""])[0] == "edited", what="an edit")
    graph = await command(client, "sessions.graph", {"uri": uri})
    assert graph["version"] == 2
    assert node_statuses(graph) == [(0, "edited"), (1, "upstream"), (2, "upstream")]
    assert path.read_text() == NOTEBOOK  # nothing written


async def test_bad_requests_are_error_responses(client: LanguageClient, folder: Path) -> None:
    with pytest.raises(JsonRpcException, match="`uri`"):
        await command(client, "sessions.graph", {})
    with pytest.raises(JsonRpcException, match="outside the workspace folders"):
        await command(client, "sessions.graph", {"uri": "file:///etc/elsewhere.py"})
    missing = (folder / "missing.py").as_uri()
    with pytest.raises(JsonRpcException, match="no such file"):
        await command(client, "sessions.graph", {"uri": missing})
