"""``sessions env NB [--refresh] [--json]``: the environment of a notebook's ``# /// script`` block.

Shows the block, the environment folder it maps to, whether that is built,
its interpreter, the packages in it (``uv pip list``), and which Python the
kernel really uses (a setting or ``[tool.sessions] python`` comes first).
Without ``--refresh`` it only reads. ``--refresh`` builds the environment
again, with uv's whole output on stderr, and replaces the old one once the
new one is complete; it refuses while a kernel runs in the old one, since
moving an environment from under a running Python breaks its imports.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from sessions.cli.common import fail, print_json
from sessions.format.files import NotebookReadError, read_notebook_text
from sessions.kernel.errors import KernelSetupError
from sessions.kernel.interpreter import resolve_python
from sessions.kernel.script_env import (
    BrokenScriptBlock,
    ScriptEnv,
    build,
    installed_packages,
    lookup,
    shown_path,
)


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "env", help="show (or --refresh) the environment of the notebook's `# /// script` block"
    )
    parser.add_argument("notebook", help="the notebook .py file")
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="build the environment again (new releases, a broken env; uv's output on stderr)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output (docs/cli.md)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.notebook)
    try:
        read_notebook_text(path)  # one clear message for a bad file
    except NotebookReadError as exc:
        return fail(str(exc))
    found = lookup(path)
    if isinstance(found.env, BrokenScriptBlock):
        return fail(f"{path.name}: {found.env.problem}. Fix the `# /// script` block")
    env = found.env
    if env is None and args.refresh:
        return fail(
            f"{path.name} has no `# /// script` block to build an environment from; add "
            f"one with `sessions add {shlex.quote(shown_path(path))} PACKAGE`"
        )
    if env is not None and args.refresh:
        problem = _refresh(env)
        if problem is not None:
            return fail(problem)
    resolved = resolve_python(path)
    if args.json:
        print_json(_payload(path.name, env, resolved.path, resolved.reason))
        return 0
    if env is None:
        print(f"{path.name} has no `# /// script` block (PEP 723).")
        if found.warning():
            print(f"note: {found.warning()}")
        print(f"kernel: {resolved.path} ({resolved.reason})")
        print(f"add dependencies with: sessions add {shlex.quote(shown_path(path))} PACKAGE")
        return 0
    _print_env(env, resolved.path, resolved.reason)
    return 0


def _refresh(env: ScriptEnv) -> str | None:
    """Build ``env`` again; the error to show, if any."""
    from sessions.kernel.registry import Registry

    users = [
        entry
        for entry in Registry().entries()
        if entry.server is None and entry.python == str(env.python)
    ]
    if users:
        listed = ", ".join(entry.label() for entry in users)
        return (
            f"{len(users)} kernel(s) run in this environment ({listed}); stop them first "
            "(sessions ls, sessions stop NB), then refresh"
        )
    try:
        build(
            env, lambda line: print(f"sessions: {line}", file=sys.stderr, flush=True), refresh=True
        )
    except KernelSetupError as exc:
        return exc.message
    return None


def _python_version(env: ScriptEnv) -> str | None:
    """The environment's Python version, from its ``pyvenv.cfg`` (no process started)."""
    try:
        lines = (env.folder / "pyvenv.cfg").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version"):
            return value.strip()
    return None


def _print_env(env: ScriptEnv, kernel_python: str, kernel_reason: str) -> None:
    block = env.block
    print(
        f"{env.notebook.name}: `# /// script` block at line {block.start_line + 1} ({block.summary()})"
    )
    for line in block.text.splitlines():
        print(f"  {line}")
    marker = env.marker() if env.built else None
    if env.built:
        when = f" {marker['built']}" if marker and marker.get("built") else ""
        print(f"environment: {shown_path(env.folder)} (built{when})")
        version = _python_version(env)
        print(f"interpreter: {env.python}" + (f" (Python {version})" if version else ""))
    else:
        hint = f"sessions env {shlex.quote(shown_path(env.notebook))} --refresh"
        print(
            f"environment: {shown_path(env.folder)} (not built yet: the first run, or {hint}, builds it)"
        )
        print(f"interpreter: {env.python} (once built)")
    if kernel_python != str(env.python):
        print(f"kernel: {kernel_python} ({kernel_reason}): it comes before the block")
    if not env.built:
        return
    packages = installed_packages(env)
    if isinstance(packages, str):
        print(f"packages: cannot be listed: {packages}")
        return
    print(f"packages ({len(packages)}):")
    for name, version in packages:
        print(f"  {name} {version}")


def _payload(
    notebook: str, env: ScriptEnv | None, kernel_python: str, kernel_reason: str
) -> dict[str, Any]:
    """The ``--json`` shape (docs/cli.md)."""
    payload: dict[str, Any] = {
        "notebook": notebook,
        "block": None,
        "environment": None,
        "kernel": {"python": kernel_python, "reason": kernel_reason},
    }
    if env is None:
        return payload
    payload["block"] = {
        "line": env.block.start_line,
        "text": env.block.text,
        "requires_python": env.block.requires_python,
        "dependencies": list(env.block.dependencies),
    }
    marker = env.marker() if env.built else None
    packages = installed_packages(env) if env.built else None
    payload["environment"] = {
        "path": str(env.folder),
        "python": str(env.python),
        "built": env.built,
        "built_at": marker.get("built") if marker else None,
        "python_version": _python_version(env) if env.built else None,
        "packages": (
            [{"name": n, "version": v} for n, v in packages] if isinstance(packages, list) else None
        ),
        "used_by_kernel": kernel_python == str(env.python),
    }
    return payload
