"""Saving and restoring one notebook's checkpoints on its kernel (docs/analysis.md).

The runner asks two things of it. After a cell ran without error:
:meth:`Checkpointer.save` — if the policy wants it, the kernel pickles the
cell's names into the store (blocking the next cell for the write itself, no
longer: the values must be written as the cell left them). Before a fresh
upstream cell that the kernel does not hold would run again:
:meth:`Checkpointer.restore` — if a checkpoint with the cell version's key
exists, the kernel checks its signature, interpreter and package versions and
loads the values instead. Whatever fails says why, and the cell runs.

Only kernels on this machine take part: a kernel on a Jupyter server cannot
read the user's cache folder.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sessions.cache.records import CellRecord, Output
from sessions.run.checkpoints import in_kernel
from sessions.run.checkpoints.policy import CheckpointSettings, decide
from sessions.run.checkpoints.store import CheckpointStore, CheckpointStoreError, checkpoint_key


@functools.cache
def _source() -> str:
    """The code sent to kernels (read on the first checkpoint, not at start-up)."""
    return Path(in_kernel.__file__).read_text(encoding="utf-8")


def _cloudpickle_dir() -> str:
    """The folder of Sessions' own cloudpickle (a dependency), for kernels that lack one."""
    spec = importlib.util.find_spec("cloudpickle")
    origin = spec.origin if spec is not None else None
    return str(Path(origin).parent) if origin else ""


MODULE = "_sessions_checkpoints"

# Runs in a namespace of its own: nothing lands in the user's.
_INSTALLER = (
    "import sys, types\n"
    f"module = types.ModuleType({MODULE!r})\n"
    "exec(compile(SOURCE, '<sessions checkpoints>', 'exec'), module.__dict__)\n"
    f"sys.modules[{MODULE!r}] = module\n"
)


class _Result(Protocol):
    @property
    def status(self) -> str: ...


class CheckpointKernel(Protocol):
    """What checkpoints need of a kernel (a ``KernelLike``)."""

    python: str
    kernel_id: str

    @property
    def pid(self) -> int | None: ...

    @property
    def connection_file(self) -> Path | None: ...

    async def execute(
        self, code: str, on_output: Callable[[Output], None], *, silent: bool = False
    ) -> _Result: ...


@dataclass(frozen=True, slots=True)
class SaveResult:
    saved: tuple[str, ...] = ()
    size: int = 0
    seconds: float = 0.0
    reason: str = ""
    """Why nothing was saved ("" when the policy did not ask for it)."""


@dataclass(frozen=True, slots=True)
class RestoreResult:
    restored: tuple[str, ...] = ()
    size: int = 0
    seconds: float = 0.0
    duration: float | None = None
    """How long the run that made the checkpoint took."""
    reason: str = ""
    """Why it was refused (empty when restored)."""

    @property
    def ok(self) -> bool:
        return not self.reason


def is_local(kernel: CheckpointKernel) -> bool:
    """Whether the kernel runs on this machine (and so can use the store)."""
    return kernel.pid is not None or kernel.connection_file is not None


def _call(function: str, *args: Any) -> str:
    arguments = ", ".join(repr(argument) for argument in args)
    return f"__import__({MODULE!r}).{function}({arguments})"


def _answer(printed: list[str]) -> dict[str, Any]:
    for line in "".join(printed).split("\n"):
        if line.startswith(in_kernel.MARK):
            try:
                value = json.loads(line[len(in_kernel.MARK) :])
            except ValueError:
                break
            if isinstance(value, dict):
                return value
    return {}


