"""``sessions checkpoints ls|clear NB``: what the checkpoint store holds for a notebook.

``ls`` lists the notebook's checkpoints — the cell, the names, the size, how
long the run that made it took, when it was last used, and whether it is
*current* (it matches a fresh cell's version as the code is now, so a new
kernel would restore it) — and reads nothing but file headers: it creates,
renames or rewrites nothing. ``clear`` deletes them. Exit codes: 0, or 2 for
a notebook that cannot be read.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from sessions.cli.common import fail, human_size, print_json
from sessions.format.files import NotebookReadError


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "checkpoints", help="list or delete the saved values of a notebook's cells"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("ls", help="list the notebook's checkpoints")
    listing.add_argument("notebook", help="the notebook .py file")
    listing.add_argument("--json", action="store_true", help="print JSON (docs/cli.md)")
    clearing = actions.add_parser("clear", help="delete the notebook's checkpoints")
    clearing.add_argument("notebook", help="the notebook .py file")
    parser.set_defaults(run=run)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return "just now"


def run(args: argparse.Namespace) -> int:
    from sessions.run.checkpoints.store import CheckpointStore, checkpoint_key

    path = Path(args.notebook)
    store = CheckpointStore()
    if args.action == "clear":
        if not path.is_file():
            return fail(f"{path}: no such notebook")
        removed = store.clear(path)
        print(f"deleted {len(removed)} checkpoint(s) of {path.name} from {store.folder_of(path)}")
        return 0

    from sessions.analysis.snapshot import analyse
    from sessions.cache.sidecar import SidecarStore, sidecar_path
    from sessions.format.files import read_notebook_text
    from sessions.format.notebook import parse

    try:
        notebook = parse(read_notebook_text(path))
    except NotebookReadError as exc:
        return fail(str(exc))
    loaded = SidecarStore(sidecar_path(path), path.name).load()
    snapshot = analyse(path, notebook, loaded.data, loaded.problems)
    fresh = [
        record
        for record, state in zip(snapshot.records, snapshot.states, strict=True)
        if record is not None and not state.is_stale and record.status == "ok"
    ]
    now = time.time()
    rows: list[dict[str, Any]] = []
    for entry in store.entries(path):
        header = entry.header
        interpreter = str(header.get("interpreter", ""))
        current = next(
            (
                r.index
                for r in fresh
                if r.provides and checkpoint_key(r.provides, interpreter) == entry.key
            ),
            None,
        )
        rows.append(
            {
                "key": entry.key,
                "cell": current if current is not None else header.get("cell"),
                "title": header.get("title", ""),
                "names": header.get("names", []),
                "size": entry.size,
                "duration": header.get("duration"),
                "created": header.get("created"),
                "used": entry.used,
                "current": current is not None,
                "interpreter": interpreter,
                "path": str(entry.path),
            }
        )
    if args.json:
        print_json(
            {"notebook": args.notebook, "folder": str(store.folder_of(path)), "checkpoints": rows}
        )
        return 0
    if not rows:
        print(f"no checkpoints of {path.name} (in {store.folder_of(path)})")
        return 0
    for row in rows:
        state = "current" if row["current"] else "outdated (the code or its inputs changed)"
        took = (
            f", its run took {row['duration']:.1f}s"
            if isinstance(row["duration"], int | float)
            else ""
        )
        names = ", ".join(row["names"]) or "?"
        print(
            f"cell {row['cell']} {row['title']}: {names} — {human_size(row['size'])}{took}, "
            f"used {_age(now - row['used'])}; {state}"
        )
    total = sum(row["size"] for row in rows)
    print(f"{len(rows)} checkpoint(s), {human_size(total)}, in {store.folder_of(path)}")
    return 0
