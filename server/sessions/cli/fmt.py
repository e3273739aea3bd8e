"""``sessions fmt NB [--check] [--diff] [--cell N ...]``: format code cells with ruff.

Only code cells change; markers, markdown, raw cells and magics keep their
bytes. Exit codes: 0 formatted (or nothing to do), 1 ``--check``/``--diff``
found cells to reformat or a cell could not be formatted (syntax error), 2
usage or setup error (bad file, bad cell index, ruff cannot run).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

from sessions.cache.atomic import describe_write_error, write_atomic
from sessions.cli.common import fail
from sessions.format.files import NotebookReadError, read_notebook_text
from sessions.format.notebook import parse, serialize
from sessions.formatting import FormatResult, FormatterUnavailable, format_notebook


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "fmt", help="format code cells with ruff (markers, markdown and magics untouched)"
    )
    parser.add_argument("notebook", help="the notebook .py file")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and list the cells that need formatting",
    )
    parser.add_argument(
        "--diff", action="store_true", help="write nothing; print a unified diff, exit 1 if any"
    )
    parser.add_argument(
        "--cell",
        type=int,
        action="append",
        metavar="N",
        help="format only cell N (0-based; repeatable)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.notebook)
    try:
        text = read_notebook_text(path)
    except NotebookReadError as exc:
        return fail(str(exc))
    notebook = parse(text)
    try:
        result = format_notebook(notebook, path=path.resolve(), cells=args.cell)
    except IndexError as exc:
        return fail(f"{path}: {exc}")
    except FormatterUnavailable as exc:
        if str(exc).startswith("cannot run ruff"):
            return fail(f"{exc} (is the `ruff` package installed in {sys.executable}?)")
        return fail(str(exc))  # ruff ran and said why (e.g. an invalid [tool.ruff])

    for index, message in result.errors.items():
        print(f"{path}: cell {index} left unformatted: {message}", file=sys.stderr)
    new_text = serialize(result.notebook)
    if args.check or args.diff:
        return _report_only(args, path, text, new_text, result)
    if new_text != text:
        try:
            # Through a symlink: the link stays a link and its target is formatted.
            write_atomic(path, new_text.encode("utf-8"))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return fail(f"{path}: cannot be written ({reason}); {describe_write_error(path, exc)}")
        print(f"{path}: reformatted {_cells(result.changed)}")
    else:
        print(f"{path}: already formatted")
    return 1 if result.errors else 0


def _report_only(
    args: argparse.Namespace, path: Path, text: str, new_text: str, result: FormatResult
) -> int:
    if args.diff:
        diff = difflib.unified_diff(
            text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"{path}",
            tofile=f"{path} (formatted)",
        )
        sys.stdout.writelines(line if line.endswith("\n") else line + "\n" for line in diff)
    if args.check:
        for index in result.changed:
            name = result.notebook.cells[index].display_name()
            print(f"{path}: cell {index} would be reformatted ({name})")
        if not result.changed:
            print(f"{path}: already formatted")
    return 1 if result.changed or result.errors else 0


def _cells(indexes: list[int]) -> str:
    noun = "cell" if len(indexes) == 1 else "cells"
    return f"{len(indexes)} {noun} ({', '.join(str(i) for i in indexes)})"
