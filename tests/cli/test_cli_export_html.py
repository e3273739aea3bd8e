"""``sessions export --to html|md|script`` and ``--only-fresh`` through the real CLI,
with real nbconvert, on outputs a real kernel produced (``sessions run``): the
report holds the table, the inline image, the error, each cell's status (a
stale marker for an edited cell and its reader, "never run" for a new cell)
and the header; it loads nothing that would hold up a reader offline; widget
state is embedded; nothing is overwritten or written when refused."""

from __future__ import annotations

import ast
import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tests.support.cli import cli, cli_env

pytestmark = pytest.mark.kernel

LAKES = """\
# %% [markdown]
# # Lakes

# %% Table
import pandas as pd

lakes = pd.DataFrame({"lake": ["Lakeside", "Mirror"], "depth": [12.5, 40.1]})
lakes

# %% Plot
# %matplotlib inline
import matplotlib.pyplot as plt

plt.figure(figsize=(2, 1.5))
plt.bar(lakes["lake"], lakes["depth"])
plt.show()

# %% Deepest
deepest = lakes["depth"].max()
print("deepest", deepest)

# %% Report
print(f"the deepest lake is {deepest} m deep")

# %% Boom
raise ValueError("no such lake")
"""

WIDGETS = """\
# %% [markdown]
# The area is $r^2 \\pi$.

# %% Slider
import ipywidgets as widgets

radius = widgets.IntSlider(value=3, description="radius")
radius
"""


