"""Staleness that is right on real notebooks (issue 10): each measured failure, reproduced.

Every test plays runs and edits with the pure simulator of ``tests.support.staleness``
(records built exactly as the runner builds them) and asserts which cells are
stale. The stories come from real notebooks (the Python Data Science Handbook,
scikit-learn's examples): the edits users make, and what really changes.
"""

from __future__ import annotations

from sessions.analysis.graph import build_graph
from sessions.analysis.staleness import compute_statuses
from tests.support.staleness import History


def cells(*bodies: str) -> str:
    return "".join(f"# %%\n{body}\n\n" for body in bodies)


def after_edit(text: str, old: str, new: str) -> History:
    """Run every cell of ``text``, then replace ``old`` with ``new`` in the file."""
    history = History(text)
    history.run_stale()
    assert history.stale() == []
    assert old in text, old
    history.edit(text.replace(old, new, 1))
    return history


def reasons(history: History) -> list[str]:
    graph = build_graph(history.notebook)
    return [s.reason for s in compute_statuses(history.notebook, graph, history.records)]


# -- 1. run --stale converges -------------------------------------------------------


def test_run_stale_converges_in_one_pass() -> None:
    history = after_edit(
        cells("a = 1", "b = a + 1\nprint(b)", "c = a * 10\nprint(c)"), "a * 10", "a * 20"
    )
    assert history.stale() == [2]
    history.run_stale()
    assert history.stale() == []
    history.run_stale()  # nothing to do, and nothing turns stale
    assert history.stale() == []


# -- 3. comments and formatting ----------------------------------------------------------


def test_comment_only_and_layout_edits_change_no_status() -> None:
    text = cells("import numpy as np\nx = np.arange(10)", "y = x * 2", "print(y.sum())")
    history = after_edit(text, "y = x * 2", "# doubled\ny = (\n    x * 2  # twice\n)")
    assert history.stale() == []
    history = after_edit(text, "x = np.arange(10)", "x = np.arange( 10 )")
    assert history.stale() == []


def test_string_quote_style_is_layout_but_a_string_change_is_not() -> None:
    text = cells("label = 'a'", "print(label)")
    assert after_edit(text, "'a'", '"a"').stale() == []
    assert after_edit(text, "'a'", "'b'").stale() == [0, 1]


# -- 4. calls on modules and classes; hidden state -------------------------------------


def test_a_display_call_on_a_module_is_not_a_mutation() -> None:
    text = cells("import numpy as np", "np.arange(4)", "x = np.ones(3)", "print(x)")
    history = after_edit(text, "np.arange(4)", "np.arange(5)")
    assert history.stale() == [1]
    graph = build_graph(history.notebook)
    assert graph.mutates(1) == frozenset()
    assert graph.providers[2] == {"np": 0}


def test_a_call_on_a_class_is_not_a_mutation() -> None:
    text = cells(
        "class Scaler:\n    @staticmethod\n    def make(k):\n        return k",
        "Scaler.make(1)",
        "s = Scaler.make(2)",
    )
    assert after_edit(text, "Scaler.make(1)", "Scaler.make(3)").stale() == [1]


def test_a_method_call_on_a_value_is_still_a_mutation() -> None:
    text = cells("xs = []", "xs.append(1)", "print(len(xs))")
    assert after_edit(text, "append(1)", "append(2)").stale() == [1, 2]


def test_global_rng_seed_reaches_every_later_draw() -> None:
    text = cells(
        "import numpy as np",
        "np.random.seed(0)",
        "a = np.random.rand(3)",
        "b = np.random.normal(size=2)",
        "print(np.pi)",
    )
    history = after_edit(text, "seed(0)", "seed(1)")
    # Both draws depend on the seed (b through a's draw); a cell using np
    # without drawing is not affected.
    assert history.stale() == [1, 2, 3]
    assert "random state" in reasons(history)[2]


def test_explicit_generators_do_not_touch_the_global_rng() -> None:
    text = cells(
        "import numpy as np",
        "rng = np.random.default_rng(0)",
        "np.random.seed(3)",
        "x = rng.normal(size=3)",
    )
    assert after_edit(text, "seed(3)", "seed(4)").stale() == [2]


def test_stdlib_random_and_from_imports_are_qualified() -> None:
    text = cells("from random import seed, random", "seed(1)", "v = random()", "w = 2")
    assert after_edit(text, "seed(1)", "seed(2)").stale() == [1, 2]


