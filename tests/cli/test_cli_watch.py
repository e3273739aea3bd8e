"""``sessions watch`` through the real CLI (a subprocess) with real watchfiles and
real kernels: every kind of save is seen, stale cells are reported (and run with
``--autorun``), a run from another terminal is reported, Ctrl-C exits cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import Watch, cli, cli_env, kernel_processes

pytestmark = pytest.mark.kernel

NOTEBOOK = """\
# %% a
x = 1

# %% b
y = x + 1
print("y is", y)

# %% c
w = 5
"""


def statuses(path: Path, env: dict[str, str]) -> list[str]:
    result = cli("status", path.name, "--json", cwd=path.parent, env=env)
    assert result.returncode == 0, result.stderr
    return [c["status"] for c in json.loads(result.stdout)["cells"]]


def records(path: Path) -> dict[int, dict[str, Any]]:
    with path.with_name(path.stem + ".sessions.toml").open("rb") as file:
        return {c["index"]: c for c in tomllib.load(file)["cells"]}


def save_in_place(path: Path, text: str) -> None:
    with path.open("r+") as file:
        file.seek(0)
        file.truncate()
        file.write(text)


def save_atomically(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp-save")
    temp.write_text(text)
    os.replace(temp, path)


def save_delete_recreate(path: Path, text: str) -> None:
    path.unlink()
    time.sleep(0.3)  # long enough for the deletion to be seen on its own
    path.write_text(text)


SAVES = [
    ("in-place", save_in_place),
    ("atomic rename", save_atomically),
    ("delete-recreate", save_delete_recreate),
]


def test_autorun_sees_every_kind_of_save_and_runs_the_stale_cells(
    tmp_path: Path, watches: Callable[..., Watch]
) -> None:
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    path.write_text(NOTEBOOK)
    watch = watches(tmp_path, env, path.name, "--autorun")
    watch.expect(r"^watching nb\.py \(3 cells, 3 stale\); Ctrl-C to stop$")
    lines = watch.expect(r"^ran \d+ cell")
    assert lines[-1] == "ran 3 cell(s); outputs cached in nb.sessions.toml"
    assert "    y is 2" in lines
    first = records(path)
    assert statuses(path, env) == ["fresh"] * 3

    previous = first
    for value, (style, save) in enumerate(SAVES, start=2):
        save(path, NOTEBOOK.replace("x = 1", f"x = {value}"))
        lines = watch.expect(r"^ran \d+ cell")
        text = "\n".join(lines)
        assert "● cell 0 a: edited — code changed since this output" in text, style
        assert re.search(r"● cell 1 b: upstream — .*cell 0 \(`x`\) was edited", text), style
        assert "cell 2 c" not in text, style  # independent of x: untouched
        assert f"    y is {value + 1}" in lines, style
        assert lines[-1] == "ran 2 cell(s); outputs cached in nb.sessions.toml", style
        if style == "delete-recreate":
            assert "nb.py was deleted; waiting for it to come back" in lines
        current = records(path)
        assert current[0]["run"] > previous[0]["run"] and current[1]["run"] > previous[1]["run"]
        assert current[2]["run"] == first[2]["run"], style
        assert current[1]["outputs"][0]["text"] == f"y is {value + 1}\n", style
        assert statuses(path, env) == ["fresh"] * 3, style
        previous = current

    assert watch.quiet_for(1.0) == []  # its own sidecar writes do not trigger runs
    code, rest = watch.stop()
    assert code == 0
    assert rest == ["stopped; kernel shut down"]
    assert kernel_processes(tmp_path / "rt") == []


def test_without_autorun_reports_saves_and_a_run_from_another_terminal(
    tmp_path: Path, watches: Callable[..., Watch]
) -> None:
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    path.write_text(NOTEBOOK)
    watch = watches(tmp_path, env, path.name)
    lines = watch.expect(r"^watching nb\.py \(3 cells, 3 stale\)")
    lines += watch.expect(r"cell 2 c: never-run")
    assert [line for line in lines if "never-run" in line] == [
        "○ cell 0 a: never-run — never run",
        "○ cell 1 b: never-run — never run",
        "○ cell 2 c: never-run — never run",
    ]

    result = cli("run", path.name, cwd=tmp_path, env=env)  # another terminal
    assert result.returncode == 0, result.stderr
    lines = watch.expect(r"cell 2 c: fresh")
    assert "✓ cell 0 a: fresh" in lines and "✓ cell 1 b: fresh" in lines

    for value, (style, save) in enumerate(SAVES, start=2):
        before = path.with_name("nb.sessions.toml").read_bytes()
        save(path, NOTEBOOK.replace("x = 1", f"x = {value}"))
        lines = watch.expect(r"cell 1 b: upstream")
        assert any(line.startswith("● cell 0 a: edited") for line in lines), style
        assert not any("[1/" in line for line in lines), style  # nothing ran
        assert watch.quiet_for(0.5) == [], style
        assert path.with_name("nb.sessions.toml").read_bytes() == before, style
        current = statuses(path, env)
        assert current == ["edited", "upstream", "fresh"], style
        # back to the code that ran: fresh again
        save(path, NOTEBOOK)
        lines = watch.expect(r"cell 1 b: fresh")
        assert "✓ cell 0 a: fresh" in lines, style

    code, rest = watch.stop()
    assert code == 0
    assert rest == ["stopped; no kernel was running"]


def test_autorun_does_not_loop_on_a_failing_cell(
    tmp_path: Path, watches: Callable[..., Watch]
) -> None:
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    text = "# %% a\nx = 1\n\n# %% b\nraise ValueError(x)\n\n# %% c\nz = x\n"
    path.write_text(text)
    watch = watches(tmp_path, env, path.name, "--autorun", "-q")
    lines = watch.expect(r"^ran \d+ cell")
    assert lines[-1] == "ran 2 cell(s), 1 failed, 1 skipped; outputs cached in nb.sessions.toml"
    assert "skipped 1 cell(s) (2): cell 1 raised an error" in lines
    assert watch.quiet_for(1.5) == []  # the failed and skipped cells stay stale, not rerun

    save_atomically(path, text.replace("x = 1", "x = 2"))
    lines = watch.expect(r"^ran \d+ cell")
    assert any(line.startswith("✗ [2/3] cell 1 b") for line in lines), lines
    assert lines[-1] == "ran 2 cell(s), 1 failed, 1 skipped; outputs cached in nb.sessions.toml"
    assert watch.quiet_for(1.5) == []
    code, rest = watch.stop()
    assert code == 0 and rest == ["stopped; kernel shut down"]


def test_ctrl_c_during_a_long_cell_interrupts_it_and_shuts_the_kernel_down(
    tmp_path: Path, watches: Callable[..., Watch]
) -> None:
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    path.write_text(
        "# %% slow\nimport pathlib, time\npathlib.Path('started').touch()\ntime.sleep(600)\n"
    )
    watch = watches(tmp_path, env, path.name, "--autorun")
    watch.expect(r"^watching nb\.py")
    deadline = time.monotonic() + 60
    while not kernel_processes(tmp_path / "rt") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kernel_processes(tmp_path / "rt"), "the kernel never started"
    # The cell is running (a fixed wait was too short on a loaded machine).
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "started").exists(), "the cell never started"
    started = time.monotonic()
    code, rest = watch.stop(signal.SIGINT)
    assert time.monotonic() - started < 15
    assert code == 0
    assert rest[-1] == "stopped; kernel shut down"
    assert any(line.startswith("■ [1/1] cell 0 slow") for line in rest)
    assert kernel_processes(tmp_path / "rt") == []
    assert records(path)[0]["status"] == "interrupted"


SLOW = """\
# %% slow
import pathlib, time
pathlib.Path("started").touch()
while not pathlib.Path("go").exists():
    time.sleep(0.05)
