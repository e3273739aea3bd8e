"""Diagram text checked by real parsers: Mermaid's own (the npm package, through
``scripts/check-mermaid.mjs`` in Node) and pydot's DOT grammar."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from collections.abc import Sequence
from pathlib import Path

import pydot
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK_MERMAID = ROOT / "scripts" / "check-mermaid.mjs"


def mermaid_errors(diagrams: Sequence[str], folder: Path) -> list[str]:
    """Mermaid's parse errors for ``diagrams`` (empty: every one parses).
    One Node process for all of them: loading Mermaid takes a second."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "mermaid").is_dir():
        # ./scripts/test runs `npm ci` before pytest: missing is a broken setup, not a reason to skip.
        pytest.fail("needs Node.js and `npm ci` (node_modules/mermaid), as ./scripts/test sets up")
    files = []
    for number, text in enumerate(diagrams):
        path = folder / f"diagram-{number}.mmd"
        path.write_text(text, encoding="utf-8")
        files.append(str(path))
    result = subprocess.run(
        [node, str(CHECK_MERMAID), *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    errors = [line for line in result.stdout.splitlines() if not line.startswith("ok ")]
    if result.returncode != 0 and not errors:
        errors.append(result.stderr.strip() or f"check-mermaid exited {result.returncode}")
    return errors


def mermaid_decoded(text: str) -> str:
    """A Mermaid label with its numeric entity codes (``#34;``) turned back into characters."""
    return re.sub(r"#(\d+);", lambda match: chr(int(match.group(1))), text)


def parse_dot(text: str) -> pydot.Dot:
    """The one graph of ``text``; fails the test with pydot's message when it does not parse."""
    with warnings.catch_warnings():
        # pydot's grammar still uses pyparsing's old camelCase names.
        warnings.simplefilter("ignore", DeprecationWarning)
        graphs = pydot.graph_from_dot_data(text)
    assert graphs, f"DOT text does not parse:\n{text}"
    assert len(graphs) == 1
    return graphs[0]


def dot_unquoted(value: str) -> str:
    """A DOT attribute as pydot returns it (quoted, escaped) back to its text."""
    assert value.startswith('"') and value.endswith('"'), value
    body = value[1:-1]
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), body)
