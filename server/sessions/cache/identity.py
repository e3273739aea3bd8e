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

import dataclasses
import operator
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import compress, count, islice
from typing import Any

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
    """For each cell, the record it continues (records are ordered by their ``index``).
    With :func:`match`'s shortcuts; :func:`match_records_kept` is for a caller
    that matches the same notebook again after each edit."""
    if not records:  # never run: nothing to match, at any size
        return [None] * len(cells)
    ordered = sorted(records, key=_INDEX)
    matched = match(keys_for_records(ordered), keys_for_cells(cells))
    return [None if old is None else ordered[old] for old in matched]


def match_records_kept(
    records: Sequence[CellRecord],
    cells: Sequence[Cell],
    previous: RecordMatching | None = None,
    memos: tuple[dict[str, Any], ...] | None = None,
) -> tuple[list[CellRecord | None], RecordMatching | None]:
    """:func:`match_records`, and what lets the next text's match be found
    from this one; ``previous`` is what the last call returned for the same
    notebook (the language server keeps it with each snapshot). ``memos``:
    each cell's ``memo``, when the caller has them as a column
    (``ParsedNotebook.memos``)."""
    if not records:  # never run: nothing to match, at any size
        return [None] * len(cells), None
    given = tuple(records)
    indexes = tuple(map(_INDEX, given))
    if memos is None:
        memos = tuple(map(_MEMO, cells))
    kept = _updated(previous, given, indexes, cells, memos) if previous is not None else None
    if kept is None:
        kept = _matched_afresh(given, indexes, cells, memos)
    ordered = kept.ordered
    return [None if old is None else ordered[old] for old in kept.result], kept


_INDEX = operator.attrgetter("index")
_MEMO = operator.attrgetter("memo")

_FEW_EDITED = 16
"""Cells changed since the last match, at most, for :func:`_updated`."""


@dataclass(frozen=True, slots=True)
class RecordMatching:
    """One match of records to cells, with what the three passes found on the
    way: a keystroke changes one cell, and the next match differs from this
    one only in the gap of pass 3 around it. Redoing the passes over every
    cell and record cost about 10 ms per keystroke at 50,000 lines (2,500
    cells; lengths differ whenever the notebook has markdown cells, so the
    in-place shortcut of :func:`match` never applied). Never read outside
    this module."""

    records: tuple[CellRecord, ...]
    """As given (compared by identity: a record's keys never change in place)."""
    indexes: tuple[int, ...]
    """Their ``index`` then (the one field renumbering changes in place)."""
    ordered: tuple[CellRecord, ...]
    old: tuple[MatchKey, ...]
    memos: tuple[dict[str, Any], ...]
    """Each cell's ``memo``: the same dict while the cell's text is the same,
    even when it moved to other lines (``Cell._at`` keeps it)."""
    new: tuple[MatchKey, ...]
    paired: tuple[int | None, ...]
    """For each cell, its record after passes 1 and 2."""
    used: tuple[bool, ...]
    """For each record, whether passes 1 and 2 paired it."""
    result: tuple[int | None, ...]
    old_left: Mapping[str, int]
    """Hashes of the records pass 1 left (what pass 2 counts), with their counts."""
    old_at: Mapping[str, int]
    """Where in ``old`` the record of each hash of ``old_left`` is (for a hash
    that one record has)."""
    new_left: Mapping[str, int]
    """Hashes of the cells pass 1 left, with their counts: exact for every
    hash in ``old_left`` (the only ones pass 2 can pair)."""
    in_order: bool
    """Whether the pairs of passes 1 and 2 keep their order (the chain of
    pass 3 is then all of them)."""


