"""The output accumulator and the output cap, without a kernel: carriage
returns resolved the same whatever the chunking, streams capped while they
arrive with an exact count of what was left out, and work linear in the size."""

from __future__ import annotations

import re
import time

from hypothesis import given
from hypothesis import strategies as st

from sessions.cache.cap import cap_text
from sessions.run.outputs import OutputAccumulator, StreamText, resolve_carriage_returns

MARKER = re.compile(r"\[\.\.\. ([0-9,]+) characters omitted: output over the ([0-9,]+)-character")


def omitted(text: str) -> list[int]:
    return [int(m.group(1).replace(",", "")) for m in MARKER.finditer(text)]


def test_carriage_returns_show_what_a_terminal_shows() -> None:
    assert resolve_carriage_returns("10%\r20%\r30%\n") == "30%\n"
    assert resolve_carriage_returns("\r 1/3\r 2/3\r 3/3\ndone\n") == " 3/3\ndone\n"
    assert resolve_carriage_returns("50%\r") == "50%"  # print(p, end="\r") keeps p
    assert resolve_carriage_returns("a\r\nb\r\n") == "a\nb\n"
    assert resolve_carriage_returns("no returns\n") == "no returns\n"


chunks = st.lists(st.text(alphabet="ab\r\n", max_size=12), max_size=12)


@given(chunks, st.sampled_from([None, 1, 3, 8, 1000]))
def test_stream_text_is_the_same_whatever_the_chunking(parts: list[str], cap: int | None) -> None:
    stream = StreamText(cap)
    for part in parts:
        stream.append(part)
    whole = resolve_carriage_returns("".join(parts))
    assert stream.text == (whole if cap is None else cap_text(whole, cap))


def test_a_capped_stream_counts_exactly_what_it_left_out() -> None:
    # The case: 200,000 printed numbers (1,288,890 characters), 1 MB cap.
    accumulator = OutputAccumulator(cap=1_000_000)
    for i in range(200_000):
        accumulator.add({"output_type": "stream", "name": "stdout", "text": f"{i}\n"})
    (output,) = accumulator.outputs
    full = "".join(f"{i}\n" for i in range(200_000))
    assert omitted(output["text"]) == [len(full) - 1_000_000] == [288_890]
    assert output["text"].startswith(full[:500_000]) and output["text"].endswith(full[-500_000:])
    assert output["text"] == cap_text(full, 1_000_000)


def test_capping_again_keeps_the_first_count() -> None:
    # The sidecar caps every record on every write: the second write used to
    # report the marker's own 78 characters as what was omitted.
    full = "".join(f"{i}\n" for i in range(200_000))
    once = cap_text(full, 1_000_000)
    assert cap_text(once, 1_000_000) is once
    # Under a smaller cap the earlier omission is added, not forgotten.
    assert omitted(cap_text(once, 1000)) == [len(full) - 1000]


def test_progress_after_a_long_log_is_linear_and_exact() -> None:
    log = "".join(f"log line {i} {'x' * 30}\n" for i in range(33_000))  # ~1.5 MB
    accumulator = OutputAccumulator(cap=1_000_000)
    start = time.perf_counter()
    accumulator.add({"output_type": "stream", "name": "stdout", "text": log})
    for i in range(3000):
        accumulator.add({"output_type": "stream", "name": "stdout", "text": f"\rprogress {i}"})
    accumulator.add({"output_type": "stream", "name": "stdout", "text": "\n"})
    (output,) = accumulator.outputs
    elapsed = time.perf_counter() - start
    assert output["text"] == cap_text(log + "progress 2999\n", 1_000_000)
    # Quadratic re-resolving took 17.9 s for 1,000 updates; linear work is milliseconds.
    assert elapsed < 2.0


def test_clear_and_display_updates() -> None:
    accumulator = OutputAccumulator()
    display = {
        "output_type": "display_data",
        "data": {"text/plain": "1"},
        "metadata": {},
        "transient": {"display_id": "d"},
    }
    accumulator.add({"output_type": "stream", "name": "stdout", "text": "a"})
    accumulator.add(display)
    update = {**display, "output_type": "update_display_data", "data": {"text/plain": "2"}}
    assert accumulator.add(update)
    assert accumulator.outputs[1]["data"] == {"text/plain": "2"}
    assert not accumulator.add({**update, "transient": {"display_id": "other"}})
    assert not accumulator.add({"output_type": "clear_output", "wait": True})
    assert len(accumulator.outputs) == 2  # deferred until the next output
    accumulator.add({"output_type": "stream", "name": "stdout", "text": "b"})
    assert accumulator.outputs == [{"output_type": "stream", "name": "stdout", "text": "b"}]
    assert not accumulator.add(update)  # the display was cleared
