"""``sessions restart NB|KEY``: a new kernel process (empty namespace) for a session.

The session's owner does the restart (it owns the kernel's process); this
command asks it through the registry and waits for the new kernel. Clients
attached to the session reconnect on their own.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from sessions.cli.common import fail, refuse_remote
from sessions.kernel.registry import Registry, RegistryError

RESTART_TIMEOUT = 90.0


def register(verbs: Any) -> None:
    parser = verbs.add_parser("restart", help="restart a session's kernel (clears its variables)")
    parser.add_argument("session", metavar="NB|KEY", help="notebook path, session key or name")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    registry = Registry()
    try:
        entry = registry.resolve(args.session)
    except RegistryError as error:
        return fail(str(error))
    if (refused := refuse_remote(entry, "restart")) is not None:
        return refused
    registry.request(entry.key, "restart")
    deadline = time.monotonic() + RESTART_TIMEOUT
    while time.monotonic() < deadline:
        current = registry.get(entry.key)
        if current is None:
            print(
                f"sessions: session {entry.label()} stopped instead of restarting", file=sys.stderr
            )
            return 1
        if current.restarts > entry.restarts and current.state in ("idle", "busy"):
            print(f"restarted session {entry.label()} (kernel pid {current.kernel_pid})")
            return 0
        time.sleep(0.05)
    print(
        f"sessions: the owner of session {entry.label()} did not restart it in time",
        file=sys.stderr,
    )
    return 1
