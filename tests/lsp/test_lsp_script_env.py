"""The language server runs a PEP 723 notebook in its block's environment (the
same kernel factory as ``sessions run``; VS Code goes through it too), and a
block uv cannot resolve is the ``kernel-setup`` diagnostic.

Needs network (PyPI): uv installs the block's packages (into this test run's
folders, tests/conftest.py). CI has PyPI, so it is not skipped.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.support.lsp import (
    CONFIG,
    codes_by_line,
    command,
    initialize,
    open_text,
    recorded,
    wait_until,
    write_notebook,
)

pytestmark = [
    pytest.mark.lsp,
    pytest.mark.kernel,
    pytest.mark.network,
    pytest.mark.asyncio(loop_scope="module"),
]

JOKES = '''\
"""Jokes from the block's environment."""
# /// script
# requires-python = ">=3.11"
# dependencies = ["pyjokes==0.8.3"]
# ///

# %%
import pyjokes
print(pyjokes.__file__)
'''


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-script-env")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, folder: Path) -> AsyncIterator[None]:
    await initialize(lsp_client, folder)
    yield
    await lsp_client.shutdown_session()


async def test_run_uses_the_blocks_environment(client: LanguageClient, folder: Path) -> None:
    uri = open_text(client, write_notebook(folder, "jokes.py", JOKES))
    result = await command(client, "sessions.run", {"uri": uri, "cells": [1]})
    assert result["ok"] is True, result
    text = "".join(o["output"].get("text", "") for o in recorded(client).output if o["uri"] == uri)
    assert text.startswith(os.environ["SESSIONS_ENV_DIR"])  # pyjokes came from there
    kernels = [k for k in recorded(client).kernel if k["uri"] == uri]
    assert any(k["python"].startswith(os.environ["SESSIONS_ENV_DIR"]) for k in kernels)


async def test_a_block_uv_cannot_resolve_is_a_kernel_setup_diagnostic(
    client: LanguageClient, folder: Path
) -> None:
    text = '# /// script\n# dependencies = ["sessions-no-such-package-xyz==1.0"]\n# ///\n\n# %%\nx = 1\n'
    uri = open_text(client, write_notebook(folder, "bad.py", text))
    await wait_until(lambda: uri in client.diagnostics, what="opened")
    with pytest.raises(JsonRpcException, match=r"uv could not resolve the dependencies of bad\.py"):
        await command(client, "sessions.run", {"uri": uri, "cells": [1]})
    await wait_until(
        lambda: (
            "kernel-setup" in {c for codes in codes_by_line(client, uri).values() for c in codes}
        ),
        what="kernel-setup diagnostic",
    )
    message = next(d.message for d in client.diagnostics[uri] if d.code == "kernel-setup")
    assert "Fix the `# /// script` block" in message
