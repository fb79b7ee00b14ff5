"""Alias of the `anymo` command line, which lives in `anymo_cli` (its table: `anymo_cli.commands.COMMANDS`).

Kept so ``python -m edge.cli ...`` and ``from edge.cli import main`` keep working."""

from __future__ import annotations

import sys

from anymo_cli.commands import COMMANDS
from anymo_cli.main import main

# the table as (module, help) pairs, for readers of the old name
SUBCOMMANDS: dict[str, tuple[str, str]] = {name: (c.module, c.help) for name, c in COMMANDS.items()}

__all__ = ["COMMANDS", "SUBCOMMANDS", "main"]

if __name__ == "__main__":
    sys.exit(main())
