"""``sessions import X.ipynb [-o OUT.py] [--force] [--ids]``: a Jupyter notebook as ``# %%`` cells.

Writes ``X.py`` and its sidecar ``X.sessions.toml`` holding the notebook's
outputs, so the imported cells that ran show their outputs (``fresh`` where
the dependency analysis agrees with what ran). Exit codes: 0 written, 2
usage error (unreadable or invalid .ipynb, an output file exists without
``--force``, a cell that the percent format cannot hold).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sessions.cache.atomic import write_atomic
from sessions.cache.sidecar import save_sidecar, sidecar_path
from sessions.cli.common import fail
from sessions.ipynb import IpynbError, from_ipynb, read_ipynb


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "import", help="convert a .ipynb into a .py notebook plus its output cache"
    )
    parser.add_argument("ipynb", help="the Jupyter notebook (.ipynb)")
    parser.add_argument(
        "-o", "--output", metavar="OUT", help="notebook to write (default: X.py next to X.ipynb)"
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite OUT and its sidecar if they exist"
    )
    parser.add_argument(
        "--ids",
        action="store_true",
        # argparse formats help with %: a literal percent sign is written %%.
        help="write the cells' Jupyter ids into the # %%%% headers "
        "(not needed: Sessions matches cells without ids)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    source = Path(args.ipynb)
    target = Path(args.output) if args.output else source.with_suffix(".py")
    if target.suffix == ".ipynb" or target.resolve() == source.resolve():
        return fail(f"{target}: would overwrite the .ipynb; choose a .py output with -o")
    sidecar = sidecar_path(target)
    for path in (target, sidecar):
        if path.is_dir():
            return fail(f"{path}: is a directory; pass a .py file name with -o")
        if path.exists() and not args.force:
            return fail(f"{path}: already exists; pass --force to overwrite it")
    try:
        data = read_ipynb(source)
        text, sidecar_data = from_ipynb(data, notebook_name=target.name, ids=args.ids)
    except IpynbError as exc:
        return fail(f"{source}: {exc}")
    # Errors name the file the user asked for, not the temporary file beside it.
    path = target
    try:
        write_atomic(target, text.encode("utf-8"))
        path = sidecar
        save_sidecar(sidecar, sidecar_data)
    except OSError as exc:
        return fail(
            f"{path}: cannot be written ({exc.strerror or exc}); "
            f"check that {path.absolute().parent} exists and is writable"
        )
    with_outputs = sum(1 for record in sidecar_data.cells if record.outputs)
    print(f"wrote {target} and {sidecar.name} ({with_outputs} cells with outputs)")
    return 0
