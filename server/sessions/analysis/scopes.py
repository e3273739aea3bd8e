"""Which names one cell binds, reads and mutates, from its AST (DESIGN §4).

The cell is treated as a module executed top to bottom:

* a read at the cell's top level (including class bodies and comprehensions,
  which run immediately) is a *use* unless the cell bound the name earlier in
  statement order;
* a read inside a function or lambda body runs later, so it is a use only when
  it is free in every enclosing function and the cell binds it nowhere;
* bindings at the top level (and ``global`` ones inside functions) are
  *defines*; ``x[i] = v``, ``x.a = v``, ``del x[i]`` at the top level are
  *mutations* of ``x``; a ``name.method(...)`` statement is a *candidate*
  mutation (a documented heuristic: not for the read-only accessors of
  ``READ_ONLY_METHODS`` such as ``df.head()``, which a notebook calls to *show*
  a value, and not when ``name`` is a module or a class — which the notebook
  graph decides, since the import may be in another cell); a call with an
  ``ax=`` keyword (``s[a:b].plot(ax=ax[0])``) is a candidate mutation of the
  axes it draws on, and of its receiver only when that is a bare name;
  ``v = name.method(...)`` is one only for the methods that change their
  object while returning a result (``MUTATING_WHEN_ASSIGNED``:
  ``Xt = scaler.fit_transform(X)``, ``a = rng.normal()``, ``v = d.pop(k)``)
  and, given ``ax=``, of the axes;
* ``del x`` reads ``x`` (it must exist) and defines a new version of it;
* ``except E as err`` binds ``err`` only inside the handler (Python unbinds it).

Besides the cell-level sets, the walk keeps per top-level statement what it
binds, reads, mutates and calls (:class:`StatementFacts`), so that the
versions of a cell's names can depend on just the statements that produce
them (``dataflow.py``), and reads inside function bodies are kept apart as
*deferred*: they happen when the function is called, in the caller's cell.

This is the hot path of notebook analysis (DESIGN §9 budget: at most half of
``ast.parse``'s own time on top of it), so the walk dispatches on exact node
types, avoids generic ``ast.walk``, and creates position records only for the
names that end up in the result.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sessions.analysis.file_access import FILE_METHODS, file_access
from sessions.analysis.names import (
    MUTATING_WHEN_ASSIGNED,
    READ_ONLY_METHODS,
    copies_its_arguments,
)

Position = tuple[int, int, int]

"""(line, column, end column): 0-based line, columns in code points."""


class _Function:
    __slots__ = ("deferred", "globals", "locals", "nonlocals", "parent", "reads", "statement")

    def __init__(self, parent: _Scope, statement: int, deferred: bool) -> None:
        self.parent = parent
        self.locals: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.reads: list[ast.Name] = []
        self.statement = statement
        """Index of the top-level statement the function is created in."""
        self.deferred = deferred
        """Its body runs when it is called (a ``def``, or a lambda bound to a
        name), not while its statement runs (a lambda passed to a call)."""


class _Class:
    __slots__ = ("globals", "names", "parent")

    def __init__(self, parent: _Scope) -> None:
        self.parent = parent
        self.names: set[str] = set()
        self.globals: set[str] = set()


class _Comprehension:
    __slots__ = ("names", "parent")

    def __init__(self, parent: _Scope) -> None:
        self.parent = parent
        self.names: set[str] = set()


_Scope = _Function | _Class | _Comprehension | None
"""``None`` is the cell's own (module) scope."""


BindKind = str
"""How a statement binds a name: ``import``, ``def``, ``class`` or ``value``."""


@dataclass(frozen=True, slots=True)
class CallFact:
    """A call whose dotted path names what is called (``np.random.normal``)."""

    path: str
    reads: frozenset[str]
    """Names read by the call's own expression (function and arguments): what a
    hidden-state change it makes depends on, rather than the whole statement."""
    hint: str = ""
    """For option setters: the first literal argument or the keyword names
    (``display.max_rows`` for ``pd.set_option("display.max_rows", 10)``)."""


# Calls whose arguments say which option they set (see ``CallFact.hint``).
_OPTION_SETTERS = frozenset({"set_option", "set_config", "reset_option"})


