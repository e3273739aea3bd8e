"""Markdown (and raw) cells: commented text in the file, plain text in the UI.

Two file styles, both read like Jupytext reads them:

- every line commented: ``# text`` (or ``#`` for an empty line); each line
  loses one ``# `` or ``#``, lines without one are kept as they are;
- one triple-quoted string right after the header (``\"\"\"``, ``'''``,
  optionally ``r``/``R``-prefixed), holding the text.

:func:`encode_markdown` writes text back in the style the cell already uses,
falling back to the other style when the text cannot be written in it.
"""

from __future__ import annotations

import re

_QUOTE_OPENERS = ('"""', "'''", 'r"""', "r'''", 'R"""', "R'''")
# A text line that would read as a marker once commented: ``%%`` at its start.
_MARKER_AFTER_COMMENT = re.compile(r"^[^\S\n]*%%(?:%*[^\S\n]|[^\S\n]*$)", re.MULTILINE)


def quote_delimiter(body: str) -> str | None:
    """The opening delimiter when ``body`` is one triple-quoted string, else None."""
    content = body.strip()
    for opener in _QUOTE_OPENERS:
        closer = opener[-3:]
        if (
            content.startswith(opener)
            and content.endswith(closer)
            and len(content) >= len(opener) + 3
        ):
            return opener
    return None


def uncomment_markdown(body: str) -> str:
    """File form (LF line endings, no trailing separator) -> the text shown in the UI."""
    opener = quote_delimiter(body)
    if opener is not None:
        text = body.strip()[len(opener) : -3]
        if text.startswith("\n"):
            text = text[1:]
        if text.endswith("\n"):
            text = text[:-1]
        return text
    if "#" not in body:
        return body
    return "\n".join(_uncomment_line(line) for line in body.split("\n"))


def _uncomment_line(line: str) -> str:
    if line.startswith("# "):
        return line[2:]
    if line.startswith("#"):
        return line[1:]
    return line


def comment_markdown(text: str) -> str:
    """``# `` before every line (a bare ``#`` for an empty line)."""
    if text == "":
        return ""
    return "\n".join("# " + line if line else "#" for line in text.split("\n"))


def encode_markdown(text: str, opener: str | None = None) -> str:
    """UI text -> file form (LF), in the quote style ``opener`` if given and possible.

    The commented style is used unless a text line starting with ``%%`` would
    become a cell marker once commented; then a quote style is tried. Either
    way :func:`uncomment_markdown` of the result gives ``text`` back (a text with
    such a line *and* both kinds of triple quotes cannot stay one cell).
    """
    openers = [opener] if opener else []
    if _MARKER_AFTER_COMMENT.search(text) is not None:
        openers += ['"""', "'''"]
    for candidate in openers:
        quoted = _quote(text, candidate)
        if quoted is not None:
            return quoted
    return comment_markdown(text)


def _quote(text: str, opener: str) -> str | None:
    closer = opener[-3:]
    if closer in text:
        return None
    return f"{opener}\n{text}\n{closer}"
