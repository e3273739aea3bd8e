"""``python -m sessions.cli``: the same as the ``sessions`` command."""

from . import entry

entry()
