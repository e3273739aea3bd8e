"""How much of an output the sidecar keeps by default (DESIGN §3).

A module of its own so that settings can name the default without importing
the sidecar's reader and writer (the language server reads its settings while
it answers ``initialize``, before anything else is loaded).
"""

from __future__ import annotations

DEFAULT_OUTPUT_CAP = 1_000_000
"""Characters kept per output text (DESIGN §3: 1 MB by default)."""
