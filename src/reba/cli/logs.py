"""Logging for the ``reba`` command: the library's messages (model conversion, truncation, bad
items) printed to the terminal, as the command line's own output."""

from __future__ import annotations

import logging
import sys


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (so redirection and capture work)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def configure_cli_logging(level: int = logging.INFO) -> None:
    """Print ``reba``'s log messages on stderr, once per process; nothing else is touched."""
    logger = logging.getLogger("reba")
    if not any(isinstance(h, _CurrentStderr) for h in logger.handlers):
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
