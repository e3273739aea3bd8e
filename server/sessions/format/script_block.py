"""PEP 723 inline script metadata: the ``# /// script`` block of a notebook.

A notebook whose preamble (the text before the first ``# %%``) carries a
block such as::

    # /// script
    # requires-python = ">=3.11"
    # dependencies = ["pandas>=2", "pyjokes==0.8.3"]
    # ///

gets its kernel in an environment built from it (``kernel/script_env.py``).
This module only reads and places such blocks in text: no I/O.

The block is found with the regular expression of PEP 723, made tolerant of
CRLF line endings (a notebook saved on Windows keeps its block). Its content
is the block's lines less their leading ``# `` (or ``#``), read as TOML.
PEP 723 asks tools to refuse two blocks of the same type, and so do we.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass

from sessions.format.notebook import ParsedNotebook, parse

__all__ = [
    "BLOCK_TYPE",
    "ScriptBlock",
    "ScriptBlockError",
    "env_key",
    "find_blocks",
    "notebook_script_block",
    "preamble_block_span",
    "read_script_block",
    "with_block_replaced",
    "with_empty_script_block",
]

BLOCK_TYPE = "script"

# PEP 723's expression, with an optional ``\r`` before each line end: ``$``
# matches only before ``\n``, so the original misses every CRLF block.
_BLOCK = re.compile(
    r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)\r?$\s(?P<content>(^#(|\r| .*)$\s)+)^# ///(?=\r?$)"
)
# (The closing line's "\r" is left out of the match, as its "\n" is: a block
# spliced in by ``with_block_replaced`` keeps the file's own line ending.)

_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")
"""PEP 263's encoding declaration (it must stay on the first two lines)."""

_NAME_START = re.compile(r"[A-Za-z0-9]")
"""A PEP 508 requirement starts with its project name (letter or digit)."""


class ScriptBlockError(ValueError):
    """The ``# /// script`` block cannot be used; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class RawBlock:
    """A ``# /// TYPE`` block as found in text: where it is and its TOML."""

    type: str
    start: int
    """Offset of the ``# ///`` opening line in the searched text."""
    end: int
    """Offset just past the closing ``# ///`` (its line ending excluded)."""
    content: str
    """The lines between, uncommented: TOML text."""


@dataclass(frozen=True, slots=True)
class ScriptBlock:
    """The ``script`` block's metadata, checked."""

    dependencies: tuple[str, ...]
    requires_python: str | None
    text: str
    """The block as written, from ``# /// script`` to the closing ``# ///``."""
    start_line: int = 0
    """0-based file line of the opening ``# /// script``."""

    def summary(self) -> str:
        """``3 dependencies, Python >=3.11`` for messages."""
        count = len(self.dependencies)
        words = f"{count} dependenc{'y' if count == 1 else 'ies'}"
        return f"{words}, Python {self.requires_python}" if self.requires_python else words


def find_blocks(text: str) -> Iterator[RawBlock]:
    """Every ``# /// TYPE`` block in ``text``, in order."""
    for match in _BLOCK.finditer(text):
        # Split on "\n" alone: splitlines() also splits at characters (U+2028,
        # form feed...) that a TOML string may hold.
        lines = [line.removesuffix("\r") for line in match.group("content").split("\n")[:-1]]
        content = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in lines)
        yield RawBlock(match.group("type"), match.start(), match.end(), content + "\n")


def read_script_block(text: str) -> ScriptBlock | None:
    """The ``script`` block of ``text`` (``None`` without one).

    Raises :class:`ScriptBlockError` when there are two, when the content is
    not TOML, or when ``dependencies`` / ``requires-python`` have the wrong shape.
    """
    found = [block for block in find_blocks(text) if block.type == BLOCK_TYPE]
    if not found:
        return None
    if len(found) > 1:
        raise ScriptBlockError(
            f"there are {len(found)} `# /// script` blocks; PEP 723 allows one: merge them"
        )
    raw = found[0]
    try:
        data = tomllib.loads(raw.content)
    except tomllib.TOMLDecodeError as error:
        raise ScriptBlockError(f"the `# /// script` block is not valid TOML ({error})") from None
    return ScriptBlock(
        dependencies=_dependencies(data),
        requires_python=_requires_python(data),
        text=text[raw.start : raw.end],
        start_line=text.count("\n", 0, raw.start),
    )


