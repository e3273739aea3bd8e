"""Fixtures shared by several test modules."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import Watch
from tests.support.jupyter_server import JupyterServer


@pytest.fixture(autouse=True, scope="session")
def checkpoint_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test's checkpoints (and those of the servers and CLIs it starts,
    which inherit the environment) go to a folder of this run, never the
    user's cache: a test must not depend on, or leave, anything in ~/.cache."""
    folder = tmp_path_factory.mktemp("checkpoints")
    before = os.environ.get("SESSIONS_CHECKPOINT_DIR")
    os.environ["SESSIONS_CHECKPOINT_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("SESSIONS_CHECKPOINT_DIR", None)
    else:
        os.environ["SESSIONS_CHECKPOINT_DIR"] = before


@pytest.fixture(autouse=True, scope="session")
def startup_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Language servers started by the tests keep their start-up cache
    (lsp/startup_cache.py) in a folder of this run: every server start goes
    through the cache (the first fills it), whether or not the machine lets
    Python write bytecode, and nothing is left beside the installed package."""
    folder = tmp_path_factory.mktemp("startup-cache")
    before = os.environ.get("SESSIONS_STARTUP_CACHE")
    os.environ["SESSIONS_STARTUP_CACHE"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("SESSIONS_STARTUP_CACHE", None)
    else:
        os.environ["SESSIONS_STARTUP_CACHE"] = before


@pytest.fixture(autouse=True, scope="session")
def script_env_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """PEP 723 environments (kernel/script_env.py) are built in a folder of
    this run, and uv caches its downloads in another unless UV_CACHE_DIR is
    set already (a CI that keeps uv's cache): ~/.cache stays untouched."""
    folder = tmp_path_factory.mktemp("script-envs")
    saved = {name: os.environ.get(name) for name in ("SESSIONS_ENV_DIR", "UV_CACHE_DIR")}
    os.environ["SESSIONS_ENV_DIR"] = str(folder)
    if not saved["UV_CACHE_DIR"]:
        os.environ["UV_CACHE_DIR"] = str(tmp_path_factory.mktemp("uv-cache"))
    yield folder
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def watches() -> Iterator[Callable[..., Watch]]:
    started: list[Watch] = []

    def start(folder: Path, env: dict[str, str], *args: str) -> Watch:
        watch = Watch(folder, env, *args)
        started.append(watch)
        return watch

    yield start
    for watch in started:
        watch.kill()


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A real ``jupyter server`` for the module's remote-kernel tests, stopped after them."""
    server = JupyterServer(tmp_path_factory.mktemp("jupyter-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every garbage collection that starts while the test runs."""
    started: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        yield started
    finally:
        gc.callbacks.remove(count)
