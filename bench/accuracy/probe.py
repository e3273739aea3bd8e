"""Kernel-side state probe for the accuracy benchmark's ground truth.

The ground-truth runner sends this module's source to the kernel once, then
runs ``_bench_probe.snap(N)`` silently after cell N and
``_bench_probe.dump(PATH)`` at the end. Each snapshot maps every user-visible
global name, and a few kinds of hidden state, to a digest of its value, so the
runner can tell which names a cell bound or changed, and whether two runs left
the same values behind.

What a digest can see:

* values that pickle (arrays, frames, estimators, fitted results, containers),
  and the arrays in a lazily loaded ``.npz`` (``np.load``),
  by the bytes of a pickle whose functions and classes defined in the notebook
  are replaced by a digest of their code, so an edited function body changes
  the digest of every value that holds it;
* hidden state real notebooks rely on: the global RNGs of ``random`` and
  ``numpy.random``, matplotlib's rcParams, pandas options, scikit-learn's
  config, the working directory, ``sys.path``, warning filters, and the files
  in the working directory (zip archives such as ``.npz`` by their members, so
  their timestamps do not count).

What it cannot see: matplotlib objects (figures, axes, lines, norms,
containers) are reduced to their type, because their pickles drag in the
whole figure and drawing updates them lazily; what they draw is compared
through the image outputs instead. Objects that neither pickle nor
have a stable ``repr`` (open files, generators, C-extension handles) are
compared by ``repr`` with memory addresses removed, which may miss changes.
Names starting with ``_`` (IPython's ``_``, ``_i3``, ``Out``-like caches and
this probe) are skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import sys
import types
import zipfile
from typing import Any

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython"})
# A file bigger than this is digested by size only: hashing it after every
# cell would cost more than the notebook itself.
_MAX_FILE_BYTES = 64 * 1024 * 1024


def _stable_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<unrepresentable {type(value).__module__}.{type(value).__qualname__}>"
    return _ADDRESS.sub(" at 0x", text)


def _code_digest(code: types.CodeType, depth: int = 0) -> str:
    # Bytecode, constants and names say what a function does; file names and
    # line tables do not (they change when a cell moves or a comment is added).
    h = hashlib.blake2b(digest_size=16)
    h.update(code.co_code)
    h.update(repr((code.co_names, code.co_varnames, code.co_freevars)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType) and depth < 20:
            h.update(_code_digest(const, depth + 1).encode())
        else:
            h.update(_stable_repr(const).encode())
    return h.hexdigest()


def _is_main(obj: object) -> bool:
    return getattr(obj, "__module__", None) == "__main__"


def _is_artist(obj: object) -> bool:
    # Every matplotlib object, not only artists: norms, containers and
    # transforms are updated lazily when a figure is drawn or closed, after
    # the cell that made them.
    module = type(obj).__module__ or ""
    return module.startswith(("matplotlib.", "mpl_toolkits."))


class _Pickler(pickle.Pickler):
    """Pickles by value where the default pickles by reference or not at all."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.ModuleType):
            return str, (f"module {obj.__name__}",)
        if isinstance(obj, types.FunctionType) and _is_main(obj):
            return str, (f"function {obj.__qualname__} {_function_digest(obj)}",)
        if isinstance(obj, type) and _is_main(obj):
            return str, (f"class {obj.__qualname__} {_class_digest(obj)}",)
        if _is_artist(obj):
            return str, (f"artist {type(obj).__qualname__}",)
        numpy = sys.modules.get("numpy")
        if numpy is not None and type(obj).__name__ == "NpzFile" and hasattr(obj, "files"):
            # np.load of an .npz reads lazily from an open zip: digest the arrays
            # it holds, not its repr (which is the same whatever the file holds).
            return str, (f"npz {digest({key: obj[key] for key in obj.files})}",)
        if numpy is not None and type(obj) is numpy.ndarray and obj.dtype.kind in "biufcmMSU":
            # Hash the buffer in place instead of copying it into the pickle.
            h = hashlib.blake2b(numpy.ascontiguousarray(obj).view(numpy.uint8), digest_size=16)
            return str, (f"ndarray {obj.dtype.str} {obj.shape} {h.hexdigest()}",)
        return NotImplemented


