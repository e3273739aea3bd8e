"""``sessions stop NB|KEY``: stop a session's kernel and every process it started."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from sessions.cli.common import add_remote_arguments, fail, remote_server_of
from sessions.kernel.errors import KernelError
from sessions.kernel.registry import Registry, RegistryError, SessionEntry, stop_session


def register(verbs: Any) -> None:
    parser = verbs.add_parser("stop", help="stop a kernel session (no processes are left)")
    parser.add_argument("session", metavar="NB|KEY", help="notebook path, session key or name")
    add_remote_arguments(parser, server=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    registry = Registry()
    try:
        entry = registry.resolve(args.session)
    except RegistryError as error:
        return fail(str(error))
    if entry.server is not None:
        return _stop_remote(entry, registry, args)
    if not stop_session(entry, registry):
        print(f"sessions: session {entry.label()} did not stop in time", file=sys.stderr)
        return 1
    print(f"stopped session {entry.label()} of {entry.notebook}")
    return 0


def _stop_remote(entry: SessionEntry, registry: Registry, args: argparse.Namespace) -> int:
    from sessions.kernel.remote import stop_shared

    try:
        server = remote_server_of(args, None, url=entry.server)
        assert server is not None
        asyncio.run(stop_shared(entry, server, registry))
    except KernelError as error:
        return fail(str(error))
    print(f"stopped session {entry.label()} of {entry.notebook} on {entry.server}")
    return 0
