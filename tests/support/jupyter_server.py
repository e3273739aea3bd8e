"""Real kernel servers for the remote-kernel tests: a ``jupyter server`` and a
Jupyter Enterprise Gateway, each on 127.0.0.1 with a free port, a random
token, its own folder and runtime; stopped by the test.

Enterprise Gateway 3 pins jupyter_client 6 and jupyter_server 1, which
Sessions cannot run with, so it gets an environment of its own: the
repository's ``.venv-gateway``, made on first use (about 40 s; ``pip`` from
PyPI) — as a gateway runs on another machine in real use."""

from __future__ import annotations

import json
import secrets
import socket
import ssl
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

    def command(self) -> list[str]:
        return [
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
        ]

    def environment(self) -> dict[str, str]:
        return {
            "PATH": str(Path(sys.executable).parent),
            "HOME": str(self.folder),
            "JUPYTER_RUNTIME_DIR": str(self.folder / "runtime"),
        }

    def ssl_context(self) -> ssl.SSLContext | None:
        return None

    def start(self) -> None:
        log = open(self.folder / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.environment(),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(
                    self.url + "api/kernelspecs", headers={"Authorization": f"token {self.token}"}
                )
                with urllib.request.urlopen(request, timeout=1, context=self.ssl_context()):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise AssertionError((self.folder / "server.log").read_text()) from None
                time.sleep(0.2)
        self.stop()  # never leave a half-started server behind
        raise AssertionError(
            f"{self.command()[0]} did not answer within 60 s:\n"
            + (self.folder / "server.log").read_text()
        )

    def kernels(self) -> list[dict[str, Any]]:
        request = urllib.request.Request(
            self.url + "api/kernels", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=5, context=self.ssl_context()) as response:
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


GATEWAY_ENV = Path(__file__).resolve().parents[2] / ".venv-gateway"


def gateway_python() -> Path:
    """The interpreter of the gateway's own environment, made if missing."""
    python = GATEWAY_ENV / "bin" / "python"
    check = [str(python), "-c", "import enterprise_gateway, ipykernel, ipywidgets"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"[tests] making {GATEWAY_ENV} for Jupyter Enterprise Gateway", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(GATEWAY_ENV)], check=True)
    packages = ["jupyter_enterprise_gateway>=3.2", "ipykernel", "ipywidgets>=8.1"]
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *packages], check=True)
    return python


class EnterpriseGateway(JupyterServer):
    """A real Jupyter Enterprise Gateway (local kernels), in its own environment."""

    def command(self) -> list[str]:
        return [
            str(gateway_python().parent / "jupyter-enterprisegateway"),
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port_retries=0",
            f"--EnterpriseGatewayApp.auth_token={self.token}",
            "--EnterpriseGatewayApp.list_kernels=True",  # off by default; the tests look
        ]

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "PATH": str(gateway_python().parent)}

    def server(self, token: str | None = None) -> RemoteServer:
        # A gateway refuses kernels for root (its default unauthorized_users).
        return RemoteServer(
            self.url,
            self.token if token is None else token,
            kernel_env=(("KERNEL_USERNAME", "sessions-tests"),),
        )


class TlsJupyterServer(JupyterServer):
    """A ``jupyter server`` on https, with a self-signed certificate for
    127.0.0.1 made by ``openssl`` (``self.certificate``: the CA to trust)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.url = f"https://127.0.0.1:{self.port}/"
        self.certificate = folder / "cert.pem"
        self.key = folder / "key.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-keyout",
                str(self.key),
                "-out",
                str(self.certificate),
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )

    def command(self) -> list[str]:
        return [
            *super().command(),
            f"--ServerApp.certfile={self.certificate}",
            f"--ServerApp.keyfile={self.key}",
        ]

    def ssl_context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.certificate))
