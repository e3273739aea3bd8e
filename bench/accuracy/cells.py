"""Cells of a percent-format file as chunks of text, with identities that survive edits.

The benchmark needs to say "cell 7 of the original is cell 8 of the edited
file" after an insert, and to locate the engine's cells in the file. Both work
on the same split: a chunk starts at a ``# %%`` marker line (or at the top of
the file for the preamble) and runs to the next marker, so joining the chunks
gives the file back byte for byte. It is deliberately our own split, not the
engine's, so that a mistake in the engine's parser shows up as a mismatch
instead of being copied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = re.compile(r"^#\s?%%(?!%)")


@dataclass(frozen=True)
class Chunk:
    """One cell's text; ``ident`` is its index in the original file, None if inserted."""

    ident: int | None
    text: str

    @property
    def is_markdown(self) -> bool:
        first = self.text.split("\n", 1)[0]
        return bool(MARKER.match(first)) and re.search(r"\[(markdown|md|raw)\]", first) is not None


def split(text: str) -> list[str]:
    """The file's chunks; the first one is the preamble (possibly empty)."""
    chunks: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if MARKER.match(line):
            chunks.append("".join(current))
            current = []
        current.append(line)
    chunks.append("".join(current))
    return chunks


def identified(text: str) -> list[Chunk]:
    return [Chunk(i, t) for i, t in enumerate(split(text))]


def join(chunks: list[Chunk]) -> str:
    return "".join(c.text for c in chunks)


def start_lines(chunks: list[Chunk]) -> list[int]:
    """0-based file line where each chunk starts."""
    lines, line = [], 0
    for chunk in chunks:
        lines.append(line)
        line += chunk.text.count("\n")
    return lines


def first_code_line(chunk: Chunk, start: int) -> int:
    """File line of the chunk's first non-blank line (how a preamble is located)."""
    for offset, line in enumerate(chunk.text.splitlines()):
        if line.strip():
            return start + offset
    return start
