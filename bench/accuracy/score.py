"""Which cells an edit really affected, and why a prediction was wrong.

A cell is *really affected* when, comparing the original run with the run of
the edited notebook, its outputs differ or a name (or hidden state) that the
cell bound or changed in either run has a different value after it.

Two identical runs of the original decide what is noise: a cell whose
outputs differ between them is *nondeterministic* and left out of every
count; a name whose value differs between them after a cell (a timer, an
uninitialised buffer inside a fitted model, the unseeded global RNG) is left
out of that cell's comparison, so the cell is still judged by its outputs and
its other names.

Causes come from an *ideal static analysis* built from the runs
(``reachable``): it knows which cell last changed each name a cell can read
(every name the cell mentions, and through functions defined in the notebook
the names their bodies mention), but not the values. A false-stale cell that
this ideal analysis also reaches is *beyond static analysis*: something on
its dependency path changed code, yet its result did not (a caller of an
edited function whose output happens not to change). One it does not reach,
or one whose edit only touched comments or layout, is *analysis
imprecision*: a better engine could keep it fresh.
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field

from accuracy.truth import Run

_HIDDEN_HINTS = {
    "<numpy.random>": re.compile(r"random|rng|shuffle|permutation|\.sample\("),
    "<random>": re.compile(r"random"),
    "<matplotlib.rcParams>": re.compile(r"plt\.|matplotlib|mpl\.|\.plot|\.hist|subplots|figure"),
    "<pandas.options>": re.compile(r"pd\.|DataFrame|Series|\.head|\.describe"),
    "<sklearn.config>": re.compile(r"sklearn|fit|transform|predict|Pipeline"),
    "<warnings.filters>": re.compile(r"warn|fit"),
}


def _identifiers(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        # Magics and shell escapes: fall back to every identifier-looking word.
        return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def functions(codes: dict[int, str]) -> dict[str, set[str]]:
    """Names mentioned in the body of each function or class defined anywhere in the notebook."""
    bodies: dict[str, set[str]] = {}
    for code in codes.values():
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                mentioned = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                bodies.setdefault(node.name, set()).update(mentioned)
    return bodies


def reads(code: str, bodies: dict[str, set[str]]) -> set[str]:
    """A static over-estimate of the names a cell's code can read, through notebook functions too."""
    seen = _identifiers(code)
    pending = list(seen)
    while pending:
        name = pending.pop()
        for inner in bodies.get(name, ()):
            if inner not in seen:
                seen.add(inner)
                pending.append(inner)
    return seen


def same_meaning(before: str, after: str) -> bool:
    """True when two versions of a cell differ only in comments and layout."""
    try:
        return ast.dump(ast.parse(before)) == ast.dump(ast.parse(after))
    except SyntaxError:
        return _tokens(before) == _tokens(after)


def _tokens(code: str) -> list[str]:
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    try:
        return [
            t.string
            for t in tokenize.generate_tokens(io.StringIO(code).readline)
            if t.type not in skip
        ]
    except (tokenize.TokenError, SyntaxError):
        # Comment-stripped lines are the best we can do for code that does not tokenize.
        return [
            line.split("#", 1)[0].strip()
            for line in code.splitlines()
            if line.split("#", 1)[0].strip()
        ]


def noise(first: Run, second: Run, ident: int) -> set[str]:
    """Names whose value after the cell differs between two identical runs."""
    if ident not in first.states or ident not in second.states:
        return set()
    candidates = first.changed(ident) | second.changed(ident)
    return {n for n in candidates if first.states[ident].get(n) != second.states[ident].get(n)}


def nondeterministic(first: Run, second: Run, ident: int) -> bool:
    return first.outputs.get(ident) != second.outputs.get(ident)


def differing(original: Run, edited: Run, ident: int, ignore: set[str]) -> set[str]:
    """Names the cell bound or changed (in either run) whose values after it differ."""
    candidates = (original.changed(ident) | edited.changed(ident)) - ignore
    return {n for n in candidates if original.states[ident].get(n) != edited.states[ident].get(n)}


def _binders(run: Run) -> dict[int, dict[str, int]]:
    """For each cell, which earlier cell last changed each name (or hidden state) it can see."""
    current: dict[str, int] = {}
    seen: dict[int, dict[str, int]] = {}
    for key in run.order:
        seen[key] = dict(current)
        for name in run.changed(key):
            current[name] = key
    return seen


