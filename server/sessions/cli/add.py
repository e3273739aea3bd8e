"""``sessions add NB PACKAGE...``: add dependencies to a notebook's ``# /// script`` block.

uv's own ``uv add --script`` does the editing (it resolves each package to
write a version bound, and formats the list as uv users expect), but it is
given the block alone, in a file of its own: uv reads LF-only blocks and
places a new one above everything, which would miss a CRLF notebook's block
and push a block above a Jupytext header. So this verb finds the block (or
puts an empty one at the top of the preamble), lets uv edit that copy, and
puts the result back in place. Every byte outside the block is kept, the
notebook is replaced atomically, and nothing is written when uv fails or the
file changed meanwhile.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from sessions.cache.atomic import describe_write_error, write_atomic
from sessions.cli.common import fail
from sessions.format.files import NotebookReadError, read_notebook_text
from sessions.format.notebook import parse
from sessions.format.script_block import (
    ScriptBlockError,
    find_blocks,
    notebook_script_block,
    preamble_block_span,
    with_block_replaced,
    with_empty_script_block,
)
from sessions.kernel.script_env import shown_path
from sessions.kernel.uv import UvMissing, find_uv, run_uv


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "add", help="add packages to the notebook's PEP 723 `# /// script` block (with uv)"
    )
    parser.add_argument("notebook", help="the notebook .py file")
    parser.add_argument(
        "packages",
        nargs="+",
        metavar="PACKAGE",
        help='a requirement: a name, optionally with a version ("pandas", "pandas>=2")',
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.notebook)
    try:
        text = read_notebook_text(path)
    except NotebookReadError as exc:
        return fail(str(exc))
    try:
        block, misplaced = notebook_script_block(parse(text))
    except ScriptBlockError as exc:
        return fail(f"{path.name}: {exc}. Fix the block first; nothing was changed")
    if misplaced is not None:
        return fail(
            f"{path.name}: the `# /// script` block is in cell {misplaced}, not in the preamble "
            "(before the first `# %%`), where Sessions reads it. Move it there first"
        )
    working = text if block is not None else with_empty_script_block(text)
    span = preamble_block_span(working)
    if span is None:  # with_empty_script_block always makes one: a bug if not
        return fail(f"{path.name}: could not place a `# /// script` block; nothing was changed")
    try:
        edited = _uv_add(working[span[0] : span[1]], args.packages, path.absolute().parent)
    except _AddFailed as exc:
        return fail(f"{exc} ({path.name} is unchanged)")
    result = with_block_replaced(working, span, edited)
    try:
        now = read_notebook_text(path)
    except NotebookReadError as exc:
        return fail(str(exc))
    if now != text:
        return fail(f"{path.name} changed while the packages were added; run the command again")
    try:
        write_atomic(path, result.encode("utf-8"))
    except OSError as exc:
        return fail(describe_write_error(path, exc))
    after, _ = notebook_script_block(parse(result))
    listed = ", ".join(after.dependencies) if after is not None else ""
    print(f"{path.name}: dependencies = [{listed}]")
    print(
        f"the next run builds its environment (or now: sessions env {shown_path(path)} --refresh)",
        file=sys.stderr,
    )
    return 0


class _AddFailed(Exception):
    """uv could not add the packages; the message says what uv said."""


def _uv_add(block: str, packages: list[str], cwd: Path) -> str:
    """``block`` after ``uv add --script`` added ``packages`` to it (LF endings)."""
    try:
        uv = find_uv()
    except UvMissing as exc:
        raise _AddFailed(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="sessions-add-") as folder:
        script = Path(folder) / "block.py"
        script.write_text(block.replace("\r\n", "\n") + "\n", encoding="utf-8", newline="")
        # In the notebook's folder: uv's settings there (an index) apply.
        added = run_uv(uv, ["add", "--script", str(script), "--", *packages], cwd=cwd)
        if not added.ok:
            raise _AddFailed(f"uv could not add {' '.join(packages)}: {added.error()}")
        edited = script.read_text(encoding="utf-8")
    blocks = [b for b in find_blocks(edited) if b.type == "script"]
    if len(blocks) != 1 or edited[: blocks[0].start].strip() or edited[blocks[0].end :].strip():
        raise _AddFailed("uv did not return one `# /// script` block")
    return edited[blocks[0].start : blocks[0].end]
