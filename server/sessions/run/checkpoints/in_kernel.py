"""The part of checkpoints that runs inside the kernel: save and restore values.

This file is not imported by Sessions: its source is sent to the kernel once
per kernel process (``install_code``) and becomes the module
``_sessions_checkpoints`` there. So it uses the standard library only — the
kernel's environment is the user's, which has neither Sessions nor, maybe,
cloudpickle — and it prints exactly one JSON line per call, which the runner
reads back (silent executes: nothing reaches the notebook's outputs).

A checkpoint file is, in order:

* ``MAGIC`` (8 bytes);
* an HMAC-SHA256 (32 bytes) of everything after it, keyed with the per-user
  key in the store's ``key`` file: a checkpoint is a pickle, and loading one
  executes code, so a file this user's Sessions did not write is refused
  before anything is unpickled;
* the header's length (8 bytes, big endian) and the header (JSON: the names,
  the interpreter, the versions of the packages the values' types come from,
  the size of the pickle and of each out-of-band buffer);
* the pickle (protocol 5, cloudpickle, so functions and classes defined in the
  notebook travel by value) and its out-of-band buffers (numpy, pandas and
  arrow data are written from their own memory, and read back without a copy).

It is written to a temporary name, fsynced, then renamed: a kernel killed
mid-write leaves a ``.tmp`` file that never loads.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import mmap
import os
import pickle
import sys
import time
import types
from typing import Any

MARK = "\x1esessions-checkpoint "
"""Starts the one line each call prints (a thread of the user's may print too)."""
MAGIC = b"SESSCKP1"
DIGEST = 32
LENGTH = 8
PROTOCOL = 5

_STDLIB: frozenset[str] = frozenset(getattr(sys, "stdlib_module_names", ()))
_versions: dict[str, str | None] = {}
_distributions: dict[str, list[str]] | None = None


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.write(MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


def _cloudpickle(fallback_dir: str) -> Any:
    """The kernel's cloudpickle, else the one next to Sessions (pure Python),
    loaded from its folder without putting Sessions' packages on sys.path."""
    try:
        import cloudpickle  # type: ignore[import-untyped,unused-ignore]

        return cloudpickle
    except ImportError:
        pass
    import importlib.util

    init = os.path.join(fallback_dir, "__init__.py")
    spec = importlib.util.spec_from_file_location(
        "cloudpickle", init, submodule_search_locations=[fallback_dir]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cloudpickle not found in {fallback_dir}")
    module = importlib.util.module_from_spec(spec)
    # Pickles made by cloudpickle name its helpers as ``cloudpickle.…``.
    sys.modules["cloudpickle"] = module
    spec.loader.exec_module(module)
    return module


def _distribution_version(top: str) -> str | None:
    """The installed version of the distribution that provides module ``top``."""
    import importlib.metadata  # here: the server imports this module for its constants

    global _distributions
    if top in _versions:
        return _versions[top]
    version: str | None = None
    try:
        version = importlib.metadata.version(top)
    except Exception:
        if _distributions is None:
            try:
                _distributions = dict(importlib.metadata.packages_distributions())
            except Exception:
                _distributions = {}
        for name in _distributions.get(top, []):
            try:
                version = importlib.metadata.version(name)
                break
            except Exception:
                continue
    _versions[top] = version
    return version


def _packages(values: dict[str, Any]) -> dict[str, str]:
    """The versions of the packages the values' types (and their items', one
    level down) come from: a pickle is only as good as the classes it names."""
    tops: set[str] = set()

    def visit(value: Any) -> None:
        module = getattr(type(value), "__module__", "") or ""
        tops.add(module.partition(".")[0])

    for value in values.values():
        visit(value)
        if isinstance(value, dict):
            for item in list(value.values())[:100]:
                visit(item)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for item in list(value)[:100]:
                visit(item)
    found: dict[str, str] = {}
    for top in sorted(tops):
        if not top or top in ("builtins", "__main__") or top in _STDLIB:
            continue
        version = _distribution_version(top)
        if version is not None:
            found[top] = version
    return found


def _user_namespace() -> dict[str, Any]:
    """IPython's user namespace (``__main__``'s outside IPython)."""
    shell = getattr(sys.modules.get("builtins"), "get_ipython", None)
    if shell is not None:
        namespace: dict[str, Any] = shell().user_ns
        return namespace
    return sys.modules["__main__"].__dict__


def _imported(value: Any) -> bool:
    """Whether a value is pickled by reference: a module, or a class or
    function of an importable module (not one the notebook defined)."""
    if isinstance(value, types.ModuleType):
        return True
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
        module = getattr(value, "__module__", None)
        return (
            isinstance(module, str)
            and module not in ("__main__", "builtins")
            and module in sys.modules
        )
    return False


def _read_key(key_path: str) -> bytes:
    with open(key_path, "rb") as handle:
        return handle.read()


def save(
    path: str,
    names: list[str],
    header: dict[str, Any],
    key_path: str,
    cloudpickle_dir: str,
    max_bytes: int,
) -> None:
    """Pickles ``names`` from the user namespace into ``path``; prints what happened."""
    started = time.perf_counter()
    namespace = _user_namespace()
    values = {name: namespace[name] for name in names if name in namespace}
    if not values:
        return _emit({"skipped": "the cell left none of its names defined"})
    if all(_imported(value) for value in values.values()):
        # A pickle of these names only says "import them again": no time saved.
        return _emit(
            {
                "skipped": "the cell only imports (its values are modules, classes and functions of packages)"
            }
        )
    try:
        cloudpickle = _cloudpickle(cloudpickle_dir)
    except Exception as exc:
        return _emit({"skipped": f"cloudpickle is not available in the kernel ({exc})"})
    buffers: list[pickle.PickleBuffer] = []
    try:
        data = cloudpickle.dumps(values, protocol=PROTOCOL, buffer_callback=buffers.append)
    except Exception as exc:
        culprit = _unpicklable(cloudpickle, values)
        what = f"`{culprit[0]}` ({culprit[1]})" if culprit else "a value"
        return _emit({"skipped": f"{what} cannot be pickled: {type(exc).__name__}: {exc}"[:300]})
    views = [buffer.raw() for buffer in buffers]
    size = len(data) + sum(view.nbytes for view in views)
    if size > max_bytes:
        return _emit(
            {"skipped": f"its values take {size} bytes, over the cap of {max_bytes}", "size": size}
        )
    header = dict(header)
    header.update(
        names=sorted(values),
        absent=sorted(set(names) - set(values)),
        python=sys.version,
        prefix=sys.prefix,
        packages=_packages(values),
        pickle=len(data),
        buffers=[view.nbytes for view in views],
        created=time.time(),
    )
    encoded = json.dumps(header).encode("utf-8")
    signer = hmac.new(_read_key(key_path), digestmod=hashlib.sha256)
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(MAGIC + b"\0" * DIGEST)
            for chunk in (len(encoded).to_bytes(LENGTH, "big"), encoded, data, *views):
                handle.write(chunk)
                signer.update(chunk)
            handle.seek(len(MAGIC))
            handle.write(signer.digest())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        directory = os.open(os.path.dirname(path), os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return _emit({"skipped": f"the checkpoint could not be written: {exc}"})
    _emit(
        {"saved": sorted(values), "size": size, "seconds": round(time.perf_counter() - started, 4)}
    )


def _unpicklable(cloudpickle: Any, values: dict[str, Any]) -> tuple[str, str] | None:
    """The first name whose value does not pickle, with its type."""
    for name, value in values.items():
        try:
            cloudpickle.dumps(value, protocol=PROTOCOL, buffer_callback=lambda _: None)
        except Exception:
            return name, type(value).__name__
    return None


def load(path: str, key_path: str, cloudpickle_dir: str) -> None:
    """Verifies and unpickles ``path`` into the user namespace; prints what happened.

    The file's name already depends on the interpreter's path; its header's
    ``sys.version`` and ``sys.prefix`` must also be this kernel's."""
    started = time.perf_counter()
    head = len(MAGIC) + DIGEST + LENGTH
    try:
        with open(path, "rb") as handle:
            read = os.fstat(handle.fileno()).st_size
            if read < head:
                return _emit({"refused": "it is not a Sessions checkpoint (or is truncated)"})
            # Mapped, not read: the arrays are backed by the file's pages (a
            # private, copy-on-write mapping, so they are writable), which
            # saves copying hundreds of MB. The store replaces files by
            # rename and never rewrites one in place.
            content = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
    except (OSError, ValueError) as exc:
        return _emit({"refused": f"it could not be read: {exc}"})
    view = memoryview(content)[:read]
    if bytes(view[: len(MAGIC)]) != MAGIC:
        return _emit({"refused": "it is not a Sessions checkpoint (or is truncated)"})
    expected = hmac.new(_read_key(key_path), view[len(MAGIC) + DIGEST :], hashlib.sha256).digest()
    if not hmac.compare_digest(expected, bytes(view[len(MAGIC) : len(MAGIC) + DIGEST])):
        return _emit(
            {
                "refused": "its signature does not match (tampered with, truncated, or not made by this user)"
            }
        )
    length = int.from_bytes(view[len(MAGIC) + DIGEST : head], "big")
    try:
        header = json.loads(bytes(view[head : head + length]))
    except ValueError:
        return _emit({"refused": "its header is not readable"})
    if header.get("python") != sys.version or header.get("prefix") != sys.prefix:
        return _emit({"refused": "it was made by another interpreter"})
    changed = [
        f"{name} {version} → {_distribution_version(name) or 'not installed'}"
        for name, version in sorted(dict(header.get("packages", {})).items())
        if _distribution_version(name) != version
    ]
    if changed:
        return _emit({"refused": "package versions changed: " + ", ".join(changed)})
    offset = head + length
    data = view[offset : offset + int(header["pickle"])]
    offset += int(header["pickle"])
    buffers = []
    for size in header.get("buffers", []):
        buffers.append(view[offset : offset + int(size)])
        offset += int(size)
    if offset != read:
        return _emit({"refused": "its size does not match its header"})
    try:
        _cloudpickle(cloudpickle_dir)  # its helpers must be importable to unpickle
        values = pickle.loads(data, buffers=buffers)
    except Exception as exc:
        return _emit({"refused": f"unpickling failed: {type(exc).__name__}: {exc}"[:300]})
    _user_namespace().update(values)
    with contextlib.suppress(OSError):
        os.utime(path)  # least recently used goes first when the store is full
    _emit(
        {
            "restored": sorted(values),
            "size": read,
            "seconds": round(time.perf_counter() - started, 4),
            "duration": header.get("duration"),
        }
    )
