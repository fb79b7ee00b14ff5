"""Reads the machine-checked examples out of firmware_bridge/docs/anymo_imu_profile.md.

An example is a fenced block whose info string is ``anymo-example``; inside, ``key: value`` lines, where an
indented line continues the previous key. Keys: name, kind, hex, decoded (JSON), follows (optional).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROFILE_DOC = ROOT / "firmware_bridge" / "docs" / "anymo_imu_profile.md"
FIRMWARE_DIR = ROOT / "firmware_bridge" / "firmware" / "anymo_imu"

_BLOCK = re.compile(r"^```anymo-example[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_KEY = re.compile(r"^([a-z_]+):[ \t]*(.*)$")


@dataclass(frozen=True)
class Example:
    name: str
    kind: str
    data: bytes
    decoded: dict[str, Any]
    follows: str | None = None


def _fields(block: str) -> dict[str, str]:
    fields: dict[str, list[str]] = {}
    key = None
    for line in block.splitlines():
        if not line.strip():
            continue
        m = _KEY.match(line)
        if m:
            key = m.group(1)
            if key in fields:
                raise ValueError(f"example field {key!r} given twice in:\n{block}")
            fields[key] = [m.group(2)]
        elif line[:1].isspace() and key is not None:
            fields[key].append(line.strip())
        else:
            raise ValueError(f"cannot parse example line {line!r}")
    return {k: "\n".join(v) for k, v in fields.items()}


def parse_examples(text: str) -> list[Example]:
    out = []
    for block in _BLOCK.findall(text):
        f = _fields(block)
        missing = {"name", "kind", "hex", "decoded"} - set(f)
        if missing:
            raise ValueError(f"example lacks {sorted(missing)}:\n{block}")
        digits = re.sub(r"\s+", "", f["hex"])
        if len(digits) % 2 or re.search(r"[^0-9a-fA-F]", digits):
            raise ValueError(f"example {f['name']}: hex must be an even number of hex digits, got {f['hex']!r}")
        out.append(Example(f["name"], f["kind"], bytes.fromhex(digits), json.loads(f["decoded"]), f.get("follows")))
    return out


def load_examples(path: Path = PROFILE_DOC) -> list[Example]:
    return parse_examples(path.read_text(encoding="utf-8"))
