"""A real ``jupyter server`` for the remote-kernel tests: on 127.0.0.1, a free
port, a random token, its own folder and runtime; stopped by the test."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from sessions.kernel.remote import RemoteServer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class JupyterServer:
    """A real ``jupyter server`` process in a temp folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.folder / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={self.port}",
                "--port-retries=0",
                f"--ServerApp.root_dir={self.folder}",
                f"--IdentityProvider.token={self.token}",
                "--allow-root",  # CI runs as root
            ],
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                "PATH": str(Path(sys.executable).parent),
                "HOME": str(self.folder),
                "JUPYTER_RUNTIME_DIR": str(self.folder / "runtime"),
            },
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(
                    self.url + "api/status", headers={"Authorization": f"token {self.token}"}
                )
                with urllib.request.urlopen(request, timeout=1):
                    return
            except OSError:
                assert self.process.poll() is None, (self.folder / "server.log").read_text()
                time.sleep(0.2)
        raise AssertionError("jupyter server did not start")

    def kernels(self) -> list[dict[str, Any]]:
        request = urllib.request.Request(
            self.url + "api/kernels", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            kernels: list[dict[str, Any]] = json.load(response)
            return kernels

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def server(self, token: str | None = None) -> RemoteServer:
        return RemoteServer(self.url, self.token if token is None else token)
