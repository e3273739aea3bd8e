"""The plain-Python text the analysis parses for a cell's code.

A cell's code may contain IPython syntax that ``ast.parse`` rejects: line
magics (``%matplotlib inline``), shell escapes (``!pip install x``), assignment
from them (``x = !ls``, ``t = %time f()``), help (``obj?``, ``??obj``) and a cell
magic on the first line (``%%time``). Each such line is replaced by Python with
the same line number, and wherever code survives (``%time x = f()``) at the
same columns, so names found in the result point at the right place.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from sessions.format.magics import magic_line_mask

# Cell magics whose body is Python run in the user namespace.
_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})

# Line magics whose argument (when it has no options) is a Python statement.
_STATEMENT_LINE_MAGIC = re.compile(r"(\s*)(%(?:time|timeit|prun)\s+)(?!-)(\S.*)\Z")
_ASSIGN_FROM_MAGIC = re.compile(
    r"(\s*[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*)(?:(%(?:time|timeit|prun)\s+)(?!-)(\S.*)|[%!].*)\Z"
)
_HELP = re.compile(r"\s*(?:\?{1,2}\s*[\w.*]+|[\w.]+\s*\?{1,2})\s*\Z")
_CELL_MAGIC = re.compile(r"%%(\w+)(.*)\Z")
_CAPTURE_NAME = re.compile(r"\s+([A-Za-z_]\w*)")
_SHELL_COMMAND = re.compile(r"\s*(?:[A-Za-z_][\w, \t]*=\s*)?!(.*)\Z")
_NAMESPACE_MAGIC = re.compile(r"\s*%(?:who|whos|who_ls)\b")
# A shell word that names a file: no option dash, no shell expansion, a dot or a slash.
_FILE_WORD = re.compile(r"[^-$`{}|&;<>*?][^$`{}|&;<>*?]*[./][^$`{}|&;<>*?]*\Z")
# Cheap pre-check: could any line be a magic, a shell escape, an assignment from
# one, or a help request? Most cells with ``%`` or ``!`` only use ``a % b``, ``!=``.
_MAYBE_IPYTHON = re.compile(
    r"^[ \t]*(?:[%!?]|[\w.]+[ \t]*\?|[A-Za-z_][\w., \t]*=[ \t]*[%!])|\?[ \t]*$", re.MULTILINE
)


@dataclass(frozen=True, slots=True)
class CellPython:
    """What to parse for a cell, and what its cell magic binds."""

    text: str | None
    """Python text with as many lines as the code; ``None`` when the cell body
    is not Python for this kernel's namespace (``%%bash``, ``%%html``...)."""
    magic_binds: tuple[tuple[str, int, int], ...] = ()
    """Names a cell magic assigns (``%%capture out``): (name, line, column)."""
    cell_magic: tuple[str, str] | None = None
    """The cell magic on the first line, as (name, arguments), when there is one."""
    shell_files: tuple[tuple[int, str], ...] = ()
    """(line, path) for each file a shell escape names (``!head data.csv``)."""
    namespace_lines: tuple[int, ...] = ()
    """Lines of ``%who``/``%whos``/``%who_ls``, which show every name defined so far."""


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _statement_magic(indent: str, prefix: str, rest: str) -> str:
    """``%time x = f()`` -> ``if 1: x = f()``: same columns, still one line."""
    if len(prefix) >= len("if 1:") and _parses("if 1: " + rest):
        return indent + "if 1:" + " " * (len(prefix) - len("if 1:")) + rest
    return indent + "pass"


def _assignment_magic(match: re.Match[str]) -> str:
    lhs, prefix, rest = match.group(1), match.group(2), match.group(3)
    if prefix is not None and _parses(rest):
        return lhs + " " * len(prefix) + rest
    return lhs + "..."


def _neutralize_magic(line: str) -> str:
    """Python with the same columns for one magic line (``is_magic_line``)."""
    indent = line[: len(line) - len(line.lstrip())]
    if line.rstrip().endswith("\\"):
        return indent + "pass"  # continues on the next line: nothing to keep
    match = _STATEMENT_LINE_MAGIC.match(line)
    if match:
        return _statement_magic(match.group(1), match.group(2), match.group(3))
    assigned = _ASSIGN_FROM_MAGIC.match(line)
    if assigned:
        return _assignment_magic(assigned)
    return indent + "pass"


def cell_python(code: str) -> CellPython:
    """Neutralize IPython syntax in ``code``, keeping line numbers and columns."""
    if "%" not in code and "!" not in code and "?" not in code:
        return CellPython(code)
    if _MAYBE_IPYTHON.search(code) is None:
        return CellPython(code)
    lines = code.split("\n")
    binds: list[tuple[str, int, int]] = []
    changed = False
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    cell_magic = _CELL_MAGIC.match(lines[first]) if first is not None else None
    if first is not None and cell_magic:
        name, args = cell_magic.group(1), cell_magic.group(2)
        if name not in _PYTHON_CELL_MAGICS:
            return CellPython(None, cell_magic=(name, args.strip()))
        if name == "capture":
            # ``%%capture [--no-stderr ...] out`` binds ``out`` in the namespace.
            for word in _CAPTURE_NAME.finditer(args):
                binds.append((word.group(1), first, cell_magic.start(2) + word.start(1)))
        lines[first] = ""
        changed = True
    mask = magic_line_mask(code)
    original = code.split("\n")
    shell_files: list[tuple[int, str]] = []
    namespace_lines: list[int] = []
    for index, line in enumerate(original):
        if index == first and changed:
            continue  # the cell magic, already handled
        if mask[index]:
            shell = _SHELL_COMMAND.match(line)
            if shell is not None:
                words = shell.group(1).replace(">", " ").split()[1:]
                shell_files.extend((index, word) for word in words if _FILE_WORD.match(word))
            elif _NAMESPACE_MAGIC.match(line):
                namespace_lines.append(index)
            # A magic's continuation line becomes blank: blank lines fit any indentation.
            continued = (
                index > 0 and mask[index - 1] and original[index - 1].rstrip().endswith("\\")
            )
            lines[index] = "" if continued else _neutralize_magic(line)
            changed = True
        elif "?" in line and _HELP.match(line):
            lines[index] = line[: len(line) - len(line.lstrip())] + "pass"
            changed = True
    if not changed:
        return CellPython(code)
    magic = (cell_magic.group(1), cell_magic.group(2).strip()) if cell_magic else None
    return CellPython(
        "\n".join(lines), tuple(binds), magic, tuple(shell_files), tuple(namespace_lines)
    )
