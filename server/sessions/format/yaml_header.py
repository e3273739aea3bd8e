"""The YAML header Jupytext writes at the top of a percent file: notebook metadata.

Jupytext keeps a notebook's metadata as a commented YAML block before the
first cell::

    # ---
    # jupyter:
    #   kernelspec:
    #     name: python3
    # ---

It is read by Jupytext's rules, so cell indexes match Jupyter, VS Code and
Jupytext: an optional shebang and ``coding`` line, then ``#`` lines whose text
(one ``# `` or ``#`` removed) is ``---``, the YAML, ``---``; blank comment lines
may come before the opening ``---``, and one blank line after the closing one
belongs to the header. Every line of the block must be a comment, so nothing
executable is ever taken out of the code. The ``jupyter:`` section is the
notebook metadata (the shebang and coding line go into its ``jupytext`` table,
as ``executable`` and ``encoding``); any other top-level YAML is what Jupytext
calls root-level metadata and shows as a raw cell on top, the *frontmatter*.

Without an opening and closing ``---`` there is no header: a shebang or a
coding line alone stays in the preamble (DESIGN §2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from sessions.format.markers import line_ending, strip_eol

_RULE = re.compile(r"---\s*\Z")
_JUPYTER_KEY = re.compile(r"jupyter\s*:\s*\Z")
_CODING = re.compile(r"[ \t\f]*#.*?coding[:=][ \t]*[-_.a-zA-Z0-9]+")
_DELIMITER = "---"


class HeaderError(ValueError):
    """The header's YAML cannot be used as notebook metadata; the message says where and why."""


def _uncomment(line: str) -> str:
    """A header line's text: without its line ending and one ``# `` (or ``#``)."""
    text = strip_eol(line)
    if text.startswith("# "):
        return text[2:]
    return text[1:] if text.startswith("#") else text


def comment_line(text: str) -> str:
    """``# text``, or a bare ``#`` for an empty line (as Jupytext comments)."""
    return "# " + text if text else "#"


@dataclass(frozen=True, slots=True)
class HeaderBlock:
    """Where the header's parts are, as indexes into its lines (endings kept)."""

    lines: tuple[str, ...]
    opening: int
    """The opening ``# ---`` (shebang, coding and blank comment lines come before)."""
    closing: int
    jupyter: frozenset[int]
    """Lines of the ``jupyter:`` section."""
    executable: str | None = None
    encoding: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.lines)

    @property
    def root(self) -> list[int]:
        """Lines of root-level (non-``jupyter``) YAML, in file order."""
        return [i for i in range(self.opening + 1, self.closing) if i not in self.jupyter]

    @property
    def frontmatter(self) -> str | None:
        """The raw cell Jupytext shows for root-level YAML: ``---``, its lines, ``---``."""
        root = self.root
        if not root:
            return None
        return "\n".join([_DELIMITER, *(_uncomment(self.lines[i]) for i in root), _DELIMITER])

    def metadata(self) -> dict[str, Any]:
        """The notebook metadata: the ``jupyter:`` section, plus shebang and coding line.

        Raises :class:`HeaderError` when the YAML does not parse, is not a
        mapping, or holds values JSON cannot (the ``.ipynb`` is JSON).
        """
        metadata: dict[str, Any] = {}
        if self.jupyter:
            first = min(self.jupyter)
            text = "\n".join(_uncomment(self.lines[i]) for i in sorted(self.jupyter))
            import yaml  # on first use: 35 ms of start-up otherwise

            try:
                loaded = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f"line {first + 1 + mark.line}" if mark is not None else f"line {first + 1}"
                problem = getattr(exc, "problem", None) or str(exc)
                raise HeaderError(f"{where}: the YAML header does not parse ({problem})") from exc
            section = loaded.get("jupyter") if isinstance(loaded, dict) else None
            if section is not None and not isinstance(section, dict):
                raise HeaderError(
                    f"line {first + 1}: `jupyter:` in the YAML header is not a mapping"
                )
            metadata = dict(section or {})
        extra = {
            key: value
            for key, value in (("executable", self.executable), ("encoding", self.encoding))
            if value is not None
        }
        if extra:
            jupytext = metadata.setdefault("jupytext", {})
            if not isinstance(jupytext, dict):
                raise HeaderError("`jupyter.jupytext` in the YAML header is not a mapping")
            jupytext.update(extra)
        try:
            json.dumps(metadata)
        except (TypeError, ValueError) as exc:
            raise HeaderError(
                f"the YAML header holds a value a Jupyter notebook cannot store ({exc}); "
                "quote it to make it a string"
            ) from exc
        return metadata

    def with_frontmatter(self, source: str, newline: str) -> str | None:
        """The header text with its root-level YAML replaced by ``source``'s.

        ``source`` is a frontmatter (``---`` lines around YAML) or empty (no
        root-level YAML); for anything else, None: it cannot live in the header.
        """
        body: list[str] = []
        if source:
            parts = source.split("\n")
            if len(parts) < 2 or not _RULE.match(parts[0]) or not _RULE.match(parts[-1]):
                return None
            body = [comment_line(text) + newline for text in parts[1:-1]]
        if any(_RULE.match(_uncomment(line)) for line in body):
            return None  # a ``---`` inside would end the header early
        jupyter = [
            self.lines[i] for i in range(self.opening + 1, self.closing) if i in self.jupyter
        ]
        if jupyter and not line_ending(jupyter[-1]):
            jupyter[-1] += newline
        head = list(self.lines[: self.opening + 1])
        if not line_ending(head[-1]):
            head[-1] += newline
        return "".join([*head, *body, *jupyter, *self.lines[self.closing :]])


