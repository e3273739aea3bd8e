"""Errors of the kernel layer, each with a message meant for the user."""

from __future__ import annotations


class KernelError(Exception):
    """Base class: something went wrong starting or talking to a kernel."""


class KernelSetupError(KernelError):
    """The notebook's interpreter cannot run a kernel (missing, not executable,
    no ipykernel). Reported as the ``kernel-setup`` diagnostic; ``fix`` is the
    exact command that repairs it, when there is one."""

    def __init__(self, message: str, *, python: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.python = python
        self.fix = fix


class KernelStartError(KernelError):
    """The kernel process was launched but never became ready (it exited or
    did not answer ``kernel_info`` in time). Everything launched is cleaned up."""


class KernelDeadError(KernelError):
    """A request was made to a kernel that is not running (never started, shut
    down, or died). Call ``restart()`` (or ``start()``) first."""
