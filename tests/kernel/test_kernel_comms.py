"""The comm bridge's kernel end against a real ipykernel with ipywidgets:
the mirror follows comm_open / update / close, a front end's update reaches
the kernel's object, an Output widget captures what its ``with`` block
prints, and a restart forgets every model and names a new kernel."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from sessions.kernel import KernelSession
from sessions.kernel.comms import WIDGET_VIEW_MIME, CommEvent, widget_view_ids

pytestmark = [pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def kernel(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KernelSession]:
    session = KernelSession(sys.executable, tmp_path_factory.mktemp("comms"))
    try:
        await session.start()
        yield session
    finally:
        await session.shutdown()


async def run(session: KernelSession, code: str) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = []
    result = await session.execute(code, outputs.append)
    assert result.status == "ok", (result.ename, result.evalue)
    return outputs


def stdout_of(outputs: list[dict[str, Any]]) -> str:
    return "".join(o["text"] for o in outputs if o["output_type"] == "stream")


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_slider_is_mirrored_and_its_view_names_it(kernel: KernelSession) -> None:
    events: list[CommEvent] = []
    unsubscribe = kernel.on_comm(events.append)
    try:
        outputs = await run(
            kernel, "import ipywidgets as w\nslider = w.IntSlider(value=3, max=10)\nslider"
        )
    finally:
        unsubscribe()
    [model_id] = widget_view_ids(outputs)
    assert outputs[-1]["data"][WIDGET_VIEW_MIME]["model_id"] == model_id
    model = kernel.comms.models[model_id]
    assert model.model_name == "IntSliderModel"
    assert model.state["value"] == 3
    assert any(e.kind == "open" and e.comm_id == model_id for e in events)

    # The saved state names the slider and the models it refers to (its layout, style).
    state = kernel.comms.widget_state([model_id])["state"]
    assert state[model_id]["state"]["value"] == 3
    layout = model.state["layout"].removeprefix("IPY_MODEL_")
    assert layout in state and state[layout]["model_name"] == "LayoutModel"

    # The kernel changes the value: the mirror follows.
    await run(kernel, "slider.value = 8")
    assert kernel.comms.models[model_id].state["value"] == 8


async def test_a_front_end_update_reaches_the_kernel_object(kernel: KernelSession) -> None:
    outputs = await run(kernel, "import ipywidgets as w\nknob = w.IntSlider(value=1)\nknob")
    [model_id] = widget_view_ids(outputs)
    kernel.send_comm(
        CommEvent("msg", model_id, {"method": "update", "state": {"value": 42}, "buffer_paths": []})
    )
    assert kernel.comms.models[model_id].state["value"] == 42
    assert stdout_of(await run(kernel, "print(knob.value)")) == "42\n"


async def test_an_output_widget_captures_its_block(kernel: KernelSession) -> None:
    outputs = await run(
        kernel,
        "import ipywidgets as w\nout = w.Output()\ndisplay(out)\n"
        "with out:\n    print('inside')\nprint('outside')",
    )
    assert stdout_of(outputs) == "outside\n"  # the captured line is not the cell's
    [model_id] = widget_view_ids(outputs)
    captured = kernel.comms.models[model_id].state["outputs"]
    assert captured == [{"output_type": "stream", "name": "stdout", "text": "inside\n"}]
    # The kernel's copy was told, as a Jupyter front end tells it.
    assert stdout_of(await run(kernel, "print(len(out.outputs))")) == "1\n"


async def test_close_forgets_the_model(kernel: KernelSession) -> None:
    outputs = await run(kernel, "import ipywidgets as w\ngone = w.Button()\ngone")
    [model_id] = widget_view_ids(outputs)
    await run(kernel, "gone.close()")
    await until(lambda: model_id not in kernel.comms.models)


async def test_many_models_and_a_flood_of_updates_end_in_the_last_value(
    kernel: KernelSession,
) -> None:
    await run(
        kernel,
        "import ipywidgets as w\nbars = [w.IntProgress(max=10_000) for _ in range(50)]\n"
        "for i in range(10_000):\n    bars[i % 50].value = i",
    )
    values = await run(kernel, "print([b.model_id for b in bars][-1], bars[-1].value)")
    model_id, value = stdout_of(values).split()
    assert kernel.comms.models[model_id].state["value"] == int(value) == 9_999


async def test_restart_forgets_every_model_and_names_a_new_kernel(tmp_path: Path) -> None:
    session = KernelSession(sys.executable, tmp_path)
    try:
        await session.start()
        first = session.kernel_id
        await run(session, "import ipywidgets as w\ns = w.IntSlider()\ns")
        assert session.comms.snapshot()
        await session.restart()
        assert session.kernel_id and session.kernel_id != first
        assert session.comms.snapshot() == {}
    finally:
        await session.shutdown()
