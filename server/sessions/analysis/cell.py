"""Per-cell dependency analysis: what a cell defines, uses and mutates (DESIGN §4).

:func:`analyse_code` is pure and cached by the code's hash, so re-analysing a
notebook after an edit costs one cell. It never raises: invalid code gives a
:class:`CellAnalysis` with ``syntax_error`` set (and whatever the statements
before the error define, so cells below do not light up with warnings while
someone is typing).
"""

from __future__ import annotations

import ast
import dataclasses
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sessions.analysis.cell_python import CellPython, cell_python
from sessions.analysis.content_cache import ContentCache
from sessions.analysis.file_access import normalize_path
from sessions.analysis.names import BUILTIN_NAMES, is_ipython_name
from sessions.analysis.scopes import BindKind, NameFacts, Position, StatementFacts, collect_names
from sessions.format.hashing import code_hash

_CELL_FILENAME = "<sessions-cell>"
# Parsing a user's cell may warn about its code (e.g. an invalid escape "\d" in a
# string). That is the kernel's to report when the cell runs; from the analysis,
# which re-parses on every keystroke, it would only be noise on the server's stderr.
warnings.filterwarnings("ignore", category=SyntaxWarning, module=re.escape(_CELL_FILENAME))
warnings.filterwarnings("ignore", category=DeprecationWarning, module=re.escape(_CELL_FILENAME))

_IMPLICIT_NAMES = frozenset({"__class__"})
"""Provided by the compiler, not by any namespace (``__class__`` in methods)."""


@dataclass(frozen=True, slots=True)
class NameRef:
    """A place in the cell's code: 0-based line relative to the code, columns in code points."""

    name: str
    line: int
    col: int
    end_col: int


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """Why the code does not parse, with its range relative to the code."""

    message: str
    line: int
    col: int
    end_line: int
    end_col: int


_EMPTY_REFS: Mapping[str, tuple[NameRef, ...]] = MappingProxyType({})
_EMPTY_KINDS: Mapping[str, str] = MappingProxyType({})
_EMPTY_DEFERRED: Mapping[str, frozenset[str]] = MappingProxyType({})
_EMPTY_CALLS: Mapping[str, tuple[str, ...]] = MappingProxyType({})


@dataclass(frozen=True, slots=True, weakref_slot=True)
class CellAnalysis:
    defines: frozenset[str]
    uses: frozenset[str]
    """Free names the cell reads, excluding builtins and IPython names."""
    mutates: frozenset[str]
    """Names changed in place (``x.append(...)``, ``x[i] = v``) and not defined by the cell."""
    use_refs: Mapping[str, tuple[NameRef, ...]]
    """Where each used name (and each name in ``builtin_uses``) is read."""
    define_refs: Mapping[str, tuple[NameRef, ...]]
    star_imports: tuple[NameRef, ...]
    """``from m import *`` statements: ``name`` is the module (with leading dots)."""
    syntax_error: SyntaxProblem | None
    builtin_uses: frozenset[str] = frozenset()
    """Builtin names the cell reads freely: they come from a cell only when one
    above redefines them (``id = ...``), which the notebook graph checks."""
    statements: tuple[StatementFacts, ...] = ()
    """Per top-level statement: binds, reads, mutations, calls (read-only)."""
    deferred_only: frozenset[str] = frozenset()
    """Uses that happen only inside function bodies: resolved where the function
    is called, not here (``def f(): return Thing()`` does not use ``Thing`` yet)."""
    call_mutates: frozenset[str] = frozenset()
    """Names in ``mutates`` only because of a ``name.method(...)`` statement:
    not a mutation when ``name`` turns out to be a module or a class."""
    kinds: Mapping[str, BindKind] = dataclasses.field(default_factory=lambda: _EMPTY_KINDS)
    """How the cell's last binding of each defined name binds it."""
    imports: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY_KINDS)
    """Defined names whose last binding is an import -> what they are (``np`` -> ``numpy``)."""
    deferred: Mapping[str, frozenset[str]] = dataclasses.field(
        default_factory=lambda: _EMPTY_DEFERRED
    )
    """Defined name -> the names its body reads when it is called."""
    deferred_calls: Mapping[str, tuple[str, ...]] = dataclasses.field(
        default_factory=lambda: _EMPTY_CALLS
    )
    """Defined name -> the dotted calls its body makes when it is called."""
    holds: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=lambda: _EMPTY_DEFERRED)
    """Defined name whose last binding is a constructor call -> the names among
    its arguments, which the object may keep a reference to (``pipe =
    Pipeline([("m", model)])``: ``pipe`` -> ``model``; ``m = Model()``: ``m`` -> none)."""


