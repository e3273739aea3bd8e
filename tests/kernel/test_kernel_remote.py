"""RemoteKernel against a real ``jupyter server`` on 127.0.0.1 with a random
token: run and stream, widgets' comms, interrupt, restart, a kernel that dies,
a dropped WebSocket, a server killed mid-run, a wrong token, an unreachable
server, and shutdown deleting only what is ours. Every server is stopped."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from sessions.kernel.comms import widget_view_ids
from sessions.kernel.remote import RemoteKernel, RemoteServer, RemoteServerError, call
from tests.support.jupyter_server import (
    EnterpriseGateway,
    JupyterServer,
    TlsJupyterServer,
    free_port,
)

pytestmark = [pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(
    scope="module", params=[JupyterServer, EnterpriseGateway], ids=["server", "gateway"]
)
def jupyter(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterServer]:
    server: JupyterServer = request.param(tmp_path_factory.mktemp("kernel-server"))
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def remote(
    jupyter: JupyterServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RemoteKernel]:
    kernel = RemoteKernel(jupyter.server(), tmp_path_factory.mktemp("nb"))
    await kernel.start()
    yield kernel
    await kernel.shutdown()


async def run(kernel: RemoteKernel, code: str) -> tuple[str, list[dict[str, Any]]]:
    outputs: list[dict[str, Any]] = []
    result = await kernel.execute(code, outputs.append)
    return result.status, outputs


def stdout_of(outputs: list[dict[str, Any]]) -> str:
    return "".join(o["text"] for o in outputs if o["output_type"] == "stream")


async def test_runs_streams_and_keeps_state(remote: RemoteKernel) -> None:
    assert remote.state == "idle" and remote.language.startswith("python")
    status, outputs = await run(
        remote, "x = 41\nfor i in range(3):\n    print(i, flush=True)\nx + 1"
    )
    assert status == "ok"
    assert stdout_of(outputs) == "0\n1\n2\n"
    assert outputs[-1]["output_type"] == "execute_result"
    assert outputs[-1]["data"]["text/plain"] == "42"
    status, outputs = await run(
        remote,
        "from IPython.display import display, clear_output\n"
        "display('a', display_id='d')\nclear_output(wait=True)\nprint(x)",
    )
    assert status == "ok" and {"clear_output", "display_data"} <= {
        o["output_type"] for o in outputs
    }
    status, outputs = await run(
        remote,
        "from IPython.display import display\nh = display('a', display_id=True)\nh.update('b')",
    )
    [update] = [o for o in outputs if o["output_type"] == "update_display_data"]
    assert status == "ok" and update["data"]["text/plain"] == "'b'"
    assert update["transient"]["display_id"] == outputs[0]["transient"]["display_id"]


async def test_widgets_comms_over_the_websocket(remote: RemoteKernel) -> None:
    status, outputs = await run(remote, "import ipywidgets as w\ns = w.IntSlider(value=5)\ns")
    assert status == "ok"
    [model_id] = widget_view_ids(outputs)
    assert remote.comms.models[model_id].state["value"] == 5


async def test_interrupt_ends_a_running_cell(remote: RemoteKernel) -> None:
    task = asyncio.ensure_future(run(remote, "import time\ntime.sleep(30)"))
    await asyncio.sleep(1.0)
    started = time.monotonic()
    await remote.interrupt()
    status, _ = await task
    assert status == "interrupted" and time.monotonic() - started < 5
    assert (await run(remote, "print(x)"))[1][0]["text"] == "41\n"  # state kept


async def test_a_dropped_websocket_reconnects_and_the_kernel_keeps_its_state(
    remote: RemoteKernel,
) -> None:
    task = asyncio.ensure_future(run(remote, "import time\ntime.sleep(1.5)\nprint('done', x)"))
    await asyncio.sleep(0.5)
    assert remote._ws is not None
    remote._ws.close()  # the network drops
    status, outputs = await task
    # The cell finished on the kernel; the outage is reported, never fresh.
    assert status == "error"
    assert "connection to the Jupyter server dropped" in stdout_of(outputs)
    assert remote.reconnects >= 1
    assert (await run(remote, "print(x)"))[1][0]["text"] == "41\n"


async def test_a_kernel_that_dies_ends_its_cell_and_the_next_runs(remote: RemoteKernel) -> None:
    status, _ = await run(remote, "import os\nos._exit(1)")
    assert status == "dead"
    assert "died on the Jupyter server" in (remote.death_reason or "")
    deadline = time.monotonic() + 30
    while remote.state != "idle":
        assert time.monotonic() < deadline, remote.state
        await asyncio.sleep(0.1)
    status, outputs = await run(remote, "print('back')")
    assert status == "ok" and stdout_of(outputs) == "back\n"


async def test_restart_empties_the_namespace(remote: RemoteKernel) -> None:
    before = remote.kernel_id
    await run(remote, "y = 1")
    await remote.restart()
    assert remote.kernel_id != before and remote.comms.snapshot() == {}
    status, outputs = await run(remote, "print('y' in globals())")
    assert status == "ok" and stdout_of(outputs) == "False\n"


async def test_a_wrong_token_says_how_to_fix_it(jupyter: JupyterServer, tmp_path: Path) -> None:
    kernel = RemoteKernel(jupyter.server(token="wrong"), tmp_path)
    with pytest.raises(RemoteServerError, match=r"refused .*HTTP 40[13].*JUPYTER_TOKEN"):
        await kernel.start()
    tokenless = RemoteKernel(dataclasses.replace(jupyter.server(), token=None), tmp_path)
    with pytest.raises(RemoteServerError, match="set JUPYTER_TOKEN"):
        await tokenless.start()


async def test_an_unreachable_server_fails_within_seconds(tmp_path: Path) -> None:
    kernel = RemoteKernel(RemoteServer(f"http://127.0.0.1:{free_port()}/", "t"), tmp_path)
    started = time.monotonic()
    with pytest.raises(RemoteServerError, match="Cannot reach the Jupyter server"):
        await kernel.start()
    assert time.monotonic() - started < 6


async def test_shutdown_deletes_our_kernel_and_leaves_a_shared_one(
    jupyter: JupyterServer, tmp_path: Path
) -> None:
    ours = RemoteKernel(jupyter.server(), tmp_path)
    await ours.start()
    kernel_id = ours.remote_id
    shared = RemoteKernel(jupyter.server(), tmp_path, kernel_id=kernel_id)
    await shared.start()  # a second client of the same kernel
    assert (await run(shared, "z = 3\nprint(z)"))[0] == "ok"
    await shared.shutdown()  # not ours: left running
    assert kernel_id in {k["id"] for k in jupyter.kernels()}
    await ours.shutdown()
    assert kernel_id not in {k["id"] for k in jupyter.kernels()}
    assert await call(jupyter.server(), "api/kernels") is not None


async def test_a_server_killed_mid_run_makes_the_kernel_dead_within_seconds(
    jupyter: JupyterServer, tmp_path: Path
) -> None:
    doomed = type(jupyter)(tmp_path)
    doomed.start()
    kernel = RemoteKernel(doomed.server(), tmp_path, reconnect_seconds=3)
    try:
        await kernel.start()
        task = asyncio.ensure_future(run(kernel, "import time\ntime.sleep(60)"))
        await asyncio.sleep(0.5)
        assert doomed.process is not None
        doomed.process.kill()
        started = time.monotonic()
        status, _ = await asyncio.wait_for(task, 15)
        assert status == "dead" and time.monotonic() - started < 10
        assert kernel.state == "dead" and "lost the connection" in (kernel.death_reason or "")
    finally:
        await kernel.shutdown()
        doomed.stop()


async def test_https_is_verified_and_a_ca_bundle_makes_it_trusted(tmp_path: Path) -> None:
    secure = TlsJupyterServer(tmp_path)
    secure.start()
    try:
        untrusted = RemoteKernel(secure.server(), tmp_path)
        with pytest.raises(RemoteServerError, match=r"certificate .*--ca-bundle"):
            await untrusted.start()
        trusted = RemoteKernel(
            dataclasses.replace(secure.server(), ca_bundle=str(secure.certificate)), tmp_path
        )
        await trusted.start()
        try:
            status, outputs = await run(trusted, "print('over wss')")
            assert status == "ok" and stdout_of(outputs) == "over wss\n"
        finally:
            await trusted.shutdown()
    finally:
        secure.stop()
