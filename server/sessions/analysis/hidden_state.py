"""State that notebooks share without a Python name: RNGs, configuration, files (DESIGN §4).

``np.random.seed(0)`` in one cell changes what ``np.random.rand()`` returns in
the next; ``plt.style.use("ggplot")`` changes every later plot; ``os.chdir``
changes what a relative path means. None of that flows through a name the
cells share, so the analysis models it as *state names*: a call qualified by
its import (``np.random.rand`` -> ``numpy.random.rand``) changes and/or uses
one, and ordered resolution then connects the cells as for any other name.

State names are not identifiers (``rng:numpy``, ``config:matplotlib``,
``env:cwd``, ``file:out.csv``), so they never collide with Python names. The
table below is the whole model; docs/analysis.md lists it for users, with
what it cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass

RNG_PREFIXES = {
    "numpy.random": "rng:numpy",
    "random": "rng:random",
    "torch.random": "rng:torch",
    "tensorflow.random": "rng:tensorflow",
}
"""Module -> the global random generator its functions draw from."""

_RNG_FREE = frozenset(
    {
        # Constructors of explicit generators: they do not touch the global state.
        "numpy.random.default_rng",
        "numpy.random.Generator",
        "numpy.random.RandomState",
        "numpy.random.SeedSequence",
        "numpy.random.BitGenerator",
        "numpy.random.PCG64",
        "numpy.random.PCG64DXSM",
        "numpy.random.MT19937",
        "numpy.random.Philox",
        "numpy.random.SFC64",
        "random.Random",
        "random.SystemRandom",
    }
)
_SEEDS = frozenset(
    {
        "numpy.random.seed",
        "numpy.random.set_state",
        "random.seed",
        "random.setstate",
        "torch.manual_seed",
        "torch.random.manual_seed",
        "torch.seed",
        "tensorflow.random.set_seed",
    }
)
"""Calls that set a generator's state without reading it."""

_TORCH_DRAWS = frozenset(
    {
        *("rand", "randn", "randint", "randperm", "normal", "bernoulli"),
        *("multinomial", "poisson", "rand_like", "randn_like", "randint_like"),
    }
)

CONFIG_CALLS = {
    "matplotlib.pyplot.style.use": "config:matplotlib",
    "matplotlib.style.use": "config:matplotlib",
    "matplotlib.pyplot.rc": "config:matplotlib",
    "matplotlib.rc": "config:matplotlib",
    "matplotlib.pyplot.rcdefaults": "config:matplotlib",
    "matplotlib.rcdefaults": "config:matplotlib",
    "matplotlib.rc_file": "config:matplotlib",
    "matplotlib.pyplot.rcParams.update": "config:matplotlib",
    "matplotlib.rcParams.update": "config:matplotlib",
    "matplotlib.use": "config:matplotlib",
    "matplotlib.pyplot.switch_backend": "config:matplotlib",
    "seaborn.set": "config:matplotlib",
    "seaborn.set_theme": "config:matplotlib",
    "seaborn.set_style": "config:matplotlib",
    "seaborn.set_context": "config:matplotlib",
    "seaborn.set_palette": "config:matplotlib",
    "seaborn.reset_defaults": "config:matplotlib",
    "seaborn.reset_orig": "config:matplotlib",
    "numpy.seterr": "config:numpy",
    "os.chdir": "env:cwd",
    "os.putenv": "env:os.environ",
    "os.unsetenv": "env:os.environ",
    "os.environ.update": "env:os.environ",
    "os.environ.setdefault": "env:os.environ",
    "os.environ.pop": "env:os.environ",
    "os.environ.clear": "env:os.environ",
    "sys.path.append": "env:sys.path",
    "sys.path.insert": "env:sys.path",
    "sys.path.extend": "env:sys.path",
    "sys.path.remove": "env:sys.path",
    "sys.path.pop": "env:sys.path",
    "sys.path.clear": "env:sys.path",
}
"""Configuration calls: each changes (and builds on) one state name."""

CONFIG_TARGETS = {
    "matplotlib.pyplot.rcParams": "config:matplotlib",
    "matplotlib.rcParams": "config:matplotlib",
    "pandas.options": "config:pandas",
    "os.environ": "env:os.environ",
    "sys.path": "env:sys.path",
}
"""Assigned attributes/subscripts (``plt.rcParams["x"] = v``) that are configuration."""

STATE_READS = {
    "os.environ.get": "env:os.environ",
    "os.getenv": "env:os.environ",
    "os.getcwd": "env:cwd",
    "os.listdir": "env:cwd",
    "glob.glob": "env:cwd",
}
"""Calls that read a state name without changing it (besides module configuration)."""

