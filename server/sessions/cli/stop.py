"""``sessions stop NB|KEY``: stop a session's kernel and every process it started."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sessions.cli.common import fail
from sessions.kernel.registry import Registry, RegistryError, stop_session


def register(verbs: Any) -> None:
    parser = verbs.add_parser("stop", help="stop a kernel session (no processes are left)")
    parser.add_argument("session", metavar="NB|KEY", help="notebook path, session key or name")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    registry = Registry()
    try:
        entry = registry.resolve(args.session)
    except RegistryError as error:
        return fail(str(error))
    if not stop_session(entry, registry):
        print(f"sessions: session {entry.label()} did not stop in time", file=sys.stderr)
        return 1
    print(f"stopped session {entry.label()} of {entry.notebook}")
    return 0
