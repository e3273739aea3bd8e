"""The ``sessions`` command line: the engine headless, for terminals, CI and agents.

Exit codes are a contract (docs/cli.md): 0 success, 1 the notebook has a
problem (a failing cell, an error diagnostic, formatting needed), 2 usage or
setup error (bad arguments, unreadable file, missing ipykernel).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from sessions._version import __version__

# Verb -> module of this package. A command imports only its own verb's module:
# ``sessions lsp`` must not pay for jupyter_client, which ``sessions run`` needs.
VERBS = {
    "status": "status",
    "check": "check",
    "graph": "graph",
    "run": "run",
    "watch": "watch",
    "fmt": "fmt",
    "export": "export",
    "import": "import_cmd",
    "mcp": "mcp",
    "lsp": "lsp",
    "start": "start",
    "ls": "ls",
    "console": "console",
    "stop": "stop",
    "restart": "restart",
    "clone": "clone",
    "checkpoints": "checkpoints",
    "env": "env",
    "add": "add",
}

EXIT_OK = 0

Command = Callable[[argparse.Namespace], int]


def _verb_of(argv: Sequence[str]) -> str | None:
    """The verb a command line names (global options take no values)."""
    for token in argv:
        if not token.startswith("-"):
            return token if token in VERBS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser for every verb, or for ``only`` (the verb being run)."""
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
    for verb, module_name in VERBS.items():
        if only is None or verb == only:
            importlib.import_module(f"{__name__}.{module_name}").register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_verb_of(arguments))
    args = parser.parse_args(arguments)
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