EMPTY_ANALYSIS = CellAnalysis(
    defines=frozenset(),
    uses=frozenset(),
    mutates=frozenset(),
    use_refs=_EMPTY_REFS,
    define_refs=_EMPTY_REFS,
    star_imports=(),
    syntax_error=None,
)


class _Refs(Mapping[str, tuple[NameRef, ...]]):
    """Read-only name -> places, built into :class:`NameRef` tuples on first access.

    Most refs are never looked at (only diagnostics and hover read them), so a
    cold analysis of a large notebook does not pay for creating them all.
    """

    __slots__ = ("_built", "_positions")

    def __init__(self, positions: dict[str, list[Position]]) -> None:
        self._positions = positions
        self._built: dict[str, tuple[NameRef, ...]] = {}

    def __getitem__(self, name: str) -> tuple[NameRef, ...]:
        built = self._built.get(name)
        if built is None:
            positions = self._positions[name]
            built = tuple(NameRef(name, line, col, end) for line, col, end in positions)
            self._built[name] = built
        return built

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)

    def __contains__(self, name: object) -> bool:
        return name in self._positions

    def get(self, name: str, default: object = None) -> Any:
        return self[name] if name in self._positions else default

    def __repr__(self) -> str:
        return repr(dict(self))


def _from_facts(facts: NameFacts, syntax_error: SyntaxProblem | None) -> CellAnalysis:
    defines = frozenset(facts.defines)
    uses: set[str] = set()
    builtin_uses: set[str] = set()
    for name in facts.reads:
        if name in BUILTIN_NAMES:
            builtin_uses.add(name)
        elif not is_ipython_name(name) and name not in _IMPLICIT_NAMES:
            uses.add(name)
    reads = facts.reads
    if len(uses) + len(builtin_uses) != len(reads):
        reads = {name: reads[name] for name in (*uses, *builtin_uses)}
    kinds: dict[str, BindKind] = {}
    imports: dict[str, str] = {}
    deferred: dict[str, frozenset[str]] = {}
    deferred_calls: dict[str, tuple[str, ...]] = {}
    holds: dict[str, frozenset[str]] = {}
    for statement in facts.statements:
        for name, kind in statement.binds.items():
            kinds[name] = kind
            held = statement.holds.get(name)
            if held is not None:
                holds[name] = held
            else:
                holds.pop(name, None)
            target = statement.imports.get(name)
            if target is not None:
                imports[name] = target
            else:
                imports.pop(name, None)
            if statement.deferred or statement.deferred_calls:
                deferred[name] = frozenset(statement.deferred)
                deferred_calls[name] = tuple(statement.deferred_calls)
            else:
                deferred.pop(name, None)
                deferred_calls.pop(name, None)
    certain = frozenset(facts.mutates)
    # A method called on a module, class or function bound in this cell is no mutation.
    by_call = {
        name
        for name in facts.method_calls
        if kinds.get(name, "value") == "value" and name not in certain
    }
    return CellAnalysis(
        defines=defines,
        uses=frozenset(uses),
        mutates=(certain | by_call).difference(defines),
        use_refs=_Refs(reads),
        define_refs=_Refs(facts.defines),
        star_imports=tuple(
            NameRef(module, line, col, end) for module, (line, col, end) in facts.star_imports
        ),
        syntax_error=syntax_error,
        builtin_uses=frozenset(builtin_uses),
        statements=tuple(facts.statements),
        deferred_only=frozenset(facts.deferred_only).intersection(uses),
        call_mutates=frozenset(by_call).difference(defines),
        kinds=MappingProxyType(kinds) if kinds else _EMPTY_KINDS,
        imports=MappingProxyType(imports) if imports else _EMPTY_KINDS,
        deferred=MappingProxyType(deferred) if deferred else _EMPTY_DEFERRED,
        deferred_calls=MappingProxyType(deferred_calls) if deferred_calls else _EMPTY_CALLS,
        holds=MappingProxyType(holds) if holds else _EMPTY_DEFERRED,
    )


