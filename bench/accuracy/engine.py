"""The engine under test, driven only through its command line.

``sessions run``, ``sessions run --stale`` and ``sessions status --json`` are
the interface a user has; going through them (not through the Python API)
keeps the benchmark valid whatever the engine's internals become.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SESSIONS = Path(sys.executable).with_name("sessions")


class EngineError(Exception):
    """The CLI failed in a way that is not a notebook error (crash, bad JSON)."""


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # The ground truth's fixed hash seed must not leak into the engine's kernels.
    env.pop("PYTHONHASHSEED", None)
    return env


def sessions(args: list[str], cwd: Path, timeout: float = 900) -> tuple[int, str, str]:
    done = subprocess.run(
        [str(SESSIONS), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_environment(),
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, done.stdout, done.stderr


def _json(args: list[str], cwd: Path) -> dict[str, Any]:
    code, out, err = sessions(args, cwd)
    try:
        value = json.loads(out)
    except json.JSONDecodeError as error:
        raise EngineError(
            f"sessions {' '.join(args)} exited {code}: {err.strip()[-400:]}"
        ) from error
    if not isinstance(value, dict):
        raise EngineError(
            f"sessions {' '.join(args)} printed {type(value).__name__}, not an object"
        )
    return value


@dataclass
class CellStatus:
    index: int
    line: int
    kind: str
    status: str
    reason: str
    causes: list[int]


def status(folder: Path, notebook: str) -> list[CellStatus]:
    report = _json(["status", notebook, "--json"], folder)
    return [
        CellStatus(
            index=int(c["index"]),
            line=int(c.get("line", -1)),
            kind=str(c.get("kind", "code")),
            status=str(c.get("status", "")),
            reason=str(c.get("reason") or ""),
            causes=[int(x) for x in c.get("causes") or []],
        )
        for c in report.get("cells", [])
    ]


@dataclass
class RunReport:
    planned: list[int]
    ran: list[int]
    ok: bool
    stopped_because: str | None


def run(folder: Path, notebook: str, *, stale: bool) -> RunReport:
    args = ["run", notebook, "--allow-errors", "--quiet", "--json", "--python", sys.executable]
    if stale:
        args.insert(2, "--stale")
    report = _json(args, folder)
    return RunReport(
        planned=[int(i) for i in report.get("planned", [])],
        ran=[int(c["index"]) for c in report.get("cells", [])],
        ok=bool(report.get("ok")),
        stopped_because=report.get("stopped_because"),
    )


def prepare(notebook_text: str, name: str, data: list[Path], folder: Path) -> RunReport:
    """A folder as a user has it after a full run: the notebook, its data, the sidecar."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in data:
        shutil.copy2(path, folder / path.name)
    (folder / name).write_text(notebook_text, encoding="utf-8")
    return run(folder, name, stale=False)
