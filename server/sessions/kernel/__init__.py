"""The kernel layer: which interpreter runs a notebook, and one Jupyter kernel
per notebook, started, talked to and stopped without leaving orphans
(DESIGN §6). The runner (queue, staleness, sidecar) builds on ``KernelSession``.
"""

from sessions.kernel.errors import KernelDeadError, KernelError, KernelSetupError, KernelStartError
from sessions.kernel.interpreter import ResolvedPython, check_ipykernel, resolve_python
from sessions.kernel.session import (
    ExecuteResult,
    ExecuteStatus,
    KernelSession,
    KernelState,
    OutputCallback,
    StateCallback,
)

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
