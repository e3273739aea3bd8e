"""``sessions export NB [--to ipynb|html|md|script] [-o OUT] [--force] [--only-fresh]``.

The notebook with its cached outputs (docs/cli.md): a Jupyter notebook, an
HTML report or Markdown (rendered by nbconvert, with each cell's status and
when its output was produced), or the code as a Python script. Outputs come
from the sidecar, matched to the cells as everywhere else, so outputs of
edited cells are exported too, marked stale in the reports. Nothing runs.
Exit codes: 0 written; 1 ``--only-fresh`` and some cell is not fresh (the
list goes to stderr, nothing is written); 2 usage or setup error (bad
notebook or YAML header, the output exists without ``--force``, it cannot be
written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sessions.cli.common import CliError, fail, load_or_fail, report_problems
from sessions.export.freshness import refusal
from sessions.export.writer import FORMATS, ExportError, NotFresh, export_notebook

EXIT_NOT_FRESH = 1


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "export",
        help="write the notebook and its cached outputs as .ipynb, HTML, Markdown or a script",
    )
    parser.add_argument("notebook", help="the notebook .py file")
    parser.add_argument(
        "--to",
        choices=FORMATS,
        default="ipynb",
        help="output format (default: ipynb): ipynb, html (one self-contained file), "
        "md (images in NB_files/), script (the code as Python)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file (default: NB.ipynb, NB.html, NB.md or NB_script.py beside NB)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    parser.add_argument(
        "--only-fresh",
        action="store_true",
        help="refuse (exit 1, listing them) when a cell is not fresh: for CI that publishes reports",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        snapshot = load_or_fail(args.notebook)
    except CliError as exc:
        return fail(str(exc))
    report_problems(snapshot)
    output = Path(args.output) if args.output else None
    try:
        written = export_notebook(
            snapshot, args.to, output, force=args.force, only_fresh=args.only_fresh
        )
    except NotFresh as exc:
        print(f"sessions: {refusal(args.notebook, exc.cells)}", file=sys.stderr)
        return EXIT_NOT_FRESH
    except ExportError as exc:
        return fail(str(exc))
    beside = ""
    if written.files:
        folders = sorted({str(path.parent) for path in written.files})
        beside = f", and {len(written.files)} file(s) in {', '.join(folders)}"
    print(
        f"wrote {written.path} ({written.cells} cells, {written.with_outputs} with outputs{beside})"
    )
    return 0
