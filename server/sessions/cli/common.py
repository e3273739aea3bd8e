"""Helpers shared by CLI verbs: loading a notebook with a one-line error on bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessions.analysis.snapshot import Snapshot, load_snapshot
from sessions.format.files import NotebookReadError

if TYPE_CHECKING:
    import argparse

    from sessions.kernel.registry import SessionEntry
    from sessions.kernel.remote import RemoteServer


class CliError(Exception):
    """A usage or setup problem: printed as one line on stderr, exit code 2."""


def load_or_fail(path: str) -> Snapshot:
    try:
        return load_snapshot(Path(path))
    except NotebookReadError as exc:
        raise CliError(str(exc)) from exc


def report_problems(snapshot: Snapshot) -> None:
    for problem in snapshot.problems:
        print(f"sessions: {problem}", file=sys.stderr)


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def human_size(count: int) -> str:
    """``80000639`` -> ``76.3 MB`` (powers of 1024, as ``ls -h``)."""
    if count < 1024:
        return f"{count} B"
    value = float(count) / 1024
    units = ["KB", "MB", "GB", "TB"]
    while value >= 1024 and len(units) > 1:
        value /= 1024
        units.pop(0)
    return f"{value:.1f} {units[0]}"


def fail(message: str) -> int:
    print(f"sessions: {message}", file=sys.stderr)
    return 2


def add_remote_arguments(parser: argparse.ArgumentParser, *, server: bool = True) -> None:
    """``--server``, ``--token-file``, ``--kernel-name``, ``--ca-bundle`` (docs/cli.md)."""
    group = parser.add_argument_group("remote kernels (docs/cli.md)")
    if server:
        group.add_argument(
            "--server",
            metavar="URL",
            help="run the kernel on this Jupyter Server or Enterprise Gateway "
            "(default: [tool.sessions] server in pyproject.toml, else a local kernel)",
        )
        group.add_argument(
            "--kernel-name", metavar="NAME", help="kernelspec on the server (default: python3)"
        )
    group.add_argument(
        "--token-file",
        metavar="FILE",
        help="file holding the server's token (default: the JUPYTER_TOKEN environment variable)",
    )
    group.add_argument(
        "--ca-bundle", metavar="FILE", help="certificate authorities to trust for https (PEM)"
    )


def remote_server_of(
    args: argparse.Namespace, notebook: Path | None, url: str | None = None
) -> RemoteServer | None:
    """The Jupyter server of ``url``, ``--server`` or ``[tool.sessions] server``
    with the token options of ``args`` (None: local kernels)."""
    from sessions.run.kernel_factory import remote_server_for

    return remote_server_for(
        notebook,
        url or getattr(args, "server", None),
        token_file=args.token_file,
        kernel_name=getattr(args, "kernel_name", None),
        ca_bundle=args.ca_bundle,
    )


def refuse_remote(entry: SessionEntry, verb: str) -> int | None:
    """An error for the verbs a session on a Jupyter server does not support yet."""
    if entry.server is None:
        return None
    return fail(
        f"session {entry.label()} runs on the Jupyter server {entry.server}; `sessions {verb}` "
        "works on local sessions only (use the server's own tools, or `sessions stop`)"
    )
