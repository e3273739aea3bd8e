"""The server's settings, read from ``initializationOptions`` and ``workspace/didChangeConfiguration``.

Invalid values fall back to the default and produce a warning (sent to the
client as ``window/logMessage``). Pure: no LSP types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sessions.cache.limits import DEFAULT_OUTPUT_CAP
from sessions.format.bounded_read import max_notebook_bytes

if TYPE_CHECKING:  # the runner is loaded with the first notebook, not for ``initialize``
    from sessions.run.runner import OnRun

_KEYS = (
    "python",
    "onRun",
    "runUpstream",
    "outputCap",
    "prewarmKernel",
    "maxNotebookBytes",
    "kernel",
)
_KERNEL_KEYS = ("server", "tokenFile", "name", "caBundle")
"""``sessions.kernel.*``: where kernels run (a Jupyter server) and how to reach it."""


@dataclass(frozen=True)
class Settings:
    python: str | None = None
    """Interpreter for kernels; None: resolved per notebook (DESIGN §6)."""
    on_run: OnRun = "lazy"
    run_upstream: bool = True
    output_cap: int = DEFAULT_OUTPUT_CAP
    prewarm_kernel: bool = False
    """Start a notebook's kernel when it is opened, so the first run does not wait for it."""
    max_notebook_bytes: int = field(default_factory=max_notebook_bytes)
    """Largest notebook analysed (UTF-8 bytes; ``bounded_read``): past it the
    document gets one diagnostic instead of an analysis whose memory grows with
    its size. Defaults to ``SESSIONS_MAX_NOTEBOOK_BYTES`` or 4 MB."""
    kernel_server: str | None = None
    """A Jupyter Server / Enterprise Gateway URL to run kernels on; None: local
    (or ``[tool.sessions] server``). The token comes from ``kernel_token_file``
    or the server process's ``JUPYTER_TOKEN``, never from the settings."""
    kernel_token_file: str | None = None
    kernel_name: str | None = None
    kernel_ca_bundle: str | None = None


DEFAULTS = Settings()


def settings_section(options: object) -> Mapping[str, Any] | None:
    """The ``sessions`` settings inside ``options``, or None when it has none.

    Accepts ``{"sessions": {...}}``, the keys at the top level, and dotted
    keys (``{"sessions.python": ...}``).
    """
    if not isinstance(options, Mapping):
        return None
    nested = options.get("sessions")
    if isinstance(nested, Mapping):
        return cast(Mapping[str, Any], nested)
    found: dict[str, Any] = {}
    for key in _KEYS:
        if key in options:
            found[key] = options[key]
        elif f"sessions.{key}" in options:
            found[key] = options[f"sessions.{key}"]
    return found or None


def read_settings(section: Mapping[str, Any] | None) -> tuple[Settings, list[str]]:
    """Settings from a ``sessions`` section, and a warning per value that was not usable."""
    if section is None:
        return DEFAULTS, []
    warnings: list[str] = []

    def invalid(key: str, value: object, expected: str, default: object) -> None:
        warnings.append(
            f"sessions.{key}: {value!r} is not {expected}; using the default {default!r}"
        )

    python: str | None = DEFAULTS.python
    value = section.get("python")
    if isinstance(value, str) and value.strip():
        python = value.strip()
    elif value not in (None, ""):
        invalid("python", value, "a path to a Python interpreter", None)

    on_run: OnRun = DEFAULTS.on_run
    value = section.get("onRun")
    if value in ("lazy", "autorun"):
        on_run = cast("OnRun", value)
    elif value is not None:
        invalid("onRun", value, '"lazy" or "autorun"', DEFAULTS.on_run)

    run_upstream = DEFAULTS.run_upstream
    value = section.get("runUpstream")
    if isinstance(value, bool):
        run_upstream = value
    elif value is not None:
        invalid("runUpstream", value, "true or false", DEFAULTS.run_upstream)

    output_cap = DEFAULTS.output_cap
    value = section.get("outputCap")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        output_cap = value
    elif value is not None:
        invalid("outputCap", value, "a positive number of characters", DEFAULTS.output_cap)

    prewarm_kernel = DEFAULTS.prewarm_kernel
    value = section.get("prewarmKernel")
    if isinstance(value, bool):
        prewarm_kernel = value
    elif value is not None:
        invalid("prewarmKernel", value, "true or false", DEFAULTS.prewarm_kernel)

    max_bytes = DEFAULTS.max_notebook_bytes
    value = section.get("maxNotebookBytes")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        max_bytes = value
    elif value is not None:
        invalid("maxNotebookBytes", value, "a positive number of bytes", max_bytes)

    kernel: dict[str, str | None] = dict.fromkeys(_KERNEL_KEYS)
    nested = section.get("kernel")
    for key in _KERNEL_KEYS:
        value = nested.get(key) if isinstance(nested, Mapping) else None
        if value is None:
            value = section.get(f"kernel.{key}")
        if isinstance(value, str) and value.strip():
            kernel[key] = value.strip()
        elif value not in (None, ""):
            invalid(f"kernel.{key}", value, "a string", None)

    settings = Settings(
        python,
        on_run,
        run_upstream,
        output_cap,
        prewarm_kernel,
        max_notebook_bytes=max_bytes,
        kernel_server=kernel["server"],
        kernel_token_file=kernel["tokenFile"],
        kernel_name=kernel["name"],
        kernel_ca_bundle=kernel["caBundle"],
    )
    return settings, warnings
