"""Cell identity: matching old records to current cells (DESIGN §2)."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from sessions.cache.identity import MatchKey, keys_for_cells, keys_for_records, match, match_records
from sessions.cache.records import CellRecord
from sessions.format.hashing import code_hash
from sessions.format.notebook import parse


def keys(*codes: str, ids: dict[int, str] | None = None, with_code: bool = True) -> list[MatchKey]:
    ids = ids or {}
    return [
        MatchKey(id=ids.get(i), hash=code_hash(code), code=code if with_code else None)
        for i, code in enumerate(codes)
    ]


A, B, C, D, E = (
    "import pandas as pd",
    "df = pd.read_csv('data.csv')",
    "df.describe()",
    "plot(df['price'], bins=20)",
    "model = fit(df, target='price')",
)


def test_nothing_changed_is_the_identity() -> None:
    assert match(keys(A, B, C), keys(A, B, C)) == [0, 1, 2]


def test_insert_at_top() -> None:
    assert match(keys(A, B, C), keys("new_cell = 1", A, B, C)) == [None, 0, 1, 2]


def test_delete_middle() -> None:
    assert match(keys(A, B, C, D), keys(A, B, D)) == [0, 1, 3]


def test_swap_two_cells() -> None:
    assert match(keys(A, B, C, D), keys(A, C, B, D)) == [0, 2, 1, 3]


def test_edit_one_cell_keeps_it_by_similarity() -> None:
    edited = "df = pd.read_csv('data.csv', sep=';')"
    assert match(keys(A, B, C), keys(A, edited, C)) == [0, 1, 2]


def test_rewritten_cell_below_the_floor_is_new() -> None:
    assert match(keys(A, B, C), keys(A, "completely = different + thing * 42", C)) == [0, None, 2]


def test_edit_without_code_pairs_positionally_only_when_counts_agree() -> None:
    old = keys(A, B, C, with_code=False)
    assert match(old, keys(A, "df = other()", C)) == [0, 1, 2]
    assert match(old, keys(A, "x = 1", "y = 2", C)) == [0, None, None, 2]


def test_duplicate_cells_with_identical_code_keep_their_order() -> None:
    old = keys(A, "x += 1", B, "x += 1", C)
    assert match(old, keys(A, "x += 1", B, "x += 1", C)) == [0, 1, 2, 3, 4]
    assert match(old, keys(A, B, "x += 1", C)) == [0, 2, 3, 4]
    assert match(old, keys("x += 1", A, "x += 1", B, "x += 1", C)) == [None, 0, 1, 2, 3, 4]


def test_duplicate_cannot_take_the_place_of_an_edited_cell() -> None:
    # One save: the last cell moves to the top, `two` is edited, the first duplicate is deleted.
    one, dup, two, three = "print('one')", "print('dup')", "print('two')", "print('three')"
    old = keys(one, dup, two, dup, three)
    new = keys(three, one, "print('two!')", dup)
    assert match(old, new) == [4, 0, 2, 3]


def test_agent_rewrites_whole_file_with_one_change() -> None:
    old_text = "# %%\n" + "\n\n# %%\n".join([A, B, C, D, E]) + "\n"
    new_text = old_text.replace("bins=20", "bins=50").replace("\n", "\r\n")
    old_cells, new_cells = parse(old_text).cells, parse(new_text).cells
    assert match(keys_for_cells(old_cells), keys_for_cells(new_cells)) == [0, 1, 2, 3, 4]
    assert new_cells[3].hash != old_cells[3].hash


def test_id_tagged_cell_moved_and_edited() -> None:
    old = keys(A, B, C, D, ids={1: "load"})
    new = keys(A, C, D, "df = pd.read_parquet('data.pq')", ids={3: "load"})
    assert match(old, new) == [0, 2, 3, 1]


def test_ids_win_over_hashes() -> None:
    old = keys(A, B, ids={0: "first", 1: "second"})
    new = keys(B, A, ids={0: "first", 1: "second"})
    assert match(old, new) == [0, 1]


def test_match_records_orders_records_by_index() -> None:
    nb = parse(f"# %%\n{A}\n\n# %%\n{B}\n\n# %%\n{C}\n")
    records = [
        CellRecord(hash=code_hash(C), index=2, run=3, code=C),
        CellRecord(hash=code_hash(A), index=0, run=1),
        CellRecord(hash="blake2b-128:stale", index=1, run=2),
    ]
    matched = match_records(records, nb.cells)
    assert matched == [records[1], records[2], records[0]]
    assert keys_for_records(records)[0] == MatchKey(id=None, hash=code_hash(C), code=C)


def test_nothing_changed_250_cells_is_fast() -> None:
    cells = parse("".join(f"# %%\nvalue_{i} = {i} * 2\n\n" for i in range(250))).cells
    old, new = keys_for_cells(cells), keys_for_cells(cells)
    start = time.perf_counter()
    for _ in range(20):
        assert match(old, new) == list(range(250))
    assert (time.perf_counter() - start) / 20 < 0.005


def test_one_edit_in_250_cells_is_fast() -> None:
    codes = [f"value_{i} = {i} * 2" for i in range(250)]
    changed = [*codes]
    changed[120] = "value_120 = 120 * 3"
    old, new = keys(*codes), keys(*changed)
    start = time.perf_counter()
    assert match(old, new) == list(range(250))
    assert time.perf_counter() - start < 0.05


# Property: random edits never reuse an old record and never lose an untouched cell.
edits = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "edit", "move", "duplicate"]), st.integers(0, 10**6)
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 25), edits, st.booleans())
def test_random_edits(count: int, operations: list[tuple[str, int]], with_code: bool) -> None:
    cells = [(f"cell_{i} = compute({i}, factor={i * 7})", i) for i in range(count)]
    touched: set[int] = set()
    fresh = 0
    for operation, seed in operations:
        if not cells and operation != "insert":
            continue
        at = seed % (len(cells) + (operation == "insert"))
        if operation == "insert":
            fresh += 1
            cells.insert(at, (f"inserted_{fresh} = {seed}", -1))
        elif operation == "delete":
            del cells[at]
        elif operation == "edit":
            code, origin = cells[at]
            cells[at] = (code + f" + {seed % 97}", origin)
            touched.add(origin)
        elif operation == "move":
            cells.insert(seed % len(cells), cells.pop(at))
        else:
            code, origin = cells[at]
            cells.insert(at + 1, (code, -1))
            touched.add(origin)  # its twin makes the hash ambiguous
    old = keys(
        *[f"cell_{i} = compute({i}, factor={i * 7})" for i in range(count)], with_code=with_code
    )
    new = keys(*[code for code, _ in cells], with_code=with_code)

    result = match(old, new)

    matched = [old_index for old_index in result if old_index is not None]
    assert len(matched) == len(set(matched))
    for new_index, (_, origin) in enumerate(cells):
        if origin >= 0 and origin not in touched:
            assert result[new_index] == origin
