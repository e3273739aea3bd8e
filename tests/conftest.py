"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import Watch


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
