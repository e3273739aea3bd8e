"""Cells in another language: ``# %% language="bash"`` with a commented body.

Jupytext writes a code cell that starts with a cell magic naming a language
(``%%bash``, ``%%html``, ``%%javascript``, ``%%R -i df``...) as a marker with
``language="bash"`` (and ``magic_args="-i df"``) metadata and the body
commented line by line, so the ``.py`` stays valid Python that never runs the
other language. Such a cell *is* the cell magic: the notebook UI shows and the
kernel receives ``%%bash`` and the uncommented body, and the ``language`` and
``magic_args`` keys are not cell metadata (Jupytext drops them the same way).

``language="python"`` is the notebook's own language: Jupytext drops the key
and reads the body as ordinary code. Other cell magics (``%%time``,
``%%capture``, ``%%writefile``) are written as a commented first line
``# %%time`` with the body as it is, as Jupytext writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The languages Jupytext writes with ``language=`` (its list of cell magics
# that name a language), less ``python``: a notebook's own language.
_LANGUAGE_NAMES = """
    R bash sh python2 python3 pypy coconut javascript js perl html latex markdown ruby
    script sql svg c# c++ clojure cs csharp cython f# fs fsharp gnuplot go groovy haskell
    idl java jenner julia logtalk lua matlab maxima ocaml octave powershell q
    robotframework rust sage sas scala scheme sos spark stata tcl typescript xonsh
"""
LANGUAGES = frozenset(_LANGUAGE_NAMES.split()) | {"wolfram language"}
MAIN_LANGUAGE = "python"

LANGUAGE_KEY = "language"
ARGS_KEY = "magic_args"


@dataclass(frozen=True, slots=True)
class LanguageMagic:
    """``%%name args``: the cell magic a ``language=`` cell stands for."""

    name: str
    args: str = ""

    @property
    def line(self) -> str:
        """The cell magic line the kernel receives."""
        return f"%%{self.name} {self.args}" if self.args else f"%%{self.name}"

    def metadata(self) -> dict[str, str]:
        """The header keys that write this magic (``magic_args`` first, as Jupytext)."""
        keys = {ARGS_KEY: self.args} if self.args else {}
        keys[LANGUAGE_KEY] = self.name
        return keys


def magic_of_metadata(metadata: Mapping[str, Any]) -> LanguageMagic | None:
    """The cell magic a header's ``language=``/``magic_args=`` stand for, if any."""
    name = metadata.get(LANGUAGE_KEY)
    args = metadata.get(ARGS_KEY, "")
    if not isinstance(name, str) or name not in LANGUAGES or not isinstance(args, str):
        return None
    return LanguageMagic(name, args)


def cell_metadata(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    """The cell metadata a notebook UI shows: without the keys that write a magic."""
    if magic_of_metadata(metadata) is not None:
        return {k: v for k, v in metadata.items() if k not in (LANGUAGE_KEY, ARGS_KEY)}
    if metadata.get(LANGUAGE_KEY) == MAIN_LANGUAGE:
        return {k: v for k, v in metadata.items() if k != LANGUAGE_KEY}
    return metadata


def magic_of_source(source: str) -> tuple[LanguageMagic, str] | None:
    """(magic, body) when a code source is written as a ``language=`` cell.

    Only when the first line is exactly what the magic writes back (so no
    space is lost) and a body follows: an empty ``%%bash`` cell reads back
    from a ``language=`` header as ``%%bash`` plus an empty line in Jupytext,
    so it is written as a commented magic line instead.
    """
    first, newline, body = source.partition("\n")
    if not first.startswith("%%") or not newline:
        return None
    name, _, args = first[2:].partition(" ")
    if name not in LANGUAGES:
        return None
    magic = LanguageMagic(name, args)
    if magic.line != first:
        return None
    return magic, body


def comment_body(body: str) -> str:
    """Every line commented: ``# line``, a bare ``#`` for an empty one."""
    return "\n".join("# " + line if line else "#" for line in body.split("\n"))


def uncomment_body(body: str) -> str:
    """The inverse of :func:`comment_body`; lines without a ``#`` are kept as they are."""
    if "#" not in body:
        return body
    return "\n".join(
        line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else line
        for line in body.split("\n")
    )
