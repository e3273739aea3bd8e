"""``sessions check NB [--severity S] [--json]``: diagnostics only; exit 1 on any error.

Hints (``redefined``: 4,030 of them on one 35k-line notebook) and the
information-level status diagnostics are noise in CI: by default only errors
and warnings are listed, and ``--severity`` chooses the lowest level shown.
"""

from __future__ import annotations

import argparse
from typing import Any

from sessions.analysis.diagnostics import SEVERITY_RANK
from sessions.cli.common import CliError, fail, load_or_fail, print_json, report_problems
from sessions.cli.render import format_diagnostic


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "check", help="report diagnostics; exit 1 if any has error severity (for CI)"
    )
    parser.add_argument("notebook", help="the notebook .py file")
    parser.add_argument(
        "--severity",
        choices=list(SEVERITY_RANK),
        default="warning",
        help="lowest severity listed (default: warning; `hint` lists everything)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output (docs/cli.md)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        snapshot = load_or_fail(args.notebook)
    except CliError as exc:
        return fail(str(exc))
    report_problems(snapshot)
    errors = sum(1 for d in snapshot.diagnostics if d.severity == "error")
    lowest = SEVERITY_RANK[args.severity]
    shown = [d for d in snapshot.diagnostics if SEVERITY_RANK[d.severity] <= lowest]
    hidden = len(snapshot.diagnostics) - len(shown)
    if args.json:
        print_json(
            {
                "notebook": args.notebook,
                "diagnostics": [d.to_json() for d in shown],
                "errors": errors,
                "hidden": hidden,
            }
        )
    else:
        for diagnostic in shown:
            print(format_diagnostic(args.notebook, diagnostic))
        if not shown:
            print(f"{args.notebook}: no problems")
        if hidden:
            print(f"({hidden} below {args.severity} not shown: --severity hint lists them)")
    return 1 if errors else 0
