"""A report to run with other inputs, share as HTML, and look at as a graph.

* Parameters (papermill's convention): the cell tagged ``parameters`` holds
  the defaults; ``sessions run examples/report.py -p city '"Oslo"' -p days 14``
  runs with others, and only the cells that depend on them run again.
* ``sessions export examples/report.py --to html`` writes report.html with the
  cached outputs and each cell's status; ``--only-fresh`` refuses stale ones.
* ``sessions graph examples/report.py`` prints how the cells depend on each other.

Standard library only.
"""

# %% Settings tags=["parameters"]
city = "Bergen"
days = 7
seed = 3

# %% Weather
import random

rng = random.Random(seed)
temperatures = [round(rng.gauss(9, 4), 1) for _ in range(days)]

# %% Summary
warmest = max(temperatures)
mean = sum(temperatures) / len(temperatures)
print(f"{city}: {days} days, mean {mean:.1f} °C, warmest {warmest} °C")

# %% Table
from IPython.display import HTML

rows = "".join(f"<tr><td>{day + 1}</td><td>{t}</td></tr>" for day, t in enumerate(temperatures))
HTML(f"<table><tr><th>day</th><th>°C</th></tr>{rows}</table>")
