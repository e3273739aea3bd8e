"""QA: a sidecar that cannot be written or was corrupted, seen from the CLI.

Found as a user: ``sessions run`` with a sidecar that is a directory (or an
immutable file, or in a read-only folder) died with a Python traceback;
``sessions watch`` did not say that a corrupt cache had been moved to ``.bak``.
Real CLI processes and real kernels; every kernel is checked gone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.cli_support import Watch, cli, cli_env, kernel_processes

NOTEBOOK = """\
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
    env = cli_env(tmp_path)
    (tmp_path / "nb.py").write_text(NOTEBOOK)
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
    env = cli_env(tmp_path)
    (tmp_path / "nb.py").write_text(NOTEBOOK)
    (tmp_path / "nb.sessions.toml").mkdir()

    result = cli("status", "nb.py", "--json", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    (problem,) = json.loads(result.stdout)["problems"]
    assert "is a directory" in problem
    assert "chmod" not in problem


def test_watch_reports_a_corrupt_sidecar_at_start_and_mid_session_and_leaves_it(
    tmp_path: Path, watches: Callable[..., Watch]
) -> None:
    """A watch without --autorun only reads: it says what is wrong and renames nothing."""
    env = cli_env(tmp_path)
    (tmp_path / "nb.py").write_text(NOTEBOOK)
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
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    path.write_text(NOTEBOOK)
    blocker = tmp_path / "nb.sessions.toml"
    blocker.mkdir()

    watch = watches(tmp_path, env, "nb.py", "--autorun")
    watch.expect(r"cannot write the output cache .*rename or remove")
    # The user fixes it and saves again: the watch is still alive and runs.
    blocker.rmdir()
    path.write_text(NOTEBOOK + "\n# %% c\nprint('c ran')\n")
    watch.expect(r"^ran \d+ cell\(s\); outputs cached in nb\.sessions\.toml")
    code, rest = watch.stop()
    assert code == 0, rest
    assert not any("Traceback" in line for line in watch.seen + rest)
    assert kernel_processes(tmp_path / "rt") == []
