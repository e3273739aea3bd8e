"""``sessions clone NB|KEY --name N``: a new detached kernel with the source's cells loaded.

The cells loaded in a kernel are those whose code ran without error in that
kernel process: its owner records their code hashes in the registry entry
(``executed``, ordered by last run). The clone replays the notebook's current
cells with those hashes, in that order, into a new kernel of the same
interpreter; ``ls`` shows it as a clone of the source.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sessions.cli.common import fail, refuse_remote
from sessions.cli.start import add_idle_timeout, idle_timeout_of
from sessions.kernel.registry import Registry, RegistryError
from sessions.kernel.supervisor import SupervisorError, SupervisorOptions, start_detached


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "clone", help="start a new kernel session with the cells loaded in another one"
    )
    parser.add_argument("session", metavar="NB|KEY", help="notebook path, session key or name")
    parser.add_argument("--name", required=True, help="name of the new session")
    add_idle_timeout(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    registry = Registry()
    try:
        source = registry.resolve(args.session)
        registry.check_name_free(args.name)
        idle_timeout = idle_timeout_of(args)
    except (RegistryError, ValueError) as error:
        return fail(str(error))
    if (refused := refuse_remote(source, "clone")) is not None:
        return refused
    options = SupervisorOptions(
        notebook=Path(source.notebook),
        key=registry.new_key(),
        name=args.name,
        python=source.python,
        idle_timeout=idle_timeout,
        clone_of=source.key,
        replay=list(source.executed),
    )
    try:
        entry, replay = start_detached(options, registry)
    except SupervisorError as error:
        return fail(str(error))
    cells = ", ".join(map(str, replay.cells)) or "none"
    print(f"cloned session {source.label()} into {entry.label()}: replayed cells {cells}")
    if replay.failed is not None:
        print(f"sessions: replay stopped at cell {replay.failed}: {replay.error}", file=sys.stderr)
        return 1
    return 0
