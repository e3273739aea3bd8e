"""``file:`` URIs: the path one names, and which hosts mean this machine.

Kept apart from the document store so that the server can answer
``initialize`` (which needs the workspace folders' paths) before the
analysis and document modules are imported.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

LOCAL_HOSTS = ("", "localhost")
"""``file:`` URI hosts that mean this machine (RFC 8089)."""


def uri_to_path(uri: str) -> Path | None:
    """The local path of a ``file:`` URI (or a bare path), else None."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("file", ""):
        return None
    return Path(unquote(parsed.path))
