"""The environment of a notebook's PEP 723 ``# /// script`` block, built with uv.

A notebook whose preamble has a script block runs its kernel in an
environment made from the block: its ``requires-python`` and
``dependencies``, plus ipykernel. Environments live in one folder per
dependency set (``format.script_block.env_key``) under
``$SESSIONS_ENV_DIR``, else ``envs`` in the user cache folder, so notebooks
with the same block share one and a second run builds nothing.

Finding which environment a notebook would use (:func:`lookup`) only
reads: ``sessions status`` and the editor call it. Building
(:meth:`ScriptEnv.prepare`, ``build``) happens when a kernel starts, or on
``sessions env --refresh``:

1. ``uv venv --relocatable`` into a temporary folder beside the final one,
2. ``uv pip install ipykernel DEPENDENCIES`` into it,
3. a marker file with what was built, written last,
4. a rename onto the final folder.

Only a folder with the marker counts as built, and a rename is atomic, so a
failed or killed build, or two builders at once, never leave a half
environment that a kernel uses. ``--relocatable`` is what makes the rename
safe: the scripts in ``bin/`` find their Python relative to themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sessions.format.files import NotebookReadError, read_notebook_text
from sessions.format.notebook import parse
from sessions.format.script_block import (
    ScriptBlock,
    ScriptBlockError,
    env_key,
    notebook_script_block,
)
from sessions.kernel.errors import KernelSetupError
from sessions.kernel.uv import UV_FIX, UvMissing, find_uv, read_uv, run_uv

ROOT_ENV = "SESSIONS_ENV_DIR"
"""Moves the environments (tests, CI, a bigger disk)."""
MARKER = "sessions-env.json"
"""Written last into a complete environment: without it a folder is not used."""
STALE_AGE = 3600.0
"""A temporary folder this old is a build that died (killed mid-build)."""
KERNEL_PACKAGE = "ipykernel"

Progress = Callable[[str], None]
"""Receives a line to show while an environment builds (ours, then uv's as ``uv: ...``)."""


def env_root() -> Path:
    """``$SESSIONS_ENV_DIR``, else ``envs`` in the user cache folder."""
    configured = os.environ.get(ROOT_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("sessions", appauthor=False)) / "envs"


def shown_path(path: Path) -> str:
    """``path`` as a user would type it: relative below the working folder,
    with ``~`` below the home folder, else absolute."""
    absolute = Path(path).absolute()
    with contextlib.suppress(ValueError, OSError):
        return str(absolute.relative_to(Path.cwd()))
    with contextlib.suppress(ValueError, RuntimeError):
        return str(Path("~") / absolute.relative_to(Path.home()))
    return str(absolute)


def _python_in(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@dataclass(frozen=True, slots=True)
class ScriptEnv:
    """The environment of one notebook's script block (built or not)."""

    notebook: Path
    block: ScriptBlock
    folder: Path

    @property
    def python(self) -> Path:
        return _python_in(self.folder)

    @property
    def built(self) -> bool:
        # exists() follows the link to the base interpreter: an environment
        # whose Python was uninstalled counts as not built, and is rebuilt.
        return (self.folder / MARKER).is_file() and self.python.exists()

    def reason(self) -> str:
        """Why the kernel runs this Python, for the user (``sessions status``, the editor)."""
        state = "" if self.built else ", not built yet (the first run builds it)"
        return (
            f"PEP 723 script block of {self.notebook.name}: "
            f"{self.block.summary()}; uv env at {shown_path(self.folder)}{state}"
        )

    def fix_hint(self) -> str:
        return f"sessions env {shlex.quote(shown_path(self.notebook))} --refresh"

    def prepare(self, on_progress: Progress | None = None) -> None:
        """Build the environment unless it is built; raises ``KernelSetupError``."""
        if not self.built:
            build(self, on_progress)

    def marker(self) -> dict[str, object] | None:
        """What the marker file says (when and from what it was built), if readable."""
        try:
            data = json.loads((self.folder / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class BrokenScriptBlock:
    """A preamble script block that cannot be used: a kernel start says why."""

    notebook: Path
    problem: str

    def reason(self) -> str:
        return f"the `# /// script` block of {self.notebook.name} cannot be used: {self.problem}"

    def prepare(self, on_progress: Progress | None = None) -> None:
        raise KernelSetupError(
            f"{self.notebook.name}: {self.problem}. Fix the block: the kernel's "
            "environment is built from it.",
            python="",
        )


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a notebook's file says about a script environment."""

    env: ScriptEnv | BrokenScriptBlock | None
    misplaced_cell: int | None = None
    """A cell after the preamble holding a script block, which is not used."""

    def warning(self) -> str | None:
        if self.misplaced_cell is None:
            return None
        return (
            f"the `# /// script` block in cell {self.misplaced_cell} is not used: a PEP 723 "
            "block counts in the preamble, before the first `# %%`; move it there"
        )


def lookup(notebook: Path, root: Path | None = None) -> Lookup:
    """The environment ``notebook``'s script block asks for (reads, builds nothing).

    A notebook that cannot be read has no block here: reading it reports
    that more clearly elsewhere.
    """
    try:
        text = read_notebook_text(Path(notebook))
    except NotebookReadError:
        return Lookup(None)
    path = Path(notebook).absolute()
    try:
        block, misplaced = notebook_script_block(parse(text))
    except ScriptBlockError as error:
        return Lookup(BrokenScriptBlock(path, str(error)))
    if block is None:
        return Lookup(None, misplaced)
    folder = (root if root is not None else env_root()) / env_key(block)
    return Lookup(ScriptEnv(path, block, folder))


def build(env: ScriptEnv, on_progress: Progress | None = None, *, refresh: bool = False) -> None:
    """Build ``env`` (again, with ``refresh``: uv re-checks the index too).

    Raises ``KernelSetupError`` with one message saying what uv said and
    what to do. The environment in place (if any) is untouched on failure.
    """
    say = on_progress or (lambda line: None)
    try:
        uv = find_uv()
    except UvMissing as error:
        raise KernelSetupError(str(error), python=str(env.python), fix=UV_FIX) from None
    root = env.folder.parent
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise KernelSetupError(
            f"Cannot create the folder for script environments {root}: "
            f"{error.strerror or error}. Set {ROOT_ENV} to a writable folder.",
            python=str(env.python),
        ) from None
    _sweep(root)
    started = time.monotonic()
    say(
        f"building the environment of {env.notebook.name} with uv "
        f"({env.block.summary()}) in {shown_path(env.folder)}"
    )
    temp = root / f".tmp-{env.folder.name}-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        _make(uv, env, temp, say, refresh=refresh)
        _publish(temp, env.folder, replace=refresh)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    say(f"environment of {env.notebook.name} ready ({time.monotonic() - started:.1f} s)")


def _make(uv: str, env: ScriptEnv, temp: Path, say: Progress, *, refresh: bool) -> None:
    """The complete environment, marker included, in ``temp``."""

    def relay(line: str) -> None:
        # The temporary folder is ours to know: the user sees the final one.
        say(f"uv: {line.replace(str(temp), str(env.folder))}")

    requires = env.block.requires_python
    venv = ["venv", "--relocatable", "--quiet"]
    if requires:
        venv += ["--python", requires]
    # uv runs in the notebook's folder, so its settings there (uv.toml: an
    # index, a Python preference; without requires-python, a project's
    # .python-version) apply, as they would to `uv run`.
    made = run_uv(uv, [*venv, str(temp)], cwd=env.notebook.parent, on_line=relay)
    if not made.ok:
        fix = "Fix `requires-python` in the `# /// script` block" if requires else "Check uv"
        raise KernelSetupError(
            f"uv could not create a Python environment for {env.notebook.name}: "
            f"{made.error()}. {fix}, or run `{env.fix_hint()}` for details.",
            python=str(env.python),
        )
    install = ["pip", "install", "--python", str(_python_in(temp))]
    if refresh:
        install.append("--refresh")
    # "--": a requirement is never taken for an option.
    install += ["--", KERNEL_PACKAGE, *env.block.dependencies]
    installed = run_uv(uv, install, cwd=env.notebook.parent, on_line=relay)
    if not installed.ok:
        raise KernelSetupError(
            f"uv could not resolve the dependencies of {env.notebook.name}: "
            f"{installed.error()}. Fix the `# /// script` block, or run "
            f"`{env.fix_hint()}` for details.",
            python=str(env.python),
        )
    marker = {
        "format": 1,
        "notebook": str(env.notebook),
        "requires-python": env.block.requires_python,
        "dependencies": list(env.block.dependencies),
        "built": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (temp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _publish(temp: Path, final: Path, *, replace: bool) -> None:
    """Rename the finished ``temp`` onto ``final``.

    Without ``replace``, an environment another builder finished first is
    kept (ours is dropped by the caller); a folder there that is not a
    complete environment is moved away first. With ``replace`` the old one
    goes aside, the new one takes its name, and the old one is deleted.
    """
    ready = (final / MARKER).is_file() and _python_in(final).exists()
    if final.exists() and (replace or not ready):
        aside = final.parent / f".old-{final.name}-{os.getpid()}-{os.urandom(4).hex()}"
        with contextlib.suppress(FileNotFoundError):
            final.rename(aside)
        shutil.rmtree(aside, ignore_errors=True)
    try:
        temp.rename(final)
    except OSError:
        if not ((final / MARKER).is_file() and _python_in(final).exists()):
            raise  # not a concurrent build that won: a real error
        # Another builder renamed theirs first: theirs is as good as ours.


def _sweep(root: Path) -> None:
    """Remove what builds killed midway left (temporary and old folders)."""
    now = time.time()
    for child in root.iterdir():
        if not child.name.startswith((".tmp-", ".old-")):
            continue
        with contextlib.suppress(OSError):
            if now - child.stat().st_mtime > STALE_AGE:
                shutil.rmtree(child, ignore_errors=True)


def installed_packages(env: ScriptEnv) -> list[tuple[str, str]] | str:
    """``(name, version)`` of every package in the built ``env`` (``uv pip
    list``), or why they cannot be listed."""
    try:
        uv = find_uv()
    except UvMissing as error:
        return str(error)
    listed = read_uv(uv, ["pip", "list", "--format", "json", "--python", str(env.python)])
    if not listed.ok:
        return listed.error()
    try:
        rows = json.loads("\n".join(listed.lines))
    except ValueError:
        return "uv pip list did not print JSON"
    return [(str(row.get("name")), str(row.get("version"))) for row in rows]


def stderr_progress(line: str) -> None:
    """Show build progress in a terminal: our lines and uv's top-level ones.

    uv's indented lines (``+ package``, ``cause: ...``) are left out: the
    packages are ``sessions env``'s to list, and an error's explanation is
    in the one error message the build raises. Its ``error:`` line too.
    """
    if line.startswith(("uv:  ", "uv: error")):
        return
    print(f"sessions: {line}", file=sys.stderr, flush=True)
