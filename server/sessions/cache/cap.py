"""The output size caps applied when the sidecar is written (DESIGN §3).

Sizes are counted in characters. Three caps, applied in this order:

* **per output** (``cap``, setting ``sessions.outputCap``, 1,000,000 by
  default): a text longer than the cap keeps its head and tail (half the cap
  each) with a marker line in between saying how much was left out. Binary
  data (base64 images, PDF, audio, video) and JSON values cannot be cut
  meaningfully, so an oversized one is dropped from its mime bundle and a
  marker line is added to the bundle's ``text/plain`` instead.
* **per cell** (``CELL_OUTPUT_TOTAL``, 10,000,000, or the output cap if that
  is larger): a cell whose outputs add up to more keeps its *newest* outputs
  that fit, and one marker output in place of the older ones. The newest are
  the ones to keep: in a loop that shows a figure per step the last shows the
  final state, and an error is always the last output.
* **per notebook** (``NOTEBOOK_OUTPUT_TOTAL``, 50,000,000, or the cell cap if
  larger): the records of the most recently run cells keep their outputs
  first; the cell that crosses the total keeps its newest outputs that still
  fit, the cells run before it keep a marker only (their records stay, so
  staleness is unchanged: only the outputs are gone until they run again).

1,000 images of 100 KB (134 MB of base64) in one cell used to make a 134 MB
sidecar; now 74 of them are kept (10 MB).

A marker output is a ``display_data`` whose ``text/plain`` says how many
outputs and characters were left out and why, and whose metadata carries the
counts (``metadata.sessions.omitted = {"outputs": N, "characters": C,
"cap": "cell" | "notebook"}``) so clients can recognise it. Markers are not
counted against the caps, and capping is idempotent: capping again adds the
new omissions to the marker's counts.

Nothing is changed in place: records and outputs that need capping are
replaced by capped copies, the others are returned as they are (cheap when
nothing is over the cap, which is the common case).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from sessions.cache.encode import is_json_mime, join_text, json_text
from sessions.cache.records import CellRecord, Output

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


CELL_OUTPUT_TOTAL = 10_000_000
"""Characters of outputs kept per cell (at least the per-output cap)."""
NOTEBOOK_OUTPUT_TOTAL = 50_000_000
"""Characters of outputs kept per notebook (at least the per-cell total)."""

OMITTED_KEY = "omitted"
"""``metadata.sessions.omitted`` of a marker output: what it stands for."""


def _text_size(value: Any) -> int:
    joined = join_text(value)
    return len(joined) if isinstance(joined, str) else 0


def output_size(output: Output) -> int:
    """Characters an output holds: its text, mime values, error value and traceback."""
    if omitted_counts(output) is not None:
        return 0  # a marker is not counted against the caps
    size = _text_size(output.get("text")) + _text_size(output.get("evalue"))
    data = output.get("data")
    if isinstance(data, dict):
        for mime, value in data.items():
            size += len(json_text(value)) if is_json_mime(mime) else _text_size(value)
    traceback = output.get("traceback")
    if isinstance(traceback, list):
        size += sum(len(frame) for frame in traceback if isinstance(frame, str))
    return size


def omitted_counts(output: Output) -> tuple[int, int] | None:
    """(outputs, characters) a marker output stands for; None for other outputs."""
    metadata = output.get("metadata")
    if output.get("output_type") != "display_data" or not isinstance(metadata, dict):
        return None
    ours = metadata.get("sessions")
    omitted = ours.get(OMITTED_KEY) if isinstance(ours, dict) else None
    if not isinstance(omitted, dict):
        return None
    count, characters = omitted.get("outputs"), omitted.get("characters")
    if type(count) is not int or type(characters) is not int:
        return None
    return count, characters


def _omitted_output(count: int, characters: int, scope: str, total: int) -> Output:
    earlier = "earlier " if scope == "cell" else ""
    what = f"{count:,} {earlier}output{'s' if count != 1 else ''} ({characters:,} characters)"
    if scope == "cell":
        why = (
            f"this cell's outputs are over the {total:,}-character cap per cell; "
            "the newest are kept"
        )
    else:
        why = (
            f"the notebook's cached outputs are over the {total:,}-character cap; the most "
            "recently run cells keep theirs (run this cell again to see its outputs)"
        )
    return {
        "output_type": "display_data",
        "data": {"text/plain": f"[... {what} omitted: {why} ...]"},
        "metadata": {
            "sessions": {OMITTED_KEY: {"outputs": count, "characters": characters, "cap": scope}}
        },
    }


def _keep_newest(
    outputs: list[Output], sizes: list[int], budget: int, scope: str, total: int
) -> tuple[list[Output], int]:
    """The newest outputs within ``budget`` characters after one marker output
    for the rest (merged with an earlier marker), and the characters kept."""
    kept: list[Output] = []
    used = count = characters = 0
    position = len(outputs)
    while position > 0:
        output, size = outputs[position - 1], sizes[position - 1]
        earlier = omitted_counts(output)
        if earlier is not None:  # an earlier marker: what it stands for is older still
            count, characters = count + earlier[0], characters + earlier[1]
        elif used + size > budget:
            break
        else:
            kept.append(output)
            used += size
        position -= 1
    for output, size in zip(outputs[:position], sizes[:position], strict=True):
        earlier = omitted_counts(output)
        if earlier is not None:
            count, characters = count + earlier[0], characters + earlier[1]
        else:
            count, characters = count + 1, characters + size
    kept.reverse()
    if count:
        kept.insert(0, _omitted_output(count, characters, scope, total))
    return kept, used


def cap_records(
    records: list[CellRecord],
    cap: int,
    *,
    cell_total: int | None = None,
    notebook_total: int | None = None,
) -> list[CellRecord]:
    """The records with every output within ``cap``, each cell's outputs within
    ``cell_total`` and all of them within ``notebook_total`` characters (module
    docstring); unchanged records are reused."""
    cell_total = max(CELL_OUTPUT_TOTAL, cap) if cell_total is None else cell_total
    if notebook_total is None:
        notebook_total = max(NOTEBOOK_OUTPUT_TOTAL, cell_total)
    capped: list[list[Output]] = []
    sizes: list[list[int]] = []
    for record in records:
        outputs = [cap_output(output, cap) for output in record.outputs]
        output_sizes = [output_size(output) for output in outputs]
        if sum(output_sizes) > cell_total:
            outputs, _ = _keep_newest(outputs, output_sizes, cell_total, "cell", cell_total)
            output_sizes = [output_size(output) for output in outputs]
        capped.append(outputs)
        sizes.append(output_sizes)
    totals = [sum(output_sizes) for output_sizes in sizes]
    if sum(totals) > notebook_total:
        remaining = notebook_total
        newest_first = sorted(range(len(records)), key=lambda i: records[i].run, reverse=True)
        for position in newest_first:
            if totals[position] <= remaining:
                remaining -= totals[position]
                continue
            capped[position], used = _keep_newest(
                capped[position], sizes[position], remaining, "notebook", notebook_total
            )
            remaining -= used
    result = []
    for record, outputs in zip(records, capped, strict=True):
        if len(outputs) != len(record.outputs) or any(
            new is not old for new, old in zip(outputs, record.outputs, strict=True)
        ):
            record = dataclasses.replace(record, outputs=outputs)
        result.append(record)
    return result
