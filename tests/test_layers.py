"""Who may import whom (docs/architecture.md, "Layers"), read from the source.

The engine is layered ``format → cache → analysis → kernel → run →
surfaces`` (api, mcp, lsp, cli); a lower layer never imports a higher one,
and each third-party protocol stays in the one package that speaks it
(pygls and lsprotocol in ``lsp/``, jupyter_client and zmq in ``kernel/``,
the MCP SDK in ``mcp/``). Every import counts, lazy ones inside functions
included, except those under ``if TYPE_CHECKING:``. A new forbidden import
fails here with the file, the line and the rule it breaks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "server" / "sessions"

INTEROP = {"ipynb", "ipynb_metadata", "formatting", "workspace_scope", "export"}
"""Top-level modules: conversion to ``.ipynb``, ``ruff format``, the workspace
root the two servers share, exports (HTML and Markdown through nbconvert).
They use the engine, never a surface."""

ENGINE = ("format", "cache", "analysis", "kernel", "run")
SURFACES = ("api", "mcp", "lsp", "cli")

MAY_IMPORT: dict[str, set[str]] = {
    "format": {"format"},
    "cache": {"format", "cache"},
    "analysis": {"format", "cache", "analysis"},
    "kernel": {"format", "cache", "kernel"},
    "run": {"format", "cache", "analysis", "kernel", "run"},
    "interop": {"format", "cache", "analysis", "kernel", "run", "interop"},
    "api": {*ENGINE, "interop", "api"},
    "mcp": {*ENGINE, "interop", "api", "mcp"},
    "lsp": {*ENGINE, "interop", "lsp"},
    "cli": {*ENGINE, "interop", "api", "mcp", "lsp", "cli"},
    "face": {"api", "format", "run", "analysis", "face"},
}
"""Layer -> the layers it may import. ``face`` is ``sessions/__init__.py``,
``_version.py`` and ``bind.py`` (which runs in kernels and imports nothing); everyone may import ``sessions._version``."""

CACHE_READERS = {"records", "identity", "sidecar", "decode", "conflicts", "__init__"}
"""What analysis may use of the cache: reading records, never writing them."""

THIRD_PARTY: dict[str, str] = {
    "pygls": "lsp",
    "lsprotocol": "lsp",
    "jupyter_client": "kernel",
    "zmq": "kernel",
    "mcp": "mcp",
}
"""Library -> the one layer that may import it."""


@dataclass(frozen=True)
class Import:
    file: Path
    line: int
    module: str


def layer_of(module: str) -> str:
    """``sessions.analysis.graph`` -> ``analysis``."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__init__", "_version", "bind"):
        return "face"
    if parts[1] in INTEROP:
        return "interop"
    return parts[1]


def module_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    skipped.add(id(sub))
    return skipped


