"""The output size cap applied when the sidecar is written (DESIGN §3).

Sizes are counted in characters. A text longer than the cap keeps its head
and tail (half the cap each) with a marker line in between saying how much
was left out. Binary data (base64 images, PDF, audio, video) and JSON values
cannot be cut meaningfully, so an oversized one is dropped from its mime
bundle and a marker line is added to the bundle's ``text/plain`` instead.

Nothing is changed in place: records and outputs that need capping are
replaced by capped copies, the others are returned as they are (cheap when
nothing is over the cap, which is the common case).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sessions.records import CellRecord, Output
from sessions.sidecar_toml import is_json_mime, join_text, json_text

_BINARY_PREFIXES = ("image/", "audio/", "video/")
_BINARY_TYPES = frozenset({"application/pdf", "application/octet-stream"})


def is_binary_mime(mime: str) -> bool:
    if mime == "image/svg+xml":
        return False
    return mime.startswith(_BINARY_PREFIXES) or mime in _BINARY_TYPES


def cap_text(text: str, cap: int) -> str:
    if len(text) <= cap:
        return text
    head = text[: cap // 2]
    tail = text[len(text) - (cap - cap // 2) :]
    omitted = len(text) - len(head) - len(tail)
    marker = f"[... {omitted:,} characters omitted: output over the {cap:,}-character cap ...]"
    before = "" if head.endswith("\n") or not head else "\n"
    return f"{head}{before}{marker}\n{tail}"


def _omitted_marker(mime: str, size: int, cap: int) -> str:
    return f"[{mime} output of {size:,} characters omitted: over the {cap:,}-character cap]"


def _cap_bundle(bundle: dict[str, Any], cap: int) -> dict[str, Any] | None:
    """A capped copy of a mime bundle, or None when nothing was over the cap."""
    changed = False
    result: dict[str, Any] = {}
    markers: list[str] = []
    for mime, value in bundle.items():
        if is_json_mime(mime):
            size = len(json_text(value))
            if size > cap:
                markers.append(_omitted_marker(mime, size, cap))
                changed = True
                continue
            result[mime] = value
            continue
        text = join_text(value)
        if not isinstance(text, str):
            result[mime] = value
            continue
        changed = changed or text is not value
        if len(text) > cap:
            changed = True
            if is_binary_mime(mime):
                markers.append(_omitted_marker(mime, len(text), cap))
                continue
            text = cap_text(text, cap)
        result[mime] = text
    if not changed:
        return None
    if markers:
        plain = result.get("text/plain")
        lines = ([plain.rstrip("\n")] if isinstance(plain, str) and plain else []) + markers
        result["text/plain"] = cap_text("\n".join(lines), cap)
    return result


def cap_output(output: Output, cap: int) -> Output:
    """``output`` itself when within the cap, else a capped copy."""
    changes: dict[str, Any] = {}
    text = output.get("text")
    joined = join_text(text)
    if isinstance(joined, str):
        was_list = not isinstance(text, str)
        if was_list or len(joined) > cap:
            changes["text"] = cap_text(joined, cap)
    data = output.get("data")
    if isinstance(data, dict):
        capped = _cap_bundle(data, cap)
        if capped is not None:
            changes["data"] = capped
    evalue = output.get("evalue")
    if isinstance(evalue, str) and len(evalue) > cap:
        changes["evalue"] = cap_text(evalue, cap)
    traceback = output.get("traceback")
    if isinstance(traceback, list) and any(
        isinstance(frame, str) and len(frame) > cap for frame in traceback
    ):
        changes["traceback"] = [
            cap_text(frame, cap) if isinstance(frame, str) else frame for frame in traceback
        ]
    return {**output, **changes} if changes else output


def cap_records(records: list[CellRecord], cap: int) -> list[CellRecord]:
    """The records with every output within ``cap``; unchanged ones are reused."""
    result = []
    for record in records:
        outputs = [cap_output(output, cap) for output in record.outputs]
        if any(new is not old for new, old in zip(outputs, record.outputs, strict=True)):
            record = dataclasses.replace(record, outputs=outputs)
        result.append(record)
    return result
