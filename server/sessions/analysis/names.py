"""Tables of names the analysis knows without reading any cell: builtins, the
names IPython provides, and methods that only read their object (DESIGN §4).

Kept apart from the walker (``scopes``) and the cell analysis (``cell``) so
that what the analysis assumes about the world is one short file to read.
"""

from __future__ import annotations

import builtins
import re

BUILTIN_NAMES = frozenset(dir(builtins)) | {"__builtins__", "__name__", "__file__", "__doc__"}
"""Names every kernel namespace provides; never a cell's *use* (see ``builtin_uses``)."""

IPYTHON_NAMES = frozenset(
    {"get_ipython", "display", "In", "Out", "_", "__", "___", "_i", "_ii", "_iii"}
    | {"_ih", "_oh", "_dh", "exit", "quit"}
)
_IPYTHON_NUMBERED = re.compile(r"_i?\d+\Z")


def is_ipython_name(name: str) -> bool:
    """Names IPython puts in the namespace (``_``, ``Out``, ``_3``, ``_i3``...)."""
    return name in IPYTHON_NAMES or _IPYTHON_NUMBERED.match(name) is not None


READ_ONLY_METHODS = frozenset(
    [
        "head",
        "tail",
        "describe",
        "info",
        "sample",
        "copy",
        "get",
        "keys",
        "values",
        "items",
        "count",
        "index",
        "to_string",
        "to_markdown",
        "to_html",
        "to_list",
        "tolist",
        "to_dict",
        "to_numpy",
        "summary",
        "mean",
        "median",
        "sum",
        "min",
        "max",
        "std",
        "var",
        "nunique",
        "unique",
        "value_counts",
        "isna",
        "isnull",
        "notna",
        "memory_usage",
        "corr",
        "cov",
        "quantile",
        "equals",
        "startswith",
        "endswith",
        "format",
        # NumPy and pandas methods that return a new object (pandas ones change
        # their own object only with ``inplace=True``, which is checked).
        "round",
        "astype",
        "reshape",
        "ravel",
        "flatten",
        "transpose",
        "squeeze",
        "dot",
        "any",
        "all",
        "argmax",
        "argmin",
        "cumsum",
        "prod",
        "abs",
        "to_frame",
        "sort_values",
        "sort_index",
        "dropna",
        "fillna",
        "drop",
        "drop_duplicates",
        "rename",
        "reset_index",
        "set_index",
        "groupby",
        "agg",
        "aggregate",
        "pivot",
        "pivot_table",
        "melt",
        "query",
        "assign",
        "replace",
        "filter",
        "where",
        "mask",
        "nlargest",
        "nsmallest",
        "corrwith",
        "predict",
        "predict_proba",
        "score",
        "transform",
        "get_params",
        "summary_frame",
    ]
)
"""Methods that only read their object. Called as a statement they display a
value (often a cell's last line, its result), so they are not counted as
mutations: ``df.head()`` must not make every later user of ``df`` stale.
Drawing methods (``plot``, ``hist``) stay mutations: they change figure state
(given ``ax=``, of those axes; see ``scopes``)."""


MUTATING_WHEN_ASSIGNED = frozenset(
    [
        # scikit-learn: fitting returns the transformed data or the labels, and
        # leaves the estimator fitted (``Xt = scaler.fit_transform(X)``).
        "fit_transform",
        "fit_predict",
        "fit_resample",
        "partial_fit",
        # Containers: they return what they take out (``v = d.pop("a")``).
        "pop",
        "popitem",
        "popleft",
        "setdefault",
        # Random generators (NumPy's ``Generator`` and ``RandomState``, the
        # standard library's ``Random``): every draw advances the generator's
        # state, so the next draw from it differs (``a = rng.normal(size=3)``).
        "random",
        "normal",
        "standard_normal",
        "uniform",
        "integers",
        "randint",
        "randn",
        "rand",
        "random_sample",
        "choice",
        "permutation",
        "binomial",
        "multinomial",
        "poisson",
        "exponential",
        "standard_exponential",
        "lognormal",
        "multivariate_normal",
        "dirichlet",
        "standard_t",
        "standard_cauchy",
        "standard_gamma",
        "laplace",
        "logistic",
        "gumbel",
        "weibull",
        "geometric",
        "negative_binomial",
        "chisquare",
        "gauss",
        "normalvariate",
        "randrange",
        "getrandbits",
    ]
)
"""Methods whose result is usually kept (``v = x.m(...)``) and that change
``x`` too. Any other method whose result is assigned is taken to leave its
object as it was: ``res = model.fit()`` in statsmodels returns a results
object and does not change the model, ``y = model.predict(X)`` only reads.
Called as a statement, every method but ``READ_ONLY_METHODS`` counts anyway."""


COPYING_CONSTRUCTORS = frozenset(
    [
        # scikit-learn meta-estimators that fit clones of the estimators they are
        # given (``estimator_``, ``estimators_``), leaving those as they were.
        "ColumnTransformer",
        "make_column_transformer",
        "VotingClassifier",
        "VotingRegressor",
        "StackingClassifier",
        "StackingRegressor",
        "BaggingClassifier",
        "BaggingRegressor",
        "AdaBoostClassifier",
        "AdaBoostRegressor",
        "OneVsRestClassifier",
        "OneVsOneClassifier",
        "OutputCodeClassifier",
        "MultiOutputClassifier",
        "MultiOutputRegressor",
        "ClassifierChain",
        "RegressorChain",
        "SelectFromModel",
        "RFE",
        "SequentialFeatureSelector",
        "TransformedTargetRegressor",
        "SelfTrainingClassifier",
        "FixedThresholdClassifier",
    ]
)
"""Constructors whose object keeps copies of its arguments, not the arguments:
calling a method on it changes none of them (see ``scopes.held_names``). So
are the ``...CV`` classes (``GridSearchCV``, ``RFECV``, ``CalibratedClassifierCV``)."""


def copies_its_arguments(constructor: str) -> bool:
    """Whether an object built by ``constructor`` keeps copies of its arguments."""
    return constructor in COPYING_CONSTRUCTORS or constructor.endswith("CV")
