"""Keeping run ids inside what TOML can hold: signed 64-bit integers.

Run ids only grow (``run_counter`` is the last one issued), and a sidecar
edited by hand (or by a tool) may hold a counter near ``2^63 − 1``. Python
reads and writes larger integers happily, but the file would no longer be
TOML (other readers refuse it) and the next increment would overflow. Run ids
are compared only with each other — which record is newer, which run a
kernel holds — so before a write brings the counter near the limit, the
records are renumbered ``1..n`` in their order, and the ``failed:RUN``
version keys that name a run id are renumbered with them: outputs, statuses
and staleness stay as they were. A kernel that is running keeps its old ids,
so its cells count as not loaded until they run again.
"""

from __future__ import annotations

import dataclasses
import re

from sessions.cache.records import CellRecord, SidecarData

RUN_ID_MAX = 2**63 - 1
"""The largest TOML integer."""
RENUMBER_ABOVE = 2**62
"""A counter above this is renumbered before a write: half the range stays free,
so run ids reserved by another process meanwhile can never overflow."""

_FAILED_KEY = re.compile(r"failed:(-?\d+)")


def renumber_runs(data: SidecarData, file_name: str) -> str | None:
    """Renumber ``data``'s run ids when its counter passed ``RENUMBER_ABOVE``.

    Returns a message for the user saying what was done, or None when the
    counter was low enough and nothing changed. Renumbered records are new
    objects: records shared with a caller's data are left as they were.
    """
    if data.run_counter <= RENUMBER_ABOVE:
        return None
    before = data.run_counter
    distinct = sorted({record.run for record in data.cells})
    new_ids = {old: new for new, old in enumerate(distinct, start=1)}
    data.cells = [_renumbered(record, new_ids) for record in data.cells]
    data.run_counter = len(distinct)
    return (
        f"{file_name}: run ids had reached {before}, near the largest integer TOML can hold "
        f"(2^63 - 1); the {len(data.cells)} cached record(s) were renumbered 1 to "
        f"{data.run_counter} in their order, keeping their outputs and statuses"
    )


def _renumbered(record: CellRecord, new_ids: dict[int, int]) -> CellRecord:
    return dataclasses.replace(
        record,
        run=new_ids[record.run],
        inputs={name: _renumbered_key(key, new_ids) for name, key in record.inputs.items()},
        provides={name: _renumbered_key(key, new_ids) for name, key in record.provides.items()},
    )


def _renumbered_key(key: str, new_ids: dict[int, int]) -> str:
    match = _FAILED_KEY.fullmatch(key)
    if match is None:
        return key
    new = new_ids.get(int(match[1]))
    # A run no record holds any more: a key that still matches nothing, and
    # never a new run's ``failed:N`` by accident.
    return f"failed:{new}" if new is not None else f"failed:gone-{match[1]}"
