"""What a script or an agent sees of a notebook: one :class:`CellView` per cell,
and cell outputs rendered as plain text (pure: no I/O).

Rich outputs become text an LLM can read: ``text/plain`` when there is one,
and a one-line note for images and other binary data instead of base64.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sessions.analysis.snapshot import Snapshot
from sessions.analysis.staleness import Status
from sessions.cache.records import Output
from sessions.run.outputs import short_result
from sessions.run.widget_text import output_widget_text

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TEXT_TYPES = ("text/plain", "text/markdown", "application/json", "text/latex")


@dataclass(frozen=True)
class CellView:
    """One cell as the API shows it; ``index`` is the 0-based address of DESIGN §2."""

    index: int
    kind: str
    """``code``, ``markdown`` or ``raw``."""
    title: str
    source: str
    """What a notebook UI shows: markdown uncommented, magics uncommented, LF endings."""
    status: Status
    reason: str
    """Why the cell is not fresh ("" when fresh)."""
    defines: tuple[str, ...]
    uses: tuple[str, ...]
    outputs: tuple[Output, ...]
    """The cached outputs (nbformat dicts), kept even when the cell is stale."""
    short_output: str | None
    """A one-line summary of the outputs, or ``None`` when there are none."""
    loaded: bool = False
    """Whether this output was produced in the kernel this object is running."""
    line: int = 0
    """0-based file line of the cell's header (or of the preamble's first line)."""
    is_preamble: bool = False

    @property
    def is_stale(self) -> bool:
        return self.status != "fresh"


def cell_views(snapshot: Snapshot, loaded_runs: Collection[int] = ()) -> list[CellView]:
    views: list[CellView] = []
    for index, cell in enumerate(snapshot.notebook.cells):
        analysis = snapshot.graph.analyses[index]
        state = snapshot.states[index]
        record = snapshot.records[index]
        outputs = tuple(record.outputs) if record is not None else ()
        views.append(
            CellView(
                index=index,
                kind=cell.kind,
                title=cell.title,
                source=cell.source,
                status=state.status,
                reason=state.reason,
                defines=tuple(sorted(analysis.defines)) if analysis else (),
                uses=tuple(sorted(analysis.uses)) if analysis else (),
                outputs=outputs,
                short_output=summarize_outputs(outputs),
                loaded=record is not None and record.run in loaded_runs,
                line=cell.start_line,
                is_preamble=cell.is_preamble,
            )
        )
    return views


def _joined(value: object) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return value if isinstance(value, str) else str(value)


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def summarize_outputs(outputs: Sequence[Output], limit: int = 80) -> str | None:
    """One line: the error, else the last result's text, else the last printed line, else a note."""
    for output in outputs:
        if output.get("output_type") == "error":
            return _one_line(f"{output.get('ename', 'Error')}: {output.get('evalue', '')}", limit)
    result = short_result(list(outputs), limit)
    if result is not None:
        return result
    for output in reversed(outputs):
        if output.get("output_type") == "stream":
            lines = [line for line in _joined(output.get("text", "")).splitlines() if line.strip()]
            if lines:
                return _one_line(lines[-1], limit)
    for output in reversed(outputs):
        data = output.get("data")
        if isinstance(data, dict) and data:
            return f"[{next(iter(data))} output]"
    return None


def _data_text(data: dict[str, object]) -> str:
    parts: list[str] = []
    for mime in _TEXT_TYPES:
        if mime in data:
            parts.append(_joined(data[mime]).rstrip("\n"))
            break
    for mime in data:
        if mime.startswith("image/"):
            parts.append(f"[{mime} image, not shown as text]")
        elif mime == "text/html" and not parts:
            parts.append("[text/html output, not shown as text]")
    if not parts:
        parts.append(f"[{', '.join(data)} output, not shown as text]")
    return "\n".join(parts)


def output_text(output: Output) -> str:
    """One output as plain text (ANSI colours removed)."""
    kind = output.get("output_type")
    if kind == "stream":
        text = _joined(output.get("text", "")).rstrip("\n")
    elif kind == "error":
        traceback = output.get("traceback") or []
        text = "\n".join(_joined(line) for line in traceback) or (
            f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        )
    elif kind in ("execute_result", "display_data") and (widget := output_widget_text(output)):
        text = widget  # what the widget showed when its cell ended, not its constructor call
    elif kind in ("execute_result", "display_data"):
        data = output.get("data")
        text = _data_text(data) if isinstance(data, dict) else ""
    else:
        text = f"[{kind} output]"
    return _ANSI.sub("", text)


def outputs_text(outputs: Sequence[Output], limit: int = 20_000) -> str:
    """All outputs of a cell as text, at most ``limit`` characters (head and tail kept)."""
    text = "\n".join(output_text(o) for o in outputs)
    if len(text) <= limit:
        return text
    head = text[: limit * 2 // 3]
    tail = text[-(limit // 3) :]
    return f"{head}\n… [{len(text) - len(head) - len(tail)} characters cut] …\n{tail}"
