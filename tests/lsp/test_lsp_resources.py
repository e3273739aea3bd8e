"""What a document may cost the real language server (docs/guarantees.md,
"Resource limits"), measured from outside: the server process's RSS and peak
(``VmHWM``) from ``/proc``.

Before these limits a 10 MB document took 71 s to open and peaked at 1.7 GB
(1.2 GB kept after ``didClose``; 50 MB: 21.6 GB), every closed notebook left
~3 MB of analyses behind, and a FIFO or ``/dev/zero`` output cache blocked or
never ended the read on open.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from reference_notebook import reference_notebook

from tests.support.lsp import (
    CONFIG,
    command,
    initialize,
    open_text,
    recorded,
    wait_until,
)

pytestmark = [pytest.mark.lsp, pytest.mark.asyncio(loop_scope="function")]

LIMIT = 3_000_000
"""``sessions.maxNotebookBytes`` in these tests (the default is 4 MB)."""


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient, tmp_path: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, tmp_path, {"sessions": {"maxNotebookBytes": LIMIT}})
    yield
    await lsp_client.shutdown_session()


def memory_mb(client: LanguageClient) -> tuple[float, float]:
    """(VmRSS, VmHWM) of the server process, in MB."""
    server = client._server
    assert server is not None
    found: dict[str, float] = {}
    for line in Path(f"/proc/{server.pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


async def settle(client: LanguageClient) -> None:
    """Until the server answered a request (everything before it was handled)."""
    await command(client, "sessions.parse", {"text": ""})


async def open_and_wait(client: LanguageClient, path: Path, text: str) -> str:
    path.write_text(text)
    uri = open_text(client, path, text)
    await wait_until(
        lambda: recorded(client).diagnostic_versions.get(uri) == 1, 120, f"diagnostics of {path}"
    )
    return uri


async def close_and_wait(client: LanguageClient, uri: str) -> None:
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await wait_until(lambda: len(client.diagnostics.get(uri, [None])) == 0, 30, "cleared")
    await settle(client)


def big_notebook(seed: int, megabytes: float) -> str:
    """Copies of the 250-cell reference notebook, each with its own seed."""
    parts: list[str] = []
    size = 0
    while size < megabytes * 1_000_000:
        parts.append(reference_notebook(seed=seed * 1000 + len(parts)))
        size += len(parts[-1])
    return "".join(parts)


async def test_fifo_and_dev_zero_output_caches_do_not_block_opening(
    client: LanguageClient, tmp_path: Path
) -> None:
    for name in ("pipe", "zero"):
        (tmp_path / f"{name}.py").write_text("# %% a\nx = 1\n\n# %% b\ny = x\n")
    os.mkfifo(tmp_path / "pipe.sessions.toml")
    (tmp_path / "zero.sessions.toml").symlink_to("/dev/zero")
    for name in ("pipe", "zero"):
        uri = open_text(client, tmp_path / f"{name}.py")
        await wait_until(lambda uri=uri: uri in client.diagnostics, 15, f"diagnostics of {name}")
    warnings = [m.message for m in client.log_messages if "cannot be read" in m.message]
    assert any("pipe.sessions.toml" in w and "named pipe (FIFO)" in w for w in warnings)
    assert any("zero.sessions.toml" in w and "character device" in w for w in warnings)
    await settle(client)


async def test_state_of_a_fifo_notebook_is_refused_at_once(
    client: LanguageClient, tmp_path: Path
) -> None:
    os.mkfifo(tmp_path / "nb.py")
    with pytest.raises(JsonRpcException) as refused:
        await command(client, "sessions.state", {"uri": (tmp_path / "nb.py").as_uri()})
    assert "FIFO" in str(refused.value)
    await settle(client)


async def test_a_document_over_the_limit_gets_one_diagnostic_and_a_message(
    client: LanguageClient, tmp_path: Path
) -> None:
    path = tmp_path / "huge.py"
    text = "# %% first\n" + "x = 1\n" * (LIMIT // 6)
    uri = await open_and_wait(client, path, text)
    [diagnostic] = client.diagnostics[uri]
    assert diagnostic.code == "notebook-too-large"
    assert "over the 3 MB limit" in diagnostic.message
    assert "sessions.maxNotebookBytes" in diagnostic.message
    assert diagnostic.range.end == types.Position(0, len("# %% first"))
    await wait_until(
        lambda: any("maxNotebookBytes" in m.message for m in client.messages), 10, "the message"
    )
    [shown] = [m for m in client.messages if "maxNotebookBytes" in m.message]
    assert shown.type == types.MessageType.Warning and shown.message == diagnostic.message
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert not lenses
    # Cut below the limit: analysed as usual.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="# %%\nx = 1\n")],
        )
    )
    await wait_until(lambda: recorded(client).diagnostic_versions.get(uri) == 2, 30, "v2")
    assert all(d.code != "notebook-too-large" for d in client.diagnostics[uri])

    def too_large() -> bool:
        return any(d.code == "notebook-too-large" for d in client.diagnostics.get(uri, ()))

    # The setting applies to open documents at once, both ways.
    for limit, refused in ((5, True), (LIMIT, False)):
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"sessions": {"maxNotebookBytes": limit}})
        )
        await wait_until(lambda refused=refused: too_large() == refused, 30, f"limit {limit}")
    assert len([m for m in client.messages if "maxNotebookBytes" in m.message]) == 2


async def test_a_refused_document_costs_a_small_multiple_of_its_text(
    client: LanguageClient, tmp_path: Path
) -> None:
    await settle(client)
    idle, _ = memory_mb(client)
    text = big_notebook(1, 20)  # 20 MB: analysing it took minutes and gigabytes
    uri = await open_and_wait(client, tmp_path / "huge.py", text)
    assert [d.code for d in client.diagnostics[uri]] == ["notebook-too-large"]
    _, peak = memory_mb(client)
    assert peak - idle < 8 * 20, (idle, peak)  # measured: about 3x the text
    await close_and_wait(client, uri)
    rss, _ = memory_mb(client)
    assert rss - idle < 20, (idle, rss)


async def test_a_large_document_costs_memory_in_proportion_and_frees_it_on_close(
    client: LanguageClient, tmp_path: Path
) -> None:
    await settle(client)
    idle, _ = memory_mb(client)
    peaks = []
    for seed in range(4):  # four different 2 MB notebooks, 4,500 cells each
        uri = await open_and_wait(client, tmp_path / f"big{seed}.py", big_notebook(seed, 2))
        rss, peak = memory_mb(client)
        assert rss - idle < 60 * 2, (idle, rss)  # measured: 40x the text
        await close_and_wait(client, uri)
        peaks.append(peak)
    # What a closed notebook held is freed and reused by the next one: the
    # peak stays (it grew 46 MB per notebook when closed ones kept their analyses).
    assert peaks[-1] - peaks[0] < 15, peaks


async def test_closing_many_notebooks_keeps_nothing_of_them(
    client: LanguageClient, tmp_path: Path
) -> None:
    rss_after = []
    for n in range(30):
        uri = await open_and_wait(
            client, tmp_path / f"nb{n:02}.py", reference_notebook(seed=500 + n)
        )
        await close_and_wait(client, uri)
        rss_after.append(memory_mb(client)[0])
    # Each used to keep ~3 MB of analyses (the caches held 4,096 cells' worth).
    assert rss_after[-1] - rss_after[4] < 12, rss_after
