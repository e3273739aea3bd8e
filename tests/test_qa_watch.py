"""QA: ``sessions watch --autorun`` while an agent edits the cell that is running.

Found as a user: saving a change to a cell while autorun was running it left
the cell ``edited`` for good; the save was taken as already seen because the
watch compared the next change with the file as it was after the run.
Real CLI process, real watchfiles, real kernel.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from tests.cli_support import Watch, cli, cli_env, kernel_processes

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
