"""``sessions ls``: the live kernel sessions of this user (docs/sessions.md)."""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..kernel.registry import Registry, SessionEntry, heartbeat
from .common import print_json


def register(verbs: Any) -> None:
    parser = verbs.add_parser("ls", help="list the live kernel sessions")
    parser.add_argument("--json", action="store_true", help="print a JSON list on stdout")
    parser.set_defaults(run=run)


def format_idle(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def session_json(entry: SessionEntry, healthy: bool) -> dict[str, Any]:
    return {
        "key": entry.key,
        "name": entry.name,
        "notebook": entry.notebook,
        "state": entry.state,
        "idle_seconds": round(entry.idle_seconds(), 1),
        "python": entry.python,
        "health": "ok" if healthy else "no heartbeat",
        "owner_pid": entry.owner_pid,
        "kernel_pid": entry.kernel_pid,
        "connection_file": entry.connection_file,
        "started": entry.started,
        "last_activity": entry.last_activity,
        "detached": entry.detached,
        "clone_of": entry.clone_of,
        "idle_timeout": entry.idle_timeout,
    }


def run(args: argparse.Namespace) -> int:
    entries = Registry().entries()
    # Heartbeats in parallel: a stuck kernel costs its timeout once, not per row.
    with ThreadPoolExecutor(max_workers=8) as pool:
        health = list(pool.map(lambda e: heartbeat(e.connection_file), entries))
    rows = [session_json(e, ok) for e, ok in zip(entries, health, strict=True)]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no live sessions", file=sys.stderr)
        return 0
    table = [("KEY", "NAME", "NOTEBOOK", "STATE", "IDLE", "PYTHON", "HEALTH")]
    for row in rows:
        name = row["name"] or "-"
        if row["clone_of"]:
            name += f" (clone of {row['clone_of']})"
        table.append(
            (
                row["key"],
                name,
                row["notebook"],
                row["state"] + (" detached" if row["detached"] else ""),
                format_idle(row["idle_seconds"]),
                row["python"],
                row["health"],
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    for line in table:
        cells = [text.ljust(width) for text, width in zip(line, widths, strict=False)]
        print("  ".join([*cells, line[-1]]))
    return 0