@dataclass(slots=True)
class StatementFacts:
    """What one top-level statement of a cell does with names, when it runs."""

    first_line: int
    last_line: int
    """0-based lines of the cell's code the statement spans."""
    binds: dict[str, BindKind] = field(default_factory=dict)
    reads: set[str] = field(default_factory=set)
    """Every name read while the statement runs, also those bound earlier in the cell."""
    mutates: set[str] = field(default_factory=set)
    """Roots of ``x[i] = v``, ``x.a = v``, ``del x[i]``: certain mutations."""
    method_calls: set[str] = field(default_factory=set)
    """Roots of ``x.method(...)`` statements: mutations unless ``x`` is a module or class."""
    holds: dict[str, frozenset[str]] = field(default_factory=dict)
    """Name bound to an object a constructor built -> the names among the
    constructor's arguments, which the object may keep a reference to
    (``pipe = Pipeline([("m", model)])`` keeps ``model``; see ``held_names``)."""
    deferred: set[str] = field(default_factory=set)
    """Names read when a function created here is called (its free globals)."""
    calls: list[CallFact] = field(default_factory=list)
    """The calls made while it runs (``np.random.seed(0)``)."""
    deferred_calls: list[str] = field(default_factory=list)
    """Dotted paths of the calls made inside the functions it creates."""
    assigned: list[str] = field(default_factory=list)
    """Dotted paths of assigned attributes/subscripts (``plt.rcParams`` for ``plt.rcParams[k] = v``)."""
    imports: dict[str, str] = field(default_factory=dict)
    """Name bound by an import -> what it is (``np`` -> ``numpy``, ``seed`` -> ``numpy.random.seed``)."""
    file_reads: list[str] = field(default_factory=list)
    file_writes: list[str] = field(default_factory=list)
    """Files read/written by literal path (``pd.read_csv("x.csv")``, ``open("o", "w")``)."""
    displays: bool = False
    """It shows a value: the cell's last statement is a bare expression, or it calls ``print``/``display``."""
    reads_namespace: bool = False
    """It shows every name defined so far (``%whos``)."""


@dataclass
class NameFacts:
    """Raw result of walking one cell; :mod:`analysis` turns it into a CellAnalysis."""

    defines: dict[str, list[Position]] = field(default_factory=dict)
    reads: dict[str, list[Position]] = field(default_factory=dict)
    """Free reads: names the cell needs from outside (builtins not yet removed),
    including those read only inside function bodies (see ``deferred_only``)."""
    mutates: dict[str, list[Position]] = field(default_factory=dict)
    method_calls: dict[str, list[Position]] = field(default_factory=dict)
    """Roots of ``x.method(...)`` statements (candidate mutations)."""
    star_imports: list[tuple[str, Position]] = field(default_factory=list)
    statements: list[StatementFacts] = field(default_factory=list)
    deferred_only: set[str] = field(default_factory=set)
    """Free reads that happen only inside function bodies, never while the cell runs."""


def _constructor(func: ast.expr) -> str | None:
    """The name of a call that builds an object from its arguments: a
    capitalized name (the convention for classes: ``Pipeline``,
    ``nn.Sequential``) or a ``make_*`` factory (``make_pipeline``); else None."""
    if type(func) is ast.Attribute:
        name = func.attr
    elif type(func) is ast.Name:
        name = func.id
    else:
        return None
    return name if name[:1].isupper() or name.startswith("make_") else None


def held_names(call: ast.Call) -> frozenset[str] | None:
    """The names an object built by ``call`` may keep a reference to, or None
    when ``call`` is no constructor: the bare names among its arguments, also
    inside list, tuple, set and dict literals and nested constructor calls
    (``Pipeline([("s", StandardScaler()), ("m", model)])`` keeps ``model``).
    A method called on the object may then change them: fitting a pipeline
    fits the estimator it was built with. Not through other calls
    (``clone(model)``, ``model.copy()`` make new objects). The notebook graph
    follows only the names that were themselves built by a constructor
    (``n_components = 5`` passed along is a number, not a part). A
    constructor that copies its arguments (scikit-learn's ``GridSearchCV``
    clones its estimator) makes the rule over-approximate, on the side of
    marking too much stale; the known ones (``names.COPYING_CONSTRUCTORS``)
    keep nothing."""
    constructor = _constructor(call.func)
    if constructor is None:
        return None
    if copies_its_arguments(constructor):
        return frozenset()
    held: set[str] = set()
    pending: list[ast.expr] = [*call.args, *(keyword.value for keyword in call.keywords)]
    while pending:
        node = pending.pop()
        kind = type(node)
        if kind is ast.Name:
            held.add(node.id)  # type: ignore[attr-defined]
        elif kind is ast.Starred:
            pending.append(node.value)  # type: ignore[attr-defined]
        elif kind in (ast.List, ast.Tuple, ast.Set):
            pending.extend(node.elts)  # type: ignore[attr-defined]
        elif kind is ast.Dict:
            pending.extend(value for value in node.values if value is not None)  # type: ignore[attr-defined]
        elif kind is ast.Call:
            constructor = _constructor(node.func)  # type: ignore[attr-defined]
            if constructor is None or copies_its_arguments(constructor):
                continue
            pending.extend(node.args)  # type: ignore[attr-defined]
            pending.extend(keyword.value for keyword in node.keywords)  # type: ignore[attr-defined]
    return frozenset(held)


_DEF_NAME = re.compile(r"(?:async\s+)?(?:def|class)\s+")
_AS_NAME = re.compile(r"\bas\s+")
_DOUBLE_STAR = re.compile(r"\*\*\s*")


