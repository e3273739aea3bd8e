"""Helpers shared by CLI verbs: loading a notebook with a one-line error on bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sessions.analysis.snapshot import Snapshot, load_snapshot
from sessions.format.files import NotebookReadError


class CliError(Exception):
    """A usage or setup problem: printed as one line on stderr, exit code 2."""


def load_or_fail(path: str) -> Snapshot:
    try:
        return load_snapshot(Path(path))
    except NotebookReadError as exc:
        raise CliError(str(exc)) from exc


def report_problems(snapshot: Snapshot) -> None:
    for problem in snapshot.problems:
        print(f"sessions: {problem}", file=sys.stderr)


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def fail(message: str) -> int:
    print(f"sessions: {message}", file=sys.stderr)
    return 2