PACKAGE_CONFIG = {
    "matplotlib": "config:matplotlib",
    "seaborn": "config:matplotlib",
    "pandas": "config:pandas",
    "numpy": "config:numpy",
    "sklearn": "config:sklearn",
}
"""A cell that uses a name imported from the package depends on its configuration."""


@dataclass(frozen=True, slots=True)
class Effect:
    state: str
    reads: bool
    """Whether the result depends on the state before the call (a draw does, a seed does not)."""
    changes: bool


DISPLAY_PREFIX = "display:"
"""Display options (``pd.set_option("display.max_rows", 10)``) change how values
are shown, never the values: the cells that show something after them are
stale, but not what those cells compute, so nothing downstream of them is."""


def is_display_state(name: str) -> bool:
    return name.startswith(DISPLAY_PREFIX)


def _option_effects(qualified: str, hint: str) -> tuple[Effect, ...] | None:
    """Option setters, split by option: setting ``display.max_rows`` fully decides
    that one option, whatever was set before; other options are configuration."""
    if qualified in ("pandas.set_option", "pandas.reset_option"):
        if hint.startswith("display."):
            return (Effect(f"{DISPLAY_PREFIX}pandas.{hint}", reads=False, changes=True),)
        return (Effect("config:pandas", reads=True, changes=True),)
    if qualified == "sklearn.set_config":
        keywords = set(hint.split(",")) if hint else set()
        effects = []
        if "display" in keywords:
            effects.append(Effect(f"{DISPLAY_PREFIX}sklearn.display", reads=False, changes=True))
        if keywords - {"display"} or not keywords:
            effects.append(Effect("config:sklearn", reads=True, changes=True))
        return tuple(effects)
    if qualified == "numpy.set_printoptions":
        return (Effect(f"{DISPLAY_PREFIX}numpy", reads=True, changes=True),)
    return None


def call_effects(qualified: str, hint: str = "") -> tuple[Effect, ...]:
    """What a call to ``qualified`` (``numpy.random.rand``) does to hidden state;
    ``hint`` is the option an option setter sets (``scopes.CallFact.hint``)."""
    options = _option_effects(qualified, hint)
    if options is not None:
        return options
    config = CONFIG_CALLS.get(qualified)
    if config is not None:
        return (Effect(config, reads=True, changes=True),)
    read = STATE_READS.get(qualified)
    if read is not None:
        return (Effect(read, reads=True, changes=False),)
    if qualified in _SEEDS:
        owner = qualified.rsplit(".", 1)[0]
        seeded = RNG_PREFIXES.get(owner) or RNG_PREFIXES.get(f"{owner}.random", "rng:torch")
        return (Effect(seeded, reads=False, changes=True),)
    if qualified in _RNG_FREE:
        return ()
    module, _, function = qualified.rpartition(".")
    state = RNG_PREFIXES.get(module)
    if state is None and module == "torch" and function in _TORCH_DRAWS:
        state = "rng:torch"
    if state is not None and not function.startswith("_") and function[:1].islower():
        return (Effect(state, reads=True, changes=True),)
    return ()


def assignment_state(qualified: str) -> str:
    """The state an assignment to a module's attribute (``pd.options.x = 1``) changes.

    Known configuration has its own state; any other assignment into a module
    (monkey-patching) changes that package's configuration, which the cells
    using the package depend on.
    """
    if qualified.startswith("pandas.options.display."):
        return f"{DISPLAY_PREFIX}pandas.{qualified.removeprefix('pandas.options.')}"
    for target, state in CONFIG_TARGETS.items():
        if qualified == target or qualified.startswith(target + "."):
            return state
    package = qualified.split(".", 1)[0]
    return PACKAGE_CONFIG.get(package, f"config:{package}")


def package_config(package: str) -> str:
    """The configuration state that users of ``package`` depend on (it only
    connects cells when some cell changes it)."""
    return PACKAGE_CONFIG.get(package, f"config:{package}")


def file_state(path: str) -> str:
    return f"file:{path}"


def is_state_name(name: str) -> bool:
    """State names contain a colon; Python names never do."""
    return ":" in name


_STATE_LABELS = {
    "rng:numpy": "NumPy's global random state",
    "rng:random": "the `random` module's state",
    "rng:torch": "PyTorch's global random state",
    "rng:tensorflow": "TensorFlow's global random state",
    "env:cwd": "the working directory",
    "env:os.environ": "environment variables",
    "env:sys.path": "sys.path",
}


def describe_name(name: str) -> str:
    """A name as a status reason shows it: `` `df` ``, "matplotlib settings", "file out.csv"."""
    if not is_state_name(name):
        return f"`{name}`"
    label = _STATE_LABELS.get(name)
    if label is not None:
        return label
    kind, _, rest = name.partition(":")
    if kind == "file":
        return f"file {rest}"
    if kind == "config":
        return f"{rest} settings"
    if kind == "display":
        return f"display option {rest}"
    return name
