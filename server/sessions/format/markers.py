"""Recognising ``# %%`` cell markers and parsing their header line (DESIGN §2).

A marker is a line that Jupytext's percent format reads as one: optional
indentation, ``#``, optional spaces, ``%%``, then whitespace or the end of the
line, and not inside an open triple-quoted string. ``# %%time`` is a commented
cell magic, not a marker. Like Jupytext, ``# %%%% Title`` (Spyder's sub-cell
depth) is a marker too, but a bare ``# %%%`` is not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

CellType = Literal["code", "markdown", "raw"]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# Characters ``str.splitlines`` breaks on besides CR and LF.
_OTHER_LINE_BREAKS = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"

# Jupytext reads lines without their endings and accepts either
# ``%%`` + more ``%`` + one whitespace (then anything), or ``%%`` + only
# whitespace. A line ending is not "whitespace" here: ``# %%%`` alone is text.
_SPACE = r"[^\S\r\n]"
_MARKER = re.compile(rf"{_SPACE}*#{_SPACE}*%%(?:%*{_SPACE}|{_SPACE}*(?:\r\n|\r|\n)?\Z)")
_MARKER_PREFIX = re.compile(rf"{_SPACE}*#{_SPACE}*%%")

TRIPLE_SQ = "'" * 3
TRIPLE_DQ = '"' * 3
# Tokens that matter for tracking strings across lines: a comment start or a quote.
_STRING_OR_COMMENT = re.compile(r"[#'\"]")
# Rest of a one-line string after its opening quote (backslash escapes honoured).
_SINGLE_END = {q: re.compile(rf"(?:[^{q}\\\r\n]++|\\(?:\r\n|[\s\S]))*+{q}") for q in ("'", '"')}
# Rest of a triple-quoted string up to and including its closing delimiter.
_TRIPLE_END = {
    q * 3: re.compile(rf"(?:[^{q}\\]++|\\[\s\S]|{q}(?!{q}{q}))*+{q}{q}{q}") for q in ("'", '"')
}

_CELL_TYPES: tuple[tuple[str, CellType], ...] = (
    ("[markdown]", "markdown"),
    ("[raw]", "raw"),
    ("[md]", "markdown"),
)
# A metadata key as Jupytext accepts it, then ``=`` (spaces allowed around it).
_KEY = re.compile(r"([A-Za-z0-9_.@/-]+)[ \t]*=[ \t]*")
_KEY_START = re.compile(r"(?:^|(?<=\s))[A-Za-z0-9_.@/-]+[ \t]*=")
_JSON = json.JSONDecoder()


def split_lines(text: str) -> list[str]:
    """Split on ``\\n``, ``\\r\\n`` and ``\\r`` only, keeping line endings.

    ``str.splitlines`` also splits on form feeds and Unicode separators, which
    Python source treats as ordinary characters inside a line.
    """
    if not any(char in text for char in _OTHER_LINE_BREAKS):
        return text.splitlines(keepends=True)  # the same lines, five times faster
    return _LINE.findall(text)


def strip_eol(line: str) -> str:
    """``line`` without its line ending (if any)."""
    return line[: len(line) - len(line_ending(line))]


def line_ending(line: str) -> str:
    """The line ending of ``line``: ``"\\r\\n"``, ``"\\r"``, ``"\\n"`` or ``""``.

    Read from its end (a regex anchored at the end still tried every
    position: the text of a whole cell is often passed)."""
    if line.endswith("\n"):
        return "\r\n" if line.endswith("\r\n") else "\n"
    return "\r" if line.endswith("\r") else ""


def string_state(line: str, state: str | None) -> str | None:
    """The open triple-quote delimiter after ``line``, given the one before it.

    A small lexer: comments and one-line strings are skipped (a one-line string
    left open ends at the line end, as in Jupytext), backslash escapes are
    honoured, and only triple-quoted strings carry over to the next line.
    """
    pos = 0
    while True:
        if state is not None:
            closed = _TRIPLE_END[state].match(line, pos)
            if closed is None:
                return state
            pos, state = closed.end(), None
        token = _STRING_OR_COMMENT.search(line, pos)
        if token is None or token.group() == "#":
            return None
        quote, start = token.group(), token.start()
        if line.startswith(quote * 3, start):
            state, pos = quote * 3, start + 3
            continue
        closed = _SINGLE_END[quote].match(line, start + 1)
        if closed is None:
            return None
        pos = closed.end()


def marker_lines(lines: Sequence[str]) -> tuple[list[int], str | None]:
    """Indexes of the lines that start a cell, and the string state at the end."""
    starts: list[int] = []
    state: str | None = None
    marker = _MARKER.match
    for index, line in enumerate(lines):
        if state is None:
            if "%%" in line and marker(line):
                starts.append(index)
            elif TRIPLE_SQ in line or TRIPLE_DQ in line:
                # Only a triple quote can leave a string open at the end of a line.
                state = string_state(line, None)
        elif state in line:
            state = string_state(line, state)
    return starts, state


@dataclass(frozen=True, slots=True)
class CellHeader:
    """What a marker line says: ``# %% Title [markdown] key=value ...``."""

    title: str = ""
    cell_type: CellType = "code"
    metadata: Mapping[str, Any] = field(default_factory=dict)


