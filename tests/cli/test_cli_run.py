"""``sessions run`` through the real CLI (a subprocess) on real kernels: exit codes,
progress on a TTY and off it, the sidecar it writes, magics, JSON, setup errors,
and no orphans when the CLI exits, is terminated or is killed."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from sessions.cli.progress import output_text
from tests.support.cli import cli, cli_env, command

pytestmark = pytest.mark.kernel

CHAIN = """\
# %% setup
x = 1
print("x is", x)

# %% Double it
y = x * 2
y

# %% [markdown]
# words

# %% last
z = y + 1
print("z is", z)
"""

FAILING = """\
# %% ok
a = 1

# %% boom
b = a + 1
raise ValueError("boom")

# %% after
c = b + 1
print("after ran", c)
"""


def write(tmp_path: Path, text: str, name: str = "nb.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def sidecar(path: Path) -> dict[str, Any]:
    with path.with_name(path.stem + ".sessions.toml").open("rb") as file:
        return tomllib.load(file)


def statuses(path: Path) -> list[str]:
    result = cli("status", path.name, "--json", cwd=path.parent, env=cli_env(path.parent))
    assert result.returncode == 0, result.stderr
    return [c["status"] for c in json.loads(result.stdout)["cells"]]


def runtime_files(tmp_path: Path) -> list[Path]:
    """Connection files, IPC sockets and session-registry entries left behind."""
    folder = tmp_path / "rt" / "sessions-kernels"
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file())


# -- processes, found through /proc ---------------------------------------------


def process_alive(pid: int) -> bool:
    """Running; a zombie counts as gone (nothing may reap an orphan quickly)."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            fields = stat_file.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] != "Z"


def processes_of(folder: Path) -> dict[int, str]:
    """Live processes (pid -> command line) that run in ``folder`` or name it on
    their command line: the kernel, its watchdog and what cells started."""
    found: dict[int, str] = {}
    needle = str(folder)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if (needle in cmdline or cwd == needle or cwd.startswith(needle + "/")) and process_alive(
            int(entry)
        ):
            found[int(entry)] = cmdline.strip()
    return found