def test_plot_style_reaches_later_plots_only() -> None:
    text = cells(
        "import matplotlib.pyplot as plt\nimport numpy as np",
        "plt.style.use('ggplot')",
        "plt.plot([1, 2])",
        "x = np.arange(3)",
    )
    assert after_edit(text, "'ggplot'", "'classic'").stale() == [1, 2]


def test_rcparams_assignment_is_configuration_not_a_new_pyplot() -> None:
    text = cells(
        "import matplotlib.pyplot as plt",
        "plt.rcParams['figure.figsize'] = (4, 3)",
        "fig, ax = plt.subplots()",
    )
    history = after_edit(text, "(4, 3)", "(6, 4)")
    assert history.stale() == [1, 2]
    graph = build_graph(history.notebook)
    assert graph.mutates(1) == frozenset()


def test_pandas_value_options_reach_pandas_users() -> None:
    text = cells(
        "import pandas as pd",
        "pd.set_option('mode.copy_on_write', True)",
        "df = pd.DataFrame({'a': range(3)})",
        "n = 3",
    )
    assert after_edit(text, "True)", "False)").stale() == [1, 2]


def test_display_options_reach_the_cells_that_show_something_and_no_further() -> None:
    text = cells(
        "import pandas as pd\ndf = pd.DataFrame({'a': range(30)})",
        "pd.set_option('display.max_rows', 10)",
        "big = df * 2",  # computes, shows nothing
        "big",  # shows a frame
        "print(big.shape)",
        "total = big.sum()",
    )
    history = after_edit(text, "max_rows', 10", "max_rows', 20")
    assert history.stale() == [1, 3, 4]
    assert "display option pandas.display.max_rows" in reasons(history)[3]


def test_a_deleted_display_option_restales_what_it_showed() -> None:
    text = cells(
        "from sklearn import set_config\nfrom sklearn.linear_model import Ridge",
        "set_config(display='text')",
        "Ridge()",
        "m = Ridge()",
    )
    history = after_edit(text, "set_config(display='text')\n\n# %%\n", "")
    assert history.stale() == [1]  # the cell that showed the estimator, now cell 1


def test_setting_one_option_does_not_depend_on_the_ones_set_before() -> None:
    text = cells(
        "import pandas as pd",
        "pd.set_option('display.precision', 2)",
        "pd.set_option('display.max_rows', 5)",
        "pd.Series([1.2345])",
    )
    history = after_edit(text, "precision', 2", "precision', 3")
    assert history.stale() == [1, 3]


def test_a_draw_depends_on_the_call_not_on_the_rest_of_its_statement() -> None:
    text = cells(
        "import numpy as np\nnp.random.seed(0)",
        "sig = 0.5\ny = sig * np.random.normal(size=5)",
        "e = np.random.normal(size=5)",
        "print(y)",
    )
    # ``sig`` scales the draw but does not change how many numbers are drawn.
    assert after_edit(text, "sig = 0.5", "sig = 1.0").stale() == [1, 3]
    assert after_edit(text, "size=5)\n\n# %%\ne", "size=6)\n\n# %%\ne").stale() == [1, 2, 3]


def test_display_methods_that_return_new_objects_are_not_mutations() -> None:
    text = cells(
        "import pandas as pd\ndf = pd.DataFrame({'a': [2, 1]})", "df.sort_values('a')", "print(df)"
    )
    assert after_edit(text, "sort_values('a')", "sort_values('a', ascending=False)").stale() == [1]
    inplace = cells(
        "import pandas as pd\ndf = pd.DataFrame({'a': [2, 1]})",
        "df.sort_values('a', inplace=True)",
        "print(df)",
    )
    assert after_edit(inplace, "sort_values('a'", "sort_values('a', ascending=False").stale() == [
        1,
        2,
    ]


def test_a_plot_on_given_axes_changes_the_axes_not_the_sliced_series() -> None:
    # pvlib's plot_diffuse_fraction: ``dhi[JAN04:JAN07].plot(ax=ax[1])`` draws
    # on ``ax``; a later cell printing ``dhi`` is not affected by the figure.
    text = cells(
        "import matplotlib.pyplot as plt\nimport pandas as pd\ns = pd.Series([1, 2, 3])",
        "f, ax = plt.subplots(2, figsize=(4, 3))\ns[0:2].plot(ax=ax[0])\ns.plot.bar(ax=ax[1])",
        "print(s.sum())",
        "ax[1].set_ylabel('y')",
    )
    history = after_edit(text, "(4, 3)", "(8, 6)")
    assert history.stale() == [1, 3]
    graph = build_graph(history.notebook)
    assert "s" not in graph.mutates(1)  # (``ax``, bound in the cell, is its define)


