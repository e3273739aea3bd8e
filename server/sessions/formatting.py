"""Formatting code cells with the real ``ruff format`` (DESIGN §7).

Each cell is formatted on its own, as ruff formats the cells of a Jupyter
notebook: the whole notebook goes to one ``ruff format`` process as ipynb JSON
on stdin, named after the notebook's path so ruff finds the project's
configuration (``pyproject.toml`` / ``ruff.toml`` from the notebook's folder
up). Ruff's notebook mode understands IPython magics and keeps them verbatim,
formats each cell independently and drops the trailing newline, which is
exactly the per-cell source a :class:`~sessions.format.notebook.Notebook` holds.

Only code cells change, through :func:`~sessions.format.notebook.set_source`, so
markers, markdown, raw cells and the separators between cells keep their
bytes. Magic lines are put back in the exact text they had in the file (for
example ``#%time`` without a space, or a magic left uncommented). A cell that
does not parse is left as it is and reported.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sessions.format.magics import magic_line_mask
from sessions.format.markers import split_lines
from sessions.format.notebook import Cell, ParsedNotebook, set_source

_RUFF_TIMEOUT = 60.0
# ``error: Failed to parse nb.ipynb:3:1:8: Expected ...`` — cell (1-based), line, column.
_PARSE_ERROR = re.compile(r"Failed to parse .*?:(?:cell )?(\d+):(\d+):(\d+): (.*)")


class FormatterUnavailable(RuntimeError):
    """``ruff`` cannot be run (missing, broken, or a bad ruff configuration)."""


class CellSyntaxError(ValueError):
    """The code does not parse, so it is left unformatted."""

    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(f"line {line}, column {col}: {message}")
        self.line = line
        """1-based line within the cell code."""
        self.col = col
        self.detail = message


@dataclass(frozen=True)
class FormatResult:
    notebook: ParsedNotebook
    changed: list[int] = field(default_factory=list)
    """Indexes of cells whose text changed, in file order."""
    errors: dict[int, str] = field(default_factory=dict)
    """Cells left as they were, with the reason (syntax errors, unsafe rewrites)."""


@functools.cache
def ruff_command() -> tuple[str, ...]:
    """The command that runs the ``ruff`` this package depends on."""
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

        return (str(find_ruff_bin()),)
    except (ImportError, FileNotFoundError):
        # ``-m ruff`` looks in the same places and fails with a clear message
        # when the package is not installed.
        return (sys.executable, "-m", "ruff")


def _stdin_filename(path: Path | None) -> str:
    """The name ruff sees: the notebook's path as ``.ipynb`` (config is found from its folder)."""
    if path is None:
        return "notebook.ipynb"
    return str(path.with_suffix(".ipynb"))


def _ipynb_payload(sources: Sequence[str]) -> str:
    cells: list[dict[str, object]] = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"c{position}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for position, source in enumerate(sources)
    ]
    notebook = {
        "cells": cells,
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook)