def opens_header(lines: Sequence[str]) -> bool:
    """Whether ``lines`` (the top of a file) hold a header's opening rule where
    :func:`find_header` looks for one: then where the header ends, if it
    does, depends on every comment line after it."""
    position = 0
    if lines and strip_eol(lines[0]).startswith("#!"):
        position = 1
    if position < len(lines) and _CODING.match(lines[position]):
        position += 1
    while position < len(lines) and lines[position].startswith("#"):
        text = _uncomment(lines[position])
        if _RULE.match(text):
            return True
        if text.strip():
            return False
        position += 1
    return False


def find_header(lines: Sequence[str]) -> HeaderBlock | None:
    """The header at the top of ``lines`` (the file's lines, endings kept), if any."""
    position = 0
    executable = encoding = None
    if lines and strip_eol(lines[0]).startswith("#!"):
        executable = strip_eol(lines[0])[2:]
        position = 1
    if position < len(lines) and _CODING.match(lines[position]):
        encoding = strip_eol(lines[position])
        position += 1
    while position < len(lines) and lines[position].startswith("#"):
        text = _uncomment(lines[position])
        if _RULE.match(text):
            break
        if text.strip():
            return None
        position += 1
    else:
        return None
    opening = position
    jupyter: set[int] = set()
    in_jupyter = False
    for index in range(opening + 1, len(lines)):
        line = lines[index]
        if not line.startswith("#"):
            return None
        text = _uncomment(line)
        if _RULE.match(text):
            end = index + 1
            if end < len(lines) and not _uncomment(lines[end]).strip():
                end += 1  # the blank line after the header is part of it
            return HeaderBlock(
                lines=tuple(lines[:end]),
                opening=opening,
                closing=index,
                jupyter=frozenset(jupyter),
                executable=executable,
                encoding=encoding,
            )
        if _JUPYTER_KEY.match(text):
            in_jupyter = True
        elif text and not text[0].isspace():
            in_jupyter = False
        if in_jupyter:
            jupyter.add(index)
    return None


def _one_line(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and "\n" not in value and "\r" not in value


def header_text(metadata: Mapping[str, Any], newline: str = "\n") -> str:
    """The header Jupytext would write for ``metadata``, and the blank line after it.

    ``jupytext.executable`` and ``jupytext.encoding`` become the shebang and
    coding lines above it, as Jupytext writes them. Empty when nothing is left.
    """
    copy: dict[str, Any] = json.loads(json.dumps(metadata))  # plain dicts, a private copy
    lines: list[str] = []
    jupytext = copy.get("jupytext")
    if isinstance(jupytext, dict):
        executable, encoding = jupytext.get("executable"), jupytext.get("encoding")
        # Above a header they read back as metadata; alone they would be a preamble.
        others = len(copy) > 1 or set(jupytext) - {"executable", "encoding"}
        if others and _one_line(executable):
            lines.append("#!" + jupytext.pop("executable"))
        if others and _one_line(encoding) and _CODING.match(encoding):
            lines.append(jupytext.pop("encoding"))
        if not jupytext:
            del copy["jupytext"]
    if copy:
        import yaml

        dumped = yaml.safe_dump({"jupyter": copy}, default_flow_style=False)
        lines += [comment_line(_DELIMITER)]
        lines += [comment_line(text) for text in dumped.splitlines()]
        lines += [comment_line(_DELIMITER), ""]
    if not lines:
        return ""
    return newline.join(lines) + newline
