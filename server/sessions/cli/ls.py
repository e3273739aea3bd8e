"""``sessions ls``: the live kernel sessions of this user, and the orphans —
kernels whose owner is gone and what they left (docs/sessions.md).

Orphans are listed apart and never touched by a plain ``ls``; ``--clean``
ends their processes and removes their files. No interactive prompt: ``ls``
is run by scripts and agents as much as by people, and a question on a
terminal would block them."""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sessions.cli.common import print_json
from sessions.kernel.registry import (
    CleanReport,
    Orphan,
    Registry,
    SessionEntry,
    clean_orphans,
    find_orphans,
    heartbeat,
)


def register(verbs: Any) -> None:
    parser = verbs.add_parser("ls", help="list the live kernel sessions")
    parser.add_argument("--json", action="store_true", help="print a JSON list on stdout")
    parser.add_argument(
        "--clean",
        action="store_true",
        help="end orphaned kernels (owner gone) and their processes, remove their files",
    )
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
        "health": "remote" if entry.server is not None else "ok" if healthy else "no heartbeat",
        "server": entry.server,
        "remote_id": entry.remote_id,
        "owner_pid": entry.owner_pid,
        "kernel_pid": entry.kernel_pid,
        "connection_file": entry.connection_file,
        "started": entry.started,
        "last_activity": entry.last_activity,
        "detached": entry.detached,
        "clone_of": entry.clone_of,
        "idle_timeout": entry.idle_timeout,
    }


def orphan_json(orphan: Orphan) -> dict[str, Any]:
    entry = orphan.entry
    kernel = next((p.pid for p in orphan.processes if p.role == "kernel"), None)
    return {
        "key": entry.key if entry is not None else None,
        "name": entry.name if entry is not None else None,
        "notebook": entry.notebook if entry is not None else None,
        "state": "orphan",
        "health": "owner gone",
        "owner_pid": orphan.owner_pid or None,
        "kernel_pid": kernel,
        "connection_file": orphan.connection_file,
        "folder": orphan.folder,
        "processes": [
            {"pid": p.pid, "role": p.role, "command": p.command} for p in orphan.processes
        ],
        "files": [str(path) for path in orphan.files],
    }


def print_orphans(orphans: list[Orphan]) -> None:
    print(f"orphans ({len(orphans)}): kernels whose owner is gone")
    for orphan in orphans:
        owner = f"owner {orphan.owner_pid}" if orphan.owner_pid else "owner unknown"
        print(f"  {orphan.label()}  ({owner}, gone)")
        for process in orphan.processes:
            command = (
                process.command if len(process.command) <= 80 else process.command[:77] + "..."
            )
            print(f"    pid {process.pid:<8} {process.role:<8} {command}")
        if orphan.files:
            names = ", ".join(path.name for path in orphan.files[:3])
            more = f" (+{len(orphan.files) - 3} more)" if len(orphan.files) > 3 else ""
            print(f"    files: {names}{more}")


def report_cleaning(reports: list[CleanReport]) -> int:
    """One line per orphan cleaned; 1 when a process would not die."""
    code = 0
    for report in reports:
        print(
            f"cleaned {report.orphan.label()}: killed {len(report.killed)} process(es), "
            f"removed {len(report.removed)} file(s)"
        )
        if report.survivors:
            code = 1
            pids = " ".join(map(str, report.survivors))
            print(f"sessions: could not end process(es) {pids}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    registry = Registry()
    # Before ``entries()``, which drops the registry entries of dead owners:
    # an orphan is then still shown with its notebook and key.
    orphans = find_orphans(registry)
    code = 0
    if args.clean:
        code = report_cleaning(clean_orphans(orphans))
        orphans = []
    entries = registry.entries()
    # Heartbeats in parallel: a stuck kernel costs its timeout once, not per row.
    with ThreadPoolExecutor(max_workers=8) as pool:
        health = list(
            pool.map(lambda e: e.server is not None or heartbeat(e.connection_file), entries)
        )
    rows = [session_json(e, ok) for e, ok in zip(entries, health, strict=True)]
    if args.json:
        print_json(rows + [orphan_json(o) for o in orphans])
        hint_clean(orphans)
        return code
    if not rows:
        print("no live sessions", file=sys.stderr)
    else:
        print_table(rows)
    if orphans:
        print_orphans(orphans)
        hint_clean(orphans)
    return code


def hint_clean(orphans: list[Orphan]) -> None:
    if orphans:
        print(
            f"sessions: {len(orphans)} orphaned kernel(s) left behind; "
            "`sessions ls --clean` ends their processes and removes their files",
            file=sys.stderr,
        )


def print_table(rows: list[dict[str, Any]]) -> None:
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
