"""The package version, one place for the face (``sessions.__version__``), the
CLI (``--version``) and the two servers (``serverInfo``, MCP ``version``) to read
without importing the public face. Keep equal to ``pyproject.toml``.
"""

__version__ = "0.1.0"
