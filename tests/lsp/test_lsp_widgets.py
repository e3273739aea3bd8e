"""Widgets through the real language server on a real kernel: the comm bridge
both ways (``sessions/comm``, ``sessions.widgets``), the widget state saved
with the outputs, a value change from the UI making the cells that read the
widget stale, ``sessions.bind`` re-running them, and a restart forgetting
every live model."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

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

NOTEBOOK = """\
# %% make
import ipywidgets as widgets
import sessions
slider = widgets.IntSlider(value=3, max=10)
bound = sessions.bind(widgets.IntSlider(value=1, max=10))
display(slider, bound)

# %% reads slider
print("slider", slider.value)

# %% reads bound
print("bound", bound.value * 10)

# %% derived
twice = bound.value * 2

# %% tail
print("twice", twice)

# %% other
version = widgets.__version__
"""
MAKE, READS_SLIDER, READS_BOUND, DERIVED, TAIL, OTHER = range(6)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-widgets")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def lsp(client: LanguageClient) -> LanguageClient:
    return client


def cell(lsp_client: LanguageClient, uri: str, index: int) -> dict[str, Any]:
    state = latest_state(lsp_client, uri)
    assert state is not None
    found: dict[str, Any] = state["cells"][index]
    return found


def printed(lsp_client: LanguageClient, index: int) -> str:
    return "".join(
        str(n["output"].get("text", ""))
        for n in recorded(lsp_client).output
        if n["cell"] == index and n["output"]["output_type"] == "stream"
    )


def send_comm(lsp_client: LanguageClient, params: dict[str, Any]) -> None:
    lsp_client.protocol.notify("sessions/comm", params)


async def test_widgets_bridge_and_react(lsp: LanguageClient, folder: Path) -> None:
    path = write_notebook(folder, "w.py", NOTEBOOK)
    uri = open_text(lsp, path)
    result = await command(lsp, "sessions.run", {"uri": uri, "mode": "all"})
    assert result["ok"], result

    # The kernel's comm_opens reached the client, named by the running kernel's id.
    kernel_id = recorded(lsp).kernel[-1]["id"]
    opened = [c for c in recorded(lsp).comm if c["event"] == "open"]
    assert opened and all(c["kernel"] == kernel_id for c in opened)
    assert {c["targetName"] for c in opened} == {"jupyter.widget"}

    # The live state, for a renderer that starts late.
    live = await command(lsp, "sessions.widgets", {"uri": uri})
    assert live["kernel"] == kernel_id
    sliders = {
        model_id: model["state"]["value"]
        for model_id, model in live["state"].items()
        if model["model_name"] == "IntSliderModel"
    }
    assert sorted(sliders.values()) == [1, 3]
    by_value = {value: model_id for model_id, value in sliders.items()}
    slider_id, bound_id = by_value[3], by_value[1]

    # The outputs as cached: each view carries the state it needs to show again.
    state = await command(lsp, "sessions.state", {"uri": uri})
    views = [o for o in state["cells"][MAKE]["outputs"] if WIDGET_VIEW in o.get("data", {})]
    assert [v["data"][WIDGET_VIEW]["model_id"] for v in views] == [slider_id, bound_id]
    saved = views[0]["metadata"][WIDGET_STATE]["state"]
    assert saved[slider_id]["state"]["value"] == 3
    assert any(m["model_name"] == "LayoutModel" for m in saved.values())
    assert bound_id not in saved  # each view: its model and what that refers to

    make_run = cell(lsp, uri, MAKE)["run"]

    # The UI moves the plain slider: what reads it is stale, nothing re-runs.
    send_comm(
        lsp,
        {
            "uri": uri,
            "kernel": kernel_id,
            "event": "msg",
            "commId": slider_id,
            "data": {"method": "update", "state": {"value": 7}, "buffer_paths": []},
        },
    )
    await wait_until(
        lambda: cell(lsp, uri, READS_SLIDER)["status"] == "upstream",
        what="the reader of the moved slider to be stale",
    )
    reader = cell(lsp, uri, READS_SLIDER)
    assert "widget `slider`" in reader["reason"], reader["reason"]
    assert reader["causes"] == [MAKE]
    assert cell(lsp, uri, MAKE)["status"] == "fresh"
    assert cell(lsp, uri, READS_BOUND)["status"] == "fresh"
    # The kernel's object has the value the UI set.
    rerun = await command(lsp, "sessions.run", {"uri": uri, "cells": [READS_SLIDER]})
    assert rerun["ran"] == [READS_SLIDER]
    assert "slider 7" in printed(lsp, READS_SLIDER)
    await wait_until(
        lambda: cell(lsp, uri, READS_SLIDER)["status"] == "fresh", what="the reader fresh again"
    )

    # A cell below the widgets' that reads none of them, not run: a change leaves it be.
    await command(lsp, "sessions.clearOutputs", {"uri": uri, "cells": [OTHER]})
    await wait_until(lambda: cell(lsp, uri, OTHER)["status"] == "never-run", what="never-run")

    # The UI moves the bound slider: its readers, and what they feed, re-run at once.
    changed_at = time.monotonic()
    send_comm(
        lsp,
        {
            "uri": uri,
            "kernel": kernel_id,
            "event": "msg",
            "commId": bound_id,
            "data": {"method": "update", "state": {"value": 4}, "buffer_paths": []},
        },
    )
    await wait_until(lambda: "twice 8" in printed(lsp, TAIL), what="the bound re-run")
    assert time.monotonic() - changed_at < 5
    assert "bound 40" in printed(lsp, READS_BOUND)
    assert cell(lsp, uri, MAKE)["run"] == make_run  # the creating cell never re-runs
    await wait_until(
        lambda: (
            [c["status"] for c in latest_state(lsp, uri)["cells"]]  # type: ignore[index]
            == ["fresh"] * OTHER + ["never-run"]
        ),
        what="every reader fresh after the re-run, the unrelated cell not run",
    )


async def test_bad_comm_messages_are_dropped_and_the_server_serves_on(
    lsp: LanguageClient, folder: Path
) -> None:
    path = write_notebook(folder, "bad.py", "# %%\nx = 1\n")
    uri = open_text(lsp, path)

    def messages() -> list[str]:
        return [m.message for m in lsp.log_messages if "sessions/comm" in m.message]

    send_comm(lsp, {"uri": uri, "event": "shout", "commId": "x", "data": {}})
    send_comm(lsp, {"uri": "file:///not/open.py", "event": "msg", "commId": "x"})
    # For a kernel that is not running: dropped quietly (a client's stale view).
    send_comm(lsp, {"uri": uri, "kernel": "gone", "event": "msg", "commId": "x", "data": {}})
    await wait_until(lambda: len(messages()) >= 2, what="two warnings")
    assert any("malformed" in m and "open, msg or close" in m for m in messages())
    assert any("not a notebook open in the editor" in m for m in messages())
    live = await command(lsp, "sessions.widgets", {"uri": uri})
    assert live == {"kernel": None, "state": {}}


async def test_a_restart_forgets_the_live_models(lsp: LanguageClient, folder: Path) -> None:
    path = write_notebook(
        folder, "r.py", "# %%\nimport ipywidgets as widgets\nwidgets.IntSlider()\n"
    )
    uri = open_text(lsp, path)
    assert (await command(lsp, "sessions.run", {"uri": uri, "mode": "all"}))["ok"]
    before = await command(lsp, "sessions.widgets", {"uri": uri})
    assert before["state"]
    await command(lsp, "sessions.restart", {"uri": uri})
    after = await command(lsp, "sessions.widgets", {"uri": uri})
    assert after["state"] == {}
    assert after["kernel"] not in (None, before["kernel"])
    kernel_ids = [k.get("id") for k in recorded(lsp).kernel if k["uri"] == uri]
    assert after["kernel"] in kernel_ids


async def test_a_flood_of_kernel_updates_is_coalesced_and_ends_in_the_last_value(
    lsp: LanguageClient, folder: Path
) -> None:
    path = write_notebook(
        folder,
        "flood.py",
        "# %% bar\nimport ipywidgets as widgets\nbar = widgets.IntProgress(max=10_000)\n"
        "display(bar)\n\n# %% fill\nfor i in range(10_000):\n    bar.value = i\n",
    )
    uri = open_text(lsp, path)
    assert (await command(lsp, "sessions.run", {"uri": uri, "cells": [0]}))["ok"]
    bar_id = next(
        c["commId"]
        for c in reversed(recorded(lsp).comm)
        if c["event"] == "open" and c["data"]["state"].get("_model_name") == "IntProgressModel"
    )
    before = len(recorded(lsp).comm)
    run = lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command="sessions.run", arguments=[{"uri": uri, "cells": [1]}])
    )
    # The server answers requests while the updates stream.
    hover = await lsp.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=2, character=1),
        )
    )
    assert hover is not None
    await run
    await wait_until(
        lambda: any(
            c["commId"] == bar_id and c["data"].get("state", {}).get("value") == 9_999
            for c in recorded(lsp).comm[before:]
        ),
        what="the last value",
    )
    updates = [c for c in recorded(lsp).comm[before:] if c["commId"] == bar_id]
    assert len(updates) < 1_000, len(updates)  # 10,000 kernel messages, coalesced
    values = [c["data"]["state"]["value"] for c in updates if "value" in c["data"]["state"]]
    assert values == sorted(values)  # in order: merging never reorders