# What a statement must contain to change a hidden state (an import that
# adds warning filters does not count: it is the same in every run).
_WRITE_HINTS = {
    "<numpy.random>": re.compile(r"random|rng|shuffle|permutation"),
    "<random>": re.compile(r"random"),
    "<matplotlib.rcParams>": re.compile(r"rc\(|rcParams|style\.use|rcdefaults|rc_file"),
    "<pandas.options>": re.compile(r"set_option|reset_option|pd\.options"),
    "<sklearn.config>": re.compile(r"set_config"),
    "<warnings.filters>": re.compile(r"filterwarnings|simplefilter|resetwarnings"),
    "<cwd>": re.compile(r"chdir"),
    "<sys.path>": re.compile(r"sys\.path"),
}

# Hidden state that only changes how results are shown, not the values
# computed: a change reaches the outputs of cells that read it, never their
# names.
_RENDER = {"<matplotlib.rcParams>", "<pandas.options>", "<warnings.filters>"}


@dataclass
class _Statement:
    loads: set[str]
    stores: set[str]
    source: str
    displays: bool  # the cell's last statement, an expression: its value is shown


def _statements(code: str, bodies: dict[str, set[str]], imported: set[str]) -> list[_Statement]:
    """Top-level statements with what they read and bind (mutations count as binds)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        words = reads(code, bodies)
        return [_Statement(words, words, code, True)]
    found = []
    for position, stmt in enumerate(tree.body):
        loads: set[str] = set()
        stores: set[str] = set()
        nodes = (
            [*stmt.decorator_list, *stmt.args.defaults, *stmt.args.kw_defaults]
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
            else [stmt]
        )
        for root in nodes:
            if root is None:
                continue
            for node in ast.walk(root):
                if isinstance(node, ast.Name):
                    (stores if isinstance(node.ctx, ast.Store) else loads).add(node.id)
                elif isinstance(node, ast.alias):
                    stores.add((node.asname or node.name).split(".")[0])
                elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(
                    node.ctx, (ast.Store, ast.Del)
                ):
                    base = node.value
                    while isinstance(base, (ast.Attribute, ast.Subscript)):
                        base = base.value
                    if isinstance(base, ast.Name):
                        stores.add(base.id)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stores.add(stmt.name)
        last = position == len(tree.body) - 1
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id not in imported
            and not last
        ):
            # `x.method(...)` as a statement may change x (DESIGN §4); not on a
            # module, and not the cell's last line, which is there to be shown.
            stores.add(call.func.value.id)
        for name in list(loads):
            loads |= bodies.get(name, set())
        segment = ast.get_source_segment(code, stmt) or ""
        found.append(_Statement(loads, stores, segment, last and isinstance(stmt, ast.Expr)))
    return found


def _changed_statements(before: str, after: str) -> set[int]:
    """Positions of the edited cell's statements that are new or different."""
    try:
        old = [ast.dump(s) for s in ast.parse(before).body]
        new = [ast.dump(s) for s in ast.parse(after).body]
    except SyntaxError:
        return {-1}
    changed = set()
    for tag, _, _, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag != "equal":
            changed.update(range(j1, j2))
            if j1 == j2:  # a statement was removed: what follows may bind differently
                changed.add(min(j1, len(new) - 1))
    return changed


def _imported(codes: Iterable[str]) -> set[str]:
    """Names bound by imports: calls on modules do not change them."""
    names = set()
    for code in codes:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _hidden_read(name: str, stmt: _Statement) -> bool:
    if name.startswith("<file:"):
        return name[6:-1].rsplit("/", 1)[-1] in stmt.source
    if stmt.displays and name in ("<pandas.options>", "<sklearn.config>"):
        return True  # how a shown value is rendered
    hint = _HIDDEN_HINTS.get(name)
    return hint is not None and hint.search(stmt.source) is not None


def _hidden_write(name: str, stmt: _Statement) -> bool:
    if name.startswith("<file:"):
        return name[6:-1].rsplit("/", 1)[-1] in stmt.source
    hint = _WRITE_HINTS.get(name)
    return hint is not None and hint.search(stmt.source) is not None


