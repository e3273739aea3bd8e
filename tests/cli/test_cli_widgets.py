"""Widgets in a terminal: ``sessions run`` shows a ``tqdm.auto`` bar as a text
bar (live on a TTY, its last state in the log), a slider as its value, never
a frozen constructor call; the sidecar keeps each widget's state."""

from __future__ import annotations

import os
import pty
import subprocess
import tomllib
from pathlib import Path

from sessions.cache.sidecar import load_sidecar, sidecar_path
from tests.support.cli import cli, cli_env, command

NOTEBOOK = """\
# %% bar
from tqdm.auto import tqdm
import time
for i in tqdm(range(50), desc="steps"):
    time.sleep(0.01)

# %% slider
import ipywidgets as widgets
widgets.IntSlider(value=4, description="n")
"""
FULL_BAR = "steps: 100%|" + "█" * 20 + "| 50/50"


def test_a_tqdm_bar_and_a_slider_as_text(tmp_path: Path) -> None:
    path = tmp_path / "w.py"
    path.write_text(NOTEBOOK)
    done = cli("run", str(path), cwd=tmp_path, env=cli_env(tmp_path))
    assert done.returncode == 0, done.stderr
    log = done.stdout + done.stderr
    assert FULL_BAR in log
    assert "    n 4\n" in log
    assert "HBox(children" not in log and "IntSlider(value" not in log

    # The sidecar keeps what the widgets looked like, for editors to show again.
    data = load_sidecar(sidecar_path(path), path.name).data
    outputs = [o for record in data.cells for o in record.outputs]
    saved = [
        o["metadata"]["application/vnd.jupyter.widget-state+json"]["state"]
        for o in outputs
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    bars = [m for state in saved for m in state.values() if m["model_name"] == "FloatProgressModel"]
    assert [bar["state"]["value"] for bar in bars] == [50]
    # Stored as JSON in the TOML, not as a string of Python reprs.
    assert tomllib.loads(sidecar_path(path).read_text())["cells"]


def test_on_a_terminal_the_bar_advances_on_the_live_line(tmp_path: Path) -> None:
    path = tmp_path / "w.py"
    path.write_text(NOTEBOOK.replace("0.01", "0.04"))
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command("run", str(path)),
        cwd=tmp_path,
        env=cli_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=60) == 0
    os.close(leader)
    screen = b"".join(chunks).decode()
    redraws = [line for line in screen.split("\r") if "cell 0 bar" in line and "steps:" in line]
    # Drawn part way, before the cell ended: a live bar, not only the final one.
    assert any("/50" in line and "50/50" not in line for line in redraws), redraws


def test_the_widgets_example_runs(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "widgets.py"
    path = tmp_path / "widgets.py"
    path.write_text(example.read_text())
    done = cli("run", str(path), cwd=tmp_path, env=cli_env(tmp_path))
    assert done.returncode == 0, done.stderr
    log = done.stdout + done.stderr
    assert "sampling: 100%|" in log and "40/40" in log
    assert "    bins 8\n" in log
    assert "the busiest of 8 bins" in log
