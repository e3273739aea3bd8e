"""How the CLI and the language server get a started kernel for a notebook.

The interpreter is resolved per DESIGN §6 (setting > pyproject > .venv >
active env > our own interpreter); a missing ipykernel raises
``KernelSetupError`` with the exact fix before anything is launched.
"""

from __future__ import annotations

from pathlib import Path

from .kernel.session import KernelSession
from .runner import KernelFactory, KernelLike


def kernel_factory_for(
    notebook_path: Path, *, python: str | None = None, workspace_root: Path | None = None
) -> KernelFactory:
    async def start_kernel() -> KernelLike:
        session = KernelSession.for_notebook(
            notebook_path, setting=python, workspace_root=workspace_root
        )
        await session.start()
        return session

    return start_kernel
