"""The Sessions language server (pygls 2.x): ``sessions lsp`` (DESIGN §7, docs/protocol.md).

``server.create_server()`` builds the server; each feature lives in its own
module and the handlers in ``server.py`` stay thin.
"""
