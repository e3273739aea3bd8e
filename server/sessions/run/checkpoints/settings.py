"""Checkpoint settings of a notebook's project: ``[tool.sessions]`` in the nearest ``pyproject.toml``.

Keys (docs/analysis.md, Checkpoints): ``checkpoints`` (bool, default true),
``checkpoint-min-seconds`` (default 2), ``checkpoint-notebook-mb`` (default
2048). A key of the wrong type is ignored with a warning, never guessed.
The editor's ``sessions.checkpoints.*`` settings, when given, win.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sessions.run.checkpoints.policy import (
    DEFAULT_MIN_SECONDS,
    DEFAULT_NOTEBOOK_CAP,
    CheckpointSettings,
)

MB = 1024 * 1024


def _project_table(notebook: Path) -> dict[str, Any]:
    """``[tool.sessions]`` of the nearest ``pyproject.toml`` ({} without one)."""
    folder = notebook.absolute().parent
    for candidate in (folder, *folder.parents):
        pyproject = candidate / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return {}  # the interpreter resolution already says it was ignored
        tool = data.get("tool")
        table = tool.get("sessions") if isinstance(tool, dict) else None
        return table if isinstance(table, dict) else {}
    return {}


def checkpoint_settings(
    notebook: Path,
    *,
    restore: bool = True,
    save: bool = True,
    enabled: bool | None = None,
    min_seconds: float | None = None,
    notebook_mb: float | None = None,
    warnings: list[str] | None = None,
) -> CheckpointSettings:
    """The settings for ``notebook``: explicit arguments, else its project's
    ``[tool.sessions]``, else the defaults. ``restore``/``save`` False (the
    CLI's ``--no-restore``/``--no-checkpoints``) switch that half off."""
    table = _project_table(notebook)
    said = warnings if warnings is not None else []

    def read(key: str, kind: type | tuple[type, ...]) -> Any:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) and kind is not bool:
            value = None
        if value is None or not isinstance(value, kind):
            said.append(f"[tool.sessions] {key} = {table.get(key)!r} was ignored (wrong type)")
            return None
        return value

    on = enabled if enabled is not None else read("checkpoints", bool)
    seconds = (
        min_seconds if min_seconds is not None else read("checkpoint-min-seconds", (int, float))
    )
    mb = notebook_mb if notebook_mb is not None else read("checkpoint-notebook-mb", (int, float))
    is_on = True if on is None else bool(on)
    return CheckpointSettings(
        enabled=is_on and save,
        restore=is_on and restore,
        min_seconds=float(seconds) if seconds is not None else DEFAULT_MIN_SECONDS,
        notebook_cap_bytes=int(mb * MB) if mb is not None else DEFAULT_NOTEBOOK_CAP,
    )
