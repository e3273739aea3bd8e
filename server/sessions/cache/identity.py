"""Cell identity: which old record does each current cell continue? (DESIGN §2)

No ids are needed in the file. Old entries (sidecar records, VS Code cells)
are matched to the current cells in three passes, each only over what the
previous passes left:

1. explicit ``id`` metadata;
2. exact code hash, when the hash is unique among the old *and* the new
   leftovers (a duplicated cell is ambiguous, the next pass orders it);
3. order-preserving alignment of the rest. The pairs found so far that keep
   their relative order (the longest such chain) split both lists into gaps;
   inside a gap, one alignment weighs equal hashes above code similarity (at
   least ``floor``, when both sides have code) and maximises the total, so a
   duplicated cell cannot take the place of an edited one; entries without
   code left between its pairs are paired by position where a stretch has as
   many old as new entries.

Every old entry is used at most once. When nothing changed the answer is
the identity mapping, found in one pass over the hashes.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from sessions.cache.records import CellRecord
from sessions.format.notebook import Cell

# Above this many old x new entries, similarity is only measured near the
# diagonal of a run, which keeps a full-file rewrite linear rather than quadratic.
# An order-preserving alignment strays from the diagonal by at most the size
# difference of the run, so the band is that difference plus a small margin.
_FULL_COMPARISON_LIMIT = 400
_BAND = 2

_Pair = Callable[[int, int], None]
"""Records that new entry ``new_index`` continues old entry ``old_index``."""


@dataclass(frozen=True, slots=True)
class MatchKey:
    """What identity matching looks at for one cell or record."""

    id: str | None
    hash: str
    code: str | None = None
    """The text, when known; lets edited cells be matched by similarity."""


def keys_for_cells(cells: Sequence[Cell]) -> list[MatchKey]:
    keys = []
    for cell in cells:
        # Kept with the cell: an edit rebuilds the keys of the cells it changed only.
        key = cell.memo.get("match_key")
        if key is None:
            key = cell.memo["match_key"] = MatchKey(id=cell.id, hash=cell.hash, code=cell.source)
        keys.append(key)
    return keys


_record_keys: dict[int, tuple[CellRecord, MatchKey]] = {}
"""The keys of the records matched last, by ``id(record)`` (the record kept
alive beside its key, so an id is never another record's): an open notebook
matches the same records after every keystroke. A record's ``id``, ``hash``
and ``code`` are never changed in place (only its ``index`` is, on renumbering)."""


def keys_for_records(records: Sequence[CellRecord]) -> list[MatchKey]:
    global _record_keys
    known = _record_keys
    keys: list[MatchKey] = []
    kept: dict[int, tuple[CellRecord, MatchKey]] = {}
    for record in records:
        found = known.get(id(record))
        if found is None or found[0] is not record:
            found = (record, MatchKey(id=record.id, hash=record.hash, code=record.code))
        kept[id(record)] = found
        keys.append(found[1])
    _record_keys = kept  # one assignment: threads analysing other notebooks see either
    return keys


def match_records(records: Sequence[CellRecord], cells: Sequence[Cell]) -> list[CellRecord | None]:
    """For each cell, the record it continues (records are ordered by their ``index``)."""
    if not records:  # never run: nothing to match, at any size
        return [None] * len(cells)
    order = sorted(range(len(records)), key=lambda position: records[position].index)
    ordered = [records[position] for position in order]
    matched = match(keys_for_records(ordered), keys_for_cells(cells))
    return [None if old is None else ordered[old] for old in matched]


def match(
    old: Sequence[MatchKey], new: Sequence[MatchKey], *, floor: float = 0.6
) -> list[int | None]:
    """For each new key, the index of the old key it continues, or ``None``."""
    if len(old) == len(new):
        changed = [
            index
            for index, (a, b) in enumerate(zip(old, new, strict=True))
            if a.hash != b.hash or a.id != b.id
        ]
        if not changed:
            return list(range(len(new)))
        in_place = _match_in_place(old, new, changed, floor)
        if in_place is not None:
            return in_place
    result: list[int | None] = [None] * len(new)
    used = [False] * len(old)

    def pair(new_index: int, old_index: int) -> None:
        result[new_index] = old_index
        used[old_index] = True

    _match_ids(old, new, pair)
    _match_unique_hashes(old, new, result, used, pair)
    for old_run, new_run in _gaps(result, used):
        _align_gap(old, new, old_run, new_run, floor, pair)
    return result


_IN_PLACE_LIMIT = 16
"""Changed entries at most for :func:`_match_in_place` (typing edits one cell)."""


def _match_in_place(
    old: Sequence[MatchKey], new: Sequence[MatchKey], changed: list[int], floor: float
) -> list[int | None] | None:
    """The three passes' answer, found in one, when it is certain to be: as
    many entries on both sides, a few changed in place, and every hash left
    to pass 2 unique, so that every unchanged entry pairs with itself and
    each run of changed entries is one gap of pass 3. None when unsure.

    This is what an edit in the language server looks like on every
    keystroke; the passes would redo their counting and chaining over all
    cells to find the same pairs (``test_match_in_place_agrees``).
    """
    if len(changed) > _IN_PLACE_LIMIT or any(old[i].id != new[i].id for i in changed):
        return None
    ids = [key.id for key in old if key.id is not None]
    if len(ids) != len(set(ids)):
        return None  # pass 1 would pair duplicated ids in its own order
    old_free = [key.hash for key in old if key.id is None]
    new_free = [key.hash for key in new if key.id is None]
    old_hashes, new_hashes = set(old_free), set(new_free)
    if len(old_hashes) != len(old_free) or len(new_hashes) != len(new_free):
        return None  # a duplicated cell: pass 2 leaves it to the alignment
    open_entries = [i for i in changed if old[i].id is None]
    if any(new[i].hash in old_hashes or old[i].hash in new_hashes for i in open_entries):
        return None  # a moved or copied cell: pass 2 would pair it elsewhere
    result: list[int | None] = list(range(len(new)))
    for index in open_entries:
        result[index] = None

    def pair(new_index: int, old_index: int) -> None:
        result[new_index] = old_index

    run: list[int] = []
    for index in [*open_entries, -1]:
        if run and index != run[-1] + 1:
            _align_gap(old, new, run, run, floor, pair)
            run = []
        if index >= 0:
            run.append(index)
    return result


def _match_ids(old: Sequence[MatchKey], new: Sequence[MatchKey], pair: _Pair) -> None:
    by_id: dict[str, list[int]] = {}
    for index in range(len(old) - 1, -1, -1):  # reversed, so pop() takes the first
        key_id = old[index].id
        if key_id is not None:
            by_id.setdefault(key_id, []).append(index)
    for new_index, key in enumerate(new):
        candidates = by_id.get(key.id) if key.id is not None else None
        if candidates:
            pair(new_index, candidates.pop())


def _match_unique_hashes(
    old: Sequence[MatchKey],
    new: Sequence[MatchKey],
    result: list[int | None],
    used: list[bool],
    pair: _Pair,
) -> None:
    old_count = Counter(key.hash for index, key in enumerate(old) if not used[index])
    new_count = Counter(key.hash for index, key in enumerate(new) if result[index] is None)
    old_at = {key.hash: index for index, key in enumerate(old) if not used[index]}
    for new_index, key in enumerate(new):
        if result[new_index] is None and old_count[key.hash] == 1 and new_count[key.hash] == 1:
            pair(new_index, old_at[key.hash])


def _gaps(result: Sequence[int | None], used: Sequence[bool]) -> list[tuple[list[int], list[int]]]:
    """Unmatched (old, new) indexes between consecutive pairs of the longest ordered chain."""
    pairs = [
        (new_index, old_index)
        for new_index, old_index in enumerate(result)
        if old_index is not None
    ]
    chain = _longest_increasing_chain(pairs)
    gaps: list[tuple[list[int], list[int]]] = []
    old_start = new_start = 0
    for new_end, old_end in [*chain, (len(result), len(used))]:
        old_run = [index for index in range(old_start, old_end) if not used[index]]
        new_run = [index for index in range(new_start, new_end) if result[index] is None]
        if old_run and new_run:
            gaps.append((old_run, new_run))
        old_start, new_start = old_end + 1, new_end + 1
    return gaps


def _longest_increasing_chain(pairs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of (new, old) pairs, in new order, with increasing old."""
    if all(pairs[i][1] < pairs[i + 1][1] for i in range(len(pairs) - 1)):
        return list(pairs)  # already in order: the usual case, without the search
    tails: list[int] = []  # smallest old index ending a chain of each length
    tail_at: list[int] = []  # position in ``pairs`` of that tail
    previous = [-1] * len(pairs)
    for position, (_, old_index) in enumerate(pairs):
        length = bisect_left(tails, old_index)
        if length == len(tails):
            tails.append(old_index)
            tail_at.append(position)
        else:
            tails[length] = old_index
            tail_at[length] = position
        previous[position] = tail_at[length - 1] if length > 0 else -1
    chain: list[tuple[int, int]] = []
    position = tail_at[-1] if tail_at else -1
    while position >= 0:
        chain.append(pairs[position])
        position = previous[position]
    chain.reverse()
    return chain


_SAME_CODE = 2.0
"""Weight of an equal-hash pair in a gap's alignment: more than any similarity
(at most 1.0), so identical code wins, but one alignment weighs both — an
identical duplicate must not take an anchor that would leave an edited cell
with no partner."""


def _align_gap(
    old: Sequence[MatchKey],
    new: Sequence[MatchKey],
    old_run: list[int],
    new_run: list[int],
    floor: float,
    pair: _Pair,
) -> None:
    """One order-preserving alignment of a gap, maximising total weight.

    Candidates are equal-hash pairs (weight ``_SAME_CODE``) and, when both
    sides have code, pairs at least ``floor`` similar (weight = similarity).
    Entries without code that the alignment leaves over are paired by
    position between its pairs, where a stretch has as many old as new.
    """
    codes_known = all(old[i].code is not None for i in old_run) and all(
        new[j].code is not None for j in new_run
    )
    rows, cols = len(old_run), len(new_run)
    # The common case (every cell reformatted or lightly edited in place) costs
    # one comparison per cell instead of a search.
    if (
        codes_known
        and rows == cols
        and all(
            old[i].hash == new[j].hash
            or _similarity(_tokens(old[i].code), _tokens(new[j].code)) >= floor
            for i, j in zip(old_run, new_run, strict=True)
        )
    ):
        for i, j in zip(old_run, new_run, strict=True):
            pair(j, i)
        return
    rows_by_hash: dict[str, list[int]] = {}
    for r, i in enumerate(old_run):
        rows_by_hash.setdefault(old[i].hash, []).append(r)
    candidates: list[tuple[int, int, float]] = []  # (column, row, weight), by column
    old_tokens = [_tokens(old[i].code) for i in old_run] if codes_known else []
    band = rows if rows * cols <= _FULL_COMPARISON_LIMIT else _BAND + abs(rows - cols)
    for c, j in enumerate(new_run):
        same = rows_by_hash.get(new[j].hash, [])
        column = [(c, r, _SAME_CODE) for r in same]
        if codes_known:
            matcher = SequenceMatcher(None, autojunk=False)
            matcher.set_seq2(_tokens(new[j].code))
            center = c * rows // cols
            for r in range(max(0, center - band), min(rows, center + band + 1)):
                if r in same:
                    continue
                matcher.set_seq1(old_tokens[r])
                if matcher.real_quick_ratio() >= floor and matcher.quick_ratio() >= floor:
                    ratio = matcher.ratio()
                    if ratio >= floor:
                        column.append((c, r, ratio))
        candidates.extend(sorted(column, key=lambda candidate: candidate[1]))
    chain = _heaviest_chain(candidates, rows)
    for c, r in chain:
        pair(new_run[c], old_run[r])
    if codes_known:
        return
    # Without code, a stretch between two pairs with as many old as new entries
    # is taken to be the same cells, edited.
    row_start = col_start = 0
    for c_end, r_end in [*chain, (cols, rows)]:
        if r_end - row_start == c_end - col_start:
            for offset in range(r_end - row_start):
                pair(new_run[col_start + offset], old_run[row_start + offset])
        row_start, col_start = r_end + 1, c_end + 1


def _heaviest_chain(candidates: list[tuple[int, int, float]], rows: int) -> list[tuple[int, int]]:
    """The (column, row) pairs, strictly increasing in both, with the largest total weight.

    ``candidates`` come ordered by column. A Fenwick tree over rows holds the
    best chain ending at or below each row, so this is O(k log rows).
    """
    tree_score = [0.0] * (rows + 1)
    tree_end = [-1] * (rows + 1)  # candidate ending the best chain in that tree node
    previous = [-1] * len(candidates)
    score = [0.0] * len(candidates)
    position = 0
    while position < len(candidates):
        column = candidates[position][0]
        stop = position
        while stop < len(candidates) and candidates[stop][0] == column:
            stop += 1
        for k in range(position, stop):  # read the whole column before writing it
            _, row, weight = candidates[k]
            best, end, node = 0.0, -1, row  # prefix max over rows < row
            while node > 0:
                if tree_score[node] > best:
                    best, end = tree_score[node], tree_end[node]
                node -= node & -node
            score[k], previous[k] = best + weight, end
        for k in range(position, stop):
            node = candidates[k][1] + 1
            while node <= rows:
                if score[k] > tree_score[node]:
                    tree_score[node], tree_end[node] = score[k], k
                node += node & -node
        position = stop
    if not candidates:
        return []
    k = max(range(len(candidates)), key=score.__getitem__)
    chain: list[tuple[int, int]] = []
    while k >= 0:
        chain.append((candidates[k][0], candidates[k][1]))
        k = previous[k]
    chain.reverse()
    return chain


_TOKEN = re.compile(r"\w+|\S")


def _tokens(code: str | None) -> list[str]:
    """Words and symbols: similarity over tokens is fast and ignores layout."""
    return _TOKEN.findall(code or "")


def _similarity(a: list[str], b: list[str]) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()
