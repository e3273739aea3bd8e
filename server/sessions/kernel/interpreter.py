"""Which Python runs a notebook's kernel, and can it (DESIGN §6).

Resolution order, first hit wins:

1. the ``sessions.python`` setting;
2. ``[tool.sessions] python`` in the nearest ``pyproject.toml``;
3. the environment of the notebook's PEP 723 ``# /// script`` block, when
   its preamble has one (``script_env``: built by uv when a kernel starts);
4. the nearest ``.venv`` / ``venv`` folder, walking up from the notebook's
   folder to the workspace root (without one: to the home folder, or the
   filesystem root for notebooks outside home);
5. the active ``VIRTUAL_ENV`` / ``CONDA_PREFIX``;
6. the server's own interpreter (``sys.executable``).

Explicit choices (1-3) are returned even when the path does not exist yet, so
``check_ipykernel`` can say what is wrong with them (and a script environment
can be built); the implicit ones (4, 5) are only taken when they contain an
interpreter. Resolving only reads: nothing is built or written here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sessions.kernel.errors import KernelSetupError
from sessions.kernel.script_env import BrokenScriptBlock, ScriptEnv, lookup

VENV_FOLDER_NAMES = (".venv", "venv")


@dataclass(frozen=True, slots=True)
class ResolvedPython:
    path: str
    """Absolute interpreter path (symlinks kept: a venv's python is a link)."""
    reason: str
    """Why this interpreter, for the user: e.g. ``nearest .venv at /p/.venv``."""
    warning: str | None = None
    """A project setting that was ignored (e.g. a typo in pyproject.toml), to show at once."""
    script_env: ScriptEnv | BrokenScriptBlock | None = None
    """The script block's environment this Python belongs to: a kernel start
    builds it first (``prepare``), or says why the block cannot be used."""


def resolve_python(
    notebook_path: Path,
    *,
    setting: str | None = None,
    workspace_root: Path | None = None,
    env: Mapping[str, str] = os.environ,
) -> ResolvedPython:
    """The interpreter that should run the kernel of ``notebook_path``."""
    folder = Path(notebook_path).absolute().parent
    base = Path(workspace_root).absolute() if workspace_root is not None else folder
    if setting:
        return ResolvedPython(_interpreter_at(setting, base, env), "setting sessions.python")

    pyproject = _nearest_pyproject(folder, workspace_root)
    if pyproject is not None:
        value, problem = _tool_sessions_python(pyproject)
        if value:
            return ResolvedPython(
                _interpreter_at(value, pyproject.parent, env),
                f"[tool.sessions] python in {pyproject}",
            )
        if problem:
            # Ignored, but said: a typo there must not silently pick another Python.
            fallback = _notebook_python(notebook_path, folder, workspace_root, env)
            warning = f"[tool.sessions] python in {pyproject} was ignored: {problem}"
            if fallback.warning:
                warning = f"{warning}; {fallback.warning}"
            return ResolvedPython(
                fallback.path,
                f"{fallback.reason}; {pyproject} was ignored: {problem}",
                warning,
                fallback.script_env,
            )
    return _notebook_python(notebook_path, folder, workspace_root, env)


def _notebook_python(
    notebook_path: Path, folder: Path, workspace_root: Path | None, env: Mapping[str, str]
) -> ResolvedPython:
    """Steps 3-6: the script block's environment, else the implicit ones."""
    found = lookup(notebook_path)
    if isinstance(found.env, ScriptEnv):
        return ResolvedPython(str(found.env.python), found.env.reason(), script_env=found.env)
    implicit = _implicit_python(folder, workspace_root, env)
    if isinstance(found.env, BrokenScriptBlock):
        # Not silently the .venv: the block says which packages the cells
        # need, so starting a kernel fails with what to fix (no warning too:
        # that error is the one message).
        return ResolvedPython(implicit.path, found.env.reason(), script_env=found.env)
    warning = found.warning()
    if warning is not None:
        return ResolvedPython(implicit.path, f"{implicit.reason}; {warning}", warning)
    return implicit


def _implicit_python(
    folder: Path, workspace_root: Path | None, env: Mapping[str, str]
) -> ResolvedPython:
    """Steps 4-6: the nearest environment folder, the active one, our own."""
    for directory in _walk_up(folder, workspace_root):
        for name in VENV_FOLDER_NAMES:
            python = _venv_python(directory / name)
            if python is not None:
                return ResolvedPython(str(python), f"nearest {name} at {directory / name}")

    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        prefix = env.get(variable)
        if prefix:
            python = _venv_python(Path(prefix))
            if python is not None:
                return ResolvedPython(str(python), f"active {variable}={prefix}")

    return ResolvedPython(sys.executable, "the server's own interpreter")


def _walk_up(start: Path, workspace_root: Path | None) -> Iterator[Path]:
    """``start`` and its parents, up to and including the stop folder."""
    if workspace_root is not None:
        stop: Path | None = Path(workspace_root).absolute()
    else:
        home = Path.home().absolute()
        stop = home if start.is_relative_to(home) else None
    directory = start
    while True:
        yield directory
        if directory == stop or directory.parent == directory:
            return
        directory = directory.parent


def _nearest_pyproject(folder: Path, workspace_root: Path | None) -> Path | None:
    for directory in _walk_up(folder, workspace_root):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _tool_sessions_python(pyproject: Path) -> tuple[str | None, str | None]:
    """``[tool.sessions] python``, or why the file could not give one.

    A broken pyproject is the build tool's to report in full; we only note
    that it was ignored, so the fallback interpreter is not a surprise.
    """
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except OSError as error:
        return None, f"it cannot be read ({error.strerror or error})"
    except UnicodeDecodeError:
        return None, "it is not UTF-8"
    except tomllib.TOMLDecodeError as error:
        return None, f"it is not valid TOML ({error})"
    tool = data.get("tool")
    sessions = tool.get("sessions") if isinstance(tool, dict) else None
    if not isinstance(sessions, dict) or "python" not in sessions:
        return None, None
    python = sessions["python"]
    if isinstance(python, str) and python.strip():
        return python, None
    return None, f"[tool.sessions] python should be a path or command, not {python!r}"


def _interpreter_at(value: str, base: Path, env: Mapping[str, str]) -> str:
    """An explicit interpreter: a path relative to ``base`` (an environment
    folder means its python), else a bare command (``python3.12``) on PATH."""
    path = Path(value.strip()).expanduser()
    if not path.is_absolute():
        path = base / path
    if path.is_dir():
        python = _venv_python(path)
        if python is not None:
            return str(python)
    bare = value.strip()
    if not path.exists() and os.sep not in bare and "/" not in bare:
        found = shutil.which(bare, path=env.get("PATH"))
        if found is not None:
            return found
    return str(path)


def _venv_python(prefix: Path) -> Path | None:
    for relative in ("bin/python", "Scripts/python.exe"):
        candidate = prefix / relative
        if candidate.is_file():
            return candidate
    return None


# Only successes are cached: after the user runs the fix command, the next
# check must see ipykernel without anyone clearing a cache.
_IPYKERNEL_FOUND: set[tuple[str, int]] = set()

# Exit 0: ipykernel is there; 3: missing but pip is available; 4: missing, and so is pip.
_FIND_IPYKERNEL = (
    "import importlib.util as u, sys; "
    "sys.exit(0 if u.find_spec('ipykernel_launcher') else 3 if u.find_spec('pip') else 4)"
)


def check_ipykernel(python: str, *, timeout: float = 30.0) -> KernelSetupError | None:
    """``None`` when ``python`` can run ipykernel, else the error to show.

    Runs the interpreter once (a module lookup, not an import: ~20 ms).
    """
    path = Path(python)
    try:
        stat = path.stat()
    except OSError:
        return KernelSetupError(
            f"Python interpreter not found: {python}. Point the sessions.python setting "
            "(or [tool.sessions] python in pyproject.toml) at an existing interpreter, "
            "or create the environment.",
            python=python,
        )
    key = (str(path), stat.st_mtime_ns)
    if key in _IPYKERNEL_FOUND:
        return None
    if path.is_dir() or not os.access(path, os.X_OK):
        return KernelSetupError(
            f"Python interpreter is not an executable file: {python}.",
            python=python,
        )
    try:
        completed = subprocess.run(
            [python, "-c", _FIND_IPYKERNEL],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return KernelSetupError(
            f"Could not run the Python interpreter {python}: {error}", python=python
        )
    if completed.returncode == 0:
        _IPYKERNEL_FOUND.add(key)
        return None
    quoted = shlex.quote(python)
    fix = f"{quoted} -m pip install ipykernel"
    if completed.returncode == 4:  # e.g. a venv made with --without-pip
        fix = f"{quoted} -m ensurepip && {fix}"
    if completed.returncode in (3, 4):
        return KernelSetupError(
            f"ipykernel is not installed for {python}; it is needed to run cells. Fix: {fix}",
            python=python,
            fix=fix,
        )
    detail = completed.stderr.decode(errors="replace").strip().splitlines()
    return KernelSetupError(
        f"The Python interpreter {python} failed to start"
        + (f": {detail[-1]}" if detail else f" (exit code {completed.returncode})"),
        python=python,
    )


def project_server(notebook_path: Path, workspace_root: Path | None = None) -> str | None:
    """``[tool.sessions] server`` in the nearest ``pyproject.toml``: the URL of
    a Jupyter server to run the notebook's kernels on (None: local kernels).
    A broken file or a value that is not a string counts as not set."""
    folder = Path(notebook_path).absolute().parent
    pyproject = _nearest_pyproject(folder, workspace_root)
    if pyproject is None:
        return None
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    tool = data.get("tool")
    sessions = tool.get("sessions") if isinstance(tool, dict) else None
    server = sessions.get("server") if isinstance(sessions, dict) else None
    return server.strip() if isinstance(server, str) and server.strip() else None