class _Walker:
    """One pass over a cell's AST, collecting :class:`NameFacts`."""

    def __init__(self, lines: list[str], ascii_only: bool) -> None:
        self.lines = lines
        self.ascii_only = ascii_only
        self.facts = NameFacts()
        self.bound: set[str] = set()  # names bound at the top level so far
        self.scope: _Scope = None
        self.functions: list[_Function] = []
        self.current = StatementFacts(0, 0)
        """The top-level statement being walked."""
        self.statement = 0
        self._kind: BindKind = "value"
        """How the binding being walked binds (set by import/def/class)."""
        self._deferred_depth = 0
        """Inside how many deferred function bodies the walk is."""
        self._assigned_lambda: ast.expr | None = None
        self._immediate: set[str] = set()
        """Free reads that happen while the cell runs (not only in function bodies)."""
        self._deferred_positions: dict[str, list[Position]] = {}
        self._call_reads: list[set[str]] = []
        """One set per call being walked: the names its expression reads."""

    # ----------------------------------------------------------- positions

    def _char_col(self, line: int, byte_col: int) -> int:
        if self.ascii_only or not 0 <= line < len(self.lines):
            return byte_col
        return len(self.lines[line].encode("utf-8")[:byte_col].decode("utf-8", "replace"))

    def _name_position(self, node: ast.Name) -> Position:
        line = node.lineno - 1
        if self.ascii_only:
            return (line, node.col_offset, node.end_col_offset or node.col_offset)
        col = self._char_col(line, node.col_offset)
        return (line, col, col + len(node.id))

    def _end_position(self, node: ast.AST, name: str) -> Position:
        """Where ``name`` sits when it ends ``node`` (``import a as NAME``, ``case [*NAME]``)."""
        line = (getattr(node, "end_lineno", None) or node.lineno) - 1  # type: ignore[attr-defined]
        end = self._char_col(line, getattr(node, "end_col_offset", None) or 0)
        return (line, max(end - len(name), 0), end)

    def _start_position(self, node: ast.AST, length: int) -> Position:
        line = node.lineno - 1  # type: ignore[attr-defined]
        col = self._char_col(line, node.col_offset)  # type: ignore[attr-defined]
        return (line, col, col + length)

    def _search_position(self, node: ast.AST, prefix: re.Pattern[str], name: str) -> Position:
        """Find ``name`` right after a ``prefix`` match in the lines of ``node``'s header."""
        first = node.lineno - 1  # type: ignore[attr-defined]
        col = self._char_col(first, node.col_offset)  # type: ignore[attr-defined]
        last = (getattr(node, "end_lineno", None) or node.lineno) - 1  # type: ignore[attr-defined]
        for line in range(first, min(last, first + 20, len(self.lines) - 1) + 1):
            text = self.lines[line]
            for found in prefix.finditer(text, col if line == first else 0):
                start = found.end()
                end = start + len(name)
                if text.startswith(name, start) and not (
                    end < len(text) and (text[end].isalnum() or text[end] == "_")
                ):
                    return (line, start, end)
        return self._start_position(node, len(name))

    # ------------------------------------------------------------ bindings

    def _define(self, name: str, position: Position) -> None:
        self.bound.add(name)
        self.current.binds[name] = self._kind
        refs = self.facts.defines.get(name)
        if refs is None:
            self.facts.defines[name] = [position]
        else:
            refs.append(position)

    def _bind(self, name: str, position: Position | ast.Name) -> None:
        """Bind ``name`` in the current scope; ``position`` is resolved lazily for locals."""
        scope = self.scope
        if isinstance(scope, _Comprehension):  # only walrus targets get here
            while isinstance(scope, _Comprehension):
                scope = scope.parent
        if scope is None or name in scope.globals:
            if isinstance(position, ast.Name):
                position = self._name_position(position)
            self._define(name, position)
        elif isinstance(scope, _Function):
            if name not in scope.nonlocals:
                scope.locals.add(name)
        else:
            scope.names.add(name)

    def _record(self, table: dict[str, list[Position]], name: str, position: Position) -> None:
        refs = table.get(name)
        if refs is None:
            table[name] = [position]
        else:
            refs.append(position)

    def _load(self, node: ast.Name) -> None:
        name = node.id
        scope = self.scope
        while scope is not None:
            if isinstance(scope, _Function):
                scope.reads.append(node)
                return
            if name in scope.names:
                return
            if isinstance(scope, _Class):
                if name in scope.globals:
                    break
                scope = scope.parent
            else:
                # Comprehensions do not see class-body names: skip class scopes.
                scope = scope.parent
                while isinstance(scope, _Class):
                    scope = scope.parent
        self.current.reads.add(name)
        for frame in self._call_reads:
            frame.add(name)
        if name not in self.bound:
            self._immediate.add(name)
            self._record(self.facts.reads, name, self._name_position(node))

    def _mutate(self, node: ast.expr) -> None:
        """Record a top-level mutation of the root name of ``x.a[i].b``."""
        if self.scope is not None:
            return
        path: list[str] = []
        while type(node) in (ast.Attribute, ast.Subscript):
            if type(node) is ast.Attribute:
                path.append(node.attr)
            else:
                path.clear()  # ``x.a[i].b``: the subscripted object is ``x.a``
            node = node.value  # type: ignore[attr-defined]
        if type(node) is ast.Name:
            self._record(self.facts.mutates, node.id, self._name_position(node))
            self.current.mutates.add(node.id)
            self.current.assigned.append(".".join([node.id, *reversed(path)]))

    def _method_call(self, node: ast.expr) -> None:
        """``x.method(...)`` as a statement: a candidate mutation of ``x``'s root."""
        if self.scope is not None:
            return
        while type(node) in (ast.Attribute, ast.Subscript):
            node = node.value  # type: ignore[attr-defined]
        if type(node) is ast.Name:
            self._record(self.facts.method_calls, node.id, self._name_position(node))
            self.current.method_calls.add(node.id)

    def _call(self, node: ast.Call, reads: set[str]) -> None:
        """Record the dotted path of a call, and the file it reads or writes by literal path."""
        func = node.func
        parts: list[str] = []
        while type(func) is ast.Attribute:
            parts.append(func.attr)
            func = func.value
        if type(func) is ast.Name:
            parts.append(func.id)
            path = ".".join(reversed(parts))
            if self._deferred_depth:
                self.current.deferred_calls.append(path)
                return
            hint = _option_hint(node) if parts[0] in _OPTION_SETTERS else ""
            self.current.calls.append(CallFact(path, frozenset(reads), hint))
            if len(parts) == 1 and path in ("print", "display"):
                self.current.displays = True
        elif self._deferred_depth or not parts:
            return
        if parts[0] in FILE_METHODS:
            file_access(node, parts[0], self.current)

    # ------------------------------------------------------------- targets

    def target(self, node: ast.expr) -> None:
        kind = type(node)
        if kind is ast.Name:
            self._bind(node.id, node)  # type: ignore[attr-defined, arg-type]
        elif kind is ast.Tuple or kind is ast.List:
            for element in node.elts:  # type: ignore[attr-defined]
                self.target(element)
        elif kind is ast.Starred:
            self.target(node.value)  # type: ignore[attr-defined]
        else:  # attribute or subscript: reads its parts, mutates its root
            self.expr(node)
            self._mutate(node)

    # --------------------------------------------------------- expressions

    def expr(self, node: ast.expr) -> None:
        kind = type(node)
        if kind is ast.Name:
            self._load(node)  # type: ignore[arg-type]
        elif kind is ast.Constant:
            return
        elif kind is ast.Attribute:
            while type(node) is ast.Attribute:
                node = node.value
            self.expr(node)
        elif kind is ast.Call:
            reads: set[str] = set()
            self._call_reads.append(reads)
            self.expr(node.func)  # type: ignore[attr-defined]
            for arg in node.args:  # type: ignore[attr-defined]
                self.expr(arg)
            for keyword in node.keywords:  # type: ignore[attr-defined]
                self.expr(keyword.value)
            self._call_reads.pop()
            self._call(node, reads)  # type: ignore[arg-type]
        else:
            handler = _EXPRESSIONS.get(kind)
            if handler is not None:
                handler(self, node)
            else:
                self._generic(node)

    def _generic(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child)
            elif isinstance(child, ast.stmt):
                self.stmt(child)
            elif isinstance(child, ast.keyword):
                self.expr(child.value)
            else:
                self._generic(child)

    def _exprs(self, nodes: list[ast.expr]) -> None:
        for node in nodes:
            self.expr(node)

    def _binop(self, node: ast.BinOp) -> None:
        # Long ``a + b + c + ...`` chains nest deeply to the left: walk them in a loop.
        rights = [node.right]
        left = node.left
        while type(left) is ast.BinOp:
            rights.append(left.right)
            left = left.left
        self.expr(left)
        for right in reversed(rights):
            self.expr(right)

    def _boolop(self, node: ast.BoolOp) -> None:
        self._exprs(node.values)

    def _compare(self, node: ast.Compare) -> None:
        self.expr(node.left)
        self._exprs(node.comparators)

    def _unary(self, node: ast.UnaryOp) -> None:
        self.expr(node.operand)

    def _value(self, node: ast.Await | ast.Starred | ast.FormattedValue) -> None:
        self.expr(node.value)
        format_spec = getattr(node, "format_spec", None)
        if format_spec is not None:
            self.expr(format_spec)

    def _optional_value(self, node: ast.Yield | ast.YieldFrom) -> None:
        if node.value is not None:
            self.expr(node.value)

    def _elements(self, node: ast.Tuple | ast.List | ast.Set) -> None:
        self._exprs(node.elts)

    def _joined(self, node: ast.JoinedStr) -> None:
        for value in node.values:
            if type(value) is ast.FormattedValue:
                self._value(value)

    def _dict(self, node: ast.Dict) -> None:
        for key in node.keys:
            if key is not None:
                self.expr(key)
        self._exprs(node.values)

    def _subscript(self, node: ast.Subscript) -> None:
        self.expr(node.value)
        self.expr(node.slice)

    def _slice(self, node: ast.Slice) -> None:
        for part in (node.lower, node.upper, node.step):
            if part is not None:
                self.expr(part)

    def _ifexp(self, node: ast.IfExp) -> None:
        self.expr(node.test)
        self.expr(node.body)
        self.expr(node.orelse)

    def _named(self, node: ast.NamedExpr) -> None:
        self.expr(node.value)
        self._bind(node.target.id, node.target)

    def _lambda(self, node: ast.Lambda) -> None:
        self._defaults(node.args)
        # ``f = lambda: g()`` runs its body when ``f`` is called; a lambda
        # passed to a call (``sorted(xs, key=lambda v: w[v])``) runs now.
        self._function_body(node.args, None, node.body, deferred=node is self._assigned_lambda)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._comprehension_scope(node.generators, (node.elt,))

    def _dictcomp(self, node: ast.DictComp) -> None:
        self._comprehension_scope(node.generators, (node.key, node.value))

    def _comprehension_scope(
        self, generators: list[ast.comprehension], results: tuple[ast.expr, ...]
    ) -> None:
        # The first iterable is evaluated in the enclosing scope, the rest inside.
        self.expr(generators[0].iter)
        outer = self.scope
        scope = _Comprehension(outer)
        self.scope = scope
        try:
            for index, generator in enumerate(generators):
                if index:
                    self.expr(generator.iter)
                self._comprehension_target(scope, generator.target)
                for condition in generator.ifs:
                    self.expr(condition)
            for result in results:
                self.expr(result)
        finally:
            self.scope = outer

    def _comprehension_target(self, scope: _Comprehension, node: ast.expr) -> None:
        kind = type(node)
        if kind is ast.Name:
            scope.names.add(node.id)  # type: ignore[attr-defined]
        elif kind is ast.Tuple or kind is ast.List:
            for element in node.elts:  # type: ignore[attr-defined]
                self._comprehension_target(scope, element)
        elif kind is ast.Starred:
            self._comprehension_target(scope, node.value)  # type: ignore[attr-defined]
        else:
            self.expr(node)

    # ----------------------------------------------------------- functions

    def _defaults(self, args: ast.arguments) -> None:
        for default in args.defaults:
            self.expr(default)
        for kw_default in args.kw_defaults:
            if kw_default is not None:
                self.expr(kw_default)

    def _annotation(self, node: ast.expr | None) -> None:
        # A string annotation is not evaluated, so it reads nothing.
        if node is not None and not (type(node) is ast.Constant and isinstance(node.value, str)):
            self.expr(node)

    def _function_body(
        self,
        args: ast.arguments,
        body: list[ast.stmt] | None,
        expression: ast.expr | None,
        *,
        deferred: bool = True,
    ) -> None:
        deferred = deferred or self._deferred_depth > 0
        scope = _Function(self.scope, self.statement, deferred)
        self.functions.append(scope)
        for arg in args.posonlyargs:
            scope.locals.add(arg.arg)
        for arg in args.args:
            scope.locals.add(arg.arg)
        for arg in args.kwonlyargs:
            scope.locals.add(arg.arg)
        if args.vararg is not None:
            scope.locals.add(args.vararg.arg)
        if args.kwarg is not None:
            scope.locals.add(args.kwarg.arg)
        outer = self.scope
        self.scope = scope
        self._deferred_depth += deferred
        try:
            if body is not None:
                self.body(body)
            if expression is not None:
                self.expr(expression)
        finally:
            self.scope = outer
            self._deferred_depth -= deferred

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._exprs(node.decorator_list)
        args = node.args
        self._defaults(args)
        for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg):
            if arg is not None:
                self._annotation(arg.annotation)
        self._annotation(node.returns)
        self._kind = "def"
        self._bind(node.name, self._search_position(node, _DEF_NAME, node.name))
        self._kind = "value"
        self._function_body(args, node.body, None)

    def _class(self, node: ast.ClassDef) -> None:
        self._exprs(node.decorator_list)
        self._exprs(node.bases)
        for keyword in node.keywords:
            self.expr(keyword.value)
        outer = self.scope
        self.scope = _Class(outer)
        try:
            self.body(node.body)
        finally:
            self.scope = outer
        self._kind = "class"
        self._bind(node.name, self._search_position(node, _DEF_NAME, node.name))
        self._kind = "value"

    # ---------------------------------------------------------- statements

    def body(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            self.stmt(statement)

    def stmt(self, node: ast.stmt) -> None:
        kind = type(node)
        if kind is ast.Expr:
            value = node.value  # type: ignore[attr-defined]
            self.expr(value)
            if type(value) is ast.Await:
                value = value.value
            if (
                type(value) is ast.Call
                and type(value.func) is ast.Attribute
                and (value.func.attr not in READ_ONLY_METHODS or _in_place(value))
            ):
                receiver = value.func.value
                axes = _drawn_on(value)
                if axes is None:
                    self._method_call(receiver)
                else:
                    # ``series[a:b].plot(ax=ax[1])`` draws on ``ax``; it changes the
                    # receiver only when that is a name (``disp.plot(ax=ax)`` keeps
                    # the axes it drew on), not a slice or an attribute of one.
                    self._method_call(axes)
                    if type(receiver) is ast.Name:
                        self._method_call(receiver)
        elif kind is ast.Assign:
            value = node.value  # type: ignore[attr-defined]
            if type(value) is ast.Lambda:
                self._assigned_lambda = value
            self.expr(value)
            for target in node.targets:  # type: ignore[attr-defined]
                self.target(target)
            if type(value) is ast.Call and type(value.func) is ast.Attribute:
                self._assigned_method_call(value, value.func)
            if type(value) is ast.Call and self.scope is None:
                held = held_names(value)
                if held is not None:
                    for target in node.targets:  # type: ignore[attr-defined]
                        if type(target) is ast.Name:
                            self.current.holds[target.id] = held
        else:
            handler = _STATEMENTS.get(kind)
            if handler is not None:
                handler(self, node)
            else:
                self._generic(node)

    def _assigned_method_call(self, call: ast.Call, func: ast.Attribute) -> None:
        """``v = x.method(...)``: a candidate mutation only for the methods known
        to change their object while they return something
        (``MUTATING_WHEN_ASSIGNED``: ``Xt = scaler.fit_transform(X)``,
        ``a = rng.normal()``), and of the axes a call is given to draw on
        (``p = df.plot(ax=ax)`` changes ``ax``, not ``df``)."""
        axes = _drawn_on(call)
        if axes is not None:
            self._method_call(axes)
        elif func.attr in MUTATING_WHEN_ASSIGNED or _in_place(call):
            self._method_call(func.value)

    def _aug_assign(self, node: ast.AugAssign) -> None:
        target = node.target
        self.expr(target)
        self.expr(node.value)
        if type(target) is ast.Name:
            self._bind(target.id, target)
        else:
            self._mutate(target)

    def _ann_assign(self, node: ast.AnnAssign) -> None:
        self._annotation(node.annotation)
        if node.value is not None:
            if type(node.value) is ast.Lambda:
                self._assigned_lambda = node.value
            self.expr(node.value)
            self.target(node.target)
        elif type(node.target) is ast.Name:
            # ``x: int`` binds nothing at module level but makes ``x`` local in a function.
            if isinstance(self.scope, _Function):
                self.scope.locals.add(node.target.id)
        else:
            self.expr(node.target)

    def _for(self, node: ast.For | ast.AsyncFor) -> None:
        self.expr(node.iter)
        self.target(node.target)
        self.body(node.body)
        self.body(node.orelse)

    def _while_if(self, node: ast.While | ast.If) -> None:
        self.expr(node.test)
        self.body(node.body)
        self.body(node.orelse)

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.expr(item.context_expr)
            if item.optional_vars is not None:
                self.target(item.optional_vars)
        self.body(node.body)

    def _try(self, node: ast.Try | ast.TryStar) -> None:
        self.body(node.body)
        for handler in node.handlers:
            if handler.type is not None:
                self.expr(handler.type)
            name = handler.name
            if name is None:
                self.body(handler.body)
            elif self.scope is None:
                # Bound inside the handler only: Python deletes it at the end,
                # so it is never a define of the cell, and reads of it inside
                # the handler are not uses.
                was_bound = name in self.bound
                self.bound.add(name)
                self.body(handler.body)
                if not was_bound:
                    self.bound.discard(name)
            else:
                self._bind(name, self._search_position(handler, _AS_NAME, name))
                self.body(handler.body)
        self.body(node.orelse)
        self.body(node.finalbody)

    def _delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._delete_target(target)

    def _delete_target(self, node: ast.expr) -> None:
        kind = type(node)
        if kind is ast.Name:
            # ``del x`` needs an existing ``x`` (a use, for diagnostics) and
            # leaves a new version of it; what that version is does not depend
            # on the old value, so the statement's own reads leave it out.
            name = node.id  # type: ignore[attr-defined]
            read_before = name in self.current.reads
            self._load(node)  # type: ignore[arg-type]
            if not read_before and self.scope is None:
                self.current.reads.discard(name)
            self._bind(name, node)  # type: ignore[arg-type]
        elif kind is ast.Tuple or kind is ast.List:
            for element in node.elts:  # type: ignore[attr-defined]
                self._delete_target(element)
        else:
            self.expr(node)
            self._mutate(node)

    def _return(self, node: ast.Return) -> None:
        if node.value is not None:
            self.expr(node.value)

    def _raise(self, node: ast.Raise) -> None:
        if node.exc is not None:
            self.expr(node.exc)
        if node.cause is not None:
            self.expr(node.cause)

    def _assert(self, node: ast.Assert) -> None:
        self.expr(node.test)
        if node.msg is not None:
            self.expr(node.msg)

    def _import(self, node: ast.Import) -> None:
        self._kind = "import"
        for alias in node.names:
            if alias.asname is not None:
                name, target = alias.asname, alias.name
                self._bind(name, self._end_position(alias, name))
            else:
                name = target = alias.name.split(".", 1)[0]
                self._bind(name, self._start_position(alias, len(name)))
            self._imported(name, target, alias.name)
        self._kind = "value"

    def _imported(self, name: str, target: str, module: str) -> None:
        if self.scope is None:
            self.current.imports[name] = target
            # A module written by a cell (``%%writefile helper.py``) is a file this reads.
            self.current.file_reads.append(module.replace(".", "/") + ".py")

    def _import_from(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                module = "." * (node.level or 0) + (node.module or "")
                line = node.lineno - 1
                col = self._char_col(line, node.col_offset)
                if node.end_lineno == node.lineno and node.end_col_offset is not None:
                    end = self._char_col(line, node.end_col_offset)
                else:
                    end = len(self.lines[line]) if line < len(self.lines) else col
                self.facts.star_imports.append((module, (line, col, end)))
            else:
                name = alias.asname or alias.name
                self._kind = "import"
                self._bind(name, self._end_position(alias, name))
                self._kind = "value"
                if not node.level and node.module:
                    self._imported(name, f"{node.module}.{alias.name}", node.module)

    def _global(self, node: ast.Global) -> None:
        if self.scope is not None and not isinstance(self.scope, _Comprehension):
            self.scope.globals.update(node.names)

    def _nonlocal(self, node: ast.Nonlocal) -> None:
        if isinstance(self.scope, _Function):
            self.scope.nonlocals.update(node.names)

    def _match(self, node: ast.Match) -> None:
        self.expr(node.subject)
        for case in node.cases:
            self._pattern(case.pattern)
            if case.guard is not None:
                self.expr(case.guard)
            self.body(case.body)

    def _pattern(self, node: ast.pattern) -> None:
        kind = type(node)
        if kind is ast.MatchValue:
            self.expr(node.value)  # type: ignore[attr-defined]
        elif kind is ast.MatchAs or kind is ast.MatchStar:
            inner = getattr(node, "pattern", None)
            if inner is not None:
                self._pattern(inner)
            name = node.name  # type: ignore[attr-defined]
            if name is not None:
                self._bind(name, self._end_position(node, name))
        elif kind is ast.MatchSequence or kind is ast.MatchOr:
            for inner in node.patterns:  # type: ignore[attr-defined]
                self._pattern(inner)
        elif kind is ast.MatchMapping:
            self._exprs(node.keys)  # type: ignore[attr-defined]
            for inner in node.patterns:  # type: ignore[attr-defined]
                self._pattern(inner)
            rest = node.rest  # type: ignore[attr-defined]
            if rest is not None:
                self._bind(rest, self._search_position(node, _DOUBLE_STAR, rest))
        elif kind is ast.MatchClass:
            self.expr(node.cls)  # type: ignore[attr-defined]
            for inner in (*node.patterns, *node.kwd_patterns):  # type: ignore[attr-defined]
                self._pattern(inner)

    def _type_alias(self, node: ast.stmt) -> None:
        # ``type X = ...`` (Python 3.12+): binds X; its value is evaluated lazily.
        name = getattr(node, "name", None)
        if isinstance(name, ast.Name):
            self._bind(name.id, name)
        value = getattr(node, "value", None)
        if isinstance(value, ast.expr):
            self.expr(value)

    def _nothing(self, node: ast.stmt) -> None:
        return

    # -------------------------------------------------------------- result

    def walk(self, statements: list[ast.stmt]) -> None:
        """Walk a cell's top-level statements, keeping facts per statement."""
        for index, statement in enumerate(statements):
            self.statement = index
            self.current = StatementFacts(
                statement.lineno - 1, (statement.end_lineno or statement.lineno) - 1
            )
            self.facts.statements.append(self.current)
            self.stmt(statement)
        last = statements[-1] if statements else None
        if isinstance(last, ast.Expr) and not _returns_nothing(last.value):
            self.current.displays = True  # IPython shows the value of a last expression

    def finish(self) -> NameFacts:
        """Resolve reads inside function bodies, now that every binding is known."""
        facts = self.facts
        defines = facts.defines
        statements = facts.statements
        deferred_names: set[str] = set()
        for function in self.functions:
            statement = statements[function.statement]
            into = statement.deferred if function.deferred else statement.reads
            for node in function.reads:
                name = node.id
                if not _is_global_read(function, name):
                    continue
                into.add(name)
                if function.deferred:
                    self._record(self._deferred_positions, name, self._name_position(node))
                if name in defines:
                    continue
                self._record(facts.reads, name, self._name_position(node))
                if function.deferred:
                    deferred_names.add(name)
                else:
                    self._immediate.add(name)
        self._expand_local_calls()
        facts.deferred_only = deferred_names - self._immediate
        return facts

    def _expand_local_calls(self) -> None:
        """A statement that reads a function defined earlier in the cell may
        call it: what the function reads is read by that statement too."""
        statements = self.facts.statements
        if not any(statement.deferred for statement in statements):
            return
        binders: dict[str, list[int]] = {}
        for index, statement in enumerate(statements):
            for name in statement.binds:
                binders.setdefault(name, []).append(index)

        def binder_before(name: str, index: int) -> int | None:
            found = binders.get(name)
            if not found:
                return None
            at = bisect_left(found, index)
            return found[at - 1] if at else None

        for index, statement in enumerate(statements):
            pending = [name for name in statement.reads if name in binders]
            seen: set[str] = set()
            while pending:
                name = pending.pop()
                if name in seen:
                    continue
                seen.add(name)
                source = binder_before(name, index)
                if source is None or not statements[source].deferred:
                    continue
                for read in statements[source].deferred:
                    statement.reads.add(read)
                    if binder_before(read, index) is None:
                        # Not bound in this cell before the call: a use of the cell.
                        self._immediate.add(read)
                        if read not in self.facts.reads:
                            for position in self._deferred_positions.get(read, ()):
                                self._record(self.facts.reads, read, position)
                    else:
                        pending.append(read)


def _returns_nothing(value: ast.expr) -> bool:
    """A call known to return None (an option setter): nothing to show."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in _OPTION_SETTERS


def _drawn_on(call: ast.Call) -> ast.expr | None:
    """The axes a plotting call draws on: the value of its ``ax=`` or ``axes=`` keyword."""
    for keyword in call.keywords:
        if keyword.arg in _AXES_KEYWORDS:
            return keyword.value
    return None


_AXES_KEYWORDS = frozenset({"ax", "axes"})


def _in_place(call: ast.Call) -> bool:
    """``df.dropna(inplace=True)``: a method that otherwise returns a new object changes its own."""
    return any(
        keyword.arg == "inplace"
        and not (isinstance(keyword.value, ast.Constant) and not keyword.value.value)
        for keyword in call.keywords
    )


def _option_hint(call: ast.Call) -> str:
    """``display.max_rows`` for ``set_option("display.max_rows", 10)``; the sorted
    keyword names for ``set_config(display="text")``."""
    if call.args:
        first = call.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
        return "?"
    return ",".join(sorted(keyword.arg or "**" for keyword in call.keywords))


def _is_global_read(function: _Function, name: str) -> bool:
    """Whether ``name`` read in ``function`` refers to the cell (module) scope."""
    scope: _Scope = function
    while scope is not None:
        if isinstance(scope, _Function):
            if name in scope.globals:
                return True
            if name in scope.locals and name not in scope.nonlocals:
                return False
        elif isinstance(scope, _Comprehension) and name in scope.names:
            return False
        scope = scope.parent
    return True


_Handler = Callable[[_Walker, Any], None]

_EXPRESSIONS: dict[type[ast.AST], _Handler] = {
    ast.BinOp: _Walker._binop,
    ast.BoolOp: _Walker._boolop,
    ast.Compare: _Walker._compare,
    ast.UnaryOp: _Walker._unary,
    ast.Await: _Walker._value,
    ast.Starred: _Walker._value,
    ast.FormattedValue: _Walker._value,
    ast.Yield: _Walker._optional_value,
    ast.YieldFrom: _Walker._optional_value,
    ast.Tuple: _Walker._elements,
    ast.List: _Walker._elements,
    ast.Set: _Walker._elements,
    ast.JoinedStr: _Walker._joined,
    ast.Dict: _Walker._dict,
    ast.Subscript: _Walker._subscript,
    ast.Slice: _Walker._slice,
    ast.IfExp: _Walker._ifexp,
    ast.NamedExpr: _Walker._named,
    ast.Lambda: _Walker._lambda,
    ast.ListComp: _Walker._comprehension,
    ast.SetComp: _Walker._comprehension,
    ast.GeneratorExp: _Walker._comprehension,
    ast.DictComp: _Walker._dictcomp,
}

_STATEMENTS: dict[type[ast.AST], _Handler] = {
    ast.FunctionDef: _Walker._function,
    ast.AsyncFunctionDef: _Walker._function,
    ast.ClassDef: _Walker._class,
    ast.AugAssign: _Walker._aug_assign,
    ast.AnnAssign: _Walker._ann_assign,
    ast.For: _Walker._for,
    ast.AsyncFor: _Walker._for,
    ast.While: _Walker._while_if,
    ast.If: _Walker._while_if,
    ast.With: _Walker._with,
    ast.AsyncWith: _Walker._with,
    ast.Try: _Walker._try,
    ast.TryStar: _Walker._try,
    ast.Delete: _Walker._delete,
    ast.Return: _Walker._return,
    ast.Raise: _Walker._raise,
    ast.Assert: _Walker._assert,
    ast.Import: _Walker._import,
    ast.ImportFrom: _Walker._import_from,
    ast.Global: _Walker._global,
    ast.Nonlocal: _Walker._nonlocal,
    ast.Match: _Walker._match,
    ast.Pass: _Walker._nothing,
    ast.Break: _Walker._nothing,
    ast.Continue: _Walker._nothing,
}
_type_alias_node = getattr(ast, "TypeAlias", None)
if _type_alias_node is not None:
    _STATEMENTS[_type_alias_node] = _Walker._type_alias


def collect_names(
    tree: ast.Module,
    lines: list[str],
    ascii_only: bool,
    magic_binds: tuple[tuple[str, int, int], ...] = (),
) -> NameFacts:
    """Walk a parsed cell; ``lines`` are its source lines (for name positions)."""
    walker = _Walker(lines, ascii_only)
    for name, line, col in magic_binds:
        walker._define(name, (line, col, col + len(name)))
    magic = walker.current
    walker.walk(tree.body)
    if magic.binds:
        # ``%%capture out`` binds ``out`` before any statement runs.
        walker.facts.statements.insert(0, magic)
    return walker.finish()
