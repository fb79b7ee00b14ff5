"""Errors shared across `anymo` packages (here, not in the module that raises them first, so that any
module may raise or catch them without importing its peers)."""


class DataFormatError(ValueError):
    """A file could not be read as the format it claims to be; the message names the file (and line)."""
