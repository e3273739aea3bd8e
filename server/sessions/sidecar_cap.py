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
import re
from typing import Any

from sessions.records import CellRecord, Output
from sessions.sidecar_toml import is_json_mime, join_text, json_text

_BINARY_PREFIXES = ("image/", "audio/", "video/")
_BINARY_TYPES = frozenset({"application/pdf", "application/octet-stream"})


def is_binary_mime(mime: str) -> bool:
    if mime == "image/svg+xml":
        return False
    return mime.startswith(_BINARY_PREFIXES) or mime in _BINARY_TYPES


_MARKER = re.compile(
    r"\[\.\.\. ([0-9,]+) characters omitted: output over the ([0-9,]+)-character cap \.\.\.\]\n"
)


def _marker(omitted: int, cap: int) -> str:
    return f"[... {omitted:,} characters omitted: output over the {cap:,}-character cap ...]"


def _join(head: str, omitted: int, tail: str, cap: int) -> str:
    before = "" if head.endswith("\n") or not head else "\n"
    return f"{head}{before}{_marker(omitted, cap)}\n{tail}"


def _earlier_cut(text: str) -> tuple[int, int, int] | None:
    """Where an earlier ``cap_text`` left its marker in ``text``: (start, end,
    characters it omitted), the marker line and the newline it may have
    added before it included. The marker sits right after its cap's head
    (``cap // 2`` characters, one more when a newline was added), which tells
    it from the same words printed by the cell itself."""
    for match in _MARKER.finditer(text):
        old_cap = int(match.group(2).replace(",", ""))
        head = old_cap // 2
        if match.start() == head or (match.start() == head + 1 and text[head] == "\n"):
            return head, match.end(), int(match.group(1).replace(",", ""))
    return None


def cap_text(text: str, cap: int) -> str:
    """``text`` within ``cap`` characters: its head and tail (half the cap each)
    around a marker line that says exactly how many characters were left out.

    The marker is not counted against the cap, and a text that already holds
    one is measured without it, so capping is idempotent: the sidecar caps
    every record on every write, and a capped output must keep the count its
    first cut made (capping the capped text again used to report just the
    marker's own 78 characters as omitted). Cut again under a smaller cap,
    the earlier omission is added to the new count.
    """
    if len(text) <= cap:
        return text
    earlier = _earlier_cut(text) if "characters omitted" in text else None
    if earlier is None:
        head = text[: cap // 2]
        tail = text[len(text) - (cap - cap // 2) :]
        return _join(head, len(text) - len(head) - len(tail), tail, cap)
    start, end, omitted = earlier
    if len(text) - (end - start) <= cap:
        return text
    return cap_parts(text[:start], omitted, text[end:], cap)


def cap_parts(head: str, omitted: int, tail: str, cap: int) -> str:
    """``cap_text`` of a text known as its ``head``, then ``omitted`` characters
    already left out, then its ``tail``: what a stream that is capped while it
    arrives keeps (``outputs.StreamText``). Callers keep at least ``cap // 2``
    characters of head and the rest of the cap of tail, so the result is the
    one ``cap_text`` gives for the whole text."""
    if omitted <= 0:
        return cap_text(head + tail, cap)
    keep_head, keep_tail = cap // 2, cap - cap // 2
    omitted += max(0, len(head) - keep_head) + max(0, len(tail) - keep_tail)
    return _join(head[:keep_head], omitted, tail[max(0, len(tail) - keep_tail) :], cap)


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
