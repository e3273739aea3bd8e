"""One ``kernel_info`` round trip that also proves IOPub is connected.

A ZMQ SUB socket misses whatever is published before it has joined, so a
client is ready only once a ``kernel_info`` reply has arrived *and* the
``status`` messages around it came through IOPub. Both a kernel we launched
and one we attach to (someone else's) are waited for this way.
"""

from __future__ import annotations

import contextlib
from queue import Empty
from typing import Any, Literal

from jupyter_client.asynchronous.client import AsyncKernelClient


async def kernel_info_round(
    client: AsyncKernelClient, channel: Literal["shell", "control"]
) -> dict[str, Any] | None:
    """Send ``kernel_info`` on ``channel``; its reply content, or ``None`` to try again.

    ``control`` is for a kernel another client may keep busy: the control
    channel answers even while a cell runs on the shell channel.
    """
    if channel == "control":
        client.control_channel.send(client.session.msg("kernel_info_request"))
        receive = client.get_control_msg
    else:
        client.kernel_info()
        receive = client.get_shell_msg
    try:
        reply = await receive(timeout=0.5)
    except Empty:
        return None
    if reply["msg_type"] != "kernel_info_reply":
        return None
    try:
        await client.get_iopub_msg(timeout=0.2)
    except Empty:
        return None
    # Drop the status messages of earlier, unanswered attempts.
    with contextlib.suppress(Empty):
        while True:
            await client.get_iopub_msg(timeout=0.02)
    content: dict[str, Any] = reply["content"]
    return content
