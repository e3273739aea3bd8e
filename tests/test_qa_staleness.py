"""QA: staleness reasons after an agent deletes a provider cell on disk.

Found by deleting a middle cell while ``sessions watch`` ran: the cell below
the one that lost its provider was described as "stale because of cell ?".
"""

from __future__ import annotations

from sessions.analysis.graph import build_graph
from sessions.analysis.staleness import compute_statuses
from tests.staleness_helpers import History

BEFORE = """\
# %% helper
def mean(xs):
    return sum(xs) / len(xs)

# %% use
m = mean([1, 2, 3])

# %% below
print(m)
"""

AFTER = """\
# %% use
m = mean([1, 2, 3])

# %% below
print(m)
"""


def test_deleting_a_provider_names_a_root_cause_for_every_stale_cell() -> None:
    history = History(BEFORE)
    history.run_all()
    history.edit(AFTER)  # the helper cell is gone
    graph = build_graph(history.notebook)
    states = compute_statuses(history.notebook, graph, history.records)

    use, below = states
    assert use.status == "upstream"
    assert "`mean` is no longer defined by any cell" in use.reason
    assert use.causes == (0,)
    assert below.status == "upstream"
    assert below.causes == (0,)
    assert "?" not in below.reason
    assert below.reason.endswith("cell 0 (`m`) is stale because of cell 0")
