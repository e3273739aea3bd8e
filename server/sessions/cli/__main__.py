"""``python -m sessions.cli``: the same as the ``sessions`` command."""

from sessions.cli import entry

entry()
