"""Running uv (https://docs.astral.sh/uv/): finding it, streaming its output.

uv builds the environments of PEP 723 script blocks (``script_env.py``) and
edits the blocks (``sessions add``). It comes with Sessions as the ``uv``
PyPI package, whose ``find_uv_bin()`` knows where pip put the binary; a uv on
PATH is the fallback (Sessions installed without its dependencies, or a
distribution package). ``$SESSIONS_UV`` names another binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

UV_FIX = f"{sys.executable} -m pip install uv"
UV_ENV = "SESSIONS_UV"
"""A uv binary to use instead of the one found (a pinned uv, a test)."""


class UvMissing(Exception):
    """No uv binary was found; ``str()`` says how to install it."""


@dataclass(frozen=True, slots=True)
class UvResult:
    returncode: int
    lines: tuple[str, ...]
    """The last lines uv printed (stdout and stderr together)."""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error(self) -> str:
        """uv's own explanation, on one line: its ``error:`` line and what follows."""
        lines = list(self.lines)
        start = next((i for i, line in enumerate(lines) if line.startswith("error")), None)
        picked = lines[start:] if start is not None else lines[-3:]
        parts = [line.strip().removeprefix("error:").strip() for line in picked]
        # uv's "  cause: ..." lines explain the line above them.
        words = ": ".join(part.removeprefix("cause:").strip() for part in parts if part)
        return words.rstrip(".") or f"uv exited with code {self.returncode}"


def find_uv() -> str:
    """The uv binary to run: ``$SESSIONS_UV``, else the uv package's, else
    uv on PATH; raises :class:`UvMissing` with the fix."""
    chosen = os.environ.get(UV_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise UvMissing(
            f"{UV_ENV}={chosen} is not an executable uv binary. Fix: point {UV_ENV} at uv, "
            f"or unset it to use the uv that comes with Sessions ({UV_FIX})"
        )
    try:
        from uv import find_uv_bin
    except ImportError:
        pass
    else:
        try:
            return str(find_uv_bin())
        except FileNotFoundError:
            pass  # the package is there but its binary is not: try PATH
    found = shutil.which("uv")
    if found is not None:
        return found
    raise UvMissing(
        "uv is needed to build the environment of a `# /// script` block and was not "
        f"found (neither the uv package for {sys.executable} nor uv on PATH). Fix: {UV_FIX}"
    )


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # Plain lines: no colours or progress bars in what we relay and quote.
    env["NO_COLOR"] = "1"
    env.setdefault("UV_NO_PROGRESS", "1")
    return env


def read_uv(uv: str, arguments: Sequence[str], *, timeout: float = 60.0) -> UvResult:
    """Run ``uv ARGUMENTS`` for what it prints on stdout (``UvResult.lines``);
    stderr is kept in ``UvResult.error()`` when it fails."""
    try:
        completed = subprocess.run(
            [uv, *arguments],
            env=_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return UvResult(-1, (f"error: could not run {uv}: {error}",))
    if completed.returncode != 0:
        return UvResult(completed.returncode, tuple(completed.stderr.splitlines()))
    return UvResult(0, tuple(completed.stdout.splitlines()))


def run_uv(
    uv: str,
    arguments: Sequence[str],
    *,
    cwd: Path | None = None,
    on_line: Callable[[str], None] | None = None,
    keep: int = 40,
) -> UvResult:
    """Run ``uv ARGUMENTS`` to its end, passing each line it prints to ``on_line``.

    Blocking (callers in an event loop use a thread). A Ctrl-C reaches uv as
    well, since it runs in our process group, so it stops with us.
    """
    tail: deque[str] = deque(maxlen=keep)
    try:
        process = subprocess.Popen(
            [uv, *arguments],
            cwd=cwd,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as error:
        return UvResult(-1, (f"error: could not run {uv}: {error}",))
    with process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            tail.append(line)
            if on_line is not None:
                on_line(line)
        returncode = process.wait()
    return UvResult(returncode, tuple(tail))
