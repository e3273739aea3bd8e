"""The ``sessions`` command line: the engine headless, for terminals, CI and agents.

Exit codes are a contract (docs/cli.md): 0 success, 1 the notebook has a
problem (a failing cell, an error diagnostic, formatting needed), 2 usage or
setup error (bad arguments, unreadable file, missing ipykernel).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from . import (
    check,
    clone,
    console,
    export,
    fmt,
    import_cmd,
    ls,
    lsp,
    mcp,
    restart,
    run,
    start,
    status,
    stop,
    watch,
)

EXIT_OK = 0

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessions",
        description="Reactive notebooks kept as plain .py files with # %% cells.",
    )
    parser.add_argument("--version", action="version", version=f"sessions {__version__}")
    # Also before the verb (`sessions -q run NB`), as people type it; a
    # separate dest, since a subparser's own default would overwrite it.
    parser.add_argument(
        "--quiet",
        "-q",
        dest="quiet_before_verb",
        action="store_true",
        help="for run and watch: do not echo cell outputs (a failed cell's error still shows)",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND")
    verbs.required = True
    session_verbs = (start, ls, console, stop, restart, clone)
    for module in (status, check, run, watch, fmt, export, import_cmd, mcp, lsp, *session_verbs):
        module.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quiet_before_verb and hasattr(args, "quiet"):
        args.quiet = True
    command: Command = args.run
    try:
        return command(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


def entry() -> None:
    sys.exit(main())
