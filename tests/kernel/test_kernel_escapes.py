"""No orphans, against processes that try to escape (issue 11, item 3).

A cell's child that leaves the kernel's process group — a new session, a
process group of its own, a double fork, ``setsid nohup`` — is still ended
with the kernel: when ``sessions run`` finishes, and when it is SIGKILLed.
A SIGKILLed watchdog is reported as a dead kernel (the run exits 1, no
traceback) and leaves nothing behind; when the owner dies with it, ``sessions
ls`` shows what is left as an orphan and ``sessions ls --clean`` ends it.

Every test drives a real ``sessions run`` subprocess, and polls ``/proc``
with a bounded wait. Output goes to files, not pipes: a process that escaped
would hold a pipe open and hang the test instead of failing it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessions.kernel.watchdog import TAG_VARIABLE, process_table, process_tag
from tests.support.cli import cli, cli_env, command

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux: /proc, prctl"),
]

# The escaped process writes its own pid, then becomes `sleep`.
ESCAPEE = 'echo $$ > "$1"; exec sleep 1000\n'

DOUBLE_FORK = (
    "import os, sys\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        os.execvp('sh', ['sh', 'escapee.sh', sys.argv[1]])\n"
    "    os._exit(0)\n"
    "os.wait()\n"
)

ESCAPES = {
    "start_new_session": (
        "subprocess.Popen(['sh', 'escapee.sh', PIDFILE], start_new_session=True)"
    ),
    "process_group_0": "subprocess.Popen(['sh', 'escapee.sh', PIDFILE], process_group=0)",
    "double_fork": "subprocess.run([sys.executable, 'double_fork.py', PIDFILE], check=True)",
    "setsid_nohup": (
        "subprocess.run(f'setsid nohup sh escapee.sh {PIDFILE} >/dev/null 2>&1 &', "
        "shell=True, check=True)"
    ),
}


def notebook_text(escape: str, *, then_wait: bool) -> str:
    """A cell that starts an escaping child (and a plain one), then
    optionally a cell that runs until the test kills something."""
    text = (
        "# %%\n"
        "import subprocess, sys\n"
        "PIDFILE = 'escaped.pid'\n"
        "plain = subprocess.Popen(['sh', 'escapee.sh', 'plain.pid'])\n"
        f"{ESCAPES[escape]}\n"
    )
    if then_wait:
        text += "\n# %%\nimport time\nopen('waiting', 'w').close()\ntime.sleep(1000)\n"
    return text


def process_alive(pid: int) -> bool:
    """Running (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return stat_file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_all_gone(pids: list[int], timeout: float) -> list[int]:
    """The pids still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(process_alive(pid) for pid in pids):
            return []
        time.sleep(0.05)
    return [pid for pid in pids if process_alive(pid)]


def wait_for(path: Path, timeout: float, owner: subprocess.Popen[bytes]) -> str:
    """The contents of ``path`` once it is written (a pid and a newline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text().strip()
        if owner.poll() is not None and not path.exists():
            break
        time.sleep(0.05)
    raise AssertionError(f"{path.name} was not written; the run exited with {owner.poll()}")


def tagged_in(runtime: Path) -> list[int]:
    """Live processes carrying the kernel tag of a kernel of ``runtime``."""
    found = []
    for pid, info in process_table().items():
        tag = process_tag(pid)
        if tag is not None and str(runtime) in tag and not info.zombie:
            found.append(pid)
    return found


class Run:
    """A ``sessions run`` subprocess on a notebook in ``folder``."""

    def __init__(self, folder: Path, text: str) -> None:
        self.folder = folder
        (folder / "escapee.sh").write_text(ESCAPEE)
        (folder / "double_fork.py").write_text(DOUBLE_FORK)
        (folder / "nb.py").write_text(text)
        self.env = cli_env(folder)
        self.runtime = folder / "rt"
        self.stdout = (folder / "run.out").open("wb")
        self.stderr_path = folder / "run.err"
        self.stderr = self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            command("run", "nb.py", "--fresh"),
            cwd=folder,
            env=self.env,
            stdout=self.stdout,
            stderr=self.stderr,
        )
        self.known: list[int] = [self.process.pid]

    def pid_of(self, name: str, timeout: float = 60) -> int:
        pid = int(wait_for(self.folder / name, timeout, self.process))
        self.known.append(pid)
        return pid

    def entry(self) -> dict[str, object]:
        [path] = (self.runtime / "sessions-kernels" / "registry").glob("*.json")
        data: dict[str, object] = json.loads(path.read_text())
        for key in ("kernel_pid", "pgid"):
            value = data[key]
            assert isinstance(value, int)
            self.known.append(value)
        return data

    def wait_waiting(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not (self.folder / "waiting").exists():
            assert time.monotonic() < deadline, "the second cell never started"
            assert self.process.poll() is None, self.stderr_text()
            time.sleep(0.05)

    def stderr_text(self) -> str:
        self.stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def output_text(self) -> str:
        """Progress (stdout) and messages (stderr) of the run."""
        self.stdout.flush()
        return (self.folder / "run.out").read_text(errors="replace") + self.stderr_text()

    def cleanup(self) -> None:
        """Whatever a failed test left running: never leave it behind."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in [*self.known, *tagged_in(self.runtime)]:
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.stdout.close()
        self.stderr.close()


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        run.cleanup()


def start_run(runs: list[Run], folder: Path, text: str) -> Run:
    run = Run(folder, text)
    runs.append(run)
    return run


def runtime_files(run: Run) -> list[str]:
    """Connection files, sockets and registry entries left in the runtime folder."""
    folder = run.runtime / "sessions-kernels"
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_escaped_children_die_when_the_owner_is_sigkilled(
    runs: list[Run], tmp_path: Path, escape: str
) -> None:
    run = start_run(runs, tmp_path, notebook_text(escape, then_wait=True))
    escaped, plain = run.pid_of("escaped.pid"), run.pid_of("plain.pid")
    run.wait_waiting()
    entry = run.entry()
    run.process.kill()
    run.process.wait(timeout=10)

    assert wait_all_gone([escaped, plain, int(entry["kernel_pid"]), int(entry["pgid"])], 5) == []
    assert tagged_in(run.runtime) == []
    assert runtime_files(run) == []


@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_escaped_children_die_when_the_run_ends(
    runs: list[Run], tmp_path: Path, escape: str
) -> None:
    run = start_run(runs, tmp_path, notebook_text(escape, then_wait=False))
    code = run.process.wait(timeout=120)
    assert code == 0, run.stderr_text()
    escaped, plain = run.pid_of("escaped.pid", 5), run.pid_of("plain.pid", 5)

    assert wait_all_gone([escaped, plain], 5) == []
    assert tagged_in(run.runtime) == []
    assert runtime_files(run) == []


def test_sigkilled_watchdog_is_a_dead_kernel_and_leaves_nothing(
    runs: list[Run], tmp_path: Path
) -> None:
    run = start_run(runs, tmp_path, notebook_text("double_fork", then_wait=True))
    escaped, plain = run.pid_of("escaped.pid"), run.pid_of("plain.pid")
    run.wait_waiting()
    entry = run.entry()
    watchdog = int(entry["pgid"])
    os.kill(watchdog, signal.SIGKILL)

    code = run.process.wait(timeout=20)
    output = run.output_text()
    assert code == 1, output
    assert "The kernel died while running this cell" in output
    assert "the kernel's watchdog was killed by SIGKILL" in output
    assert "Traceback" not in output and "Event loop is closed" not in output
    assert wait_all_gone([escaped, plain, int(entry["kernel_pid"]), watchdog], 5) == []
    assert tagged_in(run.runtime) == []
    assert runtime_files(run) == []


def test_what_a_sigkilled_owner_and_watchdog_leave_ls_shows_and_cleans(
    runs: list[Run], tmp_path: Path
) -> None:
    run = start_run(runs, tmp_path, notebook_text("double_fork", then_wait=True))
    escaped, plain = run.pid_of("escaped.pid"), run.pid_of("plain.pid")
    run.wait_waiting()
    entry = run.entry()
    kernel, watchdog = int(entry["kernel_pid"]), int(entry["pgid"])
    # Both at once: neither can clean up after the other.
    os.kill(run.process.pid, signal.SIGSTOP)
    os.kill(watchdog, signal.SIGKILL)
    os.kill(run.process.pid, signal.SIGKILL)
    run.process.wait(timeout=10)
    # The kernel dies with its watchdog (PR_SET_PDEATHSIG); the cell's children
    # have nobody left to end them.
    assert wait_all_gone([kernel], 5) == []
    assert process_alive(escaped) and process_alive(plain)

    listing = cli("ls", cwd=tmp_path, env=run.env)
    assert listing.returncode == 0, listing.stderr
    assert "orphan" in listing.stdout, listing.stdout
    assert str(escaped) in listing.stdout and str(plain) in listing.stdout
    assert "sessions ls --clean" in listing.stderr
    rows = json.loads(cli("ls", "--json", cwd=tmp_path, env=run.env).stdout)
    [orphan] = [row for row in rows if row["state"] == "orphan"]
    assert orphan["owner_pid"] == run.process.pid
    assert {escaped, plain} <= {p["pid"] for p in orphan["processes"]}
    assert orphan["connection_file"] == entry["connection_file"]
    assert process_alive(escaped), "listing must not kill anything"

    cleaned = cli("ls", "--clean", cwd=tmp_path, env=run.env)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "cleaned" in cleaned.stdout, cleaned.stdout
    assert wait_all_gone([escaped, plain], 5) == []
    assert tagged_in(run.runtime) == []
    assert runtime_files(run) == []
    after = cli("ls", cwd=tmp_path, env=run.env)
    assert "orphan" not in after.stdout and "orphan" not in after.stderr


def test_the_kernel_carries_the_tag_and_the_run_does_not(runs: list[Run], tmp_path: Path) -> None:
    run = start_run(runs, tmp_path, notebook_text("start_new_session", then_wait=True))
    escaped = run.pid_of("escaped.pid")
    run.wait_waiting()
    entry = run.entry()
    tag = process_tag(escaped)
    assert tag is not None and tag.endswith(":" + str(entry["connection_file"]))
    assert tag.startswith(f"{run.process.pid}:")
    assert process_tag(run.process.pid) is None
    assert TAG_VARIABLE not in os.environ


def test_ls_cleans_left_over_files_but_not_those_in_use(tmp_path: Path) -> None:
    """Connection files and sockets with no process (an owner and its watchdog
    SIGKILLed before they removed them) are orphans; a file a live process
    names, or one just written (its kernel is about to start), is not."""
    env = cli_env(tmp_path)
    folder = tmp_path / "rt" / "sessions-kernels"
    folder.mkdir(parents=True)
    old = time.time() - 60
    left = [folder / "kernel-0123456789abcdef.json", folder / "kernel-0123456789abcdef-5"]
    used = folder / "kernel-fedcba9876543210.json"
    fresh = folder / "kernel-00000000000000ff.json"
    for path in [*left, used, fresh]:
        path.write_text("{}")
        if path is not fresh:
            os.utime(path, (old, old))
    # Names the file on its command line, like a kernel of an older version (no tag).
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)", str(used)])
    try:
        rows = json.loads(cli("ls", "--json", cwd=tmp_path, env=env).stdout)
        [orphan] = rows
        assert orphan["state"] == "orphan" and orphan["processes"] == []
        assert orphan["files"] == [str(p) for p in left]

        cleaned = cli("ls", "--clean", cwd=tmp_path, env=env)
        assert cleaned.returncode == 0, cleaned.stderr
        assert "removed 2 file(s)" in cleaned.stdout
        assert sorted(folder.iterdir()) == sorted([used, fresh, folder / "registry"])
        assert process_alive(holder.pid)
    finally:
        holder.kill()
        holder.wait()
