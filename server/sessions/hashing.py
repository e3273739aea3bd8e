"""Content hashes used to recognise a cell's code across edits and processes."""

from __future__ import annotations

import hashlib

HASH_PREFIX = "blake2b-128:"


def normalize_code(code: str) -> str:
    """The form of a cell's code that is hashed.

    Line endings and trailing blank lines do not change what a cell computes, so
    a CRLF/LF flip or an extra separator line must not make a cell ``edited``.
    """
    return code.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")


def code_hash(code: str) -> str:
    """``blake2b-128:<hex>`` of the normalized code, the sidecar's ``hash`` field."""
    digest = hashlib.blake2b(normalize_code(code).encode("utf-8", "surrogatepass"), digest_size=16)
    return HASH_PREFIX + digest.hexdigest()


def bytes_hash(data: bytes) -> str:
    """Hash of raw file bytes, used to recognise our own writes when watching files."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()
