"""Edits of the kinds users make, defined by pattern so that they stay reproducible.

An edit is applied at run time to the pristine corpus text; nothing edited is
ever written back to the corpus. Each edit finds its cell by a regular
expression (the first chunk that matches), so an edit that no longer applies
to a new version of a corpus file fails loudly instead of silently editing
something else. Edits keep chunk identities: a changed chunk keeps its
``ident``, an inserted one has ``None``, a deleted one disappears.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from accuracy.cells import Chunk, identified, join, split

KINDS = (
    "constant",
    "styling",
    "display",
    "comment",
    "format",
    "insert",
    "delete",
    "move",
    "function",
    "seed",
    "config",
    "file",
)


class EditError(Exception):
    """The edit's pattern did not match the notebook (the corpus changed?)."""


@dataclass(frozen=True)
class Edited:
    text: str
    chunks: list[Chunk]
    # Cells the user touched: text changed, or moved. They are left out of
    # the "downstream only" figures.
    touched: frozenset[int]


@dataclass(frozen=True)
class Edit:
    kind: str
    label: str

    def apply(self, text: str) -> Edited:
        raise NotImplementedError


def _find(chunks: list[Chunk], cell: str) -> int:
    pattern = re.compile(cell, re.MULTILINE)
    for i, chunk in enumerate(chunks):
        if pattern.search(chunk.text):
            return i
    raise EditError(f"no cell matches {cell!r}")


def _result(chunks: list[Chunk], original: list[Chunk], extra: set[int] | None = None) -> Edited:
    before = {c.ident: c.text for c in original}
    touched = {c.ident for c in chunks if c.ident is not None and before[c.ident] != c.text}
    return Edited(join(chunks), chunks, frozenset(touched | (extra or set())))


@dataclass(frozen=True)
class Replace(Edit):
    """Substitute ``pattern`` by ``repl`` inside the first cell matching ``cell``."""

    cell: str = ""
    pattern: str = ""
    repl: str = ""
    count: int = 1

    def apply(self, text: str) -> Edited:
        original = identified(text)
        chunks = list(original)
        i = _find(chunks, self.cell)
        new, n = re.subn(
            self.pattern, self.repl, chunks[i].text, count=self.count, flags=re.MULTILINE
        )
        if n == 0:
            raise EditError(f"{self.pattern!r} does not match in the cell matching {self.cell!r}")
        chunks[i] = Chunk(chunks[i].ident, new)
        return _result(chunks, original)


@dataclass(frozen=True)
class Insert(Edit):
    """A new code cell after the first cell matching ``after``."""

    after: str = ""
    code: str = ""

    def apply(self, text: str) -> Edited:
        original = identified(text)
        chunks = list(original)
        i = _find(chunks, self.after)
        body = chunks[i].text
        # Keep the file's shape: the new cell starts on a line of its own.
        if not body.endswith("\n"):
            chunks[i] = Chunk(chunks[i].ident, body + "\n")
        chunks.insert(i + 1, Chunk(None, f"# %%\n{self.code.rstrip()}\n\n"))
        return _result(chunks, original)


@dataclass(frozen=True)
class Delete(Edit):
    """Remove the first cell matching ``cell``."""

    cell: str = ""

    def apply(self, text: str) -> Edited:
        original = identified(text)
        chunks = list(original)
        del chunks[_find(chunks, self.cell)]
        return _result(chunks, original)


@dataclass(frozen=True)
class Move(Edit):
    """Move the first cell matching ``cell`` to just after the first cell matching ``after``."""

    cell: str = ""
    after: str = ""

    def apply(self, text: str) -> Edited:
        original = identified(text)
        chunks = list(original)
        moving = chunks.pop(_find(chunks, self.cell))
        if not moving.text.endswith("\n"):
            moving = Chunk(moving.ident, moving.text + "\n")
        target = _find(chunks, self.after)
        if not chunks[target].text.endswith("\n"):
            chunks[target] = Chunk(chunks[target].ident, chunks[target].text + "\n")
        chunks.insert(target + 1, moving)
        assert moving.ident is not None
        return _result(chunks, original, {moving.ident})


@dataclass(frozen=True)
class Format(Edit):
    """``ruff format`` of the whole file, with ruff's defaults (not this repo's settings)."""

    def apply(self, text: str) -> Edited:
        original = identified(text)
        ruff = Path(sys.executable).with_name("ruff")
        command = [str(ruff)] if ruff.exists() else [sys.executable, "-m", "ruff"]
        done = subprocess.run(
            [*command, "format", "--isolated", "--stdin-filename", "notebook.py", "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
        )
        pieces = split(done.stdout)
        if len(pieces) != len(original):
            raise EditError(
                f"ruff format changed the number of cells ({len(original)} → {len(pieces)})"
            )
        # The formatter never moves a marker across code, so cells map by position.
        chunks = [Chunk(c.ident, t) for c, t in zip(original, pieces, strict=True)]
        return _result(chunks, original)


@dataclass(frozen=True)
class Case:
    """One corpus notebook and the edits made to it."""

    name: str
    kind: str
    edits: tuple[Edit, ...]
    data: tuple[str, ...] = field(default=())
    # The notebook's text file; empty for the corpus's ``NAME.py.txt``.
    source: str = ""


@dataclass(frozen=True)
class ReplaceAt(Edit):
    """Substitute ``pattern`` by ``repl`` in the chunk at ``position``: an edit
    derived by rule (``accuracy/generated.py``), which knows its cell by place."""

    position: int = 0
    pattern: str = ""
    repl: str = ""

    def apply(self, text: str) -> Edited:
        original = identified(text)
        chunks = list(original)
        if not 0 <= self.position < len(chunks):
            raise EditError(f"the notebook has no chunk {self.position}")
        chunk = chunks[self.position]
        new, n = re.subn(self.pattern, self.repl, chunk.text, count=1, flags=re.MULTILINE)
        if n == 0:
            raise EditError(f"{self.pattern!r} does not match in chunk {self.position}")
        chunks[self.position] = Chunk(chunk.ident, new)
        return _result(chunks, original)
