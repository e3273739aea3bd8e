"""``hover`` on a name: which cell defines it, and whether that cell is stale."""

from __future__ import annotations

import re

from sessions.analysis.snapshot import Snapshot

_IDENTIFIER = re.compile(r"[^\W\d]\w*")


def word_at(line: str, column: int) -> str | None:
    for match in _IDENTIFIER.finditer(line):
        if match.start() <= column <= match.end():
            return match.group()
    return None


def _cell_label(snapshot: Snapshot, index: int) -> str:
    name = snapshot.notebook.cells[index].display_name(40)
    return f"cell {index}" + (f" “{name}”" if name else "")


def hover_text(snapshot: Snapshot, line: int, column: int, line_text: str) -> str | None:
    """Markdown for a hover at a file position; None when there is nothing to say."""
    cell = snapshot.notebook.cell_at_line(line)
    name = word_at(line_text, column)
    if cell is None or name is None:
        return None
    analysis = snapshot.graph.analyses[cell]
    if analysis is not None and name in analysis.defines:
        provider: int | None = cell
    else:
        provider = snapshot.graph.providers[cell].get(name)
    if provider is None:
        definers = [
            i for i, a in enumerate(snapshot.graph.analyses) if a is not None and name in a.defines
        ]
        if not definers:
            return None
        provider = definers[0]
    state = snapshot.states[provider]
    where = "this cell" if provider == cell else _cell_label(snapshot, provider)
    text = f"`{name}` — defined in {where}"
    if state.status == "fresh":
        text += " (fresh)"
    else:
        text += f" — **{state.status}**: {state.reason}"
    return text
