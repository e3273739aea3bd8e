"""Big and busy outputs through the language server, on real kernels (issue 11,
item 7): ``sessions.state`` replies stay bounded and page their outputs (a
client follows ``nextCursor`` and gets every output); a display updated
10,000 times reaches the client as a few coalesced notifications that end in
the same outputs; a hover answers while a cell prints (its latency is a
budget of bench/bench_lsp.py, not asserted here)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from sessions.lsp.state_payload import STATE_PAGE_BYTES
from tests.support.lsp import CONFIG, command, initialize, open_text, recorded, write_notebook

pytestmark = [pytest.mark.lsp, pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]

IMAGES, IMAGE_BYTES, UPDATES = 60, 100_000, 10_000
NOTEBOOK = f"""\
# %% images
from IPython.display import display
for i in range({IMAGES}):
    display({{"image/png": f"{{i:06d}}" + "A" * {IMAGE_BYTES - 6}}}, raw=True)

# %% updates
from IPython.display import display
handle = display({{"text/plain": "start"}}, raw=True, display_id=True)
for i in range({UPDATES}):
    handle.update({{"text/plain": str(i)}}, raw=True)
print("done")

# %% prints
import sys
chunk = "y" * 1023 + "\\n"
for _ in range(20 * 1024):
    sys.stdout.write(chunk)
value = 1

# %% uses
value + 1
"""
IMAGES_CELL, UPDATES_CELL, PRINTS_CELL, USES_CELL = 0, 1, 2, 3


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-outputs")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)
    yield
    await lsp_client.shutdown_session()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def uri(client: LanguageClient, folder: Path) -> str:
    uri = open_text(client, write_notebook(folder, "outputs.py", NOTEBOOK))
    result = await command(client, "sessions.run", {"uri": uri, "cells": [IMAGES_CELL]})
    assert result["ok"], result
    return uri


def image_number(output: dict[str, Any]) -> int:
    return int(output["data"]["image/png"][:6])


async def all_pages(
    client: LanguageClient, uri: str, **options: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page of ``sessions.state``, and the cells with their outputs joined."""
    pages = [await command(client, "sessions.state", {"uri": uri, **options})]
    while pages[-1]["nextCursor"] is not None:
        cursor = pages[-1]["nextCursor"]
        pages.append(
            await command(client, "sessions.state", {"uri": uri, "cursor": cursor, **options})
        )
        assert len(pages) < 1000
    joined = [dict(cell, outputs=[]) for cell in pages[0]["cells"]]
    for page in pages:
        assert [c["run"] for c in page["cells"]] == [c["run"] for c in joined]
        for cell in page["cells"]:
            if "outputs" in cell:
                target = joined[cell["index"]]
                assert cell["outputsFrom"] == len(target["outputs"])
                target["outputs"] += cell["outputs"]
    return pages, joined


async def test_state_replies_are_bounded_and_page_every_output(
    client: LanguageClient, uri: str
) -> None:
    pages, cells = await all_pages(client, uri)
    assert len(pages) >= 2  # 6 MB of images: more than one page
    for page in pages:
        assert len(json.dumps(page)) <= STATE_PAGE_BYTES + IMAGE_BYTES + 50_000
    images = cells[IMAGES_CELL]
    assert images["outputCount"] == IMAGES
    assert [image_number(o) for o in images["outputs"]] == list(range(IMAGES))
    assert all(len(o["data"]["image/png"]) == IMAGE_BYTES for o in images["outputs"])
    # The first page is what a client that knows no paging gets: it starts at 0.
    assert pages[0]["cells"][IMAGES_CELL]["outputsFrom"] == 0


async def test_small_pages_hold_at_least_one_output(client: LanguageClient, uri: str) -> None:
    pages, cells = await all_pages(client, uri, maxBytes=1)
    assert len(pages) == IMAGES
    assert [image_number(o) for o in cells[IMAGES_CELL]["outputs"]] == list(range(IMAGES))


async def test_a_cursor_after_another_run_starts_the_cell_over(
    client: LanguageClient, uri: str
) -> None:
    first = await command(client, "sessions.state", {"uri": uri, "maxBytes": 3 * IMAGE_BYTES})
    assert first["nextCursor"] is not None
    result = await command(client, "sessions.run", {"uri": uri, "cells": [IMAGES_CELL]})
    assert result["ok"], result
    page = await command(client, "sessions.state", {"uri": uri, "cursor": first["nextCursor"]})
    cell = page["cells"][IMAGES_CELL]
    assert cell["run"] != first["cells"][IMAGES_CELL]["run"]  # the client sees it, starts again
    assert cell["outputsFrom"] == 0 and image_number(cell["outputs"][0]) == 0


@pytest.mark.parametrize("cursor", ["nonsense", "1:-2:3", 7, "0:0"])
async def test_a_bad_cursor_is_invalid_params(
    client: LanguageClient, uri: str, cursor: object
) -> None:
    with pytest.raises(JsonRpcException) as raised:
        await command(client, "sessions.state", {"uri": uri, "cursor": cursor})
    assert raised.value.code == -32602 and "cursor" in str(raised.value.message)


def client_outputs(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A cell's outputs as a client accumulates them (docs/protocol.md), display updates included."""
    outputs: list[dict[str, Any]] = []
    clear_pending = False
    for output in messages:
        kind = output["output_type"]
        if kind == "clear_output":
            clear_pending = bool(output.get("wait"))
            if not clear_pending:
                outputs = []
            continue
        if kind == "update_display_data":
            for shown in outputs:
                if (
                    shown.get("transient", {}).get("display_id")
                    == output["transient"]["display_id"]
                ):
                    shown["data"], shown["metadata"] = output["data"], output["metadata"]
            continue
        if clear_pending:
            outputs, clear_pending = [], False
        last = outputs[-1] if outputs else None
        if (
            kind == "stream"
            and last
            and last["output_type"] == "stream"
            and last["name"] == output["name"]
        ):
            last["text"] += output["text"]
            continue
        outputs.append(dict(output))
    return outputs


async def test_display_updates_are_coalesced(client: LanguageClient, uri: str) -> None:
    before = len(recorded(client).output)
    result = await command(client, "sessions.run", {"uri": uri, "cells": [UPDATES_CELL]})
    assert result["ok"], result
    sent = [p for p in recorded(client).output[before:] if p["cell"] == UPDATES_CELL]
    assert len({p["run"] for p in sent}) == 1
    updates = [p for p in sent if p["output"]["output_type"] == "update_display_data"]
    assert 0 < len(updates) < UPDATES / 10, len(updates)
    outputs = client_outputs([p["output"] for p in sent])
    assert [o["output_type"] for o in outputs] == ["display_data", "stream"]
    assert outputs[0]["data"] == {"text/plain": str(UPDATES - 1)}
    assert outputs[1]["text"] == "done\n"
    # The cached copy agrees.
    _, cells = await all_pages(client, uri)
    assert cells[UPDATES_CELL]["outputs"][0]["data"] == {"text/plain": str(UPDATES - 1)}


async def test_hover_answers_while_a_cell_prints(client: LanguageClient, uri: str) -> None:
    run = asyncio.ensure_future(
        command(client, "sessions.run", {"uri": uri, "cells": [PRINTS_CELL]})
    )
    hovers = 0
    line = NOTEBOOK.splitlines().index("value + 1")
    while not run.done():
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line, 1),
            )
        )
        assert hover is not None
        assert isinstance(hover.contents, types.MarkupContent)
        assert "`value` — defined in cell 2" in hover.contents.value
        hovers += 1
    assert (await run)["ok"]
    assert hovers > 1
