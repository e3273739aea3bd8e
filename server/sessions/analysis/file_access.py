"""Files a cell reads or writes by literal path (DESIGN §4, "files as dependencies").

``df.to_csv("out.csv")`` in one cell and ``pd.read_csv("out.csv")`` in a later
one make the reader depend on the writer, although no Python name connects
them. The analysis recognises calls by their method or function name (whatever
object they are called on: ``df.to_csv``, ``np.save``, ``joblib.dump``,
``Path("p").write_text``) and takes the path from the first string literal
argument or a path keyword. Paths built at run time (f-strings, variables,
``os.path.join``) are invisible to it — docs/analysis.md says so.
"""

from __future__ import annotations

import ast
import posixpath
from typing import Protocol

_READERS = frozenset(
    {
        *("read_csv", "read_table", "read_fwf", "read_parquet", "read_feather", "read_json"),
        *("read_excel", "read_pickle", "read_hdf", "read_orc", "read_stata", "read_sas"),
        *("read_spss", "read_xml", "loadtxt", "genfromtxt", "fromfile", "load", "imread"),
        *("read_text", "read_bytes"),
    }
)
_WRITERS = frozenset(
    {
        *("to_csv", "to_parquet", "to_feather", "to_json", "to_excel", "to_pickle", "to_hdf"),
        *("to_orc", "to_stata", "to_xml", "savefig", "imsave", "save", "savez"),
        *("savez_compressed", "savetxt", "tofile", "dump", "write_text", "write_bytes"),
    }
)
FILE_METHODS = _READERS | _WRITERS | {"open"}
"""Final names of the calls that may read or write a file by path."""

_PATH_KEYWORDS = frozenset(
    {"path", "path_or_buf", "fname", "filename", "file", "filepath_or_buffer", "io", "f"}
)
# NumPy adds these suffixes when the name has none: np.save("a", x) writes a.npy.
_DEFAULT_SUFFIX = {"save": ".npy", "savez": ".npz", "savez_compressed": ".npz"}


class _Accesses(Protocol):
    file_reads: list[str]
    file_writes: list[str]


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _path_argument(call: ast.Call) -> str | None:
    for arg in call.args:
        text = _literal(arg)
        if text is not None:
            return text
    for keyword in call.keywords:
        if keyword.arg in _PATH_KEYWORDS:
            return _literal(keyword.value)
    return None


def normalize_path(text: str) -> str | None:
    """The path as the analysis compares it, or None when it is not a local file path."""
    text = text.strip()
    if not text or "://" in text or "\n" in text or len(text) > 4096:
        return None
    return posixpath.normpath(text.replace("\\", "/"))


def _open_mode(call: ast.Call) -> str:
    mode = _literal(call.args[1]) if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg == "mode":
            mode = _literal(keyword.value)
    return mode if mode is not None else "r"


def file_access(call: ast.Call, method: str, into: _Accesses) -> None:
    """Record the file ``call`` (named ``method``) reads or writes, if its path is a literal."""
    func = call.func
    if method in ("read_text", "read_bytes", "write_text", "write_bytes"):
        # Path("p").read_text(): the path is the argument of the call the method is on.
        owner = func.value if isinstance(func, ast.Attribute) else None
        if not isinstance(owner, ast.Call) or not owner.args:
            return
        raw = _literal(owner.args[0])
    else:
        raw = _path_argument(call)
    if raw is None:
        return
    path = normalize_path(raw)
    if path is None:
        return
    if method == "open":
        if type(func) is not ast.Name:
            return  # Image.open, gzip.open...: the builtin's rules do not apply
        mode = _open_mode(call)
        writes = any(flag in mode for flag in "wax+")
        (into.file_writes if writes else into.file_reads).append(path)
        return
    if method in _WRITERS:
        suffix = _DEFAULT_SUFFIX.get(method)
        if suffix is not None and not posixpath.splitext(path)[1]:
            path += suffix
        into.file_writes.append(path)
    else:
        into.file_reads.append(path)
