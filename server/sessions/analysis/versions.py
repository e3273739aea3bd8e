"""Version keys: what each name a cell provides is a function of (DESIGN §5).

A *version key* is a chain hash. The key of a name a statement binds (or
mutates, or a state it changes) hashes the statement's *meaning* — its AST,
so comments and layout do not count — with the keys of everything the
statement reads: names bound earlier in the cell (their keys, recursively)
and the cell's inputs (the keys their providers gave them). So

* re-running unchanged code gives the same keys, and its consumers stay fresh
  (``run --stale`` converges in one pass);
* an edit changes the keys of exactly the names whose statements, or whose
  statements' inputs, it touched: editing the seed in a cell that also imports
  numpy leaves ``np``'s key as it was;
* a comment, a blank line or ``ruff format`` changes no key at all.

Meanings are computed lazily (one ``ast.parse`` + ``ast.dump`` per distinct
cell code, cached): a cell whose code and inputs are exactly as recorded reuses
the keys stored in its record, so the common case costs no AST work.

Pure: no I/O, no kernel.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Mapping

from sessions.analysis.cell import CellAnalysis, analyse_code
from sessions.analysis.cell_python import cell_python
from sessions.analysis.content_cache import ContentCache
from sessions.analysis.graph import CellFlow
from sessions.analysis.hidden_state import is_display_state
from sessions.format.hashing import code_hash
from sessions.format.magics import magic_line_mask

KEY_CHARS = 16
"""Hex characters of a version key (64 bits: collisions are not a concern here)."""

UNKNOWN_INPUT = "?"
"""Recorded for an input whose provider had no record: never equal to a key."""


def _digest(*parts: str) -> str:
    hasher = hashlib.blake2b(digest_size=KEY_CHARS // 2)
    for part in parts:
        hasher.update(part.encode("utf-8", "surrogatepass"))
        hasher.update(b"\0")
    return hasher.hexdigest()


class Meanings:
    """Per top-level statement, a hash of what it means; and one for the cell."""

    __slots__ = ("__weakref__", "cell", "statements")

    def __init__(self, statements: tuple[str, ...], cell: str) -> None:
        self.statements = statements
        self.cell = cell


def _statement_trees(text: str) -> list[ast.stmt] | None:
    try:
        return ast.parse(text).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _compute_meanings(code: str, analysis: CellAnalysis) -> Meanings:
    python = cell_python(code)
    if python.text is None or analysis.syntax_error is not None:
        # Not Python for this kernel (%%bash), or not parseable: the exact code
        # is all there is. Every statement of a half-typed cell shares it.
        exact = code_hash(code)
        return Meanings(tuple(exact for _ in analysis.statements), exact)
    trees = _statement_trees(python.text)
    if trees is None:
        exact = code_hash(code)
        return Meanings(tuple(exact for _ in analysis.statements), exact)
    lines = code.split("\n")
    mask = magic_line_mask(code)
    magic_lines = [index for index, masked in enumerate(mask) if masked]
    if python.cell_magic is not None:
        magic_lines = sorted(
            {*magic_lines, next(i for i, line in enumerate(lines) if line.strip())}
        )
    covered: set[int] = set()
    meanings: list[str] = []
    for tree in trees:
        first, last = tree.lineno - 1, (tree.end_lineno or tree.lineno) - 1
        # A magic line is neutralised to Python for the analysis: its own text
        # is what it means (``%matplotlib inline`` vs ``widget``).
        magic = [lines[i].strip() for i in magic_lines if first <= i <= last]
        covered.update(range(first, last + 1))
        try:
            dumped = ast.dump(tree)
        except RecursionError:  # nested too deeply to dump: its exact lines then
            dumped = "\n".join(lines[first : last + 1])
        meanings.append(_digest(dumped, *magic))
    extra = [lines[i].strip() for i in magic_lines if i not in covered]
    if len(analysis.statements) == len(meanings) + 1:
        # ``%%capture out``: the analysis adds a statement for the magic's binding.
        meanings.insert(0, _digest(*extra))
    return Meanings(tuple(meanings), _digest(*meanings, *extra))


_CACHE_SIZE = 4096
_CACHE_CHARS = 2_000_000
"""Recent meanings kept beyond those in use: at most this many characters of code
(``content_cache``; a meaning keeps about one digest per statement)."""
_cache: ContentCache[Meanings] = ContentCache(max_entries=_CACHE_SIZE, max_cost=_CACHE_CHARS)


def meanings(code: str, analysis: CellAnalysis) -> Meanings:
    """The statement and cell meanings of ``code`` (cached by its hash)."""
    key = code_hash(code)
    found = _cache.get(key)
    if found is not None:
        return found
    result = _compute_meanings(code, analysis)
    if len(result.statements) != len(analysis.statements):
        # A parse that disagrees with the analysis (should not happen): fall back to bytes.
        result = Meanings(tuple(key for _ in analysis.statements), key)
    _cache.put(key, result, len(code))
    return result


def cell_meaning(code: str) -> str:
    """What a cell's code means: equal for codes that differ only in comments and layout."""
    return meanings(code, analyse_code(code)).cell


def name_keys(
    code: str, analysis: CellAnalysis, flow: CellFlow, inputs: Mapping[str, str]
) -> dict[str, str]:
    """The version key of every name the cell provides, given its inputs' keys.

    ``inputs`` maps an input name to its provider's key; an input missing from
    it (no provider) counts as a constant from outside the notebook.
    """
    if not flow.provides:
        return {}
    statement_meanings = meanings(code, analysis).statements
    current: dict[str, str] = {}

    def key_of(meaning: str, reads: frozenset[str], external: frozenset[str]) -> str:
        parts = [meaning]
        for name in sorted(reads):
            if is_display_state(name):
                continue  # how values are shown is not what they are
            key = current.get(name)
            if key is None and name in external:
                key = inputs.get(name, "")
            if key is not None:
                parts.append(f"{name}={key}")
        return _digest(*parts)

    for statement, meaning in zip(flow.statements, statement_meanings, strict=True):
        if not statement.provides:
            continue
        whole = key_of(meaning, statement.reads, statement.external)
        narrow = {
            state: key_of(meaning, reads, statement.external)
            for state, reads in statement.effect_reads.items()
        }
        for name in statement.provides:
            current[name] = narrow.get(name, whole)
    return current


def clear_cache() -> None:
    _cache.clear()


# A widget's value changed from the notebook UI after its cell ran: the name
# bound to it holds something its cell's code alone does not say. The record's
# key for that name gets this suffix (one more per change), so every cell that
# ran with the old value sees a key it did not run with and is ``upstream``
# through the usual comparison — and so is what those cells feed.
_WIDGET_MARK = "~ui"


def widget_changed_key(key: str, generation: int) -> str:
    """``key`` as it is after the ``generation``-th change of the widget it names."""
    return f"{key.split(_WIDGET_MARK, 1)[0]}{_WIDGET_MARK}{generation}"


def is_widget_changed_key(key: str | None) -> bool:
    """Whether ``key`` was given by a widget change (``widget_changed_key``)."""
    return key is not None and _WIDGET_MARK in key
