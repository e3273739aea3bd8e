"""The kernel layer: which interpreter runs a notebook, and one Jupyter kernel
per notebook, started, talked to and stopped without leaving orphans
(DESIGN §6). The runner (queue, staleness, sidecar) builds on ``KernelSession``.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sessions.kernel.errors import (
        KernelDeadError,
        KernelError,
        KernelSetupError,
        KernelStartError,
    )
    from sessions.kernel.interpreter import ResolvedPython, check_ipykernel, resolve_python
    from sessions.kernel.session import (
        ExecuteResult,
        ExecuteStatus,
        KernelSession,
        KernelState,
        OutputCallback,
        StateCallback,
    )

# Imported on first use: ``sessions.kernel.errors`` (which the language server
# needs at start) must not pull jupyter_client and zmq in with this package.
_LAZY = {
    "KernelDeadError": "sessions.kernel.errors",
    "KernelError": "sessions.kernel.errors",
    "KernelSetupError": "sessions.kernel.errors",
    "KernelStartError": "sessions.kernel.errors",
    "ResolvedPython": "sessions.kernel.interpreter",
    "check_ipykernel": "sessions.kernel.interpreter",
    "resolve_python": "sessions.kernel.interpreter",
    "ExecuteResult": "sessions.kernel.session",
    "ExecuteStatus": "sessions.kernel.session",
    "KernelSession": "sessions.kernel.session",
    "KernelState": "sessions.kernel.session",
    "OutputCallback": "sessions.kernel.session",
    "StateCallback": "sessions.kernel.session",
}

__all__ = [
    "ExecuteResult",
    "ExecuteStatus",
    "KernelDeadError",
    "KernelError",
    "KernelSession",
    "KernelSetupError",
    "KernelStartError",
    "KernelState",
    "OutputCallback",
    "ResolvedPython",
    "StateCallback",
    "check_ipykernel",
    "resolve_python",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sessions.kernel' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
