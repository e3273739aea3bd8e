"""``sessions run`` and the files around its sidecar, through the real CLI on
real kernels (issue 11, item 7): a read-only sidecar, a lock held by a stopped
process, a symlinked notebook, run ids at TOML's integer limit, a notebook
name near the 255-byte limit; and, found in QA, a sidecar that cannot be written
or was corrupted, seen from ``run``, ``status`` and ``watch``. Every kernel is
checked gone."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from sessions.cache.sidecar import lock_path
from tests.support.cli import Watch, cli, cli_env, kernel_processes

pytestmark = pytest.mark.kernel

INT64_MAX = 2**63 - 1

TWO_CELLS = """\
# %% a
x = 1
print("a", x)

# %% b
y = 2
print("b", y)
"""


def no_kernels_left(tmp_path: Path) -> bool:
    deadline = time.monotonic() + 10
    while kernel_processes(tmp_path / "rt"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def statuses(tmp_path: Path, name: str) -> list[str]:
    result = cli("status", name, "--json", cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    return [cell["status"] for cell in json.loads(result.stdout)["cells"]]


def test_run_with_a_read_only_sidecar_exits_2_and_leaves_it(tmp_path: Path) -> None:
    """Issue 11: docs/cli.md promised exit 2 for a read-only sidecar, but the
    rename replaced it silently."""
    env = cli_env(tmp_path)
    (tmp_path / "nb.py").write_text(TWO_CELLS)
    assert cli("run", "nb.py", cwd=tmp_path, env=env).returncode == 0
    sidecar = tmp_path / "nb.sessions.toml"
    sidecar.chmod(0o444)
    before = sidecar.read_bytes()
    (tmp_path / "nb.py").write_text(TWO_CELLS.replace("y = 2", "y = 3"))

    result = cli("run", "nb.py", cwd=tmp_path, env=env)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "cannot write" in line]
    assert "nb.sessions.toml is read-only" in line and "chmod u+w" in line
    assert sidecar.read_bytes() == before and sidecar.stat().st_mode & 0o777 == 0o444
    assert no_kernels_left(tmp_path)


HOLDER = """\
import os, signal, sys
from pathlib import Path
from sessions.cache.filelock import advisory_lock
from sessions.cache.sidecar import lock_path

with advisory_lock(lock_path(Path(sys.argv[1]))):
    print("locked", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)
"""


def test_run_while_a_stopped_process_holds_the_lock_names_it_and_gives_up(
    tmp_path: Path,
) -> None:
    """Issue 11: a writer suspended with Ctrl-Z made `sessions run` wait forever
    with no message."""
    env = cli_env(tmp_path)
    env["SESSIONS_LOCK_TIMEOUT"] = "4"
    (tmp_path / "nb.py").write_text(TWO_CELLS)
    sidecar = tmp_path / "nb.sessions.toml"
    script = tmp_path / "suspended_writer.py"
    script.write_text(HOLDER)
    holder = subprocess.Popen(
        [sys.executable, str(script), str(sidecar)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        result = cli("run", "nb.py", cwd=tmp_path, env=env)
        waited = time.monotonic() - started
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        holder.wait(timeout=10)

    assert result.returncode == 2, result.stdout + result.stderr
    assert waited < 60
    assert "Traceback" not in result.stderr
    pid = holder.pid
    notice = next(line for line in result.stderr.splitlines() if "is locked by" in line)
    assert re.search(rf"process {pid} \(.*suspended_writer\.py.*\), which is stopped", notice)
    assert f"kill -CONT {pid}" in notice and "waiting up to 4 s" in notice
    failure = result.stderr.splitlines()[-1]
    assert failure.startswith("sessions: cannot write the output cache")
    assert "gave up after 4 s" in failure and f"process {pid}" in failure
    assert not sidecar.exists()
    assert no_kernels_left(tmp_path)
    # Once the holder is gone, runs work again.
    assert cli("run", "nb.py", cwd=tmp_path, env=cli_env(tmp_path)).returncode == 0


def test_a_symlinked_notebook_keeps_its_outputs_beside_the_real_file(tmp_path: Path) -> None:
    """Issue 11: the sidecar went beside the link, so each link had its own
    outputs and the real notebook none."""
    env = cli_env(tmp_path)
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "nb.py").write_text(TWO_CELLS)
    (elsewhere / "alias.py").symlink_to(project / "nb.py")
    (tmp_path / "other.py").symlink_to("elsewhere/alias.py")

    result = cli("run", "elsewhere/alias.py", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert "outputs cached in nb.sessions.toml" in result.stdout
    assert sorted(p.name for p in project.iterdir()) == ["nb.py", "nb.sessions.toml"]
    assert sorted(p.name for p in elsewhere.iterdir()) == ["alias.py"]
    assert statuses(tmp_path, "other.py") == ["fresh", "fresh"]  # another link: same outputs
    assert statuses(project, "nb.py") == ["fresh", "fresh"]
    assert no_kernels_left(tmp_path)


def test_run_ids_at_the_toml_limit_are_renumbered_and_nothing_goes_stale(
    tmp_path: Path,
) -> None:
    """Issue 11: with `run_counter = 2^63-1` a run wrote run ids TOML cannot hold."""
    env = cli_env(tmp_path)
    (tmp_path / "nb.py").write_text(TWO_CELLS)
    assert cli("run", "nb.py", cwd=tmp_path, env=env).returncode == 0
    sidecar = tmp_path / "nb.sessions.toml"
    text = sidecar.read_text()
    text = re.sub(r"(?m)^run_counter = \d+$", f"run_counter = {INT64_MAX}", text)
    text = re.sub(r"(?m)^run = 1$", f"run = {INT64_MAX - 5}", text)
    text = re.sub(r"(?m)^run = 2$", f"run = {INT64_MAX}", text)
    sidecar.write_text(text)
    (tmp_path / "nb.py").write_text(TWO_CELLS.replace("y = 2", "y = 4"))

    result = cli("run", "nb.py", "--cell", "1", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert "renumbered" in result.stderr and str(INT64_MAX) in result.stderr
    document = tomllib.loads(sidecar.read_text())
    assert document["run_counter"] <= 10
    runs = [(cell["index"], cell["run"]) for cell in document["cells"]]
    assert runs[0] == (0, 1) and runs[1][0] == 1 and 1 < runs[1][1] <= 10
    assert statuses(tmp_path, "nb.py") == ["fresh", "fresh"]
    assert no_kernels_left(tmp_path)


def test_run_a_notebook_with_a_243_byte_name(tmp_path: Path) -> None:
    """Issue 11: the temporary sidecar name exceeded 255 bytes and the message
    suggested fixing permissions."""
    env = cli_env(tmp_path)
    name = "n" * 240 + ".py"
    (tmp_path / name).write_text(TWO_CELLS)

    result = cli("run", name, cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "rt") == [
        name,
        "n" * 240 + ".sessions.toml",
    ]
    assert statuses(tmp_path, name) == ["fresh", "fresh"]
    assert lock_path(tmp_path / ("n" * 240 + ".sessions.toml")).parent != tmp_path
    assert no_kernels_left(tmp_path)


TWO_CHAINED_CELLS = """\
# %% a
x = 1
print("a", x)

