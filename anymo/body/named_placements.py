"""Named placements (``anymo.body.placement_names.NAMED_PLACEMENTS``) as regions of the body surface.

A region is one or more patches ``(segment, along, around_deg)`` in normalised surface coordinates
(see ``anymo.body.surface``), so the candidate ids of a name are the same on every body:

* ``along``: range of the axial fraction ``s`` (0 = proximal joint, 1 = distal end of the segment;
  the pelvis patch reaches below its origin, s < 0; feet: forward from the ankle, in foot lengths);
* ``around_deg``: range of the angle around the segment axis, from ``lo`` to ``hi`` counter-clockwise
  seen from above: 0 = anterior (feet: dorsal, the top of the foot), +90 = the body's left (+y),
  -90 = its right, 180 = posterior.

Anatomy in the rest pose (N-pose: arms hanging, palms facing the thighs, thumbs forward): the back of
the hand and the dorsal wrist face laterally, i.e. +y (+90 deg) on the left arm and -y (-90 deg) on the
right arm; a watch there has its face (sensor z) pointing away from the body and its x axis along the
forearm toward the hand. The front trouser pocket is on the anterior(-lateral) thigh 12-38 % down from
the hip; lateral on the right side means negative angles.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from anymo.body.placement_names import NAMED_PLACEMENTS, check_placement_name
from anymo.body.skeleton import SEGMENT_INDEX, SEGMENTS, BodyShape, make_skeleton
from anymo.body.surface import (
    FRAME_CONVENTION,
    LATTICE_VERSION,
    PlacementTable,
    axial_fraction,
    lattice_digest,
    normalised_coords,
    reference_placements,
    surface_points,
)


@dataclass(frozen=True)
class RegionPatch:
    """Part of a region on one segment: axial-fraction range and angle range (degrees)."""

    segment: str
    along: tuple[float, float]
    around_deg: tuple[float, float]


@dataclass(frozen=True)
class RegionSpec:
    """Where a named placement is worn: surface patches and the single most typical spot."""

    patches: tuple[RegionPatch, ...]
    canonical: tuple[str, float, float]  # (segment, s, angle_deg) of the most typical spot
    description: str

    @property
    def segment(self) -> str:
        """The segment of the canonical spot (the main segment of the region)."""
        return self.canonical[0]

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.segment for p in self.patches))


def _sided(side: str, segment: str, along: tuple[float, float], around: tuple[float, float], canon: tuple[float, float], text: str) -> RegionSpec:
    """A left-side region mirrored to the right (angles negate: lateral +90 -> -90)."""
    seg = ("Left" if side == "left" else "Right") + segment
    if side == "right":
        around = (-around[1], -around[0])
        canon = (canon[0], -canon[1])
    return RegionSpec((RegionPatch(seg, along, around),), (seg, canon[0], canon[1]), f"{side} {text}")


def _regions() -> dict[str, RegionSpec]:
    r: dict[str, RegionSpec] = {
        "head": RegionSpec(
            (RegionPatch("Head", (0.35, 0.7), (55.0, 130.0)), RegionPatch("Head", (0.35, 0.7), (-130.0, -55.0))),
            ("Head", 0.55, 100.0),
            "side of the head at the ears (earbuds, glasses temples); canonical: left ear",
        ),
        "chest": RegionSpec(
            (RegionPatch("T8", (0.0, 0.85), (-35.0, 35.0)),), ("T8", 0.35, 0.0), "front of the chest over the sternum"
        ),
        "upper_back": RegionSpec(
            (RegionPatch("T8", (0.1, 0.9), (145.0, 215.0)),), ("T8", 0.5, 180.0), "upper back between the shoulder blades"
        ),
        "lower_back": RegionSpec(
            (RegionPatch("L5", (0.0, 0.8), (150.0, 210.0)), RegionPatch("Pelvis", (0.3, 1.0), (150.0, 210.0))),
            ("L5", 0.3, 180.0),
            "lumbar spine and sacrum (L4/L5 belt)",
        ),
        "waist": RegionSpec(
            (RegionPatch("Pelvis", (0.3, 1.0), (65.0, 115.0)), RegionPatch("Pelvis", (0.3, 1.0), (-115.0, -65.0))),
            ("Pelvis", 0.7, -90.0),
            "side of the hip at belt height (belt clip); canonical: right side",
        ),
    }
    for side in ("left", "right"):
        r[f"{side}_upper_arm"] = _sided(side, "UpperArm", (0.25, 0.7), (30.0, 150.0), (0.45, 90.0), "upper arm, lateral (armband)")
        r[f"{side}_forearm"] = _sided(side, "ForeArm", (0.3, 0.75), (30.0, 150.0), (0.5, 90.0), "forearm, middle, dorsal side")
        r[f"{side}_wrist"] = _sided(side, "ForeArm", (0.75, 0.98), (30.0, 150.0), (0.88, 90.0), "wrist, dorsal side (smartwatch)")
        r[f"{side}_front_pocket"] = _sided(side, "UpperLeg", (0.12, 0.38), (-15.0, 55.0), (0.25, 20.0), "front trouser pocket on the anterior thigh")
        r[f"{side}_thigh"] = _sided(side, "UpperLeg", (0.3, 0.75), (0.0, 110.0), (0.5, 45.0), "thigh, middle, anterior to lateral")
        r[f"{side}_shank"] = _sided(side, "LowerLeg", (0.2, 0.7), (-30.0, 110.0), (0.45, 30.0), "shank, shin to lateral calf")
        r[f"{side}_ankle"] = _sided(side, "LowerLeg", (0.82, 0.98), (20.0, 160.0), (0.9, 90.0), "ankle, just above the lateral malleolus")
        r[f"{side}_foot"] = _sided(side, "Foot", (0.2, 0.9), (-50.0, 50.0), (0.6, 0.0), "top of the foot (instep, shoe laces)")
    missing = set(NAMED_PLACEMENTS) - set(r)
    assert not missing, f"named placements without a region: {missing}"
    return {name: r[name] for name in NAMED_PLACEMENTS}


NAMED_REGIONS: dict[str, RegionSpec] = _regions()


def _angle_deg(u1: np.ndarray) -> np.ndarray:
    return np.asarray(u1, dtype=np.float64) * 360.0


def _in_arc(angle_deg: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.mod(angle_deg - lo, 360.0) <= (hi - lo) + 1e-9


def region_mask(name: str, table: PlacementTable | None = None) -> np.ndarray:
    """Boolean [P] mask of ``table``'s rows in the named region (ValueError for unknown names)."""
    spec = NAMED_REGIONS[check_placement_name(name)]
    table = reference_placements() if table is None else table
    s = axial_fraction(table.segment_id, table.u[:, 0])
    ang = _angle_deg(table.u[:, 1])
    mask = np.zeros(len(table), dtype=bool)
    for p in spec.patches:
        mask |= (
            (table.segment_id == SEGMENT_INDEX[p.segment])
            & (s >= p.along[0])
            & (s <= p.along[1])
            & _in_arc(ang, p.around_deg[0], p.around_deg[1])
        )
    return mask