def _dependencies(data: dict[str, object]) -> tuple[str, ...]:
    value = data.get("dependencies", [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ScriptBlockError(
            "`dependencies` in the `# /// script` block should be a list of strings, "
            'like dependencies = ["pandas>=2"]'
        )
    cleaned = tuple(item.strip() for item in value)
    for item in cleaned:
        # An entry starting with "-" would reach uv as an option (--index-url=...).
        if not _NAME_START.match(item):
            raise ScriptBlockError(
                f"{item!r} in the `# /// script` block is not a requirement: each entry "
                'is a package name with an optional version, like "pandas>=2"'
            )
    return cleaned


def _requires_python(data: dict[str, object]) -> str | None:
    value = data.get("requires-python")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ScriptBlockError(
            '`requires-python` in the `# /// script` block should be a string like ">=3.11"'
        )
    return value.strip()


def notebook_script_block(notebook: ParsedNotebook) -> tuple[ScriptBlock | None, int | None]:
    """The preamble's ``script`` block, and the index of a later cell that
    holds one instead (such a block is not used: it says so to the user).

    Raises :class:`ScriptBlockError` for a broken block in the preamble.
    """
    offset = _count_lines(notebook.header) + _count_lines(notebook.prefix)
    for index, cell in enumerate(notebook.cells):
        if cell.is_preamble:
            block = read_script_block(cell.raw)
            if block is not None:
                return _moved(block, offset), None
        elif cell.raw and any(b.type == BLOCK_TYPE for b in find_blocks(cell.raw)):
            return None, index
    return None, None


def _moved(block: ScriptBlock, lines: int) -> ScriptBlock:
    return ScriptBlock(
        block.dependencies, block.requires_python, block.text, block.start_line + lines
    )


def _count_lines(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def env_key(block: ScriptBlock) -> str:
    """The name of the block's environment: a hash of what decides its
    contents (requires-python and the dependencies, order and layout aside),
    so equal blocks in several notebooks share one environment."""
    canonical = json.dumps(
        {"requires-python": block.requires_python, "dependencies": sorted(block.dependencies)},
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def preamble_block_span(text: str) -> tuple[int, int] | None:
    """Where the preamble's ``script`` block is in ``text``: the offsets of its
    opening ``#`` and just past its closing ``# ///`` (``None``: no block)."""
    notebook = parse(text)
    start = (1 if notebook.bom else 0) + len(notebook.header) + len(notebook.prefix)
    for cell in notebook.cells:
        if cell.is_preamble:
            for block in find_blocks(cell.raw):
                if block.type == BLOCK_TYPE:
                    return start + block.start, start + block.end
            return None
        start += len(cell.raw)
    return None


def with_block_replaced(text: str, span: tuple[int, int], block: str) -> str:
    """``text`` with ``span`` (from :func:`preamble_block_span`) replaced by
    ``block``, whose line endings become the notebook's (a CRLF file stays
    CRLF); every byte outside the span is kept."""
    newline = parse(text).newline
    lines = block.replace("\r\n", "\n").split("\n")
    start, end = span
    return text[:start] + newline.join(lines) + text[end:]


def with_empty_script_block(text: str) -> str:
    """``text`` with an empty ``# /// script`` block at the top of its preamble.

    It goes after a Jupytext YAML header (which must stay first) and after a
    shebang or an encoding line (which must stay on the first lines); a
    notebook without a preamble gets one, separated from its first cell by a
    blank line. Everything else is kept byte for byte.
    """
    notebook = parse(text)
    newline = notebook.newline
    bom = "\ufeff" if notebook.bom else ""
    body = text[len(bom) :]
    head_length = len(notebook.header)
    preamble = next((cell for cell in notebook.cells if cell.is_preamble), None)
    block = f"# /// script{newline}# dependencies = []{newline}# ///{newline}"
    if preamble is None:
        # Header, whitespace-only prefix, then the first marker: the block and a
        # blank line go before the marker, the prefix stays above them.
        at = head_length + len(notebook.prefix)
        return bom + body[:at] + block + newline + body[at:]
    lines = preamble.raw.splitlines(keepends=True)
    kept = 0
    if not notebook.header:
        if lines and lines[0].startswith("#!"):
            kept = 1
        if kept < len(lines) and kept < 2 and _CODING.match(lines[kept]):
            kept += 1
    if kept and not lines[kept - 1].endswith(("\n", "\r")):
        # The preamble is one line without an ending: give it one first.
        lines[kept - 1] += newline
    head = body[:head_length] + "".join(lines[:kept])
    rest = "".join(lines[kept:])
    return bom + head + block + rest + body[head_length + len(preamble.raw) :]
