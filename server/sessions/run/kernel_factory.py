"""How the CLI and the language server get a started kernel for a notebook.

A notebook's kernel is shared (docs/sessions.md): when a healthy kernel of
the notebook, running the interpreter this client would pick, is in the
session registry, the factory *attaches* to it (an ``AttachedKernel``, whose
``shutdown`` only detaches). Otherwise — or with ``fresh=True`` — it starts a
new kernel owned by this process and registers it, so the next client
attaches to it.

The interpreter is resolved per DESIGN §6 (setting > pyproject > the PEP 723
block's environment > .venv > active env > our own interpreter); the block's
environment is built by uv when the kernel starts, and a missing ipykernel or
uv, or dependencies uv cannot resolve, raise ``KernelSetupError`` with the
fix before anything is launched.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sessions.kernel.errors import KernelError
from sessions.kernel.interpreter import project_server, resolve_python
from sessions.run.runner import KernelFactory, KernelLike

if TYPE_CHECKING:
    from sessions.kernel.registry import Registry, SessionEntry
    from sessions.kernel.remote import RemoteServer
    from sessions.kernel.session import KernelSession

# jupyter_client and zmq are imported when the first kernel starts, not with
# this module: the language server answers ``initialize`` without them.


def shareable_entry(registry: Registry, notebook_path: Path, python: str) -> SessionEntry | None:
    """The session a new client of ``notebook_path`` should attach to: the
    oldest live one running ``python`` (later ones are usually named clones)
    and owned by another process. Kernels this process owns are not shared
    through the registry: two runners of one notebook in one process asked
    for two kernels (code that wants one kernel passes one object around)."""
    for entry in registry.for_notebook(notebook_path):
        if (
            entry.python == python
            and entry.owner_pid != os.getpid()
            and entry.state in ("idle", "busy")
        ):
            return entry
    return None


async def attach_or_start(
    notebook_path: Path,
    *,
    python: str | None = None,
    workspace_root: Path | None = None,
    fresh: bool = False,
    registry: Registry | None = None,
) -> KernelSession:
    """A running kernel for the notebook: the shared one when there is a
    healthy one (unless ``fresh``), else a new registered kernel of our own."""
    from sessions.kernel.attached import AttachedKernel
    from sessions.kernel.registration import Registration
    from sessions.kernel.registry import Registry
    from sessions.kernel.session import KernelSession

    registry = registry if registry is not None else Registry()
    resolved = resolve_python(notebook_path, setting=python, workspace_root=workspace_root)
    if not fresh:
        entry = shareable_entry(registry, notebook_path, resolved.path)
        if entry is not None:
            # Not answering (stuck, or stopping right now): start our own.
            with contextlib.suppress(KernelError):
                return await AttachedKernel.attach(entry, registry)
    key = registry.new_key()
    session = KernelSession(
        resolved.path,
        Path(notebook_path).absolute().parent,
        python_reason=resolved.reason,
        owner_cleanup=[registry.entry_path(key)],
        script_env=resolved.script_env,  # a PEP 723 block's env: built on start
    )
    await session.start()
    Registration(registry, session, notebook_path, key=key).begin()
    return session


def remote_server_for(
    notebook_path: Path | None,
    server: str | RemoteServer | None,
    workspace_root: Path | None = None,
    *,
    token_file: str | None = None,
    kernel_name: str | None = None,
    ca_bundle: str | None = None,
) -> RemoteServer | None:
    """The Jupyter server a notebook's kernels run on: ``server`` (a URL, or a
    ``RemoteServer`` as it is), else ``[tool.sessions] server`` of the
    notebook's project; None: local kernels. The token comes from
    ``token_file``, else ``JUPYTER_TOKEN``. ``RemoteServerError`` says what is
    wrong (a bad URL, an unreadable token file). Every surface resolves it
    here: the CLI's flags, the editor's settings, the API's argument."""
    if server is not None and not isinstance(server, str):
        return server
    url = server
    if url is None and notebook_path is not None:
        url = project_server(notebook_path, workspace_root)
    if url is None:
        return None
    from sessions.kernel.remote import RemoteServer

    return RemoteServer.from_options(
        url, token_file=token_file, kernel_name=kernel_name, ca_bundle=ca_bundle
    )


def kernel_factory_for(
    notebook_path: Path,
    *,
    python: str | None = None,
    workspace_root: Path | None = None,
    fresh: bool = False,
    registry: Registry | None = None,
    server: RemoteServer | None = None,
) -> KernelFactory:
    """A factory of running kernels for the notebook (see ``attach_or_start``);
    with ``fresh`` every kernel it makes is a new one. With ``server``: the
    notebook's shared session on that server (``sessions start --server``)
    when there is one, left running when the client is done; else a new
    kernel there, deleted when it shuts down."""

    async def start_kernel() -> KernelLike:
        if server is not None:
            from sessions.kernel.registry import Registry
            from sessions.kernel.remote import RemoteKernel, attach_shared

            if not fresh:
                shared = await attach_shared(server, notebook_path, registry or Registry())
                if shared is not None:
                    return shared
            remote = RemoteKernel(server, Path(notebook_path).absolute().parent)
            await remote.start()
            return remote
        return await attach_or_start(
            notebook_path,
            python=python,
            workspace_root=workspace_root,
            fresh=fresh,
            registry=registry,
        )

    return start_kernel
