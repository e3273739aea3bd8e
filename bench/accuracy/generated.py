"""Edits derived by rule, for notebooks the catalogue was not written for.

The catalogue's edits were chosen by hand for the 17 corpus notebooks, and
the engine was improved on the very cells they exposed. A held-out run
(``bench_accuracy.py --held-out DIR``) takes any folder of ``# %%`` scripts
nobody here has looked at and derives edits of four common kinds from each
text by fixed rules, so its figures say how the engine does on new code:

* **constant**: the first top-level ``NAME = <number>`` whose name a later
  cell mentions (else the first one) gets another value;
* **seed**: the first ``random_state=<int>`` gets another seed;
* **styling**: the first title or axis label of a plot gets other words
  (only that cell's picture changes);
* **comment**: the code cell in the middle gets a comment line (nothing
  changes: a precise engine stales nothing).

Each rule finds its place in code cells only, by position, and a notebook
without such a place simply gets fewer edits.
"""

from __future__ import annotations

import re

from accuracy.cells import MARKER, Chunk, identified
from accuracy.edits import Edit, ReplaceAt
from accuracy.truth import is_code

_CONSTANT = re.compile(
    r"^(?P<name>[A-Za-z_]\w*) = (?P<value>-?\d+(?:\.\d+)?)(?P<rest>[ \t]*(?:#.*)?)$", re.MULTILINE
)
_SEED = re.compile(r"\brandom_state=(?P<value>\d+)\b")
_LABEL = re.compile(
    r"\.(?:set_title|title|suptitle|set_xlabel|set_ylabel|xlabel|ylabel)\((?P<quote>[\"'])"
    r"(?=[^\"'\n]*(?P=quote))"
)


def _other_value(value: str) -> str:
    """About a tenth more: a tweak a user makes, not one that breaks the code."""
    if "." in value:
        return repr(round(float(value) * 1.1, 6))
    number = int(value)
    return str(number + 1 if -10 < number < 10 else number + number // 10)


def _constant(chunks: list[Chunk], code: list[int]) -> Edit | None:
    found: list[tuple[int, re.Match[str]]] = [
        (position, match)
        for position in code
        for match in _CONSTANT.finditer(chunks[position].text)
    ]
    if not found:
        return None

    def used_below(item: tuple[int, re.Match[str]]) -> bool:
        position, match = item
        word = re.compile(rf"\b{re.escape(match['name'])}\b")
        return any(word.search(chunks[later].text) for later in code if later > position)

    position, match = next((item for item in found if used_below(item)), found[0])
    new = _other_value(match["value"])
    return ReplaceAt(
        "constant",
        f"{match['name']} = {match['value']} → {new} (chunk {position})",
        position=position,
        pattern=rf"^{re.escape(match['name'])} = {re.escape(match['value'])}(?=[ \t]*(?:#.*)?$)",
        repl=f"{match['name']} = {new}",
    )


def _seed(chunks: list[Chunk], code: list[int]) -> Edit | None:
    for position in code:
        match = _SEED.search(chunks[position].text)
        if match:
            new = int(match["value"]) + 1
            return ReplaceAt(
                "seed",
                f"random_state={match['value']} → {new} (chunk {position})",
                position=position,
                pattern=rf"\brandom_state={match['value']}\b",
                repl=f"random_state={new}",
            )
    return None


def _styling(chunks: list[Chunk], code: list[int]) -> Edit | None:
    for position in code:
        match = _LABEL.search(chunks[position].text)
        if match:
            call = match.group(0)
            return ReplaceAt(
                "styling",
                f"{call}…) gets the words 'Edited: ' first (chunk {position})",
                position=position,
                pattern=re.escape(call),
                repl=call.replace("\\", "\\\\") + "Edited: ",
            )
    return None


def _comment(chunks: list[Chunk], code: list[int]) -> Edit | None:
    if not code:
        return None
    position = code[len(code) // 2]
    marked = MARKER.match(chunks[position].text) is not None
    first_line = r"\A([^\n]*\n)" if marked else r"\A()"
    return ReplaceAt(
        "comment",
        f"a comment line added at the top of chunk {position}",
        position=position,
        pattern=first_line,
        repl=r"\1# reviewed: nothing to change here\n",
    )


def edits_for(text: str) -> tuple[Edit, ...]:
    """The edits the rules find in ``text``, in the order of the module docstring."""
    chunks = identified(text)
    code = [position for position, chunk in enumerate(chunks) if is_code(chunk)]
    made = (rule(chunks, code) for rule in (_constant, _seed, _styling, _comment))
    return tuple(edit for edit in made if edit is not None)
