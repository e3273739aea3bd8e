"""``inlayHint``: the short ``text/plain`` result of a cell's last output, at the end of its last line."""

from __future__ import annotations

from lsprotocol import types

from sessions.analysis.snapshot import Snapshot
from sessions.lsp.outline import last_content_line
from sessions.lsp.positions import LineIndex, to_client_column
from sessions.run.outputs import short_result


def inlay_hints(
    snapshot: Snapshot, index: LineIndex, encoding: str, first: int, last: int
) -> list[types.InlayHint]:
    hints: list[types.InlayHint] = []
    for position, cell in enumerate(snapshot.notebook.cells):
        record = snapshot.records[position]
        if record is None or cell.kind != "code":
            continue
        line = last_content_line(cell)
        if not first <= line <= last or (line == cell.start_line and not cell.is_preamble):
            continue
        text = short_result(record.outputs)
        if text is None:
            continue
        line_text = index.line_text(line)
        hints.append(
            types.InlayHint(
                position=types.Position(
                    line, to_client_column(line_text, len(line_text), encoding)
                ),
                label=f"→ {text}",
                padding_left=True,
                tooltip=f"cell {position}: last result (run {record.run})",
            )
        )
    return hints
