"""``sessions check NB [--json]``: diagnostics only; exit 1 on any error diagnostic."""

from __future__ import annotations

import argparse
from typing import Any

from .common import CliError, fail, load_or_fail, print_json, report_problems
from .render import format_diagnostic


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "check", help="report diagnostics; exit 1 if any has error severity (for CI)"
    )
    parser.add_argument("notebook", help="the notebook .py file")
    parser.add_argument("--json", action="store_true", help="machine-readable output (docs/cli.md)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        snapshot = load_or_fail(args.notebook)
    except CliError as exc:
        return fail(str(exc))
    report_problems(snapshot)
    errors = sum(1 for d in snapshot.diagnostics if d.severity == "error")
    if args.json:
        print_json(
            {
                "notebook": args.notebook,
                "diagnostics": [d.to_json() for d in snapshot.diagnostics],
                "errors": errors,
            }
        )
    else:
        for diagnostic in snapshot.diagnostics:
            print(format_diagnostic(args.notebook, diagnostic))
        if not snapshot.diagnostics:
            print(f"{args.notebook}: no problems")
    return 1 if errors else 0
