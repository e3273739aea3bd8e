"""The start-up cache of attrs's and cattrs's generated code (lsp/startup_cache.py).

Each test builds new attrs classes (and a cattrs converter for them) under the
redirect, so the code they compile is really generated here, by the real
libraries, and really reused from the file on the next round.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import cattrs
import pytest

from sessions.lsp import startup_cache
from sessions.lsp.startup_cache import FORMAT, GeneratedCodeCache, load, reuse_generated_code


def _make_classes(count: int = 30) -> list[type]:
    """New attrs classes whose generated source is the same every round (fixed
    names and fields), as lsprotocol's are from one start to the next."""
    made = []
    for number in range(count):
        made.append(
            attrs.define(type(f"Shape{number}", (), {"__annotations__": {"x": "int", "y": "str"}}))
        )
    return made


def _use(classes: list[type]) -> list[Any]:
    converter = cattrs.Converter()
    return [converter.structure({"x": n, "y": str(n)}, cls) for n, cls in enumerate(classes)]


def test_a_second_round_reuses_what_the_first_compiled(tmp_path: Path) -> None:
    path = tmp_path / "cache.marshal"
    with reuse_generated_code(path) as first:
        first_objects = _use(_make_classes())
    assert first["compiled"] >= 60 and first["reused"] == 0  # methods and structure functions
    assert path.read_bytes().startswith(FORMAT)

    with reuse_generated_code(path) as second:
        classes = _make_classes()
        objects = _use(classes)
    assert second["compiled"] == 0 and second["reused"] == first["compiled"]
    # The reused code behaves as freshly compiled code does.
    assert [repr(o) for o in objects] == [repr(o) for o in first_objects]
    assert objects[3] == classes[3](x=3, y="3") and objects[3] != classes[3](x=4, y="3")


def test_the_redirect_ends_with_the_block(tmp_path: Path) -> None:
    import attr._make
    import cattrs.gen

    path = tmp_path / "cache.marshal"
    with reuse_generated_code(path):
        assert "compile" in vars(attr._make) and "compile" in vars(cattrs.gen)
    assert "compile" not in vars(attr._make) and "compile" not in vars(cattrs.gen)
    _make_classes(2)  # after the block: compiled as usual, and not kept
    assert not path.exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"not a cache at all", FORMAT + b"\x00\xff garbage", b"sessions-generated-code-0\n"],
)
def test_a_damaged_or_foreign_file_is_compiled_around_and_replaced(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "cache.marshal"
    path.write_bytes(content)
    assert load(path) == {}
    with reuse_generated_code(path) as counts:
        _use(_make_classes(5))
    assert counts["compiled"] > 0
    assert len(load(path)) == counts["compiled"]  # replaced by a good file


def test_an_unwritable_folder_means_no_cache_not_an_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    with reuse_generated_code(blocked / "cache.marshal") as counts:
        objects = _use(_make_classes(3))
    assert counts["compiled"] > 0 and len(objects) == 3
    assert blocked.read_text() == ""


def test_a_few_sources_new_in_every_process_do_not_rewrite_the_file(tmp_path: Path) -> None:
    """attrs writes hash() of a string into a frozen class's __hash__: that
    source differs per process, so it is always compiled, and alone it must
    not make every start rewrite the file."""
    path = tmp_path / "cache.marshal"
    with reuse_generated_code(path):
        _make_classes(40)
    written = path.stat().st_mtime_ns
    with reuse_generated_code(path) as counts:
        _make_classes(40)
        attrs.frozen(type("Once", (), {"__annotations__": {"x": "int"}}))
    assert counts["compiled"] >= 1 and counts["reused"] >= 40
    assert path.stat().st_mtime_ns == written


def test_the_server_process_fills_the_cache_and_reuses_it(tmp_path: Path) -> None:
    """Through the real start of ``sessions lsp`` (begin at start, finish
    when ready), with the cache in a folder of this test."""
    code = (
        "from sessions.lsp import startup_cache\n"
        "active = startup_cache.begin()\n"
        "from sessions.lsp.server import create_server\n"
        "create_server().ready()\n"
        "counts = dict(active.counts)\n"
        "startup_cache.finish()\n"
        "print(counts['compiled'], counts['reused'])\n"
    )
    env = dict(os.environ, SESSIONS_STARTUP_CACHE=str(tmp_path))
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    (first_compiled, first_reused), (second_compiled, second_reused) = [
        (int(a), int(b)) for a, b in runs
    ]
    assert first_compiled > 300 and first_reused == 0  # lsprotocol's ~550 classes
    assert second_reused >= first_compiled - 5 and second_compiled <= 5
    assert len(list(tmp_path.glob("generated-code.*.marshal"))) == 1


def test_where_the_cache_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SESSIONS_STARTUP_CACHE", "off")
    assert startup_cache.cache_path() is None
    assert GeneratedCodeCache(None).counts == {"reused": 0, "compiled": 0}
    monkeypatch.setenv("SESSIONS_STARTUP_CACHE", str(tmp_path))
    path = startup_cache.cache_path()
    assert path is not None and path.parent == tmp_path
    assert sys.implementation.cache_tag in path.name
    monkeypatch.delenv("SESSIONS_STARTUP_CACHE")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert startup_cache.cache_path() is None  # as Python writes no .pyc
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = startup_cache.cache_path()
    assert path is not None and path.parent.name == "__pycache__"