def placement_ids_for(name: str, table: PlacementTable | None = None) -> np.ndarray:
    """All candidate placement ids (sorted, int32) in the named region; non-empty for every name."""
    table = reference_placements() if table is None else table
    return np.sort(table.placement_id[region_mask(name, table)]).astype(np.int32)


@functools.lru_cache(maxsize=None)
def _canonical(name: str) -> int:
    spec = NAMED_REGIONS[name]
    seg_name, s, deg = spec.canonical
    seg = SEGMENT_INDEX[seg_name]
    target = surface_points(make_skeleton(BodyShape()), np.array([seg]), normalised_coords(seg, s, deg))[0][0]
    table = reference_placements()
    ids = placement_ids_for(name, table)
    idx = table.index_of(ids)
    same = table.segment_id[idx] == seg
    idx, ids = idx[same], ids[same]
    return int(ids[np.argmin(np.linalg.norm(table.position_m[idx] - target, axis=1))])


def canonical_placement(name: str) -> int:
    """The single most typical placement id of a named placement (in its region)."""
    return _canonical(check_placement_name(name))


def region_description(name: str) -> str:
    return NAMED_REGIONS[check_placement_name(name)].description


def placement_table_json(table: PlacementTable, decimals: int | None = 9, named: bool = True) -> dict:
    """The table as a JSON-ready dict (for DIR/manifest.json); ``placement_table_from_json`` reads it back.

    With ``named``, ``"named"`` maps every named placement to its ``canonical_id`` and region ``ids``.
    """

    def r(a: np.ndarray) -> list:
        return (np.round(a, decimals) if decimals is not None else a).tolist()

    out: dict = {
        "lattice_version": LATTICE_VERSION,
        "lattice_digest": lattice_digest(),
        "n_placements": len(table),
        "segments": list(SEGMENTS),
        "frame_convention": FRAME_CONVENTION,
        "placements": [
            {"id": int(i), "segment": SEGMENTS[int(s)], "position_m": p, "frame": f, "u": uu}
            for i, s, p, f, uu in zip(table.placement_id, table.segment_id, r(table.position_m), r(table.frame), r(table.u))
        ],
    }
    if named:
        out["named"] = {
            n: {
                "segment": spec.segment,
                "description": spec.description,
                "canonical_id": canonical_placement(n),
                "ids": placement_ids_for(n, table).tolist(),
            }
            for n, spec in NAMED_REGIONS.items()
        }
    return out