def test_a_plot_on_given_axes_still_changes_a_named_receiver() -> None:
    # scikit-learn's ``disp.plot(ax=ax)``: the display object keeps the axes.
    text = cells(
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\ndisp = Display()",
        "disp.plot(ax=ax, color='red')",
        "print(disp.ax_)",
        "import seaborn as sns\nsns.histplot([1, 2], ax=ax)",
        "ax.set_title('t')",
    )
    history = after_edit(text, "'red'", "'blue'")
    assert history.stale() == [1, 2, 3, 4]
    graph = build_graph(history.notebook)
    assert graph.mutates(1) == frozenset({"ax", "disp"})
    assert graph.mutates(3) == frozenset({"ax"})


def test_pyplot_calls_in_two_cells_do_not_chain() -> None:
    text = cells(
        "import matplotlib.pyplot as plt",
        "plt.plot([1, 2], color='red')\nplt.title('one')",
        "plt.plot([3, 4])\nplt.title('two')",
    )
    assert after_edit(text, "'red'", "'blue'").stale() == [1]


def test_environment_and_sys_path_changes_reach_their_readers() -> None:
    text = cells(
        "import os",
        "os.environ['MODE'] = 'a'",
        "mode = os.environ.get('MODE')",
        "import sys",
        "sys.path.append('lib')",
        "import mylib",
    )
    assert after_edit(text, "'a'", "'b'").stale() == [1, 2]
    assert after_edit(text, "'lib'", "'src'").stale() == [4, 5]


# -- 5. late binding in function bodies ---------------------------------------------------


def test_a_name_used_only_in_a_function_body_is_no_cycle() -> None:
    text = cells(
        "def describe(x):\n    return isinstance(x, Thing)",
        "class Thing:\n    pass\n\nprint(describe(Thing()))",
    )
    graph = build_graph(History(text).notebook)
    assert [d.code for d in graph.diagnostics if d.severity == "error"] == []
    assert graph.providers[0] == {}
    assert graph.providers[1] == {"describe": 0}
    history = History(text)
    history.run_stale()
    assert history.stale() == []


def test_a_caller_depends_on_what_the_called_function_reads() -> None:
    text = cells(
        "def area(r):\n    return PI * r * r",
        "PI = 3.14",
        "a = area(2)",
        "b = 1",
    )
    graph = build_graph(History(text).notebook)
    assert graph.providers[2] == {"area": 0, "PI": 1}
    history = after_edit(text, "3.14", "3.1416")
    assert history.stale() == [1, 2]
    # The function's cell itself did not change and does not read PI when it runs.
    history = after_edit(text, "PI * r * r", "r * r * PI")
    assert history.stale() == [0, 2]


def test_calls_through_functions_are_followed_transitively() -> None:
    text = cells(
        "def outer():\n    return inner() + 1",
        "def inner():\n    return BASE",
        "BASE = 1",
        "v = outer()",
    )
    assert build_graph(History(text).notebook).providers[3] == {"outer": 0, "inner": 1, "BASE": 2}
    assert after_edit(text, "BASE = 1", "BASE = 2").stale() == [2, 3]


def test_a_function_called_in_its_own_cell_reads_then() -> None:
    text = cells("K = 2", "def f():\n    return K\n\nv = f()")
    graph = build_graph(History(text).notebook)
    assert graph.providers[1] == {"K": 0}


def test_method_bodies_are_deferred_to_the_users_of_the_class() -> None:
    text = cells(
        "class Model:\n    def predict(self, x):\n        return x * WEIGHT",
        "WEIGHT = 3",
        "m = Model()\nprint(m.predict(2))",
    )
    graph = build_graph(History(text).notebook)
    assert graph.providers[0] == {}
    assert graph.providers[2] == {"Model": 0, "WEIGHT": 1}


# -- 6. per-name versions ------------------------------------------------------------------


def test_editing_the_seed_does_not_stale_users_of_the_import_in_the_same_cell() -> None:
    text = cells(
        "import numpy as np\nnp.random.seed(42)",
        "x = np.linspace(0, 1, 5)",
        "noise = np.random.rand(5)",
        "print(x.sum())",
    )
    history = after_edit(text, "seed(42)", "seed(7)")
    assert history.stale() == [0, 2]


