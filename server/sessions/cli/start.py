"""``sessions start NB``: a kernel session that other clients attach to.

With ``--detach`` the kernel outlives the command (a background supervisor
owns it until ``sessions stop``, SIGTERM or the idle timeout); without, the
command keeps it in the foreground until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessions.cli.common import add_remote_arguments, fail, remote_server_of
from sessions.kernel.errors import KernelError
from sessions.kernel.registry import Registry, RegistryError, SessionEntry

if TYPE_CHECKING:
    from sessions.kernel.remote import RemoteServer

from sessions.kernel.supervisor import (
    IDLE_TIMEOUT_ENV,
    Replay,
    SupervisorError,
    SupervisorOptions,
    default_idle_timeout,
    start_detached,
    supervise,
)


def register(verbs: Any) -> None:
    parser = verbs.add_parser("start", help="start a shared kernel session for a notebook")
    parser.add_argument("notebook", help="the notebook .py file")
    parser.add_argument("--name", help="a name for the session (letters, digits, - and _)")
    parser.add_argument(
        "--detach", action="store_true", help="run in the background until `sessions stop`"
    )
    add_idle_timeout(parser)
    parser.add_argument(
        "--python", metavar="PATH", help="interpreter for the kernel (overrides project settings)"
    )
    add_remote_arguments(parser)
    parser.add_argument(
        "--kernel-id",
        metavar="ID",
        help="with --server: share a kernel already running on the server instead of a new one",
    )
    parser.set_defaults(run=run)


def add_idle_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--idle-timeout",
        type=float,
        metavar="MIN",
        help=f"stop the kernel after MIN minutes without running code (default: ${IDLE_TIMEOUT_ENV})",
    )


def idle_timeout_of(args: argparse.Namespace) -> float | None:
    """``--idle-timeout``, else the environment's; 0 means never."""
    if args.idle_timeout is not None:
        return args.idle_timeout if args.idle_timeout > 0 else None
    return default_idle_timeout()


def describe(entry: SessionEntry) -> str:
    if entry.server is not None:
        return (
            f"session {entry.label()} for {entry.notebook} "
            f"(kernel {entry.remote_id} on {entry.server})"
        )
    return f"session {entry.label()} for {entry.notebook} (kernel pid {entry.kernel_pid})"


def run(args: argparse.Namespace) -> int:
    notebook = Path(args.notebook).absolute()
    if not notebook.is_file():
        return fail(f"no such notebook: {args.notebook}")
    registry = Registry()
    try:
        if args.name is not None:
            registry.check_name_free(args.name)
        options = SupervisorOptions(
            notebook=notebook,
            key=registry.new_key(),
            name=args.name,
            python=args.python,
            idle_timeout=idle_timeout_of(args),
            detached=args.detach,
        )
    except (RegistryError, ValueError) as error:
        return fail(str(error))
    try:
        server = remote_server_of(args, notebook)
    except KernelError as error:
        return fail(str(error))
    if server is not None:
        return _start_remote(server, notebook, registry, args.name, args.kernel_id)
    if args.kernel_id is not None:
        return fail("--kernel-id names a kernel on a Jupyter server: give --server URL too")
    if args.detach:
        try:
            entry, _ = start_detached(options, registry)
        except SupervisorError as error:
            return fail(str(error))
        print(f"started {describe(entry)}")
        print(f"stop it with: sessions stop {entry.key}")
        return 0

    def ready(entry: SessionEntry, replay: Replay) -> None:
        print(f"started {describe(entry)}; Ctrl-C to stop", flush=True)

    try:
        asyncio.run(supervise(options, registry, ready))
    except KernelError as error:
        return fail(str(error))
    print("stopped", file=sys.stderr)
    return 0


def _start_remote(
    server: RemoteServer,
    notebook: Path,
    registry: Registry,
    name: str | None,
    kernel_id: str | None,
) -> int:
    """A shared kernel on a Jupyter server: it lives there, not here, so there
    is nothing to keep in the foreground and ``--detach`` changes nothing."""
    from sessions.kernel.remote import start_shared

    try:
        entry = asyncio.run(start_shared(server, notebook, registry, name, kernel_id))
    except KernelError as error:
        return fail(str(error))
    print(f"started {describe(entry)}")
    print(f"stop it with: sessions stop {entry.key}")
    return 0