def _function_digest(fn: types.FunctionType) -> str:
    parts = [_code_digest(fn.__code__)]
    parts.append(digest(fn.__defaults__))
    parts.append(digest(fn.__kwdefaults__))
    for cell in fn.__closure__ or ():
        try:
            parts.append(digest(cell.cell_contents))
        except ValueError:  # an empty cell: the closure variable is unbound
            parts.append("empty")
    return hashlib.blake2b("|".join(parts).encode(), digest_size=16).hexdigest()


def _class_digest(cls: type) -> str:
    parts = [repr([base.__qualname__ for base in cls.__mro__])]
    for key, value in sorted(vars(cls).items()):
        if key in ("__dict__", "__weakref__", "__module__", "__doc__"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property):
            value = (value.fget, value.fset, value.fdel)
        parts.append(f"{key}={digest(value)}")
    return hashlib.blake2b("|".join(parts).encode(), digest_size=16).hexdigest()


_active: set[int] = set()


def digest(value: object) -> str:
    """A short digest of a value that is equal across runs when the value is."""
    # Self-referencing classes and closures would recurse forever.
    if id(value) in _active:
        return "recursive"
    _active.add(id(value))
    try:
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, protocol=4).dump(value)
            data = b"p" + buffer.getvalue()
        except Exception:
            data = b"r" + _stable_repr(value).encode()
        return hashlib.blake2b(data, digest_size=16).hexdigest()
    finally:
        _active.discard(id(value))


def _file_digest(path: str) -> str:
    size = os.path.getsize(path)
    if size > _MAX_FILE_BYTES:
        return f"size {size}"
    h = hashlib.blake2b(digest_size=16)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                h.update(info.filename.encode())
                h.update(archive.read(info))
    else:
        with open(path, "rb") as handle:
            h.update(handle.read())
    return h.hexdigest()


def _hidden_state() -> dict[str, str]:
    state: dict[str, str] = {}
    random = sys.modules.get("random")
    if random is not None:
        state["<random>"] = digest(random.getstate())
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        state["<numpy.random>"] = digest(numpy.random.get_state(legacy=False))
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None:
        state["<matplotlib.rcParams>"] = digest(
            sorted(map(_stable_repr, matplotlib.rcParams.items()))
        )
    pandas_config = sys.modules.get("pandas._config.config")
    if pandas_config is not None:
        state["<pandas.options>"] = digest(_stable_repr(pandas_config._global_config))
    sklearn = sys.modules.get("sklearn")
    if sklearn is not None:
        state["<sklearn.config>"] = digest(_stable_repr(sorted(sklearn.get_config().items())))
    warnings = sys.modules.get("warnings")
    if warnings is not None:
        state["<warnings.filters>"] = digest(_stable_repr(warnings.filters))
    state["<cwd>"] = digest(os.getcwd())
    state["<sys.path>"] = digest(list(sys.path))
    for root, dirs, files in os.walk("."):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                state[f"<file:{os.path.normpath(path)}>"] = _file_digest(path)
            except OSError:
                continue
    return state


class Probe:
    """Collects one snapshot per executed cell in the kernel's namespace."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.snapshots: dict[str, dict[str, Any]] = {}

    def snap(self, key: int) -> None:
        state: dict[str, str] = {}
        # Identities tell a rebinding from a mutation, and see a rebinding to
        # an equal value (a new figure's axes digest like the old one's).
        identities: dict[str, int] = {}
        for name, value in list(self.namespace.items()):
            if name.startswith("_") or name in _IPYTHON_NAMES:
                continue
            state[name] = digest(value)
            identities[name] = id(value)
        state.update(_hidden_state())
        self.snapshots[str(key)] = {"values": state, "ids": identities}

    def dump(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.snapshots, handle)