def _matched_afresh(
    given: tuple[CellRecord, ...],
    indexes: tuple[int, ...],
    cells: Sequence[Cell],
    memos: tuple[dict[str, Any], ...],
    floor: float = 0.6,
) -> RecordMatching:
    """The three passes of :func:`match`, keeping what they found on the way
    (the same answer: its shortcuts find the passes' answer)."""
    order = sorted(range(len(given)), key=indexes.__getitem__)
    ordered = tuple(given[position] for position in order)
    old, new = keys_for_records(ordered), keys_for_cells(cells)
    paired: list[int | None] = [None] * len(new)
    used = [False] * len(old)

    def pair(new_index: int, old_index: int) -> None:
        paired[new_index] = old_index
        used[old_index] = True

    _match_ids(old, new, pair)
    old_left = Counter(key.hash for index, key in enumerate(old) if not used[index])
    new_left = Counter(key.hash for index, key in enumerate(new) if paired[index] is None)
    old_at = {key.hash: index for index, key in enumerate(old) if not used[index]}
    _match_unique_hashes(old, new, paired, used, pair)
    after_two, used_after_two = tuple(paired), tuple(used)
    pairs = [(n, o) for n, o in enumerate(after_two) if o is not None]
    in_order = all(pairs[i][1] < pairs[i + 1][1] for i in range(len(pairs) - 1))
    for old_run, new_run in _gaps(after_two, used_after_two):
        _align_gap(old, new, old_run, new_run, floor, pair)
    return RecordMatching(
        records=given,
        indexes=indexes,
        ordered=ordered,
        old=tuple(old),
        memos=memos,
        new=tuple(new),
        paired=after_two,
        used=used_after_two,
        result=tuple(paired),
        old_left=dict(old_left),
        old_at=old_at,
        new_left=dict(new_left),
        in_order=in_order,
    )


def _updated(
    previous: RecordMatching,
    given: tuple[CellRecord, ...],
    indexes: tuple[int, ...],
    cells: Sequence[Cell],
    memos: tuple[dict[str, Any], ...],
    floor: float = 0.6,
) -> RecordMatching | None:
    """``previous`` brought up to date when the records are the same and only
    a few cells' texts changed, none with an id, each to code that no record
    has or that one record and no other cell has: then passes 1 and 2 pair
    every other cell as before, the edited cell loses its pair or gains that
    record, and only the gaps of pass 3 beside it are aligned again. None
    (match afresh) when that is not certain to give the same answer."""
    if (
        len(given) != len(previous.records)
        or indexes != previous.indexes
        or any(map(operator.is_not, given, previous.records))
        or len(memos) != len(previous.memos)
        or not previous.in_order
    ):
        return None
    edited = list(
        islice(compress(count(), map(operator.is_not, memos, previous.memos)), _FEW_EDITED + 1)
    )
    if not edited:
        return dataclasses.replace(previous, memos=memos)  # cells moved, no text changed
    if len(edited) > _FEW_EDITED:
        return None
    new, paired, used = list(previous.new), list(previous.paired), list(previous.used)
    new_left = dict(previous.new_left)
    redo: list[int] = []
    for index, key in zip(edited, keys_for_cells([cells[i] for i in edited]), strict=True):
        before = new[index]
        if before.id is not None or key.id is not None:
            return None  # pass 1 may pair it, or others, otherwise
        new[index] = key
        if before.hash == key.hash:
            continue  # the same code: paired and aligned as before
        # Pass 2 pairs a hash when exactly one record and one cell have it.
        # The old code's count among cells matters only if a record has it (a
        # twin left alone would pair then); the new code pairs the cell with
        # the one record that has it, if no other cell has it too (typing a
        # change away again, an undo).
        if before.hash in previous.old_left:
            if new_left[before.hash] != 1:
                return None
            del new_left[before.hash]
        paired_with = paired[index]
        if paired_with is not None:
            paired[index], used[paired_with] = None, False
        records_with = previous.old_left.get(key.hash, 0)
        if records_with:
            if records_with != 1 or new_left.get(key.hash, 0):
                return None  # ambiguous: the alignment of pass 3 decides it
            new_left[key.hash] = 1
            found = previous.old_at[key.hash]
            paired[index], used[found] = found, True
        redo.append(index)
    # The chain of pass 3 is every pair of passes 1 and 2 while they keep their
    # order; a pair that came back must fall between its neighbours.
    nearest: dict[int, tuple[int, int]] = {}
    for index in redo:
        below = next((i for i in range(index - 1, -1, -1) if paired[i] is not None), -1)
        above = next((i for i in range(index + 1, len(new)) if paired[i] is not None), len(new))
        nearest[index] = (below, above)
        now = paired[index]
        if now is not None and not _old_of(paired, below, -1) < now < _old_of(
            paired, above, len(used)
        ):
            return None  # out of order: the longest chain may change anywhere
    result = list(previous.result)

    def pair(new_index: int, old_index: int) -> None:
        result[new_index] = old_index

    gaps: set[tuple[int, int]] = set()
    for index, (below, above) in nearest.items():  # gaps between consecutive pairs
        if paired[index] is None:
            gaps.add((below, above))
        else:
            result[index] = paired[index]
            gaps.update(((below, index), (index, above)))
    for below, above in gaps:
        old_below, old_above = _old_of(paired, below, -1), _old_of(paired, above, len(used))
        new_run = list(range(below + 1, above))
        for new_index in new_run:
            result[new_index] = None
        old_run = [i for i in range(old_below + 1, old_above) if not used[i]]
        if old_run and new_run:
            _align_gap(previous.old, new, old_run, new_run, floor, pair)
    return dataclasses.replace(
        previous,
        records=given,
        memos=memos,
        new=tuple(new),
        paired=tuple(paired),
        used=tuple(used),
        result=tuple(result),
        new_left=new_left,
    )  # in order still: checked above for every pair that changed


