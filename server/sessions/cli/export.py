"""``sessions export NB --to ipynb [-o OUT] [--force]``: a Jupyter notebook with the cached outputs.

Outputs come from the sidecar, matched to the cells as everywhere else (so
outputs of edited cells are exported too, as Jupyter would show them); the
notebook metadata from the YAML header (``jupytext.formats`` included, so a
Jupytext-paired notebook stays paired). Exit codes: 0 written, 2 usage or
setup error (bad notebook or YAML header, the output file exists without
``--force``, it cannot be written).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sessions.cache.atomic import write_atomic
from sessions.cli.common import CliError, fail, load_or_fail, report_problems
from sessions.ipynb import IpynbError, ipynb_text, to_ipynb


def register(verbs: Any) -> None:
    parser = verbs.add_parser("export", help="write the notebook and its cached outputs as .ipynb")
    parser.add_argument("notebook", help="the notebook .py file")
    parser.add_argument(
        "--to", choices=["ipynb"], default="ipynb", help="output format (default: ipynb)"
    )
    parser.add_argument(
        "-o", "--output", metavar="OUT", help="output file (default: NB with the .ipynb suffix)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        snapshot = load_or_fail(args.notebook)
    except CliError as exc:
        return fail(str(exc))
    source = Path(args.notebook)
    target = Path(args.output) if args.output else source.with_suffix(".ipynb")
    if target.resolve() == source.resolve():
        return fail(f"{target}: is the notebook itself; choose another output with -o")
    if target.exists() and not args.force:
        return fail(f"{target}: already exists; pass --force to overwrite it")
    if target.is_dir():
        return fail(f"{target}: is a directory; pass a file name with -o")
    report_problems(snapshot)

    try:
        data = to_ipynb(
            snapshot.notebook, snapshot.records, language=snapshot.sidecar.kernel.language
        )
    except IpynbError as exc:
        return fail(f"{source}: {exc}")
    try:
        write_atomic(target, ipynb_text(data).encode("utf-8"))
    except OSError as exc:
        return fail(f"{target}: cannot be written ({exc.strerror or exc})")
    with_outputs = sum(1 for cell in data["cells"] if cell.get("outputs"))
    print(f"wrote {target} ({len(data['cells'])} cells, {with_outputs} with outputs)")
    return 0