def _syntax_problem(error: SyntaxError | ValueError, code: str, lines: list[str]) -> SyntaxProblem:
    if not isinstance(error, SyntaxError) or error.lineno is None:
        message = error.msg if isinstance(error, SyntaxError) else str(error)
        nul = code.find("\0")
        if nul >= 0:
            line = code.count("\n", 0, nul)
            col = nul - (code.rfind("\n", 0, nul) + 1)
            return SyntaxProblem(message, line, col, line, col + 1)
        return SyntaxProblem(message, 0, 0, 0, len(lines[0]) if lines else 0)
    last = max(len(lines) - 1, 0)
    line = min(max(error.lineno - 1, 0), last)
    width = len(lines[line]) if lines else 0
    col = min(max((error.offset or 1) - 1, 0), width)
    end_line = line
    end_col = col
    if error.end_lineno is not None and error.end_offset is not None and error.end_offset > 0:
        end_line = min(max(error.end_lineno - 1, line), last)
        end_col = min(error.end_offset - 1, len(lines[end_line]) if lines else 0)
        if end_line == line and end_col < col:
            end_col = col
    if isinstance(error, IndentationError) and error.msg == "unexpected indent":
        # Point at the indentation itself, which is what has to go.
        indent = len(lines[line]) - len(lines[line].lstrip()) if lines else 0
        return SyntaxProblem(error.msg, line, 0, line, max(indent, 1))
    if (end_line, end_col) == (line, col):
        # Give the problem a visible width: the character at the error, or the one before it.
        if col < width:
            end_col = col + 1
        elif col > 0:
            col -= 1
    return SyntaxProblem(error.msg or "invalid syntax", line, col, end_line, end_col)


def _parse_prefix(text: str, error_line: int) -> ast.Module | None:
    """The statements before a syntax error, so a half-typed cell still defines them."""
    text_lines = text.split("\n")
    candidates = [error_line]
    # The failing statement may start above the error line: cut at the last
    # unindented line at or before it as well.
    for index in range(min(error_line, len(text_lines) - 1), -1, -1):
        line = text_lines[index]
        if line and not line[0].isspace() and not line.startswith("#"):
            if index != error_line:
                candidates.append(index)
            break
    for end in candidates:
        try:
            return ast.parse("\n".join(text_lines[:end]), _CELL_FILENAME)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return None


def _non_python(code: str, magic: tuple[str, str] | None) -> CellAnalysis:
    """A cell whose body is not Python (``%%bash``...): it binds no names, but
    ``%%writefile PATH`` writes a file that other cells may read or import."""
    if magic is None or magic[0] not in ("writefile", "file"):
        return EMPTY_ANALYSIS
    words = [word for word in magic[1].split() if not word.startswith("-")]
    path = normalize_path(words[0].strip("'\"")) if words else None
    if path is None:
        return EMPTY_ANALYSIS
    last = code.count("\n")
    statement = StatementFacts(0, last, file_writes=[path])
    return dataclasses.replace(EMPTY_ANALYSIS, statements=(statement,))