def _run_ruff(sources: Sequence[str], path: Path | None) -> list[str]:
    """Format ``sources`` as the cells of one notebook; raises CellSyntaxError with ``position``."""
    command = [*ruff_command(), "format", "--stdin-filename", _stdin_filename(path), "-"]
    cwd = path.parent if path is not None and path.parent.is_dir() else None
    try:
        completed = subprocess.run(
            command,
            input=_ipynb_payload(sources),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=_RUFF_TIMEOUT,
            cwd=cwd,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FormatterUnavailable(f"cannot run ruff ({' '.join(command[:3])}): {exc}") from exc
    if completed.returncode != 0:
        match = _PARSE_ERROR.search(completed.stderr)
        if match is not None:
            position = int(match.group(1)) - 1
            error = CellSyntaxError(
                int(match.group(2)), int(match.group(3)), match.group(4).strip()
            )
            raise _PositionedSyntaxError(position, error)
        raise FormatterUnavailable("ruff format failed: " + _ruff_failure(completed))
    try:
        cells = json.loads(completed.stdout)["cells"]
        return [_joined(cell["source"]) for cell in cells]
    except (ValueError, KeyError, TypeError) as exc:
        raise FormatterUnavailable(
            f"ruff format returned something that is not a notebook: {exc}"
        ) from exc


class _PositionedSyntaxError(Exception):
    def __init__(self, position: int, error: CellSyntaxError) -> None:
        super().__init__(str(error))
        self.position = position
        self.error = error


def _joined(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def format_sources(
    sources: Sequence[str], *, path: Path | None
) -> tuple[list[str | None], dict[int, CellSyntaxError]]:
    """Format many cells with as few ruff processes as possible.

    Returns the formatted text per position (``None`` for cells that do not
    parse) and the syntax error of each of those. Ruff stops at the first
    cell it cannot parse, so that cell is set aside and the rest retried.
    """
    results: list[str | None] = [None] * len(sources)
    errors: dict[int, CellSyntaxError] = {}
    pending = list(range(len(sources)))
    while pending:
        try:
            formatted = _run_ruff([sources[i] for i in pending], path)
        except _PositionedSyntaxError as exc:
            if not 0 <= exc.position < len(pending):
                raise FormatterUnavailable(
                    f"ruff reported a syntax error in an unknown cell: {exc}"
                ) from exc
            errors[pending.pop(exc.position)] = exc.error
            continue
        if len(formatted) != len(pending):
            raise FormatterUnavailable("ruff format returned a different number of cells")
        for position, text in zip(pending, formatted, strict=True):
            results[position] = text
        break
    return results, errors


def format_cell_code(code: str, *, path: Path | None) -> str:
    """Format one cell's code (magics uncommented, as the kernel runs it) with ruff.

    The result has no trailing newline unless ``code`` had one. Raises
    :class:`CellSyntaxError` when the code does not parse and
    :class:`FormatterUnavailable` when ruff cannot run.
    """
    if not code.strip():
        return code
    formatted, errors = format_sources([code], path=path)
    if 0 in errors:
        raise errors[0]
    text = formatted[0] or ""
    return text + "\n" if code.endswith("\n") else text


def _magic_lines(code: str) -> list[int]:
    """Positions of the lines of kernel-form ``code`` that are magics (or continue one)."""
    return [k for k, is_magic in enumerate(magic_line_mask(code)) if is_magic]


def _strip_eol(line: str) -> str:
    return line.rstrip("\r\n")


def _with_magic_spellings(
    nb: ParsedNotebook, index: int, original: Cell, text: str
) -> ParsedNotebook | None:
    """Put cell ``index`` of ``nb`` (already set to ``text``) back to its magics' file spelling.

    ``set_source`` writes every magic as ``# %magic``; a line the user wrote as
    ``#%magic`` (or left live) must keep its exact text, at the indentation
    ruff chose. Encoding is line for line, so positions match between the
    kernel form and the file form. Returns ``None`` when ruff did not keep
    the magic lines or the patched cell would not read back as ``text``.
    """
    before = _magic_lines(original.source)
    after = _magic_lines(text)
    source_lines = original.source.split("\n")
    text_lines = text.split("\n")
    if [source_lines[k].strip() for k in before] != [text_lines[k].strip() for k in after]:
        return None
    file_lines = split_lines(original.body)
    cell = nb.cells[index]
    body_lines = split_lines(cell.body)
    if len(body_lines) != len(text_lines):
        return None
    patched = False
    for old_position, new_position in zip(before, after, strict=True):
        spelling = _strip_eol(file_lines[old_position]).lstrip()
        line = text_lines[new_position]
        wanted = line[: len(line) - len(line.lstrip())] + spelling
        current = body_lines[new_position]
        if _strip_eol(current) != wanted:
            body_lines[new_position] = wanted + current[len(_strip_eol(current)) :]
            patched = True
    if not patched:
        return nb
    body = "".join(body_lines)
    header = cell.raw[: len(cell.raw) - len(cell.body) - len(cell.separator)]
    new_cell = Cell(
        raw=header + body + cell.separator,
        start_line=cell.start_line,
        is_preamble=cell.is_preamble,
    )
    if new_cell.source != text:
        return None
    cells = list(nb.cells)
    cells[index] = new_cell  # same line count, so later cells keep their start lines
    return replace(nb, cells=tuple(cells))


def format_notebook(
    nb: ParsedNotebook, *, path: Path | None, cells: Sequence[int] | None = None
) -> FormatResult:
    """Format the code cells of ``nb`` (all, or those in ``cells``) with ruff.

    Raises :class:`FormatterUnavailable` when ruff cannot run and
    ``IndexError`` for a cell index out of range.
    """
    selected = _selected(nb, cells)
    candidates = [i for i in selected if nb.cells[i].kind == "code" and nb.cells[i].source.strip()]
    formatted, syntax_errors = format_sources([nb.cells[i].source for i in candidates], path=path)

    errors: dict[int, str] = {}
    changed: list[int] = []
    result = nb
    for position, index in enumerate(candidates):
        cell = nb.cells[index]
        if position in syntax_errors:
            error = syntax_errors[position]
            line = cell.body_line + error.line
            errors[index] = f"syntax error at line {line}, column {error.col}: {error.detail}"
            continue
        text = formatted[position]
        if text is None or text == cell.source:
            continue
        updated = _with_magic_spellings(set_source(result, index, text), index, cell, text)
        if updated is None or updated.cells[index].source != text:
            errors[index] = "left as is: formatting would change an IPython magic line"
            continue
        result = updated
        changed.append(index)
    return FormatResult(notebook=result, changed=changed, errors=errors)


def _selected(nb: ParsedNotebook, cells: Iterable[int] | None) -> list[int]:
    if cells is None:
        return list(range(len(nb.cells)))
    chosen = sorted(set(cells))
    for index in chosen:
        if not 0 <= index < len(nb.cells):
            raise IndexError(
                f"cell {index} does not exist (the notebook has {len(nb.cells)} cells, 0-based)"
            )
    return chosen


def _ruff_failure(completed: subprocess.CompletedProcess[str]) -> str:
    """Ruff's reason in one line: its ``Cause:`` chain (which config file, where) and the error.

    For a bad ``[tool.ruff]`` the last line alone ("invalid type: string, expected
    i64") does not say which file to fix.
    """
    lines = [line.strip() for line in completed.stderr.strip().splitlines()]
    causes = [line.removeprefix("Cause:").strip() for line in lines if line.startswith("Cause:")]
    parts = [*causes, lines[-1]] if lines else [f"exit code {completed.returncode}"]
    return ": ".join(part for part in parts if part)