def test_only_the_names_an_edited_statement_touches_change() -> None:
    text = cells("a = 1\nb = 2\nc = a + 1", "print(a)", "print(b)", "print(c)")
    history = after_edit(text, "a = 1", "a = 5")
    assert history.stale() == [0, 1, 3]
    history = after_edit(text, "b = 2", "b = 3")
    assert history.stale() == [0, 2]


def test_mutations_chain_within_a_cell() -> None:
    text = cells("xs = [1]\nys = [0]\nxs.append(2)", "print(xs)", "print(ys)")
    assert after_edit(text, "append(2)", "append(3)").stale() == [0, 1]


def test_fitting_a_pipeline_changes_the_estimator_it_was_built_with() -> None:
    # scikit-learn's plot_rbm_logistic_classification: the pipeline is fitted,
    # a later cell reads the fitted ``rbm`` (the object the pipeline holds).
    text = cells(
        "X = [[0.0], [1.0]]\nseed = 0",
        "from sklearn.pipeline import Pipeline\nrbm = Model()\n"
        'pipe = Pipeline(steps=[("rbm", rbm), ("clf", Other())])',
        "rbm.learning_rate = 0.1\npipe.fit(X)",
        "print(rbm.components_)",
        "print(seed)",
    )
    assert after_edit(text, "[1.0]]", "[2.0]]").stale() == [0, 2, 3]
    # A copy (``clone``) is not the estimator: fitting it changes nothing else.
    copied = text.replace('("rbm", rbm)', '("rbm", clone(rbm))')
    assert after_edit(copied, "[1.0]]", "[2.0]]").stale() == [0, 2]


def test_held_objects_follow_the_last_binding_and_nested_constructors() -> None:
    nested = cells(
        "data = [1]\nmodel = Model()",
        'search = make_union(Pipeline([("m", model)]))',
        "search.fit(data)",
        "print(model.coef_)",
    )
    assert after_edit(nested, "[1]", "[2]").stale() == [0, 2, 3]
    # Rebound to something built from nothing: it holds ``model`` no more.
    rebound = nested.replace("search.fit", "search = Search()\nsearch.fit")
    assert after_edit(rebound, "[1]", "[2]").stale() == [0, 2]
    # A search fits clones, and a number passed along is no part: neither changes.
    searched = cells(
        "data = [1]\nmodel = Model()\nn = 5",
        "search = GridSearchCV(model, cv=n)\npipe = Pipeline([Scaler()], n=n)",
        "search.fit(data)\npipe.fit(data)",
        "print(model, n)",
    )
    assert after_edit(searched, "[1]", "[2]").stale() == [0, 2]
    # Assigning into the object (a new column, an attribute) changes only the object.
    item = cells("arr = [1]\nv = 1", "df = DataFrame(arr)", 'df["y"] = v', "print(arr)")
    assert after_edit(item, "v = 1", "v = 2").stale() == [0, 2]


def test_an_assigned_fit_transform_changes_the_estimator() -> None:
    # scikit-learn's examples fit a scaler in one cell (``Xt = scaler.fit_transform(X)``)
    # and use it on other data in a later one: editing the fit reaches that use.
    text = cells(
        "X = [[0.0], [1.0]]\nscaler = Scaler()",
        "Xt = scaler.fit_transform(X)",
        "Xv = scaler.transform([[2.0]])",
        "print(X)",
    )
    assert after_edit(text, "fit_transform(X)", "fit_transform(X[:1])").stale() == [1, 2]
    graph = build_graph(after_edit(text, "[1.0]]", "[3.0]]").notebook)
    assert graph.mutates(1) == frozenset({"scaler"})
    # What a method returns is kept, and most leave their object as it was.
    read = text.replace("Xt = scaler.fit_transform(X)", "Xt = scaler.predict(X)")
    assert after_edit(read, "predict(X)", "predict(X[:1])").stale() == [1]


def test_an_assigned_draw_advances_the_generator() -> None:
    text = cells(
        "import numpy as np\nrng = np.random.default_rng(0)",
        "a = rng.normal(size=3)",
        "b = rng.normal(size=3)",
        "c = np.zeros(3)",
    )
    assert after_edit(text, "normal(size=3)", "normal(size=4)").stale() == [1, 2]


