"""A kernel on a Jupyter Server (or anything that speaks its kernel API: a
Jupyter Enterprise Gateway), driven over REST and the kernel WebSocket.

``RemoteKernel`` is a ``KernelSession`` whose kernel is not a local process:
it is created with ``POST /api/kernels``, talked to through
``/api/kernels/ID/channels`` (Jupyter's JSON WebSocket protocol: one message
per frame, ``channel`` naming shell, IOPub or stdin; binary buffers in
binary frames), interrupted and restarted through REST, and deleted on
shutdown — unless it is ``shared``, then it is left running for the others.
The message routing (outputs per request, ``idle``, comms, widgets) is
``KernelSession``'s, unchanged: only the transport differs.

Failures are reported, not waited out:

- a wrong token or URL fails at once with one line that says how to fix it
  (``RemoteServerError``, a ``KernelStartError``);
- a dropped WebSocket is reconnected with backoff, with the same session id,
  so the server replays what it buffered meanwhile; the kernel keeps its
  state. A cell that was running through the outage ends with a note and
  the status ``error`` ("outputs may be lost"): never silently fresh;
- a server that stays away for ``reconnect_seconds`` (5 s) makes the kernel
  ``dead`` with the reason, and pending requests end as ``dead``;
- a kernel the server restarted by itself (it died) ends what was running
  as ``dead``; the next request runs on the restarted kernel.

Tornado (already a dependency of jupyter_client) does the HTTP and the
WebSocket; jupyter_client's ``Session`` builds the messages (the server
signs them towards the kernel, so the WebSocket needs no key).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import logging
import os
import ssl
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from jupyter_client.session import Session
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, websocket_connect

from sessions.kernel.errors import KernelDeadError, KernelStartError
from sessions.kernel.registry import Registry, SessionEntry, now_iso
from sessions.kernel.session import ExecuteStatus, KernelSession

log = logging.getLogger(__name__)

_REQUEST_SECONDS = 5.0
_BACKOFF = (0.1, 0.25, 0.5, 1.0, 2.0)


class RemoteServerError(KernelStartError):
    """The Jupyter server refused or could not be reached; the message says how to fix it."""


@dataclass(frozen=True)
class RemoteServer:
    """Where kernels run: a Jupyter Server's base URL and how to authenticate."""

    url: str
    """``http(s)://host:port/base/``: the server's base URL."""
    token: str | None = None
    kernel_name: str = "python3"
    ca_bundle: str | None = None
    """A PEM file of certificate authorities to trust for https (else the system's)."""
    kernel_env: tuple[tuple[str, str], ...] = ()
    """``KERNEL_*`` variables for the new kernel (Enterprise Gateway's convention:
    ``KERNEL_USERNAME`` says whose kernel it is); ``KERNEL_USERNAME`` defaults
    to this user."""

    def __repr__(self) -> str:  # never the token, in a log or a traceback
        return f"RemoteServer(url={self.url!r}, kernel_name={self.kernel_name!r})"

    @classmethod
    def from_options(
        cls,
        url: str,
        *,
        token_file: str | None = None,
        kernel_name: str | None = None,
        ca_bundle: str | None = None,
        env: Mapping[str, str] = os.environ,
    ) -> RemoteServer:
        """The token from ``token_file`` when given, else ``JUPYTER_TOKEN``
        (Jupyter's own convention). ``RemoteServerError`` for a bad URL or an
        unreadable token file, with the fix."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RemoteServerError(
                f"{url!r} is not a Jupyter server URL; use http(s)://HOST:PORT[/base]"
            )
        token: str | None
        if token_file is not None:
            try:
                token = Path(token_file).read_text(encoding="utf-8").strip()
            except OSError as error:
                raise RemoteServerError(
                    f"Cannot read the token file {token_file}: {error.strerror or error}."
                ) from None
        else:
            token = env.get("JUPYTER_TOKEN") or None
        kernel_env = tuple(sorted((k, v) for k, v in env.items() if k.startswith("KERNEL_")))
        return cls(url.rstrip("/") + "/", token, kernel_name or "python3", ca_bundle, kernel_env)

    def start_body(self) -> dict[str, Any]:
        """The body of ``POST /api/kernels``: the kernelspec, and the ``KERNEL_*``
        environment a gateway reads (a Jupyter Server ignores it)."""
        env = dict(self.kernel_env)
        env.setdefault("KERNEL_USERNAME", getpass.getuser())
        return {"name": self.kernel_name, "env": env}

    def endpoint(self, path: str, *, websocket: bool = False) -> str:
        parts = urlsplit(self.url + path.lstrip("/"))
        scheme = parts.scheme
        if websocket:
            scheme = "wss" if scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"} if self.token else {}

    def request(self, path: str, method: str = "GET", body: Any = None) -> HTTPRequest:
        return HTTPRequest(
            self.endpoint(path),
            method=method,
            headers={**self.headers(), "Content-Type": "application/json"},
            body=json.dumps(body or {}) if method in ("POST", "PUT", "PATCH") else None,
            connect_timeout=_REQUEST_SECONDS,
            request_timeout=_REQUEST_SECONDS,
            ca_certs=self.ca_bundle,
            validate_cert=True,
        )


def _server_says(error: HTTPClientError) -> str:
    """The reason in a Jupyter server's error reply (``{"reason", "message"}``)."""
    response = error.response
    if response is None or not response.body:
        return ""
    try:
        body = json.loads(response.body)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return " ".join(str(body[k]) for k in ("reason", "message") if body.get(k)).strip()


