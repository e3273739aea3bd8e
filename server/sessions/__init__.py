"""Sessions: reactive notebooks kept as plain ``.py`` files with ``# %%`` cells.

The pure core (format, analysis, staleness, sidecar cache) never imports pygls;
the language server lives in :mod:`sessions.lsp`.
"""

__version__ = "0.1.0"
