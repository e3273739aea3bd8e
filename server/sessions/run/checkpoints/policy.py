"""Which cells get a checkpoint, and of which names (docs/analysis.md). Pure.

By default a cell that ran without error for at least ``min_seconds`` is
checkpointed; the header ``# %% checkpoint=true`` always does it (a fast cell
whose values are expensive elsewhere), ``checkpoint=false`` never does.
Checkpointed are the Python names the cell provides — what it binds and what
it mutates (a cell that appends to an upstream list saves that list) — never
hidden state: a cell that seeds a random generator, writes a file or changes
global settings has effects a pickle cannot bring back, so it is not
checkpointed by default (with ``checkpoint=true`` its names are saved and its
other effects are, as the docs say, not restored).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sessions.analysis.hidden_state import describe_name, is_display_state, is_state_name

DEFAULT_MIN_SECONDS = 2.0
DEFAULT_NOTEBOOK_CAP = 2 * 1024**3
"""2 GiB of checkpoints per notebook."""


@dataclass(frozen=True, slots=True)
class CheckpointSettings:
    enabled: bool = True
    """Save checkpoints after cells run."""
    restore: bool = True
    """Restore fresh upstream cells from checkpoints instead of running them."""
    min_seconds: float = DEFAULT_MIN_SECONDS
    notebook_cap_bytes: int = DEFAULT_NOTEBOOK_CAP


def cell_override(metadata: Mapping[str, Any]) -> bool | None:
    """The header's ``checkpoint=true|false`` (None when absent or not a boolean)."""
    value = metadata.get("checkpoint")
    return value if isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Decision:
    names: tuple[str, ...]
    """What to save; empty when nothing is."""
    reason: str = ""
    """Why not, when ``names`` is empty ("" when the policy simply did not ask)."""


def decide(
    provides: Mapping[str, str],
    metadata: Mapping[str, Any],
    duration: float,
    settings: CheckpointSettings,
) -> Decision:
    """Whether (and what) to checkpoint after a cell ran without error."""
    override = cell_override(metadata)
    if not settings.enabled or override is False:
        return Decision(())
    if override is None and duration < settings.min_seconds:
        return Decision(())
    names = tuple(sorted(name for name in provides if not is_state_name(name)))
    effects = [n for n in provides if is_state_name(n) and not is_display_state(n)]
    if effects and override is not True:
        listed = ", ".join(describe_name(n) for n in sorted(effects))
        return Decision((), f"it changes {listed}, which a checkpoint cannot restore")
    if not names:
        return Decision((), "it defines no names")
    return Decision(names)
