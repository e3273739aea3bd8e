"""The session registry: every live kernel, findable by any process of the user.

One small JSON file per session in ``<runtime_dir>/registry`` (mode 0700,
next to the connection files): ``KEY.json``, written atomically (temporary
file + rename) and only by the session's *owner* — the process whose
watchdog keeps the kernel alive (see ``registration.py``). Everyone else only
reads, and removes entries whose owner or kernel is gone (``entries()`` does
this on every read), so a crashed owner never leaves a ghost behind.

Other processes talk to an owner through *request files*: ``KEY.restart``
asks the owner to restart its kernel (the owner polls for it). Stopping needs
no cooperation: a signal to the watchdog (or to a detached supervisor) is
enough, see ``stop_session``.

A session is referred to by its key (8 hex chars), its name, or its
notebook's path; ``resolve`` tries them in that order.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zmq

from sessions.kernel.launcher import runtime_dir

NAME_RULE = "a session name uses only letters, digits, '-' and '_', and at most 256 bytes"
MAX_NAME_BYTES = 256
KEY_LENGTH = 8


class RegistryError(Exception):
    """A user-facing problem with a session reference or name."""


class NoSuchSession(RegistryError):
    """A key, name or notebook matches no live session; the message lists the live ones."""


def validate_name(name: str) -> str:
    """``name`` when it follows ``NAME_RULE``; else ``RegistryError`` stating the rule."""
    ok = (
        bool(name)
        and len(name.encode("utf-8")) <= MAX_NAME_BYTES
        and all(ch.isalpha() or ch.isdecimal() or ch in "-_" for ch in name)
    )
    if not ok:
        raise RegistryError(f"invalid session name {name!r}: {NAME_RULE}")
    return name


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass(slots=True)
class SessionEntry:
    """What the registry knows about one live kernel."""

    key: str
    notebook: str
    """Absolute path of the notebook file."""
    python: str
    owner_pid: int
    """The process whose watchdog keeps the kernel alive (a supervisor when detached)."""
    kernel_pid: int
    pgid: int
    """The kernel's process group (its watchdog's pid): SIGINT interrupts, SIGTERM stops."""
    connection_file: str
    started: str
    last_activity: str
    """When an execute request last started or ended, from any client (ISO 8601, UTC)."""
    state: str
    """``starting``, ``idle``, ``busy``, ``restarting`` (the owner's view of IOPub)."""
    name: str | None = None
    detached: bool = False
    """Owned by a ``sessions start`` supervisor rather than by an editor or a run."""
    clone_of: str | None = None
    """Key of the session this one was cloned from."""
    idle_timeout: float | None = None
    """Minutes of idleness after which the owner shuts the kernel down (``None``: never)."""
    restarts: int = 0
    executed: list[str] = field(default_factory=list)
    """``code_hash`` of each code that ran without error in this kernel process,
    ordered by its last run: the cells *loaded* in this kernel, whichever client
    ran them (``run --stale`` does not re-run them; ``clone`` replays them).
    Stored apart from the entry, in an append-only ``KEY.executed`` log, so
    the entry stays the same size however long the kernel lives."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["executed"]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionEntry:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def label(self) -> str:
        """``KEY (name)`` or ``KEY``, for messages."""
        return f"{self.key} ({self.name})" if self.name else self.key

    def idle_seconds(self, now: datetime | None = None) -> float:
        if self.state == "busy":
            return 0.0
        moment = now or datetime.now(UTC)
        return max(0.0, (moment - parse_iso(self.last_activity)).total_seconds())


def pid_alive(pid: int) -> bool:
    """Running and not a zombie (a zombie's parent may take a while to reap it)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat_file:
        return stat_file.read().rsplit(")", 1)[1].split()[0] != "Z"
    return True


class Registry:
    """The folder of session entries. ``Registry()`` is the user's default one."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else runtime_dir() / "registry"
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.folder.stat().st_mode & 0o077:
            self.folder.chmod(0o700)

    # -- files -------------------------------------------------------------

    def entry_path(self, key: str) -> Path:
        """The file of ``key``'s entry (the owner's watchdog removes it if
        the owner dies: ``KernelSession(owner_cleanup=...)``)."""
        return self.folder / f"{key}.json"

    def _path(self, key: str) -> Path:
        return self.entry_path(key)

    def _request_path(self, key: str, action: str) -> Path:
        return self.folder / f"{key}.{action}"

    def new_key(self) -> str:
        while True:
            key = secrets.token_hex(KEY_LENGTH // 2)
            if not self._path(key).exists():
                return key

    def write(self, entry: SessionEntry, *, with_executed: bool = True) -> None:
        """Replace ``entry``'s file atomically (and its ``executed`` log, unless
        ``with_executed`` is false: the owner keeps that log by appending). No
        fsync: this is runtime state in a runtime folder, worthless after a
        reboot anyway."""
        path = self._path(entry.key)
        self._replace(path, json.dumps(entry.to_json(), indent=1))
        if with_executed:
            self.set_executed(entry.key, entry.executed)

    def _replace(self, path: Path, text: str) -> None:
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)

    def _executed_path(self, key: str) -> Path:
        return self.folder / f"{key}.executed"

    def set_executed(self, key: str, hashes: Iterable[str]) -> None:
        """Replace ``key``'s executed log (empty: no file)."""
        listed = list(hashes)
        path = self._executed_path(key)
        if not listed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        self._replace(path, "".join(f"{digest}\n" for digest in listed))

    def append_executed(self, key: str, digest: str) -> None:
        """Add one code hash to ``key``'s log: one small append, whatever its length."""
        fd = os.open(self._executed_path(key), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, f"{digest}\n".encode())
        finally:
            os.close(fd)

    def executed(self, key: str) -> list[str]:
        """``key``'s executed code hashes, each once, ordered by its last run."""
        try:
            lines = self._executed_path(key).read_text(encoding="utf-8").split()
        except OSError:
            return []
        latest = {digest: position for position, digest in enumerate(lines)}
        return sorted(latest, key=latest.__getitem__)

    def remove(self, key: str) -> None:
        for path in (self._path(key), *self.folder.glob(f"{key}.*")):
            with contextlib.suppress(OSError):
                path.unlink()

    def read(self, key: str) -> SessionEntry | None:
        """The entry of ``key`` as stored (no liveness check), or ``None``."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            entry = SessionEntry.from_json(data)
        except (OSError, ValueError, TypeError):
            return None
        entry.executed = self.executed(key)
        return entry

    # -- reading with clean-up ---------------------------------------------

    def entries(self) -> list[SessionEntry]:
        """Every live session, oldest first. Entries whose owner or kernel
        process is gone (or that cannot be read) are removed on the way."""
        live: list[SessionEntry] = []
        for path in sorted(self.folder.glob("*.json")):
            if path.name.startswith("."):
                continue
            entry = self.read(path.stem)
            if entry is None:
                # Unreadable: a writer is never mid-write (rename), so it is junk.
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            if not pid_alive(entry.owner_pid) or (
                entry.state not in ("starting", "restarting") and not pid_alive(entry.kernel_pid)
            ):
                self.remove(entry.key)
                continue
            live.append(entry)
        live.sort(key=lambda e: e.started)
        return live

    def get(self, key: str) -> SessionEntry | None:
        return next((e for e in self.entries() if e.key == key), None)

    def for_notebook(self, notebook: Path) -> list[SessionEntry]:
        target = str(Path(notebook).absolute())
        return [e for e in self.entries() if e.notebook == target]

    def resolve(self, reference: str) -> SessionEntry:
        """The session a user means by ``reference``: a key, else a name, else
        a notebook path (its oldest session). ``NoSuchSession`` otherwise."""
        live = self.entries()
        for entry in live:
            if entry.key == reference:
                return entry
        for entry in live:
            if entry.name is not None and entry.name == reference:
                return entry
        target = str(Path(reference).expanduser().absolute())
        for entry in live:
            if entry.notebook == target:
                return entry
        raise NoSuchSession(no_such_session_message(reference, live))

    def check_name_free(self, name: str) -> None:
        validate_name(name)
        for entry in self.entries():
            if entry.name == name:
                raise RegistryError(f"the name {name!r} is already used by session {entry.key}")

    # -- requests to an owner ----------------------------------------------

    def request(self, key: str, action: str) -> None:
        """Leave a request (``restart``) for the owner of ``key`` to pick up."""
        self._request_path(key, action).write_text(str(os.getpid()), encoding="utf-8")

    def take_request(self, key: str, action: str) -> bool:
        """True (and the request consumed) when someone asked ``action`` of ``key``."""
        try:
            self._request_path(key, action).unlink()
        except FileNotFoundError:
            return False
        return True


def no_such_session_message(reference: str, live: Iterable[SessionEntry]) -> str:
    lines = [f"no such session: {reference!r}"]
    sessions = list(live)
    if sessions:
        lines.append("live sessions:")
        lines += [f"  {e.label()}  {e.notebook}" for e in sessions]
    else:
        lines.append("there are no live sessions (start one with `sessions start NOTEBOOK`)")
    return "\n".join(lines)


def heartbeat(connection_file: str | Path, timeout: float = 1.0) -> bool:
    """True when the kernel answers on its heartbeat channel within ``timeout``.

    The heartbeat is an echo socket served by a thread of its own in the
    kernel: it answers while a cell runs, and unlike ``kernel_info`` it
    publishes nothing on IOPub, so checking health does not count as activity.
    """
    try:
        info = json.loads(Path(connection_file).read_text(encoding="utf-8"))
        transport, ip, port = info["transport"], info["ip"], info["hb_port"]
    except (OSError, ValueError, KeyError):
        return False
    endpoint = f"ipc://{ip}-{port}" if transport == "ipc" else f"tcp://{ip}:{port}"
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    socket = context.socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    try:
        socket.connect(endpoint)
        socket.send(b"ping")
        if socket.poll(int(timeout * 1000), zmq.POLLIN):
            answer: bytes = socket.recv()
            return answer == b"ping"
        return False
    except zmq.ZMQError:
        return False
    finally:
        socket.close(linger=0)


def stop_session(entry: SessionEntry, registry: Registry, timeout: float = 10.0) -> bool:
    """Stop ``entry``'s kernel and wait until its processes are gone.

    A detached session's supervisor gets SIGTERM and shuts down cleanly; any
    other kernel's watchdog gets SIGTERM and kills the kernel's whole process
    group (its owner sees the kernel die). True when everything is gone.
    """
    target = entry.owner_pid if entry.detached else entry.pgid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(target, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    pids = [entry.kernel_pid, entry.pgid] + ([entry.owner_pid] if entry.detached else [])
    while time.monotonic() < deadline:
        if not any(pid_alive(pid) for pid in pids):
            break
        time.sleep(0.05)
    gone = not any(pid_alive(pid) for pid in pids)
    if gone:
        registry.remove(entry.key)
    return gone


__all__ = [
    "NAME_RULE",
    "NoSuchSession",
    "Registry",
    "RegistryError",
    "SessionEntry",
    "heartbeat",
    "no_such_session_message",
    "now_iso",
    "pid_alive",
    "stop_session",
    "validate_name",
]
