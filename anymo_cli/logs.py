"""Logging of the `anymo` command line, configured in one place: `anymo [-v] <command>` and a command's own
``-v/--verbose`` both go through `set_verbosity` (a command's ``logging.basicConfig`` would be a no-op once
the CLI has configured the root logger, so it could never raise the level)."""

from __future__ import annotations

import logging
import sys

LOG_FORMAT = "anymo %(name)s: %(levelname)s %(message)s"


def level_for(verbosity: int) -> int:
    """Logging level of ``verbosity`` -v flags: 0 WARNING, 1 INFO, 2 or more DEBUG."""
    return logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG


def set_verbosity(verbosity: int) -> int:
    """Make the root logger at least as verbose as ``verbosity`` -v flags ask (never quieter: `anymo -v cmd`
    stays INFO when ``cmd`` has no -v of its own). Installs the stderr handler when nothing has yet (a
    command run as ``python -m ...``). Returns the root logger's level now."""
    root = logging.getLogger()
    level = level_for(verbosity)
    if not root.handlers:
        logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    elif level < root.getEffectiveLevel():
        root.setLevel(level)
    return root.getEffectiveLevel()
