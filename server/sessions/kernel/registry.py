"""The session registry: every live kernel, findable by any process of the user.

One small JSON file per session in ``<runtime_dir>/registry`` (mode 0700,
next to the connection files): ``KEY.json``, written atomically (temporary
file + rename) and only by the session's *owner* — the process whose
watchdog keeps the kernel alive (see ``registration.py``). Everyone else only
reads, and removes entries whose owner or kernel is gone (``entries()`` does
this on every read), so a crashed owner never leaves a ghost behind.

A kernel whose owner died without anyone cleaning up (the owner and the
kernel's watchdog killed together, say) is an *orphan*: ``find_orphans``
finds its processes by the tag every kernel process carries (see
``watchdog.py``), and its files by name; ``clean_orphans`` ends and removes
them (``sessions ls --clean``).

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zmq

from sessions.kernel.launcher import runtime_dir
from sessions.kernel.watchdog import (
    ProcessInfo,
    ancestors,
    kill_until_gone,
    owner_alive,
    parse_tag,
    process_table,
    process_tag,
    tagged,
)

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
    server: str | None = None
    """A remote session: the Jupyter server's URL (never its token)."""
    remote_id: str | None = None
    """A remote session: the server's kernel id (``/api/kernels/ID``)."""
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
            if entry.server is not None:
                # A kernel on a Jupyter server: no process here to check. Its
                # entry goes with ``sessions stop``, or when a client finds
                # the kernel gone from the server.
                live.append(entry)
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


# -- orphans ---------------------------------------------------------------

ORPHAN_FILE_GRACE_SECONDS = 10.0
"""A connection file is written just before its kernel is launched: one that
no process names is left over only once it is this old."""

_SETTLE_SECONDS = 1.0
"""How long ``find_orphans`` lets a live watchdog whose owner just died
finish its own clean-up (it polls the owner every 0.25 s) before calling
what it has not ended yet an orphan."""


@dataclass(slots=True)
class OrphanProcess:
    pid: int
    role: str
    """``watchdog``, ``kernel`` or ``child`` (anything a cell started)."""
    command: str


@dataclass(slots=True)
class Orphan:
    """A kernel whose owner is gone, and what it left behind."""

    connection_file: str
    owner_pid: int
    """0 when unknown (only files are left, and no registry entry names them)."""
    processes: list[OrphanProcess] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    """Its connection file and IPC sockets, and its registry entry files."""
    entry: SessionEntry | None = None
    """Its registry entry, if still there."""
    folder: str | None = None
    """The working folder of its processes (the notebook's folder)."""

    def label(self) -> str:
        if self.entry is not None:
            return f"{self.entry.notebook}  [session {self.entry.label()}]"
        return self.folder or Path(self.connection_file).name