def _explain(server: RemoteServer, error: Exception, doing: str) -> RemoteServerError:
    """One line that says what went wrong and how to fix it."""
    said = _server_says(error) if isinstance(error, HTTPClientError) else ""
    # A Jupyter Server answers a request it could not authenticate with 403
    # "_xsrf argument missing" (it fell back to cookies); a gateway with 401.
    not_authenticated = isinstance(error, HTTPClientError) and (
        error.code == 401 or (error.code == 403 and (not said or "_xsrf" in said))
    )
    if isinstance(error, HTTPClientError) and error.code == 403 and not not_authenticated:
        return RemoteServerError(
            f"The Jupyter server at {server.url} refused to {doing} (HTTP 403): {said}"
        )
    if not_authenticated and isinstance(error, HTTPClientError):
        how = (
            "set JUPYTER_TOKEN to the server's token, or pass --token-file FILE"
            if server.token is None
            else "the token is wrong: check JUPYTER_TOKEN or the --token-file"
        )
        return RemoteServerError(
            f"The Jupyter server at {server.url} refused to {doing} (HTTP {error.code}): {how}."
        )
    if isinstance(error, HTTPClientError) and error.code == 404:
        return RemoteServerError(
            f"The Jupyter server at {server.url} has no kernel API there (HTTP 404 while "
            f"trying to {doing}): check the URL and its base path."
        )
    if isinstance(error, HTTPClientError) and error.code == 599:
        return RemoteServerError(
            f"Cannot reach the Jupyter server at {server.url} ({error.message or 'timeout'}) "
            f"to {doing}: is it running, and is the URL right?"
        )
    if isinstance(error, HTTPClientError):
        return RemoteServerError(
            f"The Jupyter server at {server.url} could not {doing} (HTTP {error.code}: "
            f"{error.message})."
        )
    if isinstance(error, ssl.SSLError):
        return RemoteServerError(
            f"The certificate of {server.url} could not be verified ({error.reason}): pass "
            "--ca-bundle FILE with the certificate authority that signed it."
        )
    return RemoteServerError(
        f"Cannot reach the Jupyter server at {server.url} to {doing} ({error}): is it running, "
        "and is the URL right?"
    )


async def call(server: RemoteServer, path: str, method: str = "GET", body: Any = None) -> Any:
    """One REST call; its JSON reply (None when empty). ``RemoteServerError``."""
    try:
        response = await AsyncHTTPClient().fetch(server.request(path, method, body))
    except (HTTPClientError, OSError, ssl.SSLError) as error:
        raise _explain(server, error, f"{method} {path}") from None
    return json.loads(response.body) if response.body else None


def decode_frame(frame: str | bytes) -> dict[str, Any]:
    """A WebSocket frame of Jupyter's JSON protocol as a message dict: text is
    the message; binary is ``n`` (4 bytes), ``n`` offsets (4 bytes each), the
    JSON message at the first offset and its buffers at the others."""
    if isinstance(frame, str):
        message: dict[str, Any] = json.loads(frame)
        message.setdefault("buffers", [])
        return message
    count = int.from_bytes(frame[:4], "big")
    offsets = [int.from_bytes(frame[4 * (i + 1) : 4 * (i + 2)], "big") for i in range(count)]
    parts = [frame[start:end] for start, end in zip(offsets, [*offsets[1:], None], strict=True)]
    message = json.loads(parts[0])
    message["buffers"] = [memoryview(part) for part in parts[1:]]
    return message


