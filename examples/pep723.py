"""A notebook that brings its own environment (PEP 723).

The block below says what the cells need. `sessions run examples/pep723.py`
(or Run in the editor) has uv build an environment from it the first time,
with ipykernel added, in ~/.cache/sessions/envs/, and runs the kernel there:
nothing to install by hand, and no `.venv` nearby is used. Later runs reuse
it. `sessions env examples/pep723.py` shows it; `sessions add
examples/pep723.py PACKAGE` adds to the block. Needs PyPI the first time.
"""
# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "text-unidecode==1.3",
# ]
# ///

import sys

# %% Titles
titles = ["Café à la carte", "Ærø Øresund", "Straße nach Zürich", "Ελληνικά"]

# %% Slugs
# text_unidecode is not in Sessions' environment: it comes from the block's.
from text_unidecode import unidecode


def slug(title: str) -> str:
    words = unidecode(title).lower().split()
    return "-".join("".join(c for c in word if c.isalnum()) for word in words)


slugs = {title: slug(title) for title in titles}
for title, made in slugs.items():
    print(f"{title!r:26} -> {made}")

# %% Where it ran
print("kernel Python:", sys.executable)