def _analyse(code: str) -> CellAnalysis:
    python = cell_python(code)
    if python.text is None:
        return _non_python(code, python.cell_magic)
    text = python.text
    lines = code.split("\n")
    ascii_only = code.isascii()
    too_deep = SyntaxProblem("code is nested too deeply to analyse", 0, 0, 0, len(lines[0]))
    try:
        tree = ast.parse(text, _CELL_FILENAME)
    except (SyntaxError, ValueError) as error:
        problem = _syntax_problem(error, code, lines)
        prefix = _parse_prefix(text, problem.line) if "\0" not in text else None
        if prefix is None:
            return _from_facts(NameFacts(), problem)
        return _from_facts(collect_names(prefix, lines, ascii_only, python.magic_binds), problem)
    except (RecursionError, MemoryError):
        return _from_facts(NameFacts(), too_deep)
    try:
        facts = collect_names(tree, lines, ascii_only, python.magic_binds)
    except RecursionError:
        # Valid code nested deeper than the walker's recursion allows (2,000
        # unary minuses, a long if-else chain): Python runs it, so it is no
        # syntax error. A scope-blind iterative pass gives what it binds and reads.
        facts = _shallow_facts(tree)
    _place_magic_facts(facts, python)
    return _from_facts(facts, None)


def _shallow_facts(tree: ast.Module) -> NameFacts:
    """Defines and uses of each top-level statement from an iterative walk that
    ignores nested scopes: every stored name binds, every loaded name not
    bound before the statement is read. Coarser than the walker, never recursive."""
    facts = NameFacts()
    bound: set[str] = set()
    for statement in tree.body:
        current = StatementFacts(statement.lineno - 1, (statement.end_lineno or 1) - 1)
        stores: list[ast.Name] = []
        for node in ast.walk(statement):
            if type(node) is ast.Name:
                if isinstance(node.ctx, ast.Load):
                    current.reads.add(node.id)
                    if node.id not in bound:
                        position = (node.lineno - 1, node.col_offset, node.end_col_offset or 0)
                        facts.reads.setdefault(node.id, []).append(position)
                else:
                    stores.append(node)
        for node in stores:
            current.binds[node.id] = "value"
            position = (node.lineno - 1, node.col_offset, node.end_col_offset or 0)
            facts.defines.setdefault(node.id, []).append(position)
            bound.add(node.id)
        facts.statements.append(current)
    return facts


def _place_magic_facts(facts: NameFacts, python: CellPython) -> None:
    """What shell escapes and ``%whos`` lines do, on the statement at their line
    (the analysis sees them as ``pass``)."""
    if not python.shell_files and not python.namespace_lines:
        return

    def statement_at(line: int) -> StatementFacts | None:
        for statement in facts.statements:
            if statement.first_line <= line <= statement.last_line:
                return statement
        return None

    for line, word in python.shell_files:
        statement = statement_at(line)
        path = normalize_path(word.strip("'\""))
        if statement is not None and path is not None:
            statement.file_reads.append(path)
    for line in python.namespace_lines:
        statement = statement_at(line)
        if statement is not None:
            statement.reads_namespace = True
            statement.displays = True


_CACHE_SIZE = 4096
_CACHE_CHARS = 2_000_000
"""Recent analyses kept beyond those in use (``content_cache``): at most this many
characters of code. An analysis keeps 35-350 bytes per character of code, so
counting entries alone let closed notebooks and edited cells keep gigabytes."""
_cache: ContentCache[CellAnalysis] = ContentCache(max_entries=_CACHE_SIZE, max_cost=_CACHE_CHARS)


def analyse_code(code: str, code_hash_hint: str | None = None) -> CellAnalysis:
    """Defines/uses/mutates of one cell's code (``Cell.code``). Never raises.

    ``code_hash_hint`` is ``code_hash(code)`` when the caller already has it
    (``Cell.hash``), which saves hashing every cell on every rebuild.
    """
    key = code_hash_hint or code_hash(code)
    found = _cache.get(key)
    if found is not None:
        return found
    try:
        result = _analyse(code)
    except Exception as error:  # a bug here must not take the server down
        lines = code.split("\n")
        result = _from_facts(
            NameFacts(),
            SyntaxProblem(f"could not analyse this cell: {error}", 0, 0, 0, len(lines[0])),
        )
    _cache.put(key, result, len(code))
    return result


def clear_cache() -> None:
    _cache.clear()