def parse_header(line: str) -> CellHeader:
    """Parse a marker line (with or without its line ending). Never raises.

    Follows Jupytext: the metadata is a trailing run of ``key=value`` pairs
    whose values are JSON (or one JSON object), the cell type is a
    ``[markdown]``/``[md]``/``[raw]`` token in the remaining title, and leading
    extra ``%`` (Spyder's sub-cell depth) are not part of the title.
    """
    found = _MARKER_PREFIX.match(line)
    rest = strip_eol(line[found.end() :] if found else line).strip()
    title, metadata = _split_title_metadata(rest)
    cell_type: CellType = "code"
    for token, kind in _CELL_TYPES:
        if token in title:
            title, cell_type = title.replace(token, "").strip(), kind
            break
    if title.startswith("%"):
        title = title.lstrip("%").strip()
    return CellHeader(title=title, cell_type=cell_type, metadata=metadata)


def _split_title_metadata(text: str) -> tuple[str, dict[str, Any]]:
    """Split header text into a title and the longest trailing metadata run."""
    brace, equals = text.find("{"), text.find("=")
    if brace >= 0 and (equals < 0 or brace < equals):
        try:
            value = json.loads(text[brace:])
        except ValueError:
            value = None
        if isinstance(value, dict):
            return text[:brace].strip(), value
    if equals < 0:
        return text, {}
    for key in _KEY_START.finditer(text):
        metadata = _parse_key_values(text, key.start())
        if metadata is not None:
            return text[: key.start()].strip(), metadata
    return text, {}


def _parse_key_values(text: str, pos: int) -> dict[str, Any] | None:
    """``key=JSON`` pairs separated by whitespace from ``pos`` to the end, or None."""
    result: dict[str, Any] = {}
    end = len(text)
    while pos < end:
        key = _KEY.match(text, pos)
        if key is None:
            return None
        try:
            value, pos = _JSON.raw_decode(text, key.end())
        except ValueError:
            return None
        if pos < end and not text[pos].isspace():
            return None
        result[key.group(1)] = value
        while pos < end and text[pos].isspace():
            pos += 1
    return result


def format_header(header: CellHeader) -> str:
    """The marker line for ``header``, without a line ending."""
    parts = ["# %%"]
    if header.title:
        parts.append(header.title)
    if header.cell_type != "code":
        parts.append(f"[{header.cell_type}]")
    parts.extend(
        f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in header.metadata.items()
    )
    return " ".join(parts)


CellBreak = Literal["marker", "string"]


def cell_break(lines: Sequence[str]) -> tuple[int, CellBreak] | None:
    """Where a code cell's text, written under its own marker, stops reading
    back as that one cell: the first line that reads as a marker (a cell
    starts there), or the line that opens a triple-quoted string still open
    at the end (it takes in the markers below). None if it reads back whole."""
    state: str | None = None
    opened = 0
    marker = _MARKER.match
    for index, line in enumerate(lines):
        if state is None:
            if "%%" in line and marker(line):
                return index, "marker"
            if TRIPLE_SQ in line or TRIPLE_DQ in line:
                state = string_state(line, None)
                opened = index
        elif state in line:
            state = string_state(line, state)
            if state is not None:
                opened = index  # closed and opened again (or an escaped quote: near enough)
    return (opened, "string") if state is not None else None
