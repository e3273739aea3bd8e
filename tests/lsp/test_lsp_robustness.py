"""The language server keeps answering: bad files, bad requests, bad settings, and a
plain client without notebook or progress support."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.support.lsp import (
    CONFIG,
    codes_by_line,
    command,
    initialize,
    open_text,
    recorded,
    statuses,
    wait_until,
    write_notebook,
)

pytestmark = [pytest.mark.lsp, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-robust")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(
        lsp_client, folder, {"sessions": {"onRun": "sometimes", "outputCap": -5, "python": None}}
    )
    yield
    await lsp_client.shutdown_session()


async def still_answers(client: LanguageClient) -> None:
    parsed = await command(client, "sessions.parse", {"text": "# %%\nx = 1\n"})
    assert parsed["cells"][0]["source"] == "x = 1"


def warnings(client: LanguageClient) -> list[str]:
    return [m.message for m in client.log_messages if m.type == types.MessageType.Warning]


async def test_invalid_settings_fall_back_with_a_warning(client: LanguageClient) -> None:
    await wait_until(lambda: len(warnings(client)) >= 2, what="init warnings")
    assert any("sessions.onRun" in w and "'sometimes'" in w for w in warnings(client))
    assert any("sessions.outputCap" in w for w in warnings(client))
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"sessions": {"runUpstream": "yes"}})
    )
    await wait_until(
        lambda: any("sessions.runUpstream" in w for w in warnings(client)), what="change warning"
    )
    await still_answers(client)


async def test_syntax_errors_in_every_cell(client: LanguageClient, folder: Path) -> None:
    path = write_notebook(folder, "broken.py", "# %%\ndef (:\n# %%\nx = = 2\n# %%\n)))\n")
    uri = open_text(client, path)
    await wait_until(lambda: uri in client.diagnostics, what="diagnostics")
    assert codes_by_line(client, uri) == {
        1: {"syntax-error"},
        3: {"syntax-error"},
        5: {"syntax-error"},
    }
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert lenses is not None
    await still_answers(client)


async def test_huge_document(client: LanguageClient, folder: Path) -> None:
    cell = "# %%\n" + "value = 1  # padding padding padding padding padding padding\n" * 40
    text = cell * (50_000_000 // len(cell) + 1)
    assert len(text) >= 50_000_000
    path = folder / "huge.py"
    uri = open_text(client, path, text=text)
    # While the 50 MB analysis runs in the background, requests are answered.
    await still_answers(client)
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri="file:///elsewhere/x.py"),
            position=types.Position(0, 0),
        )
    )
    assert hover is None
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await still_answers(client)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"# %%\nx = 1\x00\n", "NUL"), (b"# %%\nx = '\xff\xfe'\n", "UTF-8")],
)
async def test_unreadable_file_on_disk(
    client: LanguageClient, folder: Path, content: bytes, message: str
) -> None:
    path = folder / f"bad_{message.replace('-', '')}.py"
    path.write_bytes(content)
    with pytest.raises(JsonRpcException, match=message):
        await command(client, "sessions.state", {"uri": path.as_uri()})
    with pytest.raises(JsonRpcException, match=message):
        await command(client, "sessions.run", {"uri": path.as_uri(), "cells": [0]})
    await still_answers(client)


async def test_deleted_file(client: LanguageClient, folder: Path) -> None:
    path = write_notebook(folder, "gone.py", "# %%\nx = 1\n# %%\ny = x\n")
    uri = open_text(client, path)
    await wait_until(lambda: statuses(client, uri), what="opened")
    path.unlink()
    state = await command(client, "sessions.state", {"uri": uri})  # the editor's text is the truth
    assert [c["defines"] for c in state["cells"]] == [["x"], ["y"]]
    missing = (folder / "never-existed.py").as_uri()
    with pytest.raises(JsonRpcException, match="no such file"):
        await command(client, "sessions.state", {"uri": missing})
    await still_answers(client)


async def test_corrupt_sidecar(client: LanguageClient, folder: Path) -> None:
    path = write_notebook(folder, "corrupt.py", "# %%\nx = 1\n")
    (folder / "corrupt.sessions.toml").write_bytes(b"\x00\xff this is [[[ not toml")
    uri = open_text(client, path)
    await wait_until(lambda: statuses(client, uri) == ["never-run"], what="statuses")
    await wait_until(
        lambda: any("corrupt.sessions.toml" in w for w in warnings(client)), what="warning"
    )
    # Opening is reading: the file stays where it is until a run writes the cache.
    assert not list(folder.glob("corrupt.sessions.toml.bak*"))
    assert (folder / "corrupt.sessions.toml").read_bytes().startswith(b"\x00\xff")
    await still_answers(client)


async def test_bad_arguments_are_errors_not_crashes(client: LanguageClient) -> None:
    with pytest.raises(JsonRpcException, match="uri"):
        await command(client, "sessions.run", {"uri": 5})
    with pytest.raises(JsonRpcException, match="not a file"):
        await command(client, "sessions.state", {"uri": "untitled:Untitled-1"})
    with pytest.raises(JsonRpcException, match="cells"):
        await command(client, "sessions.clearOutputs", {"uri": "file:///x.py", "cells": "all"})
    with pytest.raises(JsonRpcException, match="kind"):
        await command(client, "sessions.serialize", {"cells": [{"kind": "python"}]})
    with pytest.raises(JsonRpcException):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="sessions.state", arguments=[])
        )
    await still_answers(client)


@pytest_lsp.fixture(config=CONFIG)
async def plain_client(lsp_client: LanguageClient, tmp_path: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, tmp_path, progress=False, notebooks=False)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.kernel
@pytest.mark.asyncio(loop_scope="function")
async def test_plain_client_without_progress_or_notebooks(
    plain_client: LanguageClient, tmp_path: Path
) -> None:
    client = plain_client
    path = write_notebook(tmp_path, "plain.py", "# %%\nanswer = 6 * 7\nanswer\n")
    uri = open_text(client, path)
    await wait_until(lambda: statuses(client, uri) == ["never-run"], what="opened")
    result = await command(client, "sessions.run", {"uri": uri, "line": 1})
    assert result["ok"] is True and result["ran"] == [0]
    await wait_until(lambda: statuses(client, uri) == ["fresh"], what="fresh")
    assert client.progress_reports == {}  # no $/progress without client support
    outputs = [o["output"] for o in recorded(client).output if o["uri"] == uri]
    assert outputs[-1]["data"]["text/plain"] == "42"
    # clearOutputs drops the record: the cell is never-run again.
    await command(client, "sessions.clearOutputs", {"uri": uri})
    await wait_until(lambda: statuses(client, uri) == ["never-run"], what="cleared")
