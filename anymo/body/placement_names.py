"""Named placements: the words users, datasets and the pairing store use for where a device is worn.

Each name maps to a region of the simulated body surface in ``anymo.body.named_placements``;
this module is only the vocabulary (numpy-free, importable anywhere, including the BLE bridge).
"""

from __future__ import annotations

NAMED_PLACEMENTS: tuple[str, ...] = (
    "head",  # earbuds, glasses, headband
    "chest",
    "upper_back",
    "lower_back",  # lumbar belt, sacrum
    "waist",  # belt clip at the side of the hip
    "left_upper_arm",
    "right_upper_arm",
    "left_forearm",
    "right_forearm",
    "left_wrist",  # dorsal wrist, smartwatch
    "right_wrist",
    "left_front_pocket",  # front trouser pocket, on the thigh
    "right_front_pocket",
    "left_thigh",
    "right_thigh",
    "left_shank",
    "right_shank",
    "left_ankle",
    "right_ankle",
    "left_foot",
    "right_foot",
)

UNKNOWN_PLACEMENT = "unknown"


def check_placement_name(name: str, allow_unknown: bool = False) -> str:
    """Return the canonical name, or raise ValueError listing the valid names."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in NAMED_PLACEMENTS or (allow_unknown and key == UNKNOWN_PLACEMENT):
        return key
    valid = ", ".join(NAMED_PLACEMENTS + ((UNKNOWN_PLACEMENT,) if allow_unknown else ()))
    raise ValueError(f"unknown placement {name!r}; valid placements are: {valid}")
