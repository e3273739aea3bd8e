"""The corpus notebooks and the edits made to each (sources: bench/corpus/README.md).

Every edit names its cell by a pattern on a line the cell contains, and says
in its label what a user would have done. The mix covers the kinds users make
(``edits.KINDS``); some are expected to change nothing downstream (a comment,
a display line, a function rewritten to the same result), because a precise
engine must keep those fresh too.
"""

from __future__ import annotations

from accuracy.edits import Case, Delete, Format, Insert, Move, Replace

CASES: tuple[Case, ...] = (
    Case(
        "numpy_save_load_arrays",
        "files",
        (
            Replace(
                "file",
                "np.savez writes y + 1 instead of y (read back by np.load)",
                cell=r"^np\.savez\(",
                pattern=r"y_axis=y\)",
                repl="y_axis=y + 1)",
            ),
            Replace(
                "file",
                "np.savetxt header text changed (loadtxt skips it)",
                cell=r"^np\.savetxt\(",
                pattern=r'header="x, y"',
                repl='header="x, y = x**2"',
            ),
            Replace(
                "display",
                "print(load_xy.files) → print(sorted(load_xy.files))",
                cell=r"^print\(load_xy\.files\)",
                pattern=r"print\(load_xy\.files\)",
                repl="print(sorted(load_xy.files))",
            ),
            Delete("delete", "the first `del x, y` cell removed", cell=r"^del x, y"),
        ),
    ),
    Case(
        "numpy_mooreslaw",
        "files",
        (
            Replace(
                "constant",
                "Moore's rate A_M = log(2)/2 → log(2)/3 (read by a lambda at call time)",
                cell=r"^A_M = ",
                pattern=r"np\.log\(2\) / 2",
                repl="np.log(2) / 3",
            ),
            Replace(
                "config",
                'plt.style.use("fivethirtyeight") → "ggplot"',
                cell=r'plt\.style\.use\("fivethirtyeight"\)',
                pattern=r'"fivethirtyeight"',
                repl='"ggplot"',
            ),
            Replace(
                "file",
                "np.savez stores regression_csts=(B, A) instead of (A, B)",
                cell=r'"mooreslaw_regression\.npz",\n',
                pattern=r"regression_csts=\(A, B\)",
                repl="regression_csts=(B, A)",
            ),
            Replace(
                "display",
                'print(results["regression_csts"][1]) → [0]',
                cell=r'^print\(results\["regression_csts"\]\[1\]\)',
                pattern=r"\[1\]\)",
                repl="[0])",
            ),
        ),
        data=("transistor_data.csv",),
    ),
    Case(
        "numpy_static_equilibrium",
        "numpy",
        (
            Replace(
                "constant",
                "forceB = [0, 1, 0] → [0, 2, 0]",
                cell=r"^forceB = ",
                pattern=r"forceB = np\.array\(\[0, 1, 0\]\)",
                repl="forceB = np.array([0, 2, 0])",
            ),
            Replace(
                "styling",
                'forceC arrow color="g" → "m"',
                cell=r'label="forceC"',
                pattern=r'color="g", label="forceC"',
                repl='color="m", label="forceC"',
            ),
            Replace(
                "constant",
                "cordTension = 5 → 10",
                cell=r"^cordTension = 5",
                pattern=r"cordTension = 5",
                repl="cordTension = 10",
            ),
            Insert(
                "insert",
                "a new display cell after the cord unit vector",
                after=r"^cordUnit = ",
                code='print("Cord length =", np.linalg.norm(cordDirection))',
            ),
        ),
    ),
    Case(
        "matplotlib_hist",
        "plotting",
        (
            Replace(
                "seed",
                "default_rng(19680801) → default_rng(0)",
                cell=r"default_rng\(19680801\)",
                pattern=r"19680801",
                repl="0",
            ),
            Replace(
                "constant",
                "n_bins = 20 → 30",
                cell=r"^n_bins = 20",
                pattern=r"n_bins = 20",
                repl="n_bins = 30",
            ),
            Replace(
                "styling",
                "colormap viridis → plasma",
                cell=r"plt\.cm\.viridis",
                pattern=r"plt\.cm\.viridis",
                repl="plt.cm.plasma",
            ),
            Replace(
                "comment",
                "a comment reworded",
                cell=r"# We can increase the number of bins on each axis",
                pattern=r"# We can increase the number of bins on each axis",
                repl="# More bins on each axis",
            ),
        ),
    ),
    Case(
        "matplotlib_color_cycle",
        "config",
        (
            Replace(
                "config",
                "plt.rc('lines', linewidth=4) → 2",
                cell=r"plt\.rc\('lines'",
                pattern=r"linewidth=4",
                repl="linewidth=2",
            ),
            Replace(
                "styling",
                "first axes title changed",
                cell=r"ax0\.set_title",
                pattern=r"'Set default color cycle to rgby'",
                repl="'Default cycle: rgby'",
            ),
            Replace(
                "constant",
                "offsets endpoint=False → True (same shape printed)",
                cell=r"^offsets = ",
                pattern=r"endpoint=False",
                repl="endpoint=True",
            ),
            Format("format", "ruff format of the whole file (quotes, line breaks)"),
        ),
    ),
    Case(
        "sklearn_cost_complexity_pruning",
        "scikit-learn",
        (
            Replace(
                "seed",
                "train_test_split random_state=0 → 1",
                cell=r"train_test_split\(X, y, random_state=0\)",
                pattern=r"train_test_split\(X, y, random_state=0\)",
                repl="train_test_split(X, y, random_state=1)",
            ),
            Replace(
                "styling",
                "impurity plot title changed",
                cell=r"Total Impurity vs effective alpha",
                pattern=r"Total Impurity vs effective alpha for training set",
                repl="Impurity vs alpha (training set)",
            ),
            Replace(
                "comment",
                "a comment added above the pruning loop",
                cell=r"^clfs = \[\]",
                pattern=r"^clfs = \[\]",
                repl="# one tree per effective alpha\nclfs = []",
            ),
        ),
    ),
    Case(
        "sklearn_cv_predict",
        "scikit-learn",
        (
            Replace(
                "constant",
                "cross_val_predict cv=10 → 5",
                cell=r"cross_val_predict\(lr, X, y, cv=10\)",
                pattern=r"cv=10",
                repl="cv=5",
            ),
            Replace(
                "styling",
                "figure suptitle changed",
                cell=r"fig\.suptitle",
                pattern=r'"Plotting cross-validated predictions"',
                repl='"Cross-validated predictions"',
            ),
            Replace(
                "comment",
                "a comment added to the model cell",
                cell=r"^lr = LinearRegression\(\)",
                pattern=r"^lr = LinearRegression\(\)",
                repl="lr = LinearRegression()  # ordinary least squares",
            ),
        ),
    ),
    Case(
        "sklearn_feature_selection_pipeline",
        "scikit-learn",
        (
            Replace(
                "constant",
                "SelectKBest k=3 → 5",
                cell=r"SelectKBest\(f_classif, k=3\)",
                pattern=r"k=3",
                repl="k=5",
            ),
            Replace(
                "display",
                "anova_svm[-1].coef_ → .round(3)",
                cell=r"^anova_svm\[-1\]\.coef_$",
                pattern=r"^anova_svm\[-1\]\.coef_$",
                repl="anova_svm[-1].coef_.round(3)",
            ),
            Delete("delete", "the coef_ display cell removed", cell=r"^anova_svm\[-1\]\.coef_$"),
        ),
    ),
    Case(
        "sklearn_isotonic_regression",
        "seeds",
        (
            Replace(
                "seed",
                "check_random_state(0) → 1",
                cell=r"check_random_state\(0\)",
                pattern=r"check_random_state\(0\)",
                repl="check_random_state(1)",
            ),
            Replace(
                "constant",
                "n = 100 → 80",
                cell=r"^n = 100",
                pattern=r"^n = 100",
                repl="n = 80",
            ),
            Replace(
                "styling",
                'linear fit line "C2-" → "C3-"',
                cell=r'"C2-"',
                pattern=r'"C2-"',
                repl='"C3-"',
            ),
        ),
    ),
    Case(
        "sklearn_kmeans_assumptions",
        "seeds",
        (
            Replace(
                "seed",
                "random_state = 170 → 42",
                cell=r"^random_state = 170",
                pattern=r"^random_state = 170",
                repl="random_state = 42",
            ),
            Replace(
                "styling",
                'plt.title("Optimal Number of Clusters") changed',
                cell=r'plt\.title\("Optimal Number of Clusters"\)',
                pattern=r'"Optimal Number of Clusters"',
                repl='"Three clusters"',
            ),
            Replace(
                "constant",
                'common_params n_init "auto" → 3',
                cell=r'"n_init": "auto"',
                pattern=r'"n_init": "auto"',
                repl='"n_init": 3',
            ),
        ),
    ),
    Case(
        "sklearn_lasso_lars_ic",
        "pandas",
        (
            Replace(
                "function",
                "criterion rescaling subtracts 2 * n_samples",
                cell=r"^def zou_et_al_criterion_rescaling",
                pattern=r"- n_samples$",
                repl="- 2 * n_samples",
            ),
            Replace(
                "display",
                "X.head() → X.head(3)",
                cell=r"^X\.head\(\)$",
                pattern=r"^X\.head\(\)$",
                repl="X.head(3)",
            ),
            Insert(
                "config",
                'pd.set_option("display.precision", 3) inserted before the data is loaded',
                after=r"\A\"\"\"\n=+\nLasso model selection",
                code='import pandas as pd\n\npd.set_option("display.precision", 3)',
            ),
        ),
    ),
    Case(
        "sklearn_pipeline_display",
        "config",
        (
            Replace(
                "config",
                'set_config(display="text") → "diagram"',
                cell=r'^set_config\(display="text"\)',
                pattern=r'display="text"',
                repl='display="diagram"',
            ),
            Replace(
                "constant",
                "LogisticRegression(C=2.0) → C=1.0",
                cell=r"LogisticRegression\(C=2\.0\)",
                pattern=r"C=2\.0",
                repl="C=1.0",
            ),
            Delete(
                "delete",
                'the lone set_config(display="diagram") cell removed',
                cell=r'\A# %%[^\n]*\n(#[^\n]*\n)*set_config\(display="diagram"\)\s*\Z',
            ),
        ),
    ),
    Case(
        "statsmodels_ols",
        "seeds",
        (
            Replace(
                "seed",
                "np.random.seed(9876789) → np.random.seed(0)",
                cell=r"np\.random\.seed\(9876789\)",
                pattern=r"9876789",
                repl="0",
            ),
            Replace(
                "constant",
                "sig = 0.5 → 1.0",
                cell=r"^sig = 0\.5",
                pattern=r"^sig = 0\.5",
                repl="sig = 1.0",
            ),
            Replace(
                "display",
                "R2 printed rounded",
                cell=r'print\("R2: ", results\.rsquared\)',
                pattern=r"results\.rsquared\)",
                repl="round(results.rsquared, 3))",
            ),
            Move(
                "move",
                "the dummy-variable printout moved below the F tests",
                cell=r"^print\(X\[:5, :\]\)",
                after=r'^print\(res2\.f_test\("x2 = x3 = 0"\)\)',
            ),
        ),
    ),
    Case(
        "statsmodels_wls",
        "seeds",
        (
            Replace(
                "seed",
                "np.random.seed(1024) → 2048",
                cell=r"np\.random\.seed\(1024\)",
                pattern=r"1024",
                repl="2048",
            ),
            Replace(
                "constant",
                "heteroscedastic weight 3 → 2",
                cell=r"^w\[nsample \* 6 // 10 :\] = 3",
                pattern=r"= 3$",
                repl="= 2",
            ),
            Format("format", "ruff format of the whole file"),
        ),
    ),
    Case(
        "statsmodels_glm",
        "seeds",
        (
            Replace(
                "config",
                'plt.rc("font", size=14) → 10',
                cell=r'plt\.rc\("font", size=14\)',
                pattern=r"size=14",
                repl="size=10",
            ),
            Replace(
                "display",
                "print(data.endog.head()) → head(3)",
                cell=r"^print\(data\.endog\.head\(\)\)",
                pattern=r"head\(\)",
                repl="head(3)",
            ),
            Replace(
                "seed",
                "np.random.seed(54321) → 12345",
                cell=r"np\.random\.seed\(54321\)",
                pattern=r"54321",
                repl="12345",
            ),
        ),
    ),
    Case(
        "statsmodels_quantile_regression",
        "pandas",
        (
            Replace(
                "constant",
                "quantile step 0.1 → 0.2",
                cell=r"^quantiles = np\.arange",
                pattern=r"0\.96, 0\.1\)",
                repl="0.96, 0.2)",
            ),
            Replace(
                "function",
                "get_y rewritten to the same result",
                cell=r"^def get_y\(a, b\):",
                pattern=r"return a \+ b \* x$",
                repl="return b * x + a",
            ),
            Replace(
                "styling",
                'OLS line color="red" → "blue"',
                cell=r'label="OLS"\)',
                pattern=r'color="red", label="OLS"',
                repl='color="blue", label="OLS"',
            ),
            Replace(
                "display",
                "data.head() → data.tail()",
                cell=r"^data\.head\(\)",
                pattern=r"^data\.head\(\)",
                repl="data.tail()",
            ),
        ),
    ),
    Case(
        "statsmodels_deterministics",
        "pandas",
        (
            Insert(
                "config",
                'pd.set_option("display.max_rows", 10) after the imports',
                after=r'^plt\.rc\("font", size=16\)',
                code='pd.set_option("display.max_rows", 10)',
            ),
            Replace(
                "function",
                "BrokenTimeTrend.in_sample: break constant 1 → 2",
                cell=r"^class BrokenTimeTrend",
                pattern=r"terms\[self\._break_period :, 0\] = 1",
                repl="terms[self._break_period :, 0] = 2",
            ),
            Replace(
                "constant",
                "BrokenTimeTrend(60) → 58",
                cell=r"^btt = BrokenTimeTrend\(60\)",
                pattern=r"BrokenTimeTrend\(60\)",
                repl="BrokenTimeTrend(58)",
            ),
            Replace(
                "display",
                "det_proc.in_sample().head(12) → head(6)",
                cell=r"^det_proc\.in_sample\(\)\.head\(12\)",
                pattern=r"head\(12\)",
                repl="head(6)",
            ),
        ),
    ),
)
