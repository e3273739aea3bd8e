"""The reference notebook of DESIGN §9: ~5,000 lines in 250 cells of realistic code.

Deterministic (seeded), so every run and every benchmark measure the same text.
Cells chain through names the way analysis notebooks do: load, clean, derive,
aggregate, plot-like reporting, helper functions, classes, markdown notes.
"""

from __future__ import annotations

import random

CELLS = 250
TARGET_LINES = 5000


def _code_cell(rng: random.Random, i: int, names: list[str], tag: str = "") -> list[str]:
    kind = i % 5
    used = rng.sample(names, k=min(3, len(names))) if names else []
    new = f"frame_{tag}{i}"
    lines: list[str] = [f"# %% Step {tag}{i}"]
    if kind == 0:
        lines += [
            f"def summarize_{tag}{i}(rows, key='value', *, scale=1.0):",
            '    """Group rows by key and return rounded means."""',
            "    groups = {}",
            "    for row in rows:",
            "        groups.setdefault(row[key] % 7, []).append(row['value'] * scale)",
            "    result = {k: round(sum(v) / len(v), 3) for k, v in groups.items() if v}",
            "    return dict(sorted(result.items()))",
            "",
        ]
        lines += [f"{new} = summarize_{tag}{i}([{{'value': v}} for v in range({i}, {i} + 40)])"]
    elif kind == 1:
        lines += [f"{new} = []", f"for n in range({i % 17 + 5}):"]
        lines += [f"    {new}.append({{'value': n * {i}, 'label': f'item-{{n}}'}})"]
        for name in used:
            lines += [f"    if len(str({name})) > n:", f"        {new}[-1]['extra'] = n"]
    elif kind == 2:
        lines += [
            f"class Model{tag}{i}:",
            f'    """A small model fitted on {used[0] if used else "nothing"}."""',
            "",
        ]
        lines += ["    def __init__(self, data):", "        self.data = list(data)", ""]
        lines += [
            "    def fit(self):",
            "        total = sum(len(str(d)) for d in self.data)",
            "        return total / max(len(self.data), 1)",
            "",
        ]
        lines += [f"{new} = Model{tag}{i}([{', '.join(used) or '0'}]).fit()"]
    elif kind == 3:
        lines += [f"{new} = {{"]
        for j, name in enumerate(used):
            lines += [f"    'k{j}': len(str({name})),"]
        lines += ["}", f"{new}.update(total=sum({new}.values()))"]
        if used:
            lines += [f"{used[0]} = {used[0]}  # redefinition keeps the value"]
    else:
        lines += [f"values_{tag}{i} = [x ** 2 for x in range({i % 23 + 3}) if x % 3]"]
        lines += [
            f"{new} = (min(values_{tag}{i}), max(values_{tag}{i}), sum(values_{tag}{i}) / len(values_{tag}{i}))"
        ]
        for name in used:
            lines += [f"print({name!r}, type({name}).__name__)"]
    names.append(new)
    return lines


def reference_notebook(
    cells: int = CELLS, target_lines: int = TARGET_LINES, seed: int = 7, tag: str = ""
) -> str:
    """The notebook text. ``tag`` goes into every name, cell title and heading,
    so notebooks with different tags share no cell (no cached analysis either);
    the default ``""`` is the reference notebook itself."""
    rng = random.Random(seed)
    names: list[str] = []
    out = [
        f'"""Reference notebook for Sessions benchmarks{f" ({tag})" if tag else ""}."""',
        "import math",
        "import statistics",
        "",
    ]
    for i in range(cells):
        if i % 10 == 9:
            out += [
                "# %% [markdown]",
                f"# ## Section {tag}{i // 10}",
                "#",
                "# Notes about the next steps.",
                "",
            ]
            continue
        out += _code_cell(rng, i, names, tag)
        out += [""]
    # Pad cells with comment lines to reach the target size, spread evenly.
    text_lines = out
    missing = target_lines - len(text_lines)
    if missing > 0:
        padded: list[str] = []
        per_cell = missing // cells + 1
        for line in text_lines:
            padded.append(line)
            if line.startswith("# %% Step") and missing > 0:
                take = min(per_cell, missing)
                padded += [f"# context line {k}" for k in range(take)]
                missing -= take
        text_lines = padded
    return "\n".join(text_lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(reference_notebook())