def encode_frame(message: dict[str, Any], buffers: Sequence[bytes]) -> str | bytes:
    """The inverse of ``decode_frame``: text without buffers, else binary."""
    text = json.dumps(message, default=str)
    if not buffers:
        return text
    parts = [text.encode("utf-8"), *(bytes(b) for b in buffers)]
    offsets: list[int] = []
    position = 4 * (len(parts) + 1)
    for part in parts:
        offsets.append(position)
        position += len(part)
    header = len(parts).to_bytes(4, "big") + b"".join(o.to_bytes(4, "big") for o in offsets)
    return header + b"".join(parts)


class RemoteKernel(KernelSession):
    """A kernel on a Jupyter Server: ``await start()``, then as a local one."""

    def __init__(
        self,
        server: RemoteServer,
        cwd: Path,
        *,
        kernel_id: str | None = None,
        shared: bool = False,
        reconnect_seconds: float = 5.0,
        startup_timeout: float = 60.0,
        idle_timeout: float = 3.0,
    ) -> None:
        super().__init__(
            f"{server.kernel_name} on {server.url}",
            cwd,
            python_reason=f"remote kernel {server.kernel_name!r} on the Jupyter server {server.url}",
            startup_timeout=startup_timeout,
            idle_timeout=idle_timeout,
        )
        self.server = server
        self.remote_id = kernel_id
        """The server's id of the kernel (``/api/kernels/ID``)."""
        self.shared = shared or kernel_id is not None
        """Left running on shutdown (other clients use it, or it was not ours)."""
        self.reconnect_seconds = reconnect_seconds
        self.reconnects = 0
        self._ws: WebSocketClientConnection | None = None
        self._session = Session(session=uuid.uuid4().hex, username="sessions")
        self._closing = False
        self._restarting_on_purpose = False
        self._info_reply: asyncio.Future[dict[str, Any]] | None = None
        self._info_status: asyncio.Future[None] | None = None
        self._info_msg_id = ""

    # -- what the runner reads -------------------------------------------------

    @property
    def pid(self) -> int | None:
        return None  # not a process of this machine

    @property
    def pgid(self) -> int | None:
        return None

    @property
    def connection_file(self) -> Path | None:
        return None

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        async with self._lifecycle:
            if self._ws is not None:
                return
            self._set_state("starting")
            try:
                if self.remote_id is None:
                    model = await call(self.server, "api/kernels", "POST", self.server.start_body())
                    self.remote_id = str(model["id"])
                await self._connect()
                self.kernel_info = await self._handshake()
            except BaseException as error:
                await self._stop(graceful=False, pending_status="dead")
                self._set_state("dead")
                self.death_reason = str(error)
                if isinstance(error, KernelStartError | asyncio.CancelledError):
                    raise
                raise KernelStartError(str(error)) from error
            self._new_kernel_identity()
            self.death_reason = None
            self._set_state("idle")

    async def _connect(self) -> None:
        assert self.remote_id is not None
        path = f"api/kernels/{quote(self.remote_id)}/channels?session_id={self._session.session}"
        request = HTTPRequest(
            self.server.endpoint(path, websocket=True),
            headers=self.server.headers(),
            connect_timeout=_REQUEST_SECONDS,
            request_timeout=_REQUEST_SECONDS,
            ca_certs=self.server.ca_bundle,
            validate_cert=True,
        )
        try:
            self._ws = await websocket_connect(request, max_message_size=1 << 30)
        except (HTTPClientError, OSError, ssl.SSLError) as error:
            raise _explain(self.server, error, "open the kernel's channels") from None
        self._tasks = [asyncio.create_task(self._read(self._ws), name="remote-kernel-ws")]

    async def _handshake(self) -> dict[str, Any]:
        """``kernel_info`` until answered on shell *and* its status seen on
        IOPub: after a (re)start the server may connect IOPub after shell, and
        what a kernel publishes before that is lost (a cell's output, its idle)."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            loop = asyncio.get_running_loop()
            self._info_reply = loop.create_future()
            self._info_status = loop.create_future()
            self._info_msg_id = self._send("shell", "kernel_info_request", {})
            with contextlib.suppress(TimeoutError):
                content: dict[str, Any] = await asyncio.wait_for(self._info_reply, 1.0)
                await asyncio.wait_for(self._info_status, 1.0)
                return content
        raise KernelStartError(
            f"The kernel on {self.server.url} did not answer within {self.startup_timeout:.0f} s."
        )

    async def _stop(self, *, graceful: bool, pending_status: ExecuteStatus) -> None:
        self._closing = True
        ws, self._ws = self._ws, None
        await self._end_tasks()
        if ws is not None:
            ws.close()
        if self.remote_id is not None and not self.shared:
            with contextlib.suppress(KernelStartError):
                await call(self.server, f"api/kernels/{quote(self.remote_id)}", "DELETE")
            self.remote_id = None
        self.comms.clear()
        self._end_pending(pending_status)
        self._closing = False

    async def _restart(self, *, graceful: bool) -> None:
        async with self._lifecycle:
            if self.remote_id is None or self._ws is None:
                raise KernelDeadError(
                    "The remote kernel is not running. Start it again to run code."
                )
            self._set_state("restarting")
            self._end_pending("interrupted")
            self._restarting_on_purpose = True
            try:
                await call(self.server, f"api/kernels/{quote(self.remote_id)}/restart", "POST")
                self.kernel_info = await self._handshake()
            finally:
                self._restarting_on_purpose = False
            self._new_kernel_identity()
            self._set_state("idle")

    async def interrupt(self, *, escalate_after: float = 3.0) -> None:
        if self.remote_id is None or not self._pending:
            return
        for execution in self._pending.values():
            execution.interrupt_requested = True
        await call(self.server, f"api/kernels/{quote(self.remote_id)}/interrupt", "POST")
        try:
            await asyncio.wait_for(self._quiet.wait(), escalate_after)
        except TimeoutError:
            log.info(
                "remote kernel ignored the interrupt for %.1f s; restarting it", escalate_after
            )
            await self._restart(graceful=False)

    # -- the WebSocket -----------------------------------------------------------

    def _send(
        self,
        channel: str,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        buffers: Sequence[bytes] = (),
    ) -> str:
        ws = self._ws
        if ws is None:
            return ""
        message = self._session.msg(msg_type, content, metadata=metadata or None)
        message["channel"] = channel
        message.pop("msg_id", None)
        message.pop("msg_type", None)
        with contextlib.suppress(WebSocketClosedError):
            ws.write_message(encode_frame(message, buffers), binary=bool(buffers))
        return str(message["header"]["msg_id"])

    def _send_shell(
        self,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        buffers: Sequence[bytes] = (),
    ) -> str:
        return self._send("shell", msg_type, content, metadata, buffers)

    def _connected(self) -> bool:
        return self._ws is not None

    def _iopub_queued(self) -> bool:
        return False  # frames are read as they come: nothing waits unread here

    async def _read(self, ws: WebSocketClientConnection) -> None:
        while True:
            frame = await ws.read_message()
            if frame is None:
                if self._closing:
                    return
                await self._reconnect()
                return
            try:
                message = decode_frame(frame)
                message["msg_type"] = message["header"]["msg_type"]
                message["msg_id"] = message["header"]["msg_id"]
                self._dispatch(message)
            except Exception:
                log.exception("could not handle a message from the remote kernel")

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        if channel == "iopub":
            content = message.get("content") or {}
            status = self._info_status
            if (
                status is not None
                and not status.done()
                and message["msg_type"] == "status"
                and message.get("parent_header", {}).get("msg_id") == self._info_msg_id
            ):
                status.set_result(None)
            if (
                message["msg_type"] == "status"
                and content.get("execution_state") in ("restarting", "dead")
                and not self._restarting_on_purpose
            ):
                self._server_restarted(str(content["execution_state"]))
                return
            self._handle_iopub(message)
        elif channel == "shell":
            info = self._info_reply
            if message["msg_type"] == "kernel_info_reply" and info is not None and not info.done():
                info.set_result(message.get("content") or {})
            self._handle_shell(message)

    def _server_restarted(self, state: str) -> None:
        """The kernel died on the server (which restarts it, or gives up)."""
        self.death_reason = (
            "the kernel died on the Jupyter server, which restarted it"
            if state == "restarting"
            else "the kernel died on the Jupyter server"
        )
        self._end_pending("dead")
        self._set_state("restarting" if state == "restarting" else "dead")
        self._new_kernel_identity()
        if state == "restarting":
            asyncio.get_running_loop().create_task(self._back_after_restart())

    async def _back_after_restart(self) -> None:
        with contextlib.suppress(KernelStartError):
            self.kernel_info = await self._handshake()
            self._set_state("idle")

    async def _reconnect(self) -> None:
        """The WebSocket dropped: connect again (same session: the server
        replays what it buffered), or give up after ``reconnect_seconds``."""
        self._ws = None
        for execution in self._pending.values():
            execution.on_output(_reconnect_note())
            execution.reconnected = True
        deadline = time.monotonic() + self.reconnect_seconds
        for delay in (*_BACKOFF, *([_BACKOFF[-1]] * 100)):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(delay)
            try:
                await self._connect()
            except KernelStartError as error:
                log.info("reconnecting to %s failed: %s", self.server.url, error)
                continue
            self.reconnects += 1
            log.info("reconnected to the kernel on %s", self.server.url)
            return
        self.death_reason = (
            f"lost the connection to the Jupyter server at {self.server.url} for more than "
            f"{self.reconnect_seconds:g} s"
        )
        self._end_pending("dead")
        self._set_state("dead")


def _reconnect_note() -> dict[str, Any]:
    return {
        "output_type": "stream",
        "name": "stderr",
        "text": (
            "\n[sessions: the connection to the Jupyter server dropped while this cell ran; "
            "outputs published during the outage may be lost]\n"
        ),
    }


# -- shared sessions on a server (``sessions start --server``) -----------------


async def start_shared(
    server: RemoteServer,
    notebook: Path,
    registry: Registry,
    name: str | None = None,
    kernel_id: str | None = None,
) -> SessionEntry:
    """A new kernel on ``server`` for ``notebook`` — or, with ``kernel_id``, a
    kernel already running there (started from JupyterLab, say) — registered
    so that every client of the notebook on this machine attaches to it; it
    runs on the server until ``stop_shared``."""
    if kernel_id is not None:
        try:
            model = await call(server, f"api/kernels/{quote(kernel_id)}")
        except RemoteServerError as error:
            if "HTTP 404" not in str(error):
                raise
            raise RemoteServerError(
                f"The Jupyter server at {server.url} runs no kernel {kernel_id!r} (HTTP 404): "
                "check the id among its running kernels."
            ) from None
    else:
        model = await call(server, "api/kernels", "POST", server.start_body())
    stamp = now_iso()
    entry = SessionEntry(
        key=registry.new_key(),
        notebook=str(Path(notebook).absolute()),
        python=f"{server.kernel_name} on {server.url}",
        owner_pid=0,
        kernel_pid=0,
        pgid=0,
        connection_file="",
        started=stamp,
        last_activity=stamp,
        state="idle",
        name=name,
        detached=True,
        server=server.url,
        remote_id=str(model["id"]),
    )
    registry.write(entry)
    return entry


async def stop_shared(entry: SessionEntry, server: RemoteServer, registry: Registry) -> None:
    """Deletes a shared session's kernel on its server and its entry here
    (the entry also when the server no longer has the kernel)."""
    assert entry.remote_id is not None
    try:
        await call(server, f"api/kernels/{quote(entry.remote_id)}", "DELETE")
    except RemoteServerError as error:
        if "HTTP 404" not in str(error):
            raise
    registry.remove(entry.key)


async def attach_shared(
    server: RemoteServer, notebook: Path, registry: Registry
) -> RemoteKernel | None:
    """The registered shared kernel of ``notebook`` on ``server``, connected;
    None when there is none (an entry whose kernel is gone is removed)."""
    for entry in registry.for_notebook(notebook):
        if entry.server != server.url or entry.remote_id is None:
            continue
        kernel = RemoteKernel(
            server, Path(notebook).absolute().parent, kernel_id=entry.remote_id, shared=True
        )
        try:
            await kernel.start()
        except RemoteServerError as error:
            if "HTTP 404" in str(error):
                registry.remove(entry.key)  # the server no longer has it
                continue
            raise
        return kernel
    return None
