"""Widgets in a Sessions notebook: a slider that re-runs what reads it, and a progress bar.

Needs: ipywidgets >= 8 and tqdm (pip install ipywidgets tqdm) in the kernel's
environment, and Sessions for `sessions.bind` (or set `_sessions_bind = True`
on the widget by hand).

Open it in VS Code as a notebook (Sessions: Open as Notebook) and move the
slider: the cells that use `bins.value` run again at once; the cell that made
the slider does not. In a terminal, `sessions run examples/widgets.py` shows
the progress bar as a text bar and each widget as its value.
"""

import random
import time

import ipywidgets as widgets
from tqdm.auto import tqdm

import sessions

# %% The data
random.seed(7)
samples = []
for _ in tqdm(range(40), desc="sampling"):
    samples.extend(random.gauss(0, 1) for _ in range(250))
    time.sleep(0.01)

# %% A control
# `sessions.bind`: moving this slider re-runs the cells that read `bins`.
bins = sessions.bind(widgets.IntSlider(value=8, min=2, max=20, description="bins"))
bins

# %% A histogram that follows the slider
low, high = min(samples), max(samples)
width = (high - low) / bins.value
counts = [0] * bins.value
for value in samples:
    counts[min(int((value - low) / width), bins.value - 1)] += 1
for index, count in enumerate(counts):
    start = low + index * width
    print(f"{start:6.2f} {'█' * (count // 80)}")

# %% What follows from it
busiest = max(range(bins.value), key=counts.__getitem__)
print(f"the busiest of {bins.value} bins starts at {low + busiest * width:.2f}")
