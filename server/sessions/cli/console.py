"""``sessions console NB|KEY``: a Jupyter console attached to a session's kernel."""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import subprocess
import sys
from typing import Any

from sessions.cli.common import fail, refuse_remote
from sessions.kernel.registry import Registry, RegistryError

INSTALL_HINT = f"{shlex.quote(sys.executable)} -m pip install jupyter-console"


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "console", help="open a Jupyter console on a session's kernel (shares its variables)"
    )
    parser.add_argument("session", metavar="NB|KEY", help="notebook path, session key or name")
    parser.set_defaults(run=run)


def console_command(connection_file: str) -> list[str]:
    return [sys.executable, "-m", "jupyter_console", "--existing", connection_file]


def run(args: argparse.Namespace) -> int:
    try:
        entry = Registry().resolve(args.session)
    except RegistryError as error:
        return fail(str(error))
    if (refused := refuse_remote(entry, "console")) is not None:
        return refused
    if importlib.util.find_spec("jupyter_console") is None:
        return fail(f"jupyter console is not installed; install it with: {INSTALL_HINT}")
    # jupyter console's `exit` asks the kernel to shut down; Ctrl-D only detaches.
    # The kernel is the notebook's shared session, so say which is which up front.
    print(
        f"Attached to session {entry.key} ({entry.notebook}). Ctrl-D leaves and keeps the kernel"
        " running; `exit` shuts the kernel down for every client.",
        file=sys.stderr,
    )
    return subprocess.call(console_command(entry.connection_file))