def _command(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _role(command: list[str]) -> str:
    if any(Path(part).name == "watchdog.py" for part in command):
        return "watchdog"
    if "ipykernel_launcher" in command:
        return "kernel"
    return "child"


def _folder(pid: int) -> str | None:
    with contextlib.suppress(OSError):
        return os.readlink(f"/proc/{pid}/cwd")
    return None


def _kernel_files(folder: Path, connection_file: str) -> list[Path]:
    """The connection file ``kernel-TOKEN.json`` and its sockets ``kernel-TOKEN-PORT``."""
    stem = Path(connection_file).stem
    found = [p for p in folder.glob(f"{stem}-*") if p.name[len(stem) + 1 :].isdigit()]
    connection = folder / f"{stem}.json"
    return ([connection] if connection.exists() else []) + sorted(found)


def _scan_tagged(folder: Path) -> dict[str, tuple[int, int, list[int]]]:
    """connection file -> (owner pid, owner start, live pids) for every kernel
    of ``folder`` that has a live process carrying its tag."""
    groups: dict[str, tuple[int, int, list[int]]] = {}
    for pid, info in process_table().items():
        if info.zombie:
            continue
        tag = process_tag(pid)
        parsed = parse_tag(tag) if tag is not None else None
        if parsed is None or Path(parsed[2]).parent != folder:
            continue
        owner, start, connection = parsed
        groups.setdefault(connection, (owner, start, []))[2].append(pid)
    return groups


def find_orphans(registry: Registry) -> list[Orphan]:
    """The kernels of ``registry``'s runtime folder whose owner is gone:

    - processes carrying the tag of such a kernel (Linux: ``/proc``), and
    - connection files and sockets that no live kernel uses, with any
      registry entry that names them.

    Read only: nothing is killed or removed (``clean_orphans`` does that)."""
    folder = registry.folder.parent
    deadline = time.monotonic() + _SETTLE_SECONDS
    while True:
        scanned = _scan_tagged(folder)
        groups = {
            connection: group
            for connection, group in scanned.items()
            if not owner_alive(group[0], group[1])
        }
        watchdog_busy = any(
            _role(_command(pid)) == "watchdog" for _, _, pids in groups.values() for pid in pids
        )
        if not watchdog_busy or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    stored = [e for e in map(registry.read, _entry_keys(registry)) if e is not None]
    by_connection = {e.connection_file: e for e in stored}
    live_connections = set(scanned) - set(groups)
    live_connections |= {
        e.connection_file for e in stored if pid_alive(e.owner_pid) and pid_alive(e.kernel_pid)
    }

    orphans: list[Orphan] = []
    for connection, (owner, _, pids) in sorted(groups.items()):
        orphan = Orphan(connection, owner, entry=by_connection.get(connection))
        for pid in sorted(pids):
            command = _command(pid)
            orphan.processes.append(OrphanProcess(pid, _role(command), " ".join(command)))
        orphan.folder = next((f for f in map(_folder, sorted(pids)) if f), None)
        orphan.files = _kernel_files(folder, connection)
        orphans.append(orphan)

    # Files that no live kernel, and no orphan above, uses.
    named = _named_by_commands()
    known = {*groups, *live_connections}
    now = time.time()
    for path in sorted(folder.glob("kernel-*.json")):
        connection = str(path)
        if connection in known or connection in named:
            continue
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime < ORPHAN_FILE_GRACE_SECONDS:
                continue
            entry = by_connection.get(connection)
            owner = entry.owner_pid if entry is not None else 0
            orphans.append(Orphan(connection, owner, files=_kernel_files(folder, connection)))
            orphans[-1].entry = entry
    for orphan in orphans:
        if orphan.entry is not None:
            orphan.files += sorted(registry.folder.glob(f"{orphan.entry.key}.*"))
    return orphans


def _entry_keys(registry: Registry) -> list[str]:
    return [p.stem for p in sorted(registry.folder.glob("*.json")) if not p.name.startswith(".")]


def _named_by_commands() -> set[str]:
    """Every argument of every process we can see: a kernel started without
    a tag (an older version of Sessions) still names its connection file."""
    names: set[str] = set()
    for pid in process_table():
        names.update(_command(pid))
    return names


@dataclass(slots=True)
class CleanReport:
    orphan: Orphan
    killed: list[int]
    removed: list[Path]
    survivors: list[int]
    """Processes still alive after the clean-up (not ours to kill, or stuck)."""


def _tagged_with(connection: str) -> Callable[[dict[int, ProcessInfo]], set[int]]:
    return lambda table: tagged(table, connection)


def clean_orphans(orphans: Iterable[Orphan]) -> list[CleanReport]:
    """SIGKILL each orphan's processes (and whatever they forked meanwhile:
    found again by tag until none is left), then remove its files."""
    spare = ancestors(os.getpid())
    reports: list[CleanReport] = []
    for orphan in orphans:
        killed = [p.pid for p in orphan.processes]
        survivors = kill_until_gone(_tagged_with(orphan.connection_file), spare=spare)
        removed: list[Path] = []
        for path in orphan.files:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
        reports.append(CleanReport(orphan, killed, removed, sorted(survivors)))
    return reports


__all__ = [
    "NAME_RULE",
    "CleanReport",
    "NoSuchSession",
    "Orphan",
    "OrphanProcess",
    "Registry",
    "RegistryError",
    "SessionEntry",
    "clean_orphans",
    "find_orphans",
    "heartbeat",
    "no_such_session_message",
    "now_iso",
    "pid_alive",
    "stop_session",
    "validate_name",
]