class Checkpointer:
    """The checkpoints of one notebook."""

    def __init__(
        self,
        notebook: Path,
        settings: CheckpointSettings | None = None,
        store: CheckpointStore | None = None,
    ) -> None:
        self.notebook = notebook
        self.settings = settings or CheckpointSettings()
        self.store = store or CheckpointStore()
        self._installed: set[str] = set()

    def key_of(self, kernel: CheckpointKernel, provides: Mapping[str, str]) -> str:
        return checkpoint_key(provides, kernel.python)

    def available(self, kernel: CheckpointKernel, record: CellRecord | None) -> Path | None:
        """The checkpoint file a restore of this record would load, if there is one."""
        if not self.settings.restore or record is None or record.status != "ok":
            return None
        if not record.provides or not is_local(kernel):
            return None
        path = self.store.path_of(self.notebook, self.key_of(kernel, record.provides))
        return path if path.is_file() else None

    async def _run(self, kernel: CheckpointKernel, code: str) -> dict[str, Any]:
        printed: list[str] = []

        def collect(output: Output) -> None:
            if output.get("output_type") == "stream":
                printed.append(str(output.get("text", "")))

        if kernel.kernel_id not in self._installed:
            install = f"exec({_INSTALLER!r}, {{'SOURCE': {_source()!r}}})"
            result = await kernel.execute(install, collect, silent=True)
            if result.status != "ok":
                return {"error": "the checkpoint code could not be installed in the kernel"}
            self._installed.add(kernel.kernel_id)
        result = await kernel.execute(code, collect, silent=True)
        answer = _answer(printed)
        if result.status != "ok" and not answer:
            return {"error": f"the kernel answered {result.status}"}
        return answer

    async def save(
        self,
        kernel: CheckpointKernel,
        record: CellRecord,
        metadata: Mapping[str, Any],
        *,
        title: str = "",
    ) -> SaveResult:
        """Checkpoints a cell that just ran without error, if the policy says so."""
        if record.status != "ok" or not is_local(kernel):
            return SaveResult()
        decision = decide(record.provides, metadata, record.duration or 0.0, self.settings)
        if not decision.names:
            return SaveResult(reason=decision.reason)
        try:
            folder = self.store.prepare(self.notebook)
        except (CheckpointStoreError, OSError) as exc:
            return SaveResult(reason=str(exc))
        key = self.key_of(kernel, record.provides)
        header = {
            "notebook": str(self.notebook.resolve()),
            "cell": record.index,
            "title": title,
            "code_hash": record.hash,
            "provides": dict(record.provides),
            "duration": record.duration,
            "run": record.run,
            "interpreter": kernel.python,
        }
        # Room for it first: this notebook's cap, minus what it would replace.
        cap = self.settings.notebook_cap_bytes
        answer = await self._run(
            kernel,
            _call(
                "save",
                str(folder / f"{key}.ckpt"),
                list(decision.names),
                header,
                str(self.store.key_path),
                _cloudpickle_dir(),
                cap,
            ),
        )
        if "saved" not in answer:
            return SaveResult(
                reason=str(answer.get("skipped") or answer.get("error") or "no answer")
            )
        self.store.evict(notebook=self.notebook, cap_bytes=cap)
        self.store.evict()
        return SaveResult(
            tuple(answer["saved"]), int(answer.get("size", 0)), float(answer.get("seconds", 0.0))
        )

    async def restore(self, kernel: CheckpointKernel, path: Path) -> RestoreResult:
        """Loads a checkpoint (:meth:`available`) into the kernel."""
        try:
            self.store.ensure()
        except (CheckpointStoreError, OSError) as exc:
            return RestoreResult(reason=str(exc))
        answer = await self._run(
            kernel, _call("load", str(path), str(self.store.key_path), _cloudpickle_dir())
        )
        if "restored" not in answer:
            reason = str(
                answer.get("refused") or answer.get("error") or "no answer from the kernel"
            )
            return RestoreResult(reason=reason)
        duration = answer.get("duration")
        return RestoreResult(
            tuple(answer["restored"]),
            int(answer.get("size", 0)),
            float(answer.get("seconds", 0.0)),
            float(duration) if isinstance(duration, int | float) else None,
        )
