"""Reading the JSON documents that name their own format and version (checkpoint config, bundle manifest,
simulated-dataset manifest): one parser, one set of messages, each naming the file, the problem and the fix.
Numpy-free and torch-free, so the device runtime reads bundles with it too."""

from __future__ import annotations

import json
from pathlib import Path


def read_versioned_json(path: str | Path, format_name: str, format_version: int, error: type[Exception], *,
                        what: str, remedy: str) -> dict:
    """The JSON object at ``path`` whose "format" is ``format_name`` and "format_version" is ``format_version``;
    otherwise ``error`` saying which, with ``remedy`` (what to do) appended. ``what`` names the document
    ("an AnyMo model checkpoint") for a wrong-format message. The caller checks that the file exists."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path}: not readable JSON ({exc}); {remedy}") from exc
    got = doc.get("format") if isinstance(doc, dict) else None
    if got != format_name:
        raise error(f"{path}: format {got!r} is not {format_name!r}; this is not {what}")
    version = doc.get("format_version")
    if version != format_version:
        raise error(f"{path}: format version {version!r} is not supported (this code reads version {format_version}); {remedy}")
    return doc
