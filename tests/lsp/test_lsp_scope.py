"""The language server's per-notebook commands refuse URIs from elsewhere: another host
(``file://otherhost/…``), a path outside the workspace folders the client declared
(directly, through ``..``, percent-encoded, or through a symbolic link inside the
workspace), and, when the client declared none, anything it has not opened. Refusals are
JSON-RPC InvalidParams errors that say why; nothing outside is read, run or written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.support.lsp import CONFIG, capabilities, command, open_text, recorded

pytestmark = [pytest.mark.lsp]

SECRET = "# %%\nimport pathlib\npathlib.Path('RAN').write_text('ran')\n"
INVALID_PARAMS = -32602
PER_NOTEBOOK = ("sessions.run", "sessions.state", "sessions.clearOutputs", "sessions.restart")


def layout(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "nb.py").write_text("# %%\nx = 1\n")
    (outside / "secret.py").write_text(SECRET)
    (outside / "opened.py").write_text("# %%\nopened = 1\n")
    (root / "out_link.py").symlink_to(outside / "secret.py")
    return root, outside


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))}


async def refusal(client: LanguageClient, name: str, uri: str) -> str:
    arguments: dict[str, Any] = {"uri": uri}
    if name == "sessions.run":
        arguments["mode"] = "all"
    with pytest.raises(JsonRpcException) as caught:
        await command(client, name, arguments)
    assert caught.value.code == INVALID_PARAMS, caught.value
    return caught.value.message


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    return layout(tmp_path)


@pytest_lsp.fixture(config=CONFIG)
async def in_workspace(
    lsp_client: LanguageClient, folders: tuple[Path, Path]
) -> AsyncIterator[None]:
    root, _ = folders
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="ws")],
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=CONFIG)
async def no_workspace(lsp_client: LanguageClient) -> AsyncIterator[None]:
    await lsp_client.initialize_session(types.InitializeParams(capabilities=capabilities()))
    yield
    await lsp_client.shutdown_session()


async def test_uris_outside_the_workspace_folders_are_refused(
    in_workspace: LanguageClient, folders: tuple[Path, Path], tmp_path: Path
) -> None:
    client = in_workspace
    root, outside = folders
    before = snapshot(outside)
    other_host = "file://otherhost" + (root / "nb.py").as_posix()
    for name in PER_NOTEBOOK:
        message = await refusal(client, name, other_host)
        assert "host 'otherhost'" in message and "local" in message, message
    escapes = [
        (outside / "secret.py").as_uri(),
        (root / ".." / "outside" / "secret.py").as_uri(),
        root.as_uri() + "/%2E%2E/outside/secret.py",
        (root / "out_link.py").as_uri(),  # a link inside the workspace leading out
    ]
    for uri in escapes:
        for name in PER_NOTEBOOK:
            message = await refusal(client, name, uri)
            assert "outside the workspace folders" in message and str(root) in message, message
    with pytest.raises(JsonRpcException, match="outside the workspace"):
        await command(client, "sessions.interrupt", {"uri": escapes[0]})
    # Nothing outside ran, was written, or started a kernel.
    assert snapshot(outside) == before
    assert not (outside / "RAN").exists() and not (tmp_path / "RAN").exists()
    assert recorded(client).kernel == []

    # Inside the workspace (also as file://localhost/…), and what the client opened.
    state = await command(client, "sessions.state", {"uri": (root / "nb.py").as_uri()})
    assert [c["defines"] for c in state["cells"]] == [["x"]]
    localhost = "file://localhost" + (root / "nb.py").as_posix()
    assert (await command(client, "sessions.state", {"uri": localhost}))["cells"]
    opened = open_text(client, outside / "opened.py")
    state = await command(client, "sessions.state", {"uri": opened})
    assert [c["defines"] for c in state["cells"]] == [["opened"]]

    # A folder the client adds to the workspace later counts.
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri=outside.as_uri(), name="outside")], removed=[]
            )
        )
    )
    state = await command(client, "sessions.state", {"uri": escapes[0]})
    assert len(state["cells"]) == 1


async def test_without_workspace_folders_only_open_documents(
    no_workspace: LanguageClient, folders: tuple[Path, Path]
) -> None:
    client = no_workspace
    root, _ = folders
    uri = (root / "nb.py").as_uri()
    message = await refusal(client, "sessions.state", uri)
    assert "not open in the editor" in message and "no workspace folders" in message
    opened = open_text(client, root / "nb.py")
    state = await command(client, "sessions.state", {"uri": opened})
    assert [c["defines"] for c in state["cells"]] == [["x"]]