v = 1

# %% use
print("v is", v)
"""


def test_a_save_during_an_autorun_run_is_run_after_it(
    tmp_path: Path, watches: Callable[..., Watch]
) -> None:
    """QA: ``sessions watch --autorun`` while an agent edits the cell that is running.

    Found as a user: saving a change to a cell while autorun was running it left
    the cell ``edited`` for good; the save was taken as already seen because the
    watch compared the next change with the file as it was after the run.
    Real CLI process, real watchfiles, real kernel."""
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    path.write_text(SLOW)
    watch = watches(tmp_path, env, "nb.py", "--autorun")
    watch.expect(r"^watching nb\.py")
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():  # cell 0 is running, waiting for "go"
        assert time.monotonic() < deadline, watch.seen
        time.sleep(0.05)
    path.write_text(SLOW.replace("v = 1", "v = 2"))  # saved while cell 0 runs
    time.sleep(0.5)  # longer than the debounce: the save's event is in
    (tmp_path / "go").touch()

    watch.expect(r"v is 1")
    watch.expect(r"^● cell 0 slow: edited", timeout=30)
    watch.expect(r"v is 2", timeout=30)
    watch.expect(r"^ran 2 cell\(s\)")
    code, _rest = watch.stop()
    assert code == 0

    result = cli("status", "nb.py", "--json", cwd=tmp_path, env=env)
    assert [c["status"] for c in json.loads(result.stdout)["cells"]] == ["fresh", "fresh"]
    assert kernel_processes(tmp_path / "rt") == []
