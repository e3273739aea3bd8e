"""Table of cell code -> defines / uses / mutates (DESIGN §4).

Each case is ``(id, code, defines, uses, mutates)``; the three name sets are
written as space-separated names so the table reads like the semantics.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions.analysis.cell import NameRef, analyse_code
from sessions.analysis.graph import build_graph
from sessions.format.notebook import parse

D = str  # defines, space-separated
U = str  # uses
M = str  # mutates

CASES: list[tuple[str, str, D, U, M]] = [
    # --- assignments -------------------------------------------------------
    ("simple-assign", "x = 1", "x", "", ""),
    ("assign-from-other", "y = x * 2", "y", "x", ""),
    ("chained-assign", "a = b = c", "a b", "c", ""),
    ("tuple-assign", "a, b = pair", "a b", "pair", ""),
    ("nested-tuple-assign", "(a, (b, c)) = data", "a b c", "data", ""),
    ("list-target", "[a, b] = 1, 2", "a b", "", ""),
    ("starred-assign", "first, *rest = items", "first rest", "items", ""),
    ("starred-middle", "a, *mid, z = seq", "a mid z", "seq", ""),
    ("swap", "a, b = b, a", "a b", "a b", ""),
    ("annotated-assign", "x: int = 3", "x", "", ""),
    ("annotated-with-user-type", "df: Frame = load()", "df", "Frame load", ""),
    ("annotation-only-binds-nothing", "total: Counter", "", "Counter", ""),
    ("string-annotation-not-read", "x: 'Model' = make()", "x", "make", ""),
    ("augmented-assign", "count += 1", "count", "count", ""),
    ("augmented-after-define", "n = 0\nn += step", "n", "step", ""),
    ("self-reference", "x = x + 1", "x", "x", ""),
    ("use-after-define", "x = 1\ny = x", "x y", "", ""),
    ("use-before-define", "y = x\nx = 1", "x y", "x", ""),
    ("rhs-before-target", "data = clean(data)", "data", "clean data", ""),
    ("walrus", "if (n := len(items)) > 3:\n    big = n", "n big", "items", ""),
    ("walrus-then-use", "print(m := 5, m)", "m", "", ""),
    # --- comprehensions -----------------------------------------------------
    ("listcomp-locals", "squares = [v * v for v in values]", "squares", "values", ""),
    ("listcomp-free-name", "out = [v * k for v in values]", "out", "values k", ""),
    ("setcomp", "s = {w.lower() for w in words}", "s", "words", ""),
    ("dictcomp", "d = {k: v for k, v in pairs if v}", "d", "pairs", ""),
    ("genexp", "total = sum(x for x in xs)", "total", "xs", ""),
    ("nested-comprehension", "flat = [c for row in grid for c in row]", "flat", "grid", ""),
    (
        "comprehension-in-comprehension",
        "m = [[i * j for j in cols] for i in rows]",
        "m",
        "cols rows",
        "",
    ),
    ("comprehension-condition-free", "ok = [x for x in xs if x > limit]", "ok", "xs limit", ""),
    ("first-iter-outer-scope", "x = [x for x in x]", "x", "x", ""),
    ("inner-iter-sees-outer-target", "p = [b for a in seq for b in a]", "p", "seq", ""),
    ("comprehension-var-not-leaked", "r = [i for i in range(3)]\nprint(i)", "r", "i", ""),
    ("walrus-in-comprehension", "hits = [y for x in data if (y := f(x))]", "hits y", "data f", ""),
    (
        "walrus-in-nested-comprehension",
        "[[(last := c) for c in row] for row in rows]",
        "last",
        "rows",
        "",
    ),
    ("comprehension-tuple-target", "ks = [k for k, _ in items]", "ks", "items", ""),
    # --- imports -------------------------------------------------------------
    ("import", "import os", "os", "", ""),
    ("import-dotted", "import os.path", "os", "", ""),
    ("import-dotted-alias", "import matplotlib.pyplot as plt", "plt", "", ""),
    ("import-several", "import os, sys as system", "os system", "", ""),
    ("from-import", "from math import pi, tau", "pi tau", "", ""),
    ("from-import-alias", "from pandas import DataFrame as DF", "DF", "", ""),
    ("relative-import", "from . import sibling", "sibling", "", ""),
    ("relative-module-import", "from ..pkg.mod import thing as t", "t", "", ""),
    ("star-import", "from os.path import *", "", "", ""),
    (
        "import-in-try",
        "try:\n    import ujson as json\nexcept ImportError:\n    import json",
        "json",
        "",
        "",
    ),
    ("future-import", "from __future__ import annotations", "annotations", "", ""),
    # --- functions ---------------------------------------------------------
    ("def", "def f():\n    return 1", "f", "", ""),
    ("def-free-global", "def f():\n    return scale * 2", "f", "scale", ""),
    (
        "def-param-local",
        "def f(a, /, b, *args, c, **kw):\n    return a, b, args, c, kw",
        "f",
        "",
        "",
    ),
    ("def-local-assign", "def f():\n    tmp = 1\n    return tmp", "f", "", ""),
    ("def-default-read", "def f(x=default):\n    return x", "f", "default", ""),
    ("def-kwonly-default", "def f(*, k=fallback):\n    return k", "f", "fallback", ""),
    ("def-decorator", "@cache\ndef f():\n    pass", "f", "cache", ""),
    ("def-decorator-call", "@app.route(path)\ndef page():\n    pass", "page", "app path", ""),
    ("def-annotations-read", "def f(x: Frame) -> Result:\n    return x", "f", "Frame Result", ""),
    ("def-string-annotations", "def f(x: 'Frame') -> 'Result':\n    return x", "f", "", ""),
    ("def-recursion", "def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)", "fact", "", ""),
    ("def-uses-later-cell-name", "def f():\n    return g()\ndef g():\n    return 2", "f g", "", ""),
    (
        "def-global-assign",
        "def setup():\n    global cfg\n    cfg = load()",
        "setup cfg",
        "load",
        "",
    ),
    ("def-global-read", "def f():\n    global counter\n    return counter", "f", "counter", ""),
    ("def-global-augment", "def bump():\n    global hits\n    hits += 1", "bump hits", "", ""),
    ("def-local-shadows-global", "def f():\n    data = 1\n    return data", "f", "", ""),
    ("def-local-assigned-later", "def f():\n    print(v)\n    v = 2", "f", "", ""),
    (
        "async-def-await",
        "async def fetch(u):\n    return await client.get(u)",
        "fetch",
        "client",
        "",
    ),
    ("top-level-await", "resp = await session.get(url)", "resp", "session url", ""),
    (
        "async-for",
        "async def f():\n    async for row in stream:\n        yield row",
        "f",
        "stream",
        "",
    ),
    (
        "async-with",
        "async def f():\n    async with lock as held:\n        return held",
        "f",
        "lock",
        "",
    ),
    (
        "nested-function-closure",
        "def outer():\n    v = 1\n    def inner():\n        return v\n    return inner",
        "outer",
        "",
        "",
    ),
    (
        "nested-function-free",
        "def outer():\n    def inner():\n        return w\n    return inner",
        "outer",
        "w",
        "",
    ),
    (
        "nonlocal",
        "def outer():\n    n = 0\n    def inc():\n        nonlocal n\n        n += 1\n    return inc",
        "outer",
        "",
        "",
    ),
    (
        "nested-global",
        "def outer():\n    def inner():\n        global g\n        g = 1\n    inner()",
        "outer g",
        "",
        "",
    ),
    ("function-reads-def-below", "def f():\n    return helper\nhelper = 3", "f helper", "", ""),
    ("yield-from", "def gen():\n    yield from source", "gen", "source", ""),
    # --- lambdas ---------------------------------------------------------------
    ("lambda-param", "key = lambda row: row[0]", "key", "", ""),
    ("lambda-free", "key = lambda row: row[col]", "key", "col", ""),
    ("lambda-default", "f = lambda x=base: x", "f", "base", ""),
    ("lambda-in-comprehension", "fs = [lambda: i for i in range(3)]", "fs", "", ""),
    ("lambda-sorted", "out = sorted(rows, key=lambda r: r.score)", "out", "rows", ""),
    # --- classes ---------------------------------------------------------------
    ("class", "class A:\n    pass", "A", "", ""),
    ("class-bases-keywords", "class A(Base, metaclass=Meta):\n    pass", "A", "Base Meta", ""),
    ("class-decorator", "@dataclass\nclass P:\n    x: int = 0", "P", "dataclass", ""),
    ("class-body-local", "class A:\n    k = 1\n    j = k + 1", "A", "", ""),
    ("class-body-reads-global", "class A:\n    j = offset + 1", "A", "offset", ""),
    (
        "class-name-not-visible-in-method",
        "class A:\n    k = 1\n    def m(self):\n        return k",
        "A",
        "k",
        "",
    ),
    (
        "class-method-uses-class-by-name",
        "class A:\n    def clone(self):\n        return A()",
        "A",
        "",
        "",
    ),
    (
        "class-body-comprehension-skips-class",
        "class A:\n    k = 2\n    ks = [k for _ in range(3)]",
        "A",
        "k",
        "",
    ),
    (
        "class-body-comprehension-first-iter",
        "class A:\n    k = [1]\n    ks = [v for v in k]",
        "A",
        "",
        "",
    ),
    ("class-attr-annotation", "class A:\n    x: Thing", "A", "Thing", ""),
    (
        "class-super",
        "class B(A):\n    def __init__(self):\n        super().__init__()",
        "B",
        "A",
        "",
    ),
    (
        "class-implicit-dunder-class",
        "class A:\n    def m(self):\n        return __class__",
        "A",
        "",
        "",
    ),
    # --- control flow -----------------------------------------------------------
    ("for-target", "for i in range(n):\n    total = i", "i total", "n", ""),
    ("for-tuple-target", "for k, v in d.items():\n    pass", "k v", "d", ""),
    ("for-else", "for x in xs:\n    break\nelse:\n    found = None", "x found", "xs", ""),
    ("while", "while not done:\n    step()", "", "done step", ""),
    ("with-target", "with open(p) as fh:\n    text = fh.read()", "fh text", "p", ""),
    ("with-tuple-target", "with ctx() as (a, b):\n    pass", "a b", "ctx", ""),
    ("with-no-target", "with lock:\n    pass", "", "lock", ""),
    (
        "except-name",
        "try:\n    run()\nexcept ValueError as err:\n    msg = str(err)",
        "msg",  # Python unbinds ``err`` after the handler
        "run",
        "",
    ),
    ("except-custom-type", "try:\n    pass\nexcept MyError:\n    pass", "", "MyError", ""),
    ("try-finally", "try:\n    r = f()\nfinally:\n    cleanup()", "r", "f cleanup", ""),
    ("try-else", "try:\n    v = 1\nexcept Exception:\n    v = 0\nelse:\n    w = v", "v w", "", ""),
    ("if-guarded-define", "if flag:\n    mode = 'a'\nelse:\n    mode = 'b'", "mode", "flag", ""),
    ("if-define-then-use", "if c:\n    z = 1\nprint(z)", "z", "c", ""),
    ("assert", "assert ready, reason", "", "ready reason", ""),
    ("raise-from", "raise Err(msg) from cause", "", "Err msg cause", ""),
    ("ternary", "v = a if cond else b", "v", "a cond b", ""),
    # --- match ------------------------------------------------------------------
    ("match-capture", "match cmd:\n    case [action, obj]:\n        pass", "action obj", "cmd", ""),
    ("match-as", "match p:\n    case Point(x=0) as origin:\n        pass", "origin", "p Point", ""),
    ("match-star", "match seq:\n    case [head, *tail]:\n        pass", "head tail", "seq", ""),
    (
        "match-mapping-rest",
        "match cfg:\n    case {'k': v, **others}:\n        pass",
        "v others",
        "cfg",
        "",
    ),
    ("match-value-dotted", "match c:\n    case Color.RED:\n        hit = 1", "hit", "c Color", ""),
    ("match-wildcard", "match c:\n    case _:\n        pass", "", "c", ""),
    (
        "match-or-guard",
        "match n:\n    case 1 | 2 as small if small > lo:\n        pass",
        "small",
        "n lo",
        "",
    ),
    # --- del ----------------------------------------------------------------
    ("del-name", "del big", "big", "big", ""),
    ("del-after-define", "tmp = 1\ndel tmp", "tmp", "", ""),
    ("del-subscript", "del cache[key]", "", "cache key", "cache"),
    ("del-attribute", "del obj.attr", "", "obj", "obj"),
    # --- mutation ----------------------------------------------------------------
    ("method-call-append", "items.append(4)", "", "items", "items"),
    ("method-call-sort", "rows.sort()", "", "rows", "rows"),
    ("method-call-plot", "df.plot()", "", "df", "df"),
    ("read-only-accessor-head", "df.head(2)", "", "df", ""),
    ("read-only-accessor-describe", "df.describe()", "", "df", ""),
    ("read-only-accessor-on-attribute", "model.weights.copy()", "", "model", ""),
    ("read-only-name-then-real-mutation", "df.head()\ndf.pop('a')", "", "df", "df"),
    ("fit-is-a-mutation", "model.fit(X, y)", "", "model X y", "model"),
    ("method-call-nested-attr", "model.layers.append(l)", "", "model l", "model"),
    ("method-call-await", "await queue.put(job)", "", "queue job", "queue"),
    ("method-call-in-expression-not-mutation", "n = items.count(3)", "n", "items", ""),
    ("method-call-in-loop", "for v in vs:\n    acc.add(v)", "v", "vs acc", "acc"),
    ("subscript-assign", "table[k] = 1", "", "table k", "table"),
    ("attribute-assign", "obj.name = 'x'", "", "obj", "obj"),
    ("deep-attribute-assign", "cfg.db.host = h", "", "cfg h", "cfg"),
    ("subscript-augassign", "counts[w] += 1", "", "counts w", "counts"),
    ("attribute-augassign", "state.n += 1", "", "state", "state"),
    ("attribute-annassign", "obj.x: int = 1", "", "obj", "obj"),
    ("mutate-after-define-is-define", "xs = []\nxs.append(1)", "xs", "", ""),
    ("mutate-before-define", "xs.append(1)\nxs = []", "xs", "xs", ""),
    (
        "mutation-inside-function-not-counted",
        "def add(v):\n    items.append(v)",
        "add",
        "items",
        "",
    ),
    ("function-call-not-mutation", "print(items)", "", "items", ""),
    ("for-target-attribute", "for obj.i in range(3):\n    pass", "", "obj", "obj"),
    # --- strings and formatting -----------------------------------------------------
    ("fstring", "msg = f'{name}: {value:>{width}}'", "msg", "name value width", ""),
    ("fstring-nested-call", "s = f'{fmt(x)!r}'", "s", "fmt x", ""),
    ("string-literal-not-read", "s = 'name'", "s", "", ""),
    # --- builtins and IPython names ----------------------------------------------------
    ("builtins-excluded", "n = len(list(range(3)))", "n", "", ""),
    (
        "dunder-builtins",
        "b = __builtins__\nm = __name__\nf = __file__\nd = __doc__",
        "b m f d",
        "",
        "",
    ),
    ("ipython-names", "display(Out[3], In[1], _, __, ___)", "", "", ""),
    ("ipython-history", "a = _i + _ii + _iii + _ih + _oh + _dh", "a", "", ""),
    ("ipython-numbered", "v = _12 + _i4\nget_ipython()", "v", "", ""),
    ("exit-quit", "exit()\nquit()", "", "", ""),
    ("underscore-as-target", "for _ in range(2):\n    pass", "_", "", ""),
    ("builtin-name-rebound", "list = [1]\nlist.append(2)", "list", "", ""),
    # --- magics ----------------------------------------------------------------
    ("line-magic", "%matplotlib inline\nx = 1", "x", "", ""),
    ("shell-escape", "!pip install numpy\nimport numpy", "numpy", "", ""),
    ("shell-assign", "files = !ls\nn = len(files)", "files n", "", ""),
    ("magic-assign-time", "t = %time compute(a)", "t", "compute a", ""),
    ("time-statement", "%time result = fit(data)", "result", "fit data", ""),
    ("timeit-with-options", "%timeit -n 3 f(x)", "", "", ""),
    ("magic-in-block", "for i in r:\n    %time g(i)", "i", "r g", ""),
    ("magic-only-in-block", "if ok:\n    %env A=1", "", "ok", ""),
    ("magic-continuation", "!echo a \\\n  b\nz = 1", "z", "", ""),
    ("help-suffix", "obj?\nv = 2", "v", "", ""),
    ("help-prefix", "??obj\nv = 2", "v", "", ""),
    ("cell-magic-time", "%%time\ntotal = add(a, b)", "total", "add a b", ""),
    ("cell-magic-capture", "%%capture out\nrun(job)", "out", "run job", ""),
    ("cell-magic-bash", "%%bash\necho $x\nls", "", "", ""),
    ("cell-magic-writefile", "%%writefile f.py\nimport os\nx = y", "", "", ""),
    ("cell-magic-html", "%%html\n<b>x</b>", "", "", ""),
    ("magic-text-in-string", "s = '''\n%matplotlib\n'''", "s", "", ""),
    ("modulo-not-magic", "r = a % b\nq = a != b", "r q", "a b", ""),
]

if sys.version_info >= (3, 12):
    CASES += [
        ("type-alias", "type Vector = list[Scalar]", "Vector", "Scalar", ""),
    ]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


@pytest.mark.parametrize(
    ("code", "defines", "uses", "mutates"),
    [pytest.param(code, d, u, m, id=case_id) for case_id, code, d, u, m in CASES],
)
def test_analysis_table(code: str, defines: str, uses: str, mutates: str) -> None:
    result = analyse_code(code)
    assert result.syntax_error is None
    assert (result.defines, result.uses, result.mutates) == (
        _names(defines),
        _names(uses),
        _names(mutates),
    )


def test_table_is_large_and_ids_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) >= 120
    assert len(set(ids)) == len(ids)


# --- places: where names are bound and read ----------------------------------------


def _place(refs: tuple[NameRef, ...]) -> list[tuple[int, int, int]]:
    return [(ref.line, ref.col, ref.end_col) for ref in refs]


def test_define_refs_point_at_the_bound_name() -> None:
    code = (
        "import numpy as np, os.path\n"  # 0
        "from m import (a,\n"  # 1
        "    b as bee)\n"  # 2
        "@deco\n"  # 3
        "async def fetch(): pass\n"  # 4
        "class  Model: pass\n"  # 5
        "try: pass\n"  # 6
        "except (KeyError,\n"  # 7
        "        ValueError) as err: pass\n"  # 8
        "match v:\n"  # 9
        "    case [h, *tail] if (w := h): pass\n"  # 10
        "    case {**rest}: pass\n"  # 11
    )
    refs = analyse_code(code).define_refs
    assert _place(refs["np"]) == [(0, 16, 18)]
    assert _place(refs["os"]) == [(0, 20, 22)]
    assert _place(refs["a"]) == [(1, 15, 16)]
    assert _place(refs["bee"]) == [(2, 9, 12)]
    assert _place(refs["fetch"]) == [(4, 10, 15)]
    assert _place(refs["Model"]) == [(5, 7, 12)]
    assert "err" not in refs  # unbound again after the handler: not a define
    assert _place(refs["h"]) == [(10, 10, 11)]
    assert _place(refs["tail"]) == [(10, 14, 18)]
    assert _place(refs["w"]) == [(10, 24, 25)]
    assert _place(refs["rest"]) == [(11, 12, 16)]


def test_use_refs_list_every_free_read_in_order() -> None:
    result = analyse_code("y = x + 1\ndef f():\n    return x * z\nx = 2\nprint(x)")
    # the read in ``f`` is not free: the cell defines ``x`` (below, but before any call)
    assert _place(result.use_refs["x"]) == [(0, 4, 5)]
    assert _place(result.use_refs["z"]) == [(2, 15, 16)]
    assert _place(result.use_refs["print"]) == [(4, 0, 5)]
    assert result.builtin_uses == {"print"}
    assert "print" not in result.uses


def test_use_refs_in_function_bodies_when_the_cell_never_defines_the_name() -> None:
    result = analyse_code("def f():\n    return g(h)\ndef g(v):\n    return v")
    assert result.uses == {"h"}
    assert _place(result.use_refs["h"]) == [(1, 13, 14)]


def test_columns_are_code_points_not_bytes() -> None:
    result = analyse_code("s = 'ééé'; t = ü\ndef ñ(): pass")
    assert _place(result.use_refs["ü"]) == [(0, 15, 16)]
    assert _place(result.define_refs["t"]) == [(0, 11, 12)]
    assert _place(result.define_refs["ñ"]) == [(1, 4, 5)]


def test_star_import_location_and_module() -> None:
    result = analyse_code("x = 1\nfrom ..pkg import *")
    [star] = result.star_imports
    assert (star.name, star.line, star.col, star.end_col) == ("..pkg", 1, 0, 19)
    assert result.defines == {"x"}


def test_magic_binds_are_placed_on_the_magic_line() -> None:
    result = analyse_code("%%capture --no-stderr captured\nprint(1)")
    assert _place(result.define_refs["captured"]) == [(0, 22, 30)]
    timed = analyse_code("%time result = fit(d)")
    assert _place(timed.define_refs["result"]) == [(0, 6, 12)]
    assert _place(timed.use_refs["fit"]) == [(0, 15, 18)]


# --- syntax errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "place", "fragment"),
    [
        pytest.param("x = (1,", (0, 4, 0, 5), "never closed", id="unclosed-paren"),
        pytest.param("a = 1\nb = a +\n", (1, 6, 1, 7), "invalid syntax", id="dangling-operator"),
        # at the end of a line, the problem covers the character before it
        pytest.param("for x in y\n    pass", (0, 9, 0, 10), "expected ':'", id="missing-colon"),
        pytest.param("if x:\npass", (1, 0, 1, 4), "indented block", id="indentation"),
        pytest.param("  x = 1", (0, 0, 0, 2), "unexpected indent", id="unexpected-indent"),
        pytest.param("é = 1 +", (0, 6, 0, 7), "invalid syntax", id="non-ascii"),
        pytest.param("x = 'a\0b'", (0, 6, 0, 7), "null", id="nul-byte"),
    ],
)
def test_syntax_errors_have_exact_places(
    code: str, place: tuple[int, int, int, int], fragment: str
) -> None:
    problem = analyse_code(code).syntax_error
    assert problem is not None
    assert (problem.line, problem.col, problem.end_line, problem.end_col) == place
    assert fragment in problem.message


def test_statements_before_a_syntax_error_still_count() -> None:
    result = analyse_code("import os\nroot = os.getcwd()\ndef f():\n    x = (\n")
    assert result.syntax_error is not None
    assert result.defines == {"os", "root"}


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("not " * 5000 + "x", id="deep-unary"),
        pytest.param("x = " + "+".join(["y"] * 20000), id="long-binop-chain"),
        pytest.param("lambda: " * 600 + "x", id="deep-lambdas"),
        pytest.param("[" * 5000, id="deep-brackets"),
        pytest.param("\0", id="nul"),
        pytest.param("\ufeffx = 1", id="bom"),
        pytest.param("def f(:\n", id="broken-def"),
        pytest.param("%%", id="bare-cell-magic-marker"),
        pytest.param("x = !", id="empty-shell-assign"),
    ],
)
def test_analysis_never_raises(code: str) -> None:
    result = analyse_code(code)
    assert result.syntax_error is None or result.syntax_error.message


def test_long_binop_chain_is_still_analysed() -> None:
    result = analyse_code("x = " + " + ".join(f"v{i}" for i in range(3000)))
    assert result.syntax_error is None or "deeply" in result.syntax_error.message
    if result.syntax_error is None:
        assert len(result.uses) == 3000


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("xy=()[]{}:.,+*%!?#'\"\\\n \tdefclassimportlambda_0é\0")),
        max_size=60,
    )
)
def test_analysis_never_raises_on_arbitrary_text(code: str) -> None:
    result = analyse_code(code)
    assert isinstance(result.defines, frozenset)


# --- cache ------------------------------------------------------------------------------


def test_results_are_cached_by_code_hash() -> None:
    first = analyse_code("cached_name = other_name")
    assert analyse_code("cached_name = other_name") is first
    # the same code with a trailing newline has the same hash and the same analysis
    assert analyse_code("cached_name = other_name\n") is first


def test_warnings_about_the_users_code_are_not_raised_by_the_analysis() -> None:
    # `-W error` turns any warning into an exception: the analysis must emit none
    # for code the kernel itself would only warn about ("\d" is an invalid escape).
    code = "from sessions.analysis.cell import analyse_code\nprint(sorted(analyse_code('x = \"\\\\d\"').defines))"
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "['x']\n"


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("x = " + "-" * 2000 + "1", id="2000-unary"),
        pytest.param(
            "x = " + " ".join(f"{i} if c else" for i in range(1500)) + " 0", id="ifexp-chain"
        ),
        pytest.param("f = " + "lambda: " * 1200 + "y", id="nested-lambdas"),
    ],
)
def test_valid_deeply_nested_code_is_analysed_not_called_a_syntax_error(code: str) -> None:
    """Python runs these; a QA sweep found them flagged "syntax error... cannot run"."""
    compile(code, "<cell>", "exec")  # valid
    result = analyse_code(code)
    assert result.syntax_error is None
    assert result.defines == {code.split(" ")[0]}
    graph = build_graph(parse(f"# %%\n{code}\n\n# %%\nprint({code.split(' ')[0]})\n"))
    assert graph.providers[1] == {code.split(" ")[0]: 0}
    assert [d for d in graph.diagnostics if d.code == "syntax-error"] == []