def reachable(
    original: Run,
    edited: Run,
    codes_before: dict[int, str],
    changed_code: set[int],
    bodies: dict[str, set[str]],
    positions: dict[int, int],
) -> dict[int, str]:
    """Cells an ideal static analysis must call stale, with the dependency that makes them so.

    The ideal analysis versions each name by the statements that bind it and
    their inputs (DESIGN §4), and it knows exactly which cell last changed each
    name a cell reads (taken from the runs, not guessed), but not the values. A
    cell is reached when it is new, when a statement of it changed, or when a
    statement reads a name whose version changed: bound by a reached
    statement, or now coming from a different cell (a delete, a move). Hidden
    state that only changes presentation (rcParams, pandas options, warning
    filters) reaches a cell's outputs but not its names. What is reached yet
    turns out unchanged is false stale no static analysis can avoid.
    """
    imported = _imported(edited.codes.values())

    def cell(key: int) -> str:
        # Causes name cells by their place in the edited file, like the table.
        return "the new cell" if key < 0 else f"cell {positions.get(key, key)}"

    why: dict[int, str] = {}
    tainted_by: dict[int, set[str]] = {}
    before_o, before_e = _binders(original), _binders(edited)
    for key in edited.order:
        code = edited.codes[key]
        statements = _statements(code, bodies, imported)
        direct: set[int] = set()
        if key < 0:
            why[key] = "new cell"
            direct = set(range(len(statements)))
        elif key in changed_code:
            why[key] = "its code changed"
            direct = _changed_statements(codes_before.get(key, ""), code)
            if -1 in direct:
                direct = set(range(len(statements)))
        visible = before_e[key]
        tainted: dict[str, str] = {}
        for name, provider in visible.items():
            if name in tainted_by.get(provider, set()):
                tainted[name] = f"reads `{name}` from changed {cell(provider)}"
            elif key >= 0 and provider != before_o.get(key, {}).get(name):
                # Hidden state first appears with whichever import comes first:
                # a new provider of an equal value is no change.
                if name.startswith("<") and original.before(key).get(name) == edited.before(
                    key
                ).get(name):
                    continue
                tainted[name] = f"`{name}` now comes from another cell"
        hidden_changes = {n for n in edited.changed(key) if n.startswith("<")}
        out: set[str] = set()
        for position, stmt in enumerate(statements):
            # %who / %whos list the whole namespace.
            loads = set(tainted) if "%who" in stmt.source else stmt.loads
            cause = next((tainted[n] for n in sorted(loads) if n in tainted), None)
            if cause is None:
                for name in sorted(tainted):
                    if name.startswith("<") and _hidden_read(name, stmt):
                        if name in _RENDER:
                            why.setdefault(key, tainted[name])
                        else:
                            cause = tainted[name]
                        break
            if position in direct or cause is not None:
                if cause is not None:
                    why.setdefault(key, cause)
                hit = stmt.stores | {h for h in hidden_changes if _hidden_write(h, stmt)}
                out |= hit
                for name in hit:
                    tainted.setdefault(name, f"reads `{name}` from changed {cell(key)}")
            else:
                # Rebound by code that reads nothing changed: a fresh version again
                # (a mutation also reads its object, so it keeps the taint).
                for name in stmt.stores - stmt.loads:
                    tainted.pop(name, None)
                    out.discard(name)
        tainted_by[key] = out
    return why


@dataclass
class Verdict:
    """One cell of one edit."""

    ident: int
    index: int  # the engine's index of the cell in the edited file (else our chunk position)
    title: str
    status: str
    reason: str
    predicted: bool
    affected: bool
    touched: bool
    cause: str = ""
    beyond_static: bool = False
    # What differs from the original run: "outputs" and/or the names.
    differs: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.predicted and self.affected:
            return "tp"
        if self.predicted:
            return "false-stale"
        if self.affected:
            return "missed"
        return "tn"


def classify(verdict: Verdict, code_before: str, code_after: str, why: dict[int, str]) -> None:
    """Fill in why a false-stale or missed cell came out that way."""
    path = why.get(verdict.ident)
    if verdict.outcome == "false-stale":
        if verdict.touched and code_before != code_after and same_meaning(code_before, code_after):
            verdict.cause = "comments/layout only"
        elif path is not None:
            verdict.cause = f"{path}, same result"
            verdict.beyond_static = True
        else:
            verdict.cause = "no dependency path from the edit"
    elif verdict.outcome == "missed":
        verdict.cause = path or "no dependency the probe can see"