# %% b
y = x + 1
print("b", y)
"""


def test_run_with_a_sidecar_it_cannot_write_exits_2_with_a_fix_and_no_traceback(
    tmp_path: Path,
) -> None:
    """QA: a sidecar that cannot be written, seen from the CLI.

    Found as a user: ``sessions run`` with a sidecar that is a directory (or an
    immutable file, or in a read-only folder) died with a Python traceback.
    Real CLI process and real kernel; every kernel is checked gone."""
    env = cli_env(tmp_path)
    (tmp_path / "nb.py").write_text(TWO_CHAINED_CELLS)
    (tmp_path / "nb.sessions.toml").mkdir()  # in the way of the cache file

    result = cli("run", "nb.py", cwd=tmp_path, env=env)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "cannot write" in line]
    assert len(error_lines) == 1
    assert "nb.sessions.toml" in error_lines[0]
    assert "rename or remove" in error_lines[0]
    assert kernel_processes(tmp_path / "rt") == []


def test_status_with_a_directory_in_place_of_the_sidecar_does_not_advise_chmod(
    tmp_path: Path,
) -> None:
    """QA: a sidecar that cannot be written, seen from the CLI: when a directory is
    in its place, ``sessions status`` says so (changing permissions would not help)."""
    env = cli_env(tmp_path)
    (tmp_path / "nb.py").write_text(TWO_CHAINED_CELLS)
    (tmp_path / "nb.sessions.toml").mkdir()

    result = cli("status", "nb.py", "--json", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    (problem,) = json.loads(result.stdout)["problems"]
    assert "is a directory" in problem
    assert "chmod" not in problem


def test_watch_reports_a_corrupt_sidecar_at_start_and_mid_session_and_leaves_it(
    tmp_path: Path, watches: Callable[..., Watch]
) -> None:
    """QA: a sidecar that was corrupted, seen from the CLI.

    Found as a user: ``sessions watch`` did not say that a corrupt cache had been
    moved to ``.bak``. A watch without --autorun only reads: it says what is
    wrong and renames nothing. Real CLI process."""
    env = cli_env(tmp_path)
    (tmp_path / "nb.py").write_text(TWO_CHAINED_CELLS)
    (tmp_path / "nb.sessions.toml").write_text("not [[ toml\n")

    watch = watches(tmp_path, env, "nb.py")
    before = watch.expect(r"^watching nb\.py")
    assert any("nb.sessions.toml could not be used" in line for line in before), before

    (tmp_path / "nb.sessions.toml").write_text("still not [[ toml\n")
    watch.expect(r"nb\.sessions\.toml could not be used")
    code, _rest = watch.stop()
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir() if "sessions.toml" in p.name) == [
        "nb.sessions.toml"
    ]
    assert (tmp_path / "nb.sessions.toml").read_text() == "still not [[ toml\n"


def test_watch_autorun_keeps_watching_when_the_sidecar_cannot_be_written(
    tmp_path: Path, watches: Callable[..., Watch]
) -> None:
    """QA: a sidecar that cannot be written, seen from ``sessions watch --autorun``:
    it says what to fix, keeps watching, and runs again once the user fixed it, with
    no Python traceback. Real CLI process and real kernel; every kernel is checked gone."""
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    path.write_text(TWO_CHAINED_CELLS)
    blocker = tmp_path / "nb.sessions.toml"
    blocker.mkdir()

    watch = watches(tmp_path, env, "nb.py", "--autorun")
    watch.expect(r"cannot write the output cache .*rename or remove")
    # The user fixes it and saves again: the watch is still alive and runs.
    blocker.rmdir()
    path.write_text(TWO_CHAINED_CELLS + "\n# %% c\nprint('c ran')\n")
    watch.expect(r"^ran \d+ cell\(s\); outputs cached in nb\.sessions\.toml")
    code, rest = watch.stop()
    assert code == 0, rest
    assert not any("Traceback" in line for line in watch.seen + rest)
    assert kernel_processes(tmp_path / "rt") == []
