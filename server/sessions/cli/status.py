"""``sessions status NB [--json]``: cells, statuses, defines/uses and diagnostics."""

from __future__ import annotations

import argparse
from typing import Any

from sessions.cli.common import CliError, fail, load_or_fail, print_json, report_problems
from sessions.cli.render import format_diagnostic, print_table, snapshot_json
from sessions.kernel.interpreter import project_server, resolve_python
from sessions.run.parameters import in_effect, parameters_cell


def register(verbs: Any) -> None:
    parser = verbs.add_parser("status", help="show every cell's status, definitions and uses")
    parser.add_argument("notebook", help="the notebook .py file")
    parser.add_argument("--json", action="store_true", help="machine-readable output (docs/cli.md)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        snapshot = load_or_fail(args.notebook)
    except CliError as exc:
        return fail(str(exc))
    report_problems(snapshot)
    server = project_server(snapshot.path)
    if server is not None:  # kernels run there: no local interpreter is used
        python, reason = (
            f"python3 on {server}",
            "[tool.sessions] server in the nearest pyproject.toml",
        )
    else:
        resolved = resolve_python(snapshot.path)
        python, reason = resolved.path, resolved.reason
    cell = parameters_cell(snapshot.notebook)
    parameters = in_effect(snapshot.notebook, snapshot.records)
    if args.json:
        payload = snapshot_json(snapshot)
        payload["kernel"] = {"python": python, "reason": reason}
        payload["parameters"] = {"cell": cell, "values": parameters} if cell is not None else None
        print_json(payload)
        return 0
    print_table(snapshot)
    print(f"kernel: {python} ({reason})")
    if cell is not None:
        listed = ", ".join(f"{name} = {text}" for name, text in parameters.items())
        values = listed if listed else "the defaults of the cell"
        print(f"parameters: {values} (cell {cell}, tagged parameters)")
    shown = [d for d in snapshot.diagnostics if d.severity in ("error", "warning")]
    hints = sum(1 for d in snapshot.diagnostics if d.severity == "hint")
    if shown or hints:
        print()
    for diagnostic in shown:
        print(format_diagnostic(args.notebook, diagnostic))
    if hints:
        print(f"{hints} hint(s), e.g. redefined names: sessions check {args.notebook}")
    return 0
