"""Compiled code for what attrs and cattrs generate, kept between server starts.

Importing ``lsprotocol.types`` builds about 550 attrs classes, and attrs
writes each class's ``__init__``, ``__eq__`` and friends as Python source and
compiles it: that compiling is about 60 % of the import (200 of 350 ms on a
2-core machine), paid again by every start of the language server. The
compiled code depends only on that source, its (synthetic) file name and the
interpreter — exactly what a ``.pyc`` depends on — so it is kept the way
``.pyc`` files are: in this package's ``__pycache__`` folder (or under
``PYTHONPYCACHEPREFIX``), tagged with the interpreter's cache tag and bytecode
magic number, not written when ``PYTHONDONTWRITEBYTECODE`` is set, and simply
not used where that folder cannot be written. Like the ``.pyc`` files beside
it, it is code the interpreter runs, so it is as trusted as the installed
package (written with the user's rights, mode 0600).
``SESSIONS_STARTUP_CACHE`` names another folder (the benchmark's cold
start), or ``off``.

Only the ``compile`` calls of attrs and cattrs are redirected, and only
until the server is ready (:func:`begin`, :func:`finish`; ``initialized``):
cattrs writes the converter functions for ``initialize``'s large parameters
the first time it sees them, another 25 ms of compiling. A source the cache
has not seen is compiled as before. A file that cannot be read, or was
written by another interpreter, counts as empty and is replaced: it can make
a start slower, never different. The file keeps only what the last start
that rewrote it used, so an upgrade of attrs or lsprotocol does not grow it.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib.util
import logging
import marshal
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import CodeType
from typing import Any

log = logging.getLogger(__name__)

CACHE_ENV = "SESSIONS_STARTUP_CACHE"
"""A folder for the cache instead of ``__pycache__``, or ``off``."""

FORMAT = b"sessions-generated-code-1\n" + importlib.util.MAGIC_NUMBER

REWRITE_SHARE = 0.05
"""The file is rewritten when more than this share of the code had to be
compiled (the first start, an upgrade). A few sources differ in every process
— attrs writes ``hash()`` of a string into a frozen class's ``__hash__``, and
string hashes are randomised per process — so they are always compiled, and
must not make every start rewrite the file."""


def cache_path() -> Path | None:
    """Where the cache lives, or None where it is switched off."""
    configured = os.environ.get(CACHE_ENV)
    name = f"generated-code.{sys.implementation.cache_tag}.marshal"
    if configured:
        return None if configured.lower() == "off" else Path(configured).expanduser() / name
    if sys.dont_write_bytecode or sys.implementation.cache_tag is None:
        return None
    # cache_from_source applies PYTHONPYCACHEPREFIX, as Python does for this module's .pyc.
    return Path(importlib.util.cache_from_source(__file__)).parent / name


def _key(source: str, filename: str) -> bytes:
    return hashlib.blake2b(f"{filename}\0{source}".encode(), digest_size=16).digest()


def load(path: Path) -> dict[bytes, CodeType]:
    """The cached code objects, or nothing when the file is missing, damaged or foreign."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    if not data.startswith(FORMAT):
        return {}
    try:
        table = marshal.loads(data[len(FORMAT) :])
    except (EOFError, ValueError, TypeError):
        log.info("the start-up cache %s is damaged; it will be rewritten", path)
        return {}
    if not isinstance(table, dict):
        return {}
    return {
        key: code
        for key, code in table.items()
        if isinstance(key, bytes) and isinstance(code, CodeType)
    }


def store(path: Path, table: dict[bytes, CodeType]) -> None:
    """Write the table atomically (a temporary file renamed over the old one);
    a folder that cannot be written means no cache, not an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".generated-code.")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(FORMAT + marshal.dumps(table))
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as error:
        log.info("no start-up cache: cannot write %s (%s)", path, error)


_GENERATORS = ("attr._make", "cattrs.gen")
"""The modules whose ``compile`` calls are redirected: attrs (class methods,
at import) and cattrs (a converter's structure and unstructure functions,
written the first time a message type is seen: ``initialize`` is the largest)."""


class GeneratedCodeCache:
    """The redirect of the generators' ``compile`` to the cache, from
    :meth:`begin` to :meth:`finish`."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.counts = {"reused": 0, "compiled": 0}
        self._known: dict[bytes, CodeType] = {}
        self._used: dict[bytes, CodeType] = {}
        self._patched: list[Any] = []

    def begin(self) -> None:
        if self.path is None or self._patched:
            return
        self._known = load(self.path)
        for name in _GENERATORS:
            try:
                module = importlib.import_module(name)
            except ImportError:  # the library changed shape: it compiles as before
                continue
            if "compile" not in vars(module):
                # They call the builtin by its global name; a module global shadows it.
                module.compile = self._compile  # type: ignore[attr-defined]
                self._patched.append(module)

    def finish(self) -> None:
        """Stop redirecting; rewrite the file if much had to be compiled."""
        for module in self._patched:
            if vars(module).get("compile") == self._compile:
                del module.compile
        self._patched = []
        compiled, reused = self.counts["compiled"], self.counts["reused"]
        if self.path is not None and compiled > REWRITE_SHARE * (compiled + reused):
            store(self.path, self._used)
        self._known, self._used = {}, {}

    def _compile(self, source: Any, filename: Any, mode: str, *args: Any, **kw: Any) -> Any:
        if args or kw or mode != "exec" or not isinstance(source, str):
            return builtins.compile(source, filename, mode, *args, **kw)
        key = _key(source, str(filename))
        code = self._known.get(key)
        if code is None:
            code = builtins.compile(source, filename, mode)
            self.counts["compiled"] += 1
        else:
            self.counts["reused"] += 1
        self._used[key] = code
        return code


_active: GeneratedCodeCache | None = None


def begin() -> GeneratedCodeCache:
    """Start redirecting for this process (the language server's start)."""
    global _active
    if _active is None:
        _active = GeneratedCodeCache(cache_path())
        _active.begin()
    return _active


def finish() -> None:
    """End the redirect :func:`begin` started, if any (the server has answered
    ``initialize``: what comes later is compiled as usual)."""
    global _active
    if _active is not None:
        _active.finish()
        _active = None


@contextmanager
def reuse_generated_code(path: Path | None = None) -> Iterator[dict[str, int]]:
    """The redirect for the duration of a block. Yields the counts
    (``reused``, ``compiled``), filled in as the block runs."""
    cache = GeneratedCodeCache(path if path is not None else cache_path())
    cache.begin()
    try:
        yield cache.counts
    finally:
        cache.finish()