def wait_until(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def kill_leftovers(pids: Any) -> None:
    for pid in pids:
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


# -- exit codes and output ------------------------------------------------------


def test_all_ok_exits_0_with_plain_progress_lines(tmp_path: Path) -> None:
    path = write(tmp_path, CHAIN)
    result = cli("run", path.name, cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("✓ [1/3] cell 0 setup  ")
    assert lines[1] == "    x is 1"
    assert lines[2].startswith("✓ [2/3] cell 1 Double it  ")
    assert lines[3] == "    2"
    assert lines[4].startswith("✓ [3/3] cell 3 last  ")
    assert lines[5] == "    z is 3"
    assert lines[6] == "ran 3 cell(s); outputs cached in nb.sessions.toml"
    assert "\r" not in result.stdout and "\x1b" not in result.stdout  # not a terminal
    assert statuses(path) == ["fresh"] * 4
    assert runtime_files(tmp_path) == []  # the kernel was shut down and cleaned up


def test_a_failing_cell_exits_1_and_the_rest_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, FAILING)
    result = cli("run", path.name, cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 1
    assert "✗ [2/3] cell 1 boom" in result.stdout
    assert "    ValueError: boom" in result.stdout
    assert "skipped 1 cell(s) (2): cell 1 raised an error" in result.stdout
    assert "after ran" not in result.stdout
    assert "ran 2 cell(s), 1 failed, 1 skipped" in result.stdout
    assert statuses(path) == ["fresh", "error", "never-run"]


def test_allow_errors_keeps_going_and_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, FAILING.replace("c = b + 1", "c = a + 2"))
    result = cli("run", path.name, "--allow-errors", cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "    after ran 3" in result.stdout
    assert "skipped" not in result.stdout
    assert statuses(path) == ["fresh", "error", "fresh"]


def test_timeout_interrupts_the_cell_and_exits_1(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# %% quick\nq = 1\n\n# %% slow\nimport time\ntime.sleep(60)\n\n# %% never\nprint(q)\n",
    )
    started = time.monotonic()
    result = cli(
        "run",
        path.name,
        "--timeout",
        "1",
        "--allow-errors",
        cwd=tmp_path,
        env=cli_env(tmp_path),
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert result.returncode == 1  # a timeout stops the run even with --allow-errors
    assert "■ [2/3] cell 1 slow" in result.stdout
    assert "Interrupted: the cell ran longer than the 1 s timeout." in result.stdout
    assert "skipped 1 cell(s) (2): cell 1 ran longer than the 1 s timeout" in result.stdout
    record = next(c for c in sidecar(path)["cells"] if c["index"] == 1)
    assert record["status"] == "interrupted"
    assert 0.9 < record["duration"] < 20


@pytest.mark.parametrize("cell", ["7", "-1"])
def test_bad_cell_index_exits_2_before_starting_a_kernel(tmp_path: Path, cell: str) -> None:
    path = write(tmp_path, CHAIN)
    result = cli("run", path.name, "--cell", cell, cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"sessions: no cell {cell}: the notebook has 4 cells (0-based indexes 0–3)"
    ]
    assert "Traceback" not in result.stderr
    assert not path.with_name("nb.sessions.toml").exists()
    assert runtime_files(tmp_path) == []


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = cli("run", "absent.py", cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["sessions: absent.py: no such file"]


def test_interpreter_without_ipykernel_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    path = write(tmp_path, CHAIN)
    result = cli("run", path.name, "--python", python, cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert f"ipykernel is not installed for {python}" in line
    assert line.endswith(f"Fix: {python} -m ensurepip && {python} -m pip install ipykernel")
    assert "Traceback" not in result.stderr
    assert runtime_files(tmp_path) == []  # no connection file was ever written
    assert processes_of(tmp_path) == {}  # no kernel, no watchdog
    assert not path.with_name("nb.sessions.toml").exists()


def test_stale_on_an_up_to_date_notebook_runs_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, CHAIN)
    assert cli("run", path.name, cwd=tmp_path, env=cli_env(tmp_path)).returncode == 0
    cache = path.with_name("nb.sessions.toml")
    before = cache.read_bytes()
    result = cli("run", path.name, "--stale", cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 0
    assert result.stdout == "nothing to run: every cell is fresh\n"
    assert cache.read_bytes() == before
    assert runtime_files(tmp_path) == []  # no kernel was started for nothing


def test_stale_after_an_edit_runs_the_edited_cell_and_its_dependents(tmp_path: Path) -> None:
    path = write(tmp_path, CHAIN)
    assert cli("run", path.name, cwd=tmp_path, env=cli_env(tmp_path)).returncode == 0
    path.write_text(CHAIN.replace("y = x * 2", "y = x * 20"))
    assert statuses(path) == ["fresh", "edited", "fresh", "upstream"]
    result = cli("run", path.name, "--stale", cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    ran = re.findall(r"^✓ \[\d/\d\] cell (\d)", result.stdout, re.MULTILINE)
    # cell 0 is fresh but this new kernel lacks `x`, so it runs first
    assert ran == ["0", "1", "3"]
    assert "    z is 21" in result.stdout
    assert (
        "(cell 0 was fresh but ran again: the kernel did not have its values yet)" in result.stdout
    )
    assert statuses(path) == ["fresh"] * 4


def test_cell_runs_its_upstream_first_and_nothing_below(tmp_path: Path) -> None:
    path = write(tmp_path, CHAIN)
    result = cli("run", path.name, "--cell", "1", cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    ran = re.findall(r"^✓ \[(\d)/(\d)\] cell (\d)", result.stdout, re.MULTILINE)
    assert ran == [("1", "2", "0"), ("2", "2", "1")]
    assert statuses(path) == ["fresh", "fresh", "fresh", "never-run"]

    result = cli(
        "run", path.name, "--cell", "3", "--no-upstream", cwd=tmp_path, env=cli_env(tmp_path)
    )
    assert result.returncode == 1  # `y` is not in this new kernel
    assert "NameError" in result.stdout

    result = cli("run", path.name, "--cell", "2", cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 0
    assert result.stdout == "nothing to run: cell 2 has no code\n"


def test_json_summary(tmp_path: Path) -> None:
    path = write(tmp_path, FAILING)
    result = cli("run", path.name, "--json", cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 1
    payload = json.loads(result.stdout)  # stdout is only the JSON; progress went to stderr
    assert "✗ [2/3] cell 1 boom" in result.stderr
    assert set(payload) == {
        "notebook",
        "planned",
        "cells",
        "restored",
        "notes",
        "parameters",
        "skipped",
        "blocked",
        "stopped_because",
        "ok",
    }
    assert payload["restored"] == [] and payload["notes"] == []
    assert payload["notebook"] == "nb.py"
    assert payload["planned"] == [0, 1, 2]
    assert payload["skipped"] == [2]
    assert payload["stopped_because"] == "cell 1 raised an error"
    assert payload["ok"] is False
    first, second = payload["cells"]
    assert set(first) == {
        "index",
        "name",
        "run",
        "status",
        "kernel_status",
        "timed_out",
        "execution_count",
        "duration",
        "outputs",
    }
    assert (first["index"], first["name"], first["status"]) == (0, "ok", "ok")
    assert (second["index"], second["name"], second["status"]) == (1, "boom", "error")
    assert second["run"] == first["run"] + 1
    assert second["timed_out"] is False
    (error,) = second["outputs"]
    assert (error["output_type"], error["ename"], error["evalue"]) == (
        "error",
        "ValueError",
        "boom",
    )

    fresh = write(tmp_path, CHAIN, "chain.py")
    assert cli("run", fresh.name, cwd=tmp_path, env=cli_env(tmp_path)).returncode == 0
    result = cli("run", fresh.name, "--stale", "--json", cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 0
    payload = json.loads(result.stdout)
    assert (payload["planned"], payload["cells"], payload["ok"]) == ([], [], True)


def test_sidecar_holds_run_ids_inputs_and_outputs(tmp_path: Path) -> None:
    path = write(tmp_path, CHAIN)
    assert cli("run", path.name, cwd=tmp_path, env=cli_env(tmp_path)).returncode == 0
    data = sidecar(path)
    assert data["format"] == 1 and data["notebook"] == "nb.py"
    assert data["kernel"]["python"] == sys.executable
    records = {c["index"]: c for c in data["cells"]}
    assert sorted(records) == [0, 1, 3]
    runs = [records[i]["run"] for i in (0, 1, 3)]
    assert runs == sorted(runs) and len(set(runs)) == 3
    assert data["run_counter"] >= runs[-1]
    assert records[0].get("inputs", {}) == {}
    # Each input is the version key the provider's run gave the name.
    assert records[1]["inputs"] == {"x": records[0]["provides"]["x"]}
    assert records[3]["inputs"] == {"y": records[1]["provides"]["y"]}
    assert records[0]["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "x is 1\n"}
    ]
    (result,) = records[1]["outputs"]
    assert result["output_type"] == "execute_result" and result["data"]["text/plain"] == "2"
    assert all(
        r["status"] == "ok" and r["hash"].startswith("blake2b-128:") for r in records.values()
    )

    assert cli("run", path.name, "--cell", "3", cwd=tmp_path, env=cli_env(tmp_path)).returncode == 0
    again = {c["index"]: c for c in sidecar(path)["cells"]}
    assert again[3]["run"] > again[1]["run"] > runs[-1]  # upstream re-ran in the new kernel
    # Same code, same inputs: the re-run gives the same keys.
    assert again[3]["inputs"] == {"y": again[1]["provides"]["y"]} == records[3]["inputs"]


def test_a_finished_cell_is_in_the_sidecar_while_later_cells_still_run(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# %% quick\nq = 1\n\n# %% slow\nimport time\ntime.sleep(4)\n\n# %% end\nprint(q)\n",
    )
    process = subprocess.Popen(
        command("run", path.name),
        cwd=tmp_path,
        env=cli_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def quick_recorded() -> bool:
            try:
                return any(c["index"] == 0 for c in sidecar(path).get("cells", []))
            except (OSError, tomllib.TOMLDecodeError):
                return False

        assert wait_until(quick_recorded, timeout=60)
        assert process.poll() is None  # the slow cell is still running
        assert [c["index"] for c in sidecar(path)["cells"]] == [0]
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert [c["index"] for c in sidecar(path)["cells"]] == [0, 1, 2]


def test_known_magics_run_as_magics(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# %% shell\n# !echo hello-from-shell\n\n"
        "# %% timed\n# %%time\ntotal = sum(range(10))\nprint('total', total)\n",
    )
    result = cli("run", path.name, cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "    hello-from-shell" in result.stdout
    assert "    total 45" in result.stdout
    assert "Wall time" in result.stdout
    records = {c["index"]: c for c in sidecar(path)["cells"]}
    shell_text = "".join(o.get("text", "") for o in records[0]["outputs"])
    assert shell_text.strip() == "hello-from-shell"
    timed_text = "".join(o.get("text", "") for o in records[1]["outputs"])
    assert "total 45" in timed_text and "Wall time" in timed_text
    assert statuses(path) == ["fresh", "fresh"]


def test_progress_on_a_terminal_shows_cell_counter_name_and_elapsed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# %% first\nx = 1\n\n# %% Slow step\nimport time\ntime.sleep(1.2)\ny = x + 1\n\n"
        "# %% last\nprint(y)\n",
    )
    env = cli_env(tmp_path)
    env.pop("NO_COLOR")
    env["TERM"] = "xterm"
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command("run", path.name), cwd=tmp_path, env=env, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=120) == 0
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
            process.wait()
    screen = b"".join(chunks).decode()
    # The live line: cleared and redrawn in place, with the counter, name and elapsed time.
    live = re.findall(r"\r\x1b\[2K\[2/3\] cell 1 Slow step  (\d+\.\d)s", screen)
    assert len(live) >= 3, screen  # drawn at the start, then ticking
    assert float(live[-1]) >= 0.5
    assert re.search(r"\r\x1b\[2K\x1b\[32m✓\x1b\[0m \[2/3\] cell 1 Slow step  1\.\d\ds\r\n", screen)
    assert "[1/3] cell 0 first" in screen and "[3/3] cell 2 last" in screen
    assert "ran 3 cell(s); outputs cached in nb.sessions.toml" in screen


# -- no orphans -----------------------------------------------------------------

ORPHAN_MAKER = """\
# %% start a child, then wait
import subprocess, time
child = subprocess.Popen(["sleep", "1000"])
print("child", child.pid, flush=True)
WAIT
"""


@pytest.mark.parametrize("how", ["exit", "SIGTERM", "SIGKILL", "SIGINT"])
def test_no_orphans_when_the_cli_exits_or_is_killed(tmp_path: Path, how: str) -> None:
    folder = tmp_path / "nb-folder"
    folder.mkdir()
    wait = "" if how == "exit" else "time.sleep(1000)"
    path = write(folder, ORPHAN_MAKER.replace("WAIT", wait))
    env = cli_env(tmp_path)
    process = subprocess.Popen(
        command("run", path.name),
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE if how == "exit" else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seen: dict[int, str] = {}
    try:

        def all_three_running() -> bool:
            seen.update(
                (pid, cmd) for pid, cmd in processes_of(tmp_path).items() if pid != process.pid
            )
            return (
                any("watchdog.py" in cmd for cmd in seen.values())
                and any("ipykernel_launcher" in cmd for cmd in seen.values())
                and any(cmd == "sleep 1000" for cmd in seen.values())
            )

        if how == "exit":
            # The cell ends with its child still running; then the CLI exits.
            out, _ = process.communicate(timeout=120)
            assert process.returncode == 0, out
            child = int(re.findall(r"^    child (\d+)$", out, re.MULTILINE)[0])
            seen[child] = "sleep 1000"
        else:
            assert wait_until(all_three_running, timeout=120), seen
            process.send_signal(getattr(signal, how))
            code = process.wait(timeout=30)
            # Ctrl-C is handled (exit 130 after shutting the kernel down); the others kill.
            assert code == {"SIGINT": 130, "SIGTERM": -15, "SIGKILL": -9}[how]
        assert wait_until(lambda: processes_of(tmp_path) == {}, timeout=3.0), processes_of(tmp_path)
        assert [pid for pid in seen if process_alive(pid)] == []
        assert runtime_files(tmp_path) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        kill_leftovers([*seen, *processes_of(tmp_path)])


@pytest.mark.parametrize("args", [("-q", "run"), ("run", "-q")], ids=["before-verb", "after-verb"])
def test_quiet_hides_outputs_but_not_why_a_cell_failed(
    tmp_path: Path, args: tuple[str, str]
) -> None:
    path = write(tmp_path, FAILING.replace("a = 1", "a = 1\nprint('noise')"))
    result = cli(*args, path.name, cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    failed = next(i for i, line in enumerate(lines) if line.startswith("✗ [2/3] cell 1 boom"))
    assert lines[failed + 1] == "    ValueError: boom"
    assert "noise" not in result.stdout


def test_a_run_keeps_the_records_another_process_wrote_meanwhile(tmp_path: Path) -> None:
    """Issue 11: run A (a slow cell) must not drop the record that run B, in
    another terminal, wrote for a cell added while A ran."""
    path = write(
        tmp_path,
        "# %% slow\nimport pathlib, time\npathlib.Path('A-started').touch()\ntime.sleep(8)\nslow = 1\n\n"
        "# %% other\nprint('other')\n",
    )
    first = subprocess.Popen(
        command("run", path.name),
        cwd=tmp_path,
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = tmp_path / "A-started"
        deadline = time.monotonic() + 60
        while not started.exists():  # A's slow cell is running
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        path.write_text(path.read_text() + "\n# %% new\nprint('added by B')\n")
        second = cli(
            "run",
            path.name,
            "--cell",
            "2",
            "--no-upstream",
            "--fresh",
            cwd=tmp_path,
            env=cli_env(tmp_path),
        )
        assert second.returncode == 0, second.stderr
        assert first.poll() is None, "A finished too early for the test to mean anything"
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
    records = {r["index"]: r for r in sidecar(path)["cells"]}
    assert sorted(records) == [0, 1, 2]
    assert records[2]["outputs"][0]["text"] == "added by B\n"
    status = json.loads(
        cli("status", path.name, "--json", cwd=tmp_path, env=cli_env(tmp_path)).stdout
    )
    assert [c["status"] for c in status["cells"]] == ["fresh", "fresh", "fresh"]


def test_an_error_without_a_value_is_shown_as_its_name() -> None:
    """QA: an error without a message is echoed as its name alone.

    Found as a user: an interrupted cell (``--timeout``, Ctrl-C in ``watch``) was
    echoed as ``KeyboardInterrupt: `` with a dangling colon."""
    output = {"output_type": "error", "ename": "KeyboardInterrupt", "evalue": "", "traceback": []}
    assert output_text(output) == "KeyboardInterrupt"


def test_an_error_with_a_value_keeps_name_and_value() -> None:
    """QA: an error is echoed as ``name: message``, and as its name alone only when
    it has no message (an interrupted cell had been echoed as
    ``KeyboardInterrupt: ``, with a dangling colon)."""
    output = {"output_type": "error", "ename": "KeyError", "evalue": "'x'", "traceback": []}
    assert output_text(output) == "KeyError: 'x'"
