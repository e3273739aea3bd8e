"""The notebook a report is rendered from: the ``.ipynb`` export plus what Sessions knows.

HTML and Markdown reports are rendered by nbconvert from an nbformat
notebook. This module builds it from a :class:`Snapshot`: the cells and
cached outputs as ``ipynb.to_ipynb`` exports them (widget state moved to
``metadata.widgets``, where nbconvert's templates embed it), and, under the
``sessions`` metadata key that our templates read, the facts a reader needs
to judge the outputs — each code cell's status in words and when its output
was produced, the interpreter, a summary — and the text a widget shows (from
its saved state) for a reader whose browser cannot load the widget manager.

Wording follows DESIGN §5: "code changed since this output", never a claim
that kernel state was consistent. Pure: no nbconvert, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sessions._version import __version__
from sessions.analysis.snapshot import Snapshot
from sessions.analysis.staleness import CellState, has_code_to_run
from sessions.cache.records import CellRecord
from sessions.ipynb import to_ipynb
from sessions.kernel.comms import WIDGET_STATE_MIME
from sessions.run.widget_text import widget_text

SESSIONS_KEY = "sessions"
"""The metadata key (notebook, cell, output) our templates read."""
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"

STATUS_KIND = {
    "fresh": "fresh",
    "edited": "stale",
    "upstream": "stale",
    "never-run": "never-run",
    "error": "error",
}
"""Status -> the class a template styles: the two stale statuses look alike."""
_MARK = {"fresh": "✓", "stale": "●", "never-run": "○", "error": "✗"}

# Math a browser would typeset: $…$ on one line, \( \[ or an environment.
# A lone "$5" is not math; a notebook without any does not load MathJax.
_MATH = re.compile(r"\$[^$\n]+\$|\\\(|\\\[|\\begin\{")


@dataclass(frozen=True, slots=True)
class CellReport:
    """What a report says about one code cell."""

    index: int
    status: str
    """The cell's status (DESIGN §5)."""
    kind: str
    """``fresh``, ``stale``, ``never-run`` or ``error`` (``STATUS_KIND``)."""
    text: str
    """The status in words: ``● stale: code changed since this output``."""
    ran: str
    """When the output was produced: ``ran 2026-11-21 10:00:00 UTC in 0.12 s``; "" if never."""

    def line(self) -> str:
        return f"{self.text} · {self.ran}" if self.ran else self.text


def report_notebook(snapshot: Snapshot) -> dict[str, Any]:
    """The nbformat notebook (a dict) of ``snapshot`` for nbconvert, with our facts.

    Raises ``ipynb.IpynbError`` when the YAML header cannot be read.
    """
    data = to_ipynb(snapshot.notebook, snapshot.records, language=snapshot.sidecar.kernel.language)
    reports = cell_reports(snapshot)
    for report in reports:
        data["cells"][report.index]["metadata"].setdefault(SESSIONS_KEY, {}).update(
            status=report.status, kind=report.kind, text=report.text, ran=report.ran
        )
    _add_widget_text(data)
    kernel = snapshot.sidecar.kernel
    data["metadata"][SESSIONS_KEY] = {
        "notebook": snapshot.path.name,
        "python": kernel.python,
        "language": kernel.language,
        "produced": produced_between(snapshot.records),
        "summary": summary(reports),
        "math": has_math(data["cells"]),
        "version": __version__,
    }
    return data


def cell_reports(snapshot: Snapshot) -> list[CellReport]:
    """One report per code cell that has code to run, in file order."""
    return [
        cell_report(index, snapshot.states[index], snapshot.records[index])
        for index in range(len(snapshot.notebook.cells))
        if has_code_to_run(snapshot.notebook, snapshot.graph, index)
    ]


def cell_report(index: int, state: CellState, record: CellRecord | None) -> CellReport:
    kind = STATUS_KIND[state.status]
    if kind == "fresh":
        text = "✓ fresh"
    elif kind == "stale":
        text = f"● stale: {state.reason}"
    elif kind == "never-run":
        text = "○ never run"
    else:
        text = f"✗ {state.reason}"
    return CellReport(index, state.status, kind, text, ran_text(record))


def ran_text(record: CellRecord | None) -> str:
    if record is None:
        return ""
    parts = []
    if record.started is not None:
        parts.append(f"ran {utc_text(record.started)}")
    if record.duration is not None:
        parts.append(f"in {record.duration:.2f} s")
    return " ".join(parts) if parts else "ran (time not recorded)"


def utc_text(moment: datetime) -> str:
    """``2026-11-21 10:00:00 UTC`` (a time without a zone is taken as UTC, as it was written)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def produced_between(records: Iterable[CellRecord | None]) -> str:
    """When the outputs shown were produced: one time, or the first and the last."""
    moments = sorted(
        r.started.replace(tzinfo=r.started.tzinfo or UTC)
        for r in records
        if r is not None and r.started
    )
    if not moments:
        return ""
    first, last = utc_text(moments[0]), utc_text(moments[-1])
    if first == last:
        return first
    if first[:10] == last[:10]:  # the same day: its date once
        return f"{first.removesuffix(' UTC')} to {last[11:]}"
    return f"{first} to {last}"


def summary(reports: Sequence[CellReport]) -> str:
    """``3 fresh · 1 stale · 1 never run`` over the code cells (kinds with no cell left out)."""
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.kind] = counts.get(report.kind, 0) + 1
    words = {"fresh": "fresh", "stale": "stale", "never-run": "never run", "error": "failed"}
    return " · ".join(
        f"{_MARK[kind]} {counts[kind]} {word}" for kind, word in words.items() if kind in counts
    )


def has_math(cells: Sequence[Mapping[str, Any]]) -> bool:
    """Whether some markdown (a cell or an output) or a LaTeX output holds math."""
    for cell in cells:
        if cell.get("cell_type") == "markdown" and _MATH.search(str(cell.get("source", ""))):
            return True
        for output in cell.get("outputs", ()):
            data = output.get("data") or {}
            if "text/latex" in data or _MATH.search(str(data.get("text/markdown", ""))):
                return True
    return False


def _add_widget_text(data: dict[str, Any]) -> None:
    """Each widget view's text, drawn from the embedded widget state, on its output."""
    saved = data["metadata"].get("widgets", {}).get(WIDGET_STATE_MIME, {})
    models = saved.get("state") if isinstance(saved, Mapping) else None
    for cell in data["cells"]:
        for output in cell.get("outputs", ()):
            view = (output.get("data") or {}).get(WIDGET_VIEW_MIME)
            if not isinstance(view, Mapping) or not isinstance(view.get("model_id"), str):
                continue
            text = widget_text(view["model_id"], models) if isinstance(models, Mapping) else ""
            if not text:
                plain = output["data"].get("text/plain", "")
                text = "".join(plain) if isinstance(plain, list) else str(plain)
            output.setdefault("metadata", {}).setdefault(SESSIONS_KEY, {})["widget_text"] = text
