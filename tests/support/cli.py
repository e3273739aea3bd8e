"""Helpers for tests that drive the real ``sessions`` CLI as subprocesses:
an isolated environment, a one-shot command, a long-running ``sessions watch``
read line by line, and the kernel processes a test left behind."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


def command(*args: str) -> list[str]:
    """The command line of ``sessions ARGS``, run by this interpreter."""
    return [sys.executable, "-m", "sessions.cli", *args]


def plain_env() -> dict[str, str]:
    """This process's environment without an active virtualenv or conda (so the
    kernel interpreter resolves the same wherever the tests run), and no colour."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["NO_COLOR"] = "1"
    return env


def cli_env(tmp_path: Path) -> dict[str, str]:
    """No active virtualenv, no colour, and a private runtime folder so this test's
    kernels are findable (and its sessions are not shared with anyone else's)."""
    env = plain_env()
    runtime = tmp_path / "rt"
    runtime.mkdir(exist_ok=True)
    env["XDG_RUNTIME_DIR"] = str(runtime)
    return env


def cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """One ``sessions ARGS`` to its end, its output captured as text. Without
    ``env`` it inherits this process's environment; without ``cwd``, its folder."""
    return subprocess.run(
        command(*args),
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Watch:
    """A running ``sessions watch``; its stdout lines arrive on a queue."""

    def __init__(self, folder: Path, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            command("watch", *args),
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, pattern: str, timeout: float = 60) -> list[str]:
        """Lines up to and including the first that matches ``pattern``."""
        deadline = time.monotonic() + timeout
        got: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout} s; got {got}; before {self.seen}"
                ) from None
            if line is None:
                raise AssertionError(f"watch exited before {pattern!r}; got {got}")
            got.append(line)
            self.seen.append(line)
            if re.search(pattern, line):
                return got

    def quiet_for(self, seconds: float) -> list[str]:
        """Lines printed in the next ``seconds`` (expected: none)."""
        got: list[str] = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            got.append(line)
        return got

    def stop(self, sig: signal.Signals = signal.SIGINT) -> tuple[int, list[str]]:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        rest: list[str] = []
        while (line := self.lines.get(timeout=10)) is not None:
            rest.append(line)
        return code, rest

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def kernel_processes(runtime: Path) -> list[int]:
    """Live processes whose command line names our private runtime folder
    (the kernel's connection file, the watchdog's clean-up list)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(runtime) in cmdline and state != "Z":
            found.append(int(entry))
    return found