def test_an_assigned_pop_changes_the_container_and_axes_given_change_too() -> None:
    text = cells(
        "d = {'a': 1, 'b': 2}\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots()",
        "v = d.pop('a')\np = df.plot(ax=ax)",
        "print(d)",
        "ax.set_title('t')",
        "print(df)",
    )
    history = after_edit(text, "pop('a')", "pop('b')")
    assert history.stale() == [1, 2]
    graph = build_graph(history.notebook)
    assert graph.mutates(1) == frozenset({"d", "ax"})
    # The plot changes the axes it is given, not the frame it draws.
    assert after_edit(text, "plot(ax=ax)", "plot(ax=ax, lw=2)").stale() == [1, 3]


# -- 7. files ------------------------------------------------------------------------------


def test_writefile_then_import() -> None:
    text = cells(
        "%%writefile helper.py\ndef twice(x):\n    return 2 * x",
        "from helper import twice",
        "print(twice(3))",
        "z = 1",
    )
    history = after_edit(text, "2 * x", "3 * x")
    assert history.stale() == [0, 1, 2]


def test_dataframe_written_and_read_back_by_path() -> None:
    text = cells(
        "import pandas as pd",
        "df = pd.DataFrame({'a': [1, 2]})",
        "df.to_csv('out.csv', index=False)",
        "back = pd.read_csv('./out.csv')",
        "other = pd.read_csv('other.csv')",
    )
    history = after_edit(text, "[1, 2]", "[1, 3]")
    assert history.stale() == [1, 2, 3]
    assert "file out.csv" in reasons(history)[3]


def test_numpy_save_and_load_and_open() -> None:
    text = cells(
        "import numpy as np",
        "np.save('arr', np.arange(3))",
        "a = np.load('arr.npy')",
        "with open('notes.txt', 'w') as fh:\n    fh.write('x')",
        "with open('notes.txt') as fh:\n    notes = fh.read()",
    )
    assert after_edit(text, "arange(3)", "arange(4)").stale() == [1, 2]
    assert after_edit(text, "write('x')", "write('y')").stale() == [3, 4]


def test_a_shell_command_reads_the_file_it_names() -> None:
    text = cells(
        "import numpy as np",
        "np.savetxt('out.csv', np.arange(3))",
        "!head -n 2 out.csv",
        "files = !ls data/",
    )
    assert after_edit(text, "arange(3)", "arange(4)").stale() == [1, 2]


def test_whos_shows_every_name_defined_above() -> None:
    text = cells("x = 1", "y = 2", "%whos", "z = 3")
    assert after_edit(text, "y = 2", "y = 5").stale() == [1, 2]
    history = after_edit(text, "y = 2\n\n# %%\n", "")
    assert history.stale() == [1]


# -- 8. reasons that name the change ---------------------------------------------------


def test_a_moved_cell_is_not_said_to_have_run_again() -> None:
    text = cells("import numpy as np", "x = 1", "np = None", "print(np, x)")
    history = after_edit(text, "np = None\n\n# %%\n", "")
    # ``np`` now comes from cell 0 instead of the deleted cell: nothing ran.
    [reason] = [r for r in reasons(history) if r]
    assert "ran again" not in reason
    assert "now comes from cell 0" in reason


def test_a_syntax_error_cell_is_named_as_the_cause() -> None:
    text = cells("v = 1", "w = 2", "v = 10", "print(v, w)")
    history = after_edit(text, "v = 10", "v = (10")
    states = compute_statuses(history.notebook, build_graph(history.notebook), history.records)
    assert states[3].status == "upstream"
    assert states[3].causes == (2,)
    assert "cell 2 has a syntax error" in states[3].reason


def test_a_failed_provider_is_named() -> None:
    history = History(cells("x = 1", "print(x)"))
    history.run_stale()
    history.run([0], status="error")
    assert history.statuses() == ["error", "upstream"]
    assert "failed in its last run" in reasons(history)[1]
    history.run([0])
    assert history.stale() == []


def test_long_chains_do_not_recurse() -> None:
    count = 3000
    text = cells("v0 = 0", *(f"v{i} = v{i - 1} + 1" for i in range(1, count)))
    history = History(text)
    history.run_stale()
    history.edit(text.replace("v0 = 0", "v0 = 1", 1))
    assert len(history.stale()) == count
    # Chains that point down (each cell uses the one below) too.
    down = cells(*(f"w{i} = w{i + 1}" for i in range(count)), f"w{count} = 0")
    assert len(History(down).stale()) == count + 1