def _old_of(paired: Sequence[int | None], new_index: int, edge: int) -> int:
    """The record paired with ``new_index``, or ``edge`` for the ends (-1, len)."""
    if not 0 <= new_index < len(paired):
        return edge
    record = paired[new_index]
    assert record is not None  # only called for paired cells and the ends
    return record


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


@dataclass(frozen=True, slots=True)
class _InPlaceFacts:
    """What :func:`_match_in_place` asks of all the entries, apart from the
    changed ones: whether the old ids are unique, and the hashes of the
    entries without an id on each side (with whether they are unique)."""

    old_ids_unique: bool
    old_hashes: frozenset[str]
    old_free_unique: bool
    new_hashes: Container[str]
    new_free_unique: bool


def _in_place_facts(old: Sequence[MatchKey], new: Sequence[MatchKey]) -> _InPlaceFacts:
    ids = [key.id for key in old if key.id is not None]
    old_free = [key.hash for key in old if key.id is None]
    new_free = [key.hash for key in new if key.id is None]
    old_hashes, new_hashes = frozenset(old_free), frozenset(new_free)
    return _InPlaceFacts(
        old_ids_unique=len(ids) == len(set(ids)),
        old_hashes=old_hashes,
        old_free_unique=len(old_hashes) == len(old_free),
        new_hashes=new_hashes,
        new_free_unique=len(new_hashes) == len(new_free),
    )


def _match_in_place(
    old: Sequence[MatchKey],
    new: Sequence[MatchKey],
    changed: list[int],
    floor: float,
    facts: _InPlaceFacts | None = None,
) -> list[int | None] | None:
    """The three passes' answer, found in one, when it is certain to be: as
    many entries on both sides, a few changed in place, and every hash left
    to pass 2 unique, so that every unchanged entry pairs with itself and
    each run of changed entries is one gap of pass 3. None when unsure.

    This is what an edit in the language server looks like on every
    keystroke; the passes would redo their counting and chaining over all
    cells to find the same pairs (``test_match_in_place_agrees``). ``facts``
    (of these ``old`` and ``new``) may come kept up to date from the last
    keystroke (:class:`RecordMatching`) instead of counted here.
    """
    if len(changed) > _IN_PLACE_LIMIT or any(old[i].id != new[i].id for i in changed):
        return None
    if facts is None:
        facts = _in_place_facts(old, new)
    if not facts.old_ids_unique:
        return None  # pass 1 would pair duplicated ids in its own order
    if not facts.old_free_unique or not facts.new_free_unique:
        return None  # a duplicated cell: pass 2 leaves it to the alignment
    old_hashes, new_hashes = facts.old_hashes, facts.new_hashes
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