def run_once(folder: Path, text: str) -> Path:
    folder.mkdir()
    path = folder / "nb.py"
    path.write_text(text)
    result = cli("run", path.name, "--allow-errors", "-q", cwd=folder, env=cli_env(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    return path


@pytest.fixture(scope="module")
def lakes_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LAKES run once on a real kernel (the tests copy it: they edit and export)."""
    return run_once(tmp_path_factory.mktemp("lakes") / "nb", LAKES)


def copy_of(run: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    shutil.copytree(run.parent, folder, ignore=shutil.ignore_patterns("rt"))
    return folder / run.name


def edited(path: Path) -> Path:
    """Cell 3 edited (3 is stale, and 4 that reads it), cell 6 new (never run)."""
    text = path.read_text().replace('lakes["depth"].max()', 'lakes["depth"].min()')
    path.write_text(text + '\n# %% Later\nlater = "not run yet"\nprint(later)\n')
    return path


def export(path: Path, *args: str) -> tuple[int, str, str]:
    result = cli("export", path.name, *args, cwd=path.parent, env=cli_env(path.parent))
    return result.returncode, result.stdout, result.stderr


def statuses(soup: BeautifulSoup) -> list[tuple[str, str]]:
    return [
        (str(div["data-sessions-status"]), div.get_text(" ", strip=True))
        for div in soup.select("div.sessions-status")
    ]


def test_html_report_holds_outputs_statuses_and_the_header(lakes_run: Path, tmp_path: Path) -> None:
    path = edited(copy_of(lakes_run, tmp_path))
    code, out, err = export(path, "--to", "html")
    assert code == 0, err
    assert out.startswith("wrote nb.html (7 cells, 5 with outputs)")
    html = (path.parent / "nb.html").read_text()
    soup = BeautifulSoup(html, "html.parser")

    # Outputs: the DataFrame's HTML table, the figure inline, the error.
    table = soup.find("table", class_="dataframe")
    assert table is not None and "Lakeside" in table.get_text()
    assert re.search(r'<img [^>]*src="data:image/png;base64,iVBOR', html)
    assert "ValueError" in html and "no such lake" in html
    assert "deepest 40.1" in html  # the edited cell's output stays, marked stale

    # Each code cell's status, under its code, in file order.
    found = statuses(soup)
    assert [status for status, _ in found] == [
        "fresh",
        "fresh",
        "edited",
        "upstream",
        "error",
        "never-run",
    ]
    assert found[0][1].startswith("✓ fresh · ran 20")
    assert found[2][1].startswith("● stale: code changed since this output · ran ")
    assert found[3][1].startswith("● stale: upstream code changed since this output: cell 3")
    assert found[4][1].startswith("✗ last run raised an error")
    assert found[5][1] == "○ never run"
    stale = soup.select("div.sessions-status.sessions-stale")
    assert len(stale) == 2

    # The header: the notebook, when its outputs were produced, by which interpreter.
    with (path.parent / "nb.sessions.toml").open("rb") as file:
        python = tomllib.load(file)["kernel"]["python"]
    header = soup.select_one("header.sessions-report")
    assert header is not None
    words = header.get_text(" ", strip=True)
    assert words.startswith("nb.py Outputs produced 20")
    assert f"by {python} (python 3." in words
    assert "✓ 2 fresh · ● 2 stale · ○ 1 never run · ✗ 1 failed" in words

    # Readable offline: no math, no widgets, so nothing to load at all.
    assert re.findall(r"<script[^>]*\ssrc=", html) == []
    assert "require.min.js" not in html and "mathjax" not in html.lower()


def test_only_fresh_refuses_with_the_list_and_writes_nothing(
    lakes_run: Path, tmp_path: Path
) -> None:
    path = edited(copy_of(lakes_run, tmp_path))

    def listing() -> list[str]:
        return sorted(p.name for p in path.parent.iterdir() if p.name != "rt")

    before = listing()
    code, out, err = export(path, "--to", "html", "--only-fresh")
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        "sessions: nb.py: not exported: 4 cell(s) not fresh (--only-fresh):",
        "  cell 3 (Deepest): edited: code changed since this output",
        "  cell 4 (Report): upstream: upstream code changed since this output: "
        "cell 3 (`deepest`) was edited",
        "  cell 5 (Boom): error: last run raised an error",
        "  cell 6 (Later): never-run: never run",
        "run them first (sessions run nb.py), or export without --only-fresh",
    ]
    assert listing() == before


def test_markdown_has_outputs_statuses_and_images_beside(lakes_run: Path, tmp_path: Path) -> None:
    path = edited(copy_of(lakes_run, tmp_path))
    code, out, err = export(path, "--to", "md")
    assert code == 0, err
    assert out.startswith("wrote nb.md (7 cells, 5 with outputs, and 1 file(s) in nb_files)")
    text = (path.parent / "nb.md").read_text()
    assert text.startswith("*`nb.py`* — outputs produced 20")
    assert "\n# Lakes\n" in text
    assert "<td>Lakeside</td>" in text
    assert "![png](nb_files/output_2_0.png)" in text
    assert (path.parent / "nb_files" / "output_2_0.png").read_bytes().startswith(b"\x89PNG")
    assert "<sub>● stale: code changed since this output · ran " in text
    assert "<sub>○ never run</sub>" in text
    assert "ValueError: no such lake" in text

    # The images are files of the export too: not overwritten without --force.
    (path.parent / "nb.md").unlink()
    code, _, err = export(path, "--to", "md")
    assert code == 2
    assert "nb_files/output_2_0.png: already exists; pass --force" in err
    assert not (path.parent / "nb.md").exists()
    assert export(path, "--to", "md", "--force")[0] == 0


def test_script_is_the_code_as_nbconvert_writes_it(lakes_run: Path, tmp_path: Path) -> None:
    path = copy_of(lakes_run, tmp_path)
    code, out, err = export(path, "--to", "script")
    assert code == 0, err
    assert out.startswith("wrote nb_script.py ")
    script = (path.parent / "nb_script.py").read_text()
    ast.parse(script)
    assert script.startswith("#!/usr/bin/env python\n")
    assert "# # Lakes" in script  # markdown as comments
    assert 'lakes = pd.DataFrame({"lake": ["Lakeside", "Mirror"]' in script
    assert "get_ipython().run_line_magic('matplotlib', 'inline')" in script
    assert "# %%" not in script and "# In[" not in script


def test_outputs_are_never_overwritten_or_the_notebook_files(
    lakes_run: Path, tmp_path: Path
) -> None:
    path = copy_of(lakes_run, tmp_path)
    assert export(path, "--to", "html")[0] == 0
    report = path.parent / "nb.html"
    report.write_text("kept")
    code, _, err = export(path, "--to", "html")
    assert (
        code == 2
        and err == f"sessions: {report.name}: already exists; pass --force to overwrite it\n"
    )
    assert report.read_text() == "kept"
    assert export(path, "--to", "html", "--force")[0] == 0
    assert report.read_text().startswith("<!DOCTYPE html>")

    sidecar = path.parent / "nb.sessions.toml"
    cached = sidecar.read_bytes()
    code, _, err = export(path, "--to", "html", "-o", sidecar.name, "--force")
    assert code == 2 and "is the notebook's output cache" in err
    code, _, err = export(path, "--to", "script", "-o", path.name, "--force")
    assert code == 2 and "is the notebook itself" in err
    assert sidecar.read_bytes() == cached


def test_widget_state_is_embedded_and_math_loads_deferred(tmp_path: Path) -> None:
    path = run_once(tmp_path / "nb", WIDGETS)
    code, _, err = export(path, "--to", "html", "--only-fresh")
    assert code == 0, err  # every cell fresh: --only-fresh lets it through
    html = (path.parent / "nb.html").read_text()
    soup = BeautifulSoup(html, "html.parser")

    state_tag = soup.find("script", type="application/vnd.jupyter.widget-state+json")
    assert state_tag is not None
    models = json.loads(state_tag.string)["state"]
    view_tag = soup.find("script", type="application/vnd.jupyter.widget-view+json")
    assert view_tag is not None
    model = models[json.loads(view_tag.string)["model_id"]]
    assert model["model_name"] == "IntSliderModel" and model["state"]["value"] == 3
    # Without the widget manager (offline, or no JavaScript) the reader sees the widget's text.
    fallback = soup.select_one("pre.sessions-widget-text")
    assert fallback is not None and fallback.get_text() == "radius 3"

    # What comes from the network (MathJax for the math, require.js for the
    # widget manager) is deferred: the page never waits for it.
    sources = soup.find_all("script", src=True)
    assert sources, "math and widgets load their scripts when online"
    assert all(tag.has_attr("defer") for tag in sources), sources
    assert any("mathjax" in tag["src"].lower() for tag in sources)