def _function_bodies(tree: ast.Module) -> set[int]:
    """Ids of the nodes inside function bodies (imported when called, not on import)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for statement in node.body:
                inside.update(id(sub) for sub in ast.walk(statement))
    return inside


def imports_of(
    path: Path,
    *,
    on_import_only: bool = False,
    module: str | None = None,
    type_checking: bool = False,
) -> Iterator[Import]:
    """Every import in ``path`` as an absolute module (``from a import b``
    also yields ``a.b``: ``b`` may be a module). ``on_import_only``: only those
    that run when the module is imported (not inside a function)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = set() if type_checking else _type_checking_only(tree)
    if on_import_only:
        skipped |= _function_bodies(tree)
    package = module or module_of(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield Import(path, node.lineno, target)
            for alias in node.names:
                yield Import(path, node.lineno, f"{target}.{alias.name}")


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def violations(path: Path, module: str | None = None) -> list[str]:
    """What ``path`` imports against the rules, read as module ``module``
    (default: where it is)."""
    found: list[str] = []
    own = layer_of(module or module_of(path))
    where_file = (
        module.replace(".", "/") + ".py" if module else str(path.relative_to(PACKAGE.parent))
    )
    for imported in imports_of(path, module=module):
        where = f"{where_file}:{imported.line}"
        root = imported.module.split(".")[0]
        if root == "sessions":
            if imported.module in (
                "sessions",
                "sessions.__version__",
            ) or imported.module.startswith("sessions._version"):
                continue
            target = layer_of(imported.module)
            if target not in MAY_IMPORT[own]:
                found.append(f"{where}: {own} imports {imported.module} ({target})")
            elif own == "analysis" and target == "cache":
                leaf = imported.module.split(".")[2] if imported.module.count(".") > 1 else ""
                if leaf and leaf not in CACHE_READERS:
                    found.append(f"{where}: analysis imports the cache writer {imported.module}")
        elif root in THIRD_PARTY and THIRD_PARTY[root] != own:
            found.append(f"{where}: {imported.module} belongs in {THIRD_PARTY[root]}/ only")
    return found


def test_no_layer_imports_a_higher_one() -> None:
    assert [v for path in sources() for v in violations(path)] == []


def test_every_module_is_in_a_known_layer() -> None:
    unknown = {layer_of(module_of(p)) for p in sources()} - set(MAY_IMPORT)
    assert unknown == set()


@pytest.mark.parametrize(
    ("relative", "line", "broken"),
    [
        ("format/notebook.py", "from sessions.analysis.graph import build_graph", "format imports"),
        ("cache/sidecar.py", "from sessions.run.runner import NotebookRunner", "cache imports"),
        ("analysis/graph.py", "from sessions.cache.atomic import write_atomic", "cache writer"),
        ("kernel/session.py", "from sessions.run.plan import plan_run", "kernel imports"),
        ("run/runner.py", "from sessions.lsp.server import SessionsServer", "run imports"),
        ("analysis/staleness.py", "import pygls", "belongs in lsp/"),
        ("run/runner.py", "from jupyter_client import KernelManager", "belongs in kernel/"),
        ("api/notebook.py", "from mcp.server import Server", "belongs in mcp/"),
    ],
)
def test_a_forbidden_import_is_caught(
    tmp_path: Path, relative: str, line: str, broken: str
) -> None:
    # The module with one more import, read as if it were where it lives.
    source = PACKAGE / relative
    probe = tmp_path / source.name
    probe.write_text(source.read_text() + f"\n\ndef _probe() -> None:\n    {line}\n")
    module = module_of(source)
    assert not any(broken in v for v in violations(source)), "the rule holds today"
    assert any(broken in v for v in violations(probe, module)), violations(probe, module)


def test_the_import_graph_has_no_cycle() -> None:
    """Imports at module level, those for type checkers included: a cycle among
    them is an import-order bug waiting to happen, or two modules doing one job."""
    known = {module_of(p) for p in sources()}
    edges: dict[str, set[str]] = {}
    for path in sources():
        own = module_of(path)
        deps: set[str] = set()
        for imported in imports_of(path, on_import_only=True, type_checking=True):
            if imported.module in known and imported.module != own:
                deps.add(imported.module)
        edges[own] = deps
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


def test_a_cycle_is_found() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as a path that ends where it starts; None if there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(edges):
        if state.get(root):
            continue
        path = [root]
        stack: list[list[str]] = [sorted(edges.get(root, ()), reverse=True)]
        state[root] = 1
        while stack:
            if not stack[-1]:
                state[path.pop()] = 2
                stack.pop()
                continue
            nxt = stack[-1].pop()
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(sorted(edges.get(nxt, ()), reverse=True))
    return None


def test_the_version_is_the_one_pyproject_declares() -> None:
    import tomllib

    from sessions._version import __version__

    pyproject = tomllib.loads((PACKAGE.parent.parent / "pyproject.toml").read_text())
    assert __version__ == pyproject["project"]["version"]
