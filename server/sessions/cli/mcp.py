"""``sessions mcp``: serve notebooks to AI agents over the Model Context Protocol (stdio).

Run by an agent tool (Claude Code, Cursor, VS Code...), not by hand: it reads
JSON-RPC on stdin and writes it on stdout. Paths in tool calls are relative to
``--root`` (default: the current folder). See docs/agents.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sessions.cli.common import fail


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "mcp", help="serve notebooks to AI agents as MCP tools over stdio (docs/agents.md)"
    )
    parser.add_argument(
        "--root", metavar="DIR", default=".", help="folder notebook paths are relative to"
    )
    parser.add_argument(
        "--python", metavar="PATH", help="interpreter for kernels (overrides project settings)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).absolute()
    if not root.is_dir():
        return fail(f"{args.root}: not a folder")
    try:
        import anyio

        from sessions.mcp.server import serve
    except ImportError as exc:
        return fail(f"the MCP server needs the `mcp` package ({exc}); install it: pip install mcp")
    anyio.run(serve, root, args.python)
    return 0
