"""``sessions graph NB [--format mermaid|dot|json]``: how the cells depend on each other.

Prints the dependency graph on stdout: a node per code cell coloured by its
status, an arrow per provider → reader labelled with the names that flow
(mutations and hidden state drawn apart, cycles in red). Read-only: it reads
the notebook and its sidecar and writes nothing, not even a ``.bak`` of a
broken sidecar (docs/cli.md).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sessions.analysis.graph_export import dependency_graph, graph_json
from sessions.analysis.graph_render import to_dot, to_mermaid
from sessions.cli.common import CliError, fail, load_or_fail, print_json, report_problems

FORMATS = ("mermaid", "dot", "json")


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "graph", help="print the cells' dependency graph (Mermaid, Graphviz DOT or JSON)"
    )
    parser.add_argument("notebook", help="the notebook .py file")
    parser.add_argument(
        "--format",
        "-f",
        choices=FORMATS,
        default="mermaid",
        help="mermaid (default; paste into Markdown), dot (Graphviz: `| dot -Tsvg`) "
        "or json (docs/cli.md)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        snapshot = load_or_fail(args.notebook)
    except CliError as exc:
        return fail(str(exc))
    report_problems(snapshot)
    graph = dependency_graph(snapshot, notebook=args.notebook)
    if args.format == "json":
        print_json(graph_json(graph))
    elif args.format == "dot":
        sys.stdout.write(to_dot(graph))
    else:
        sys.stdout.write(to_mermaid(graph))
    return 0
