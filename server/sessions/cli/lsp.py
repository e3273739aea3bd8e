"""``sessions lsp``: the language server over stdio (``--tcp HOST:PORT`` for debugging).

stdout carries the protocol, so it is handed to the server alone: file
descriptor 1 is pointed at stderr before anything else runs, and a stray
``print`` (ours, a library's, a child process's) cannot corrupt a message.
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import os
import sys
from typing import Any


def register(verbs: Any) -> None:
    parser = verbs.add_parser("lsp", help="run the language server (stdio by default)")
    parser.add_argument(
        "--tcp", metavar="HOST:PORT", help="listen on a TCP port instead of stdio (for debugging)"
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="what is logged to stderr",
    )
    parser.set_defaults(run=run)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # pygls logs every message it sends at INFO: far too much for stderr.
    for noisy in ("pygls", "watchfiles"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


START_THRESHOLDS = (700, 10, 1_000_000)
"""The collector's thresholds while the server starts: young collections as
usual, no full ones. Start-up makes a few hundred thousand long-lived
objects, and full passes over them, repeated as they grow, cost about 100 ms
of the start; turning the collector off altogether saved 30 ms more but let
the import's cyclic garbage pile up, and the fragmented heap kept the idle
server 9.5 MB larger (57 MB instead of 48)."""


def _settle_after_start(thresholds: tuple[int, int, int]) -> None:
    """Once ``initialize`` is answered and the features are loaded: what exists
    now (modules, lsprotocol's classes, converters) lives as long as the
    process, so it is kept out of the collector's full passes, which otherwise
    pause the loop for up to 40 ms every ~15 edits of a large notebook; then
    the usual thresholds come back."""
    from sessions.lsp import startup_cache

    startup_cache.finish()
    gc.freeze()
    gc.set_threshold(*thresholds)


def _tune_interpreter_for_serving() -> None:
    """Process-wide settings for a long-lived, latency-bound server process
    (here, not in ``create_server``: a factory must not retune its caller)."""
    # stdin is read in a thread (transport.py), so every request changes threads a few
    # times; while an analysis thread runs, each change waits for the GIL's switch
    # interval (5 ms by default), which made a hover take 20 ms instead of 2.
    sys.setswitchinterval(0.0005)


def run(args: argparse.Namespace) -> int:
    _configure_logging(args.log_level)
    thresholds = gc.get_threshold()
    gc.set_threshold(*START_THRESHOLDS)  # until _settle_after_start
    from sessions.lsp import startup_cache

    startup_cache.begin()  # until _settle_after_start
    from sessions.lsp.server import create_server

    server = create_server(when_ready=functools.partial(_settle_after_start, thresholds))
    _tune_interpreter_for_serving()
    if args.tcp:
        host, _, port = str(args.tcp).rpartition(":")
        if not port.isdigit():
            print("sessions: --tcp expects HOST:PORT, e.g. 127.0.0.1:2087", file=sys.stderr)
            return 2
        server.start_tcp(host or "127.0.0.1", int(port))
        return server.exit_code
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")  # buffered: writes whole messages
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    server.start_io(sys.stdin.buffer, protocol_out)
    if server.ended_by is not None:
        # Ended by a signal, with the kernels stopped: stdin's reader thread is
        # still blocked in a read holding stdin's lock, and the interpreter's
        # shutdown would abort on that lock. Nothing is left to clean up.
        logging.shutdown()
        sys.stderr.flush()
        os._exit(server.exit_code)
    return server.exit_code  # LSP: 0 after shutdown + exit, 1 otherwise
