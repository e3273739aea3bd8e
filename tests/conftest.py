"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import Watch
from tests.support.jupyter_server import JupyterServer


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
