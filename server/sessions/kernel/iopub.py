"""Jupyter IOPub messages -> outputs in nbformat's dict shape.

Besides the four nbformat output types, ``clear_output`` and
``update_display_data`` are passed on as pseudo-outputs so that whoever keeps
the cell's output list can honour them; ``transient`` (which carries
``display_id``) is kept on display outputs for the same reason and must be
dropped before saving.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sessions.cache.records import Output


def output_from_message(msg_type: str, content: Mapping[str, Any]) -> Output | None:
    """The output an IOPub message carries, or ``None`` for other messages."""
    if msg_type == "stream":
        return {"output_type": "stream", "name": content["name"], "text": content["text"]}
    if msg_type in ("display_data", "update_display_data", "execute_result"):
        output: Output = {
            "output_type": msg_type,
            "data": content.get("data", {}),
            "metadata": content.get("metadata", {}),
        }
        if msg_type == "execute_result":
            output["execution_count"] = content.get("execution_count")
        transient = content.get("transient")
        if transient:
            output["transient"] = transient
        return output
    if msg_type == "error":
        return {
            "output_type": "error",
            "ename": content.get("ename", ""),
            "evalue": content.get("evalue", ""),
            "traceback": list(content.get("traceback", [])),
        }
    if msg_type == "clear_output":
        return {"output_type": "clear_output", "wait": bool(content.get("wait", False))}
    return None
