"""The body surface and the candidate sensor placements on it (numpy only).

Surface
    Every one of the 23 segments carries an analytic surface patch in its own frame (origin at the
    proximal joint, ``axis`` proximal -> distal, see ``anymo.body.skeleton``):

    * ``tube``: an elliptic cylinder around the segment axis whose two radii taper linearly along it
      (limbs, spine segments, neck, shoulders), optionally with its centre line offset from the bone
      (e.g. the torso lies in front of the spine, the calf behind the tibia);
    * ``ellipsoid``: head, hands, feet and toes.

    Radii come from ``Skeleton.radius_m`` (first column along the segment y axis, the lateral one;
    second across the segment the other way) times fixed taper factors, lengths from ``length_m``.

Placements
    ``surface_placements(skeleton)`` returns a ``PlacementTable`` of ``N_PLACEMENTS`` (2400) candidate
    spots. The lattice is built once on the reference body (``BodyShape()``) — equal-area hexagonal
    rows per segment, a fixed count per segment proportional to its area times a density weight
    (denser where devices are worn: forearms/wrists, shanks/ankles, feet, head) — and stored as
    normalised surface coordinates ``u``. Placement id ``k`` therefore always denotes the same
    anatomical spot (same segment and ``u``) on every body; positions scale with the body. Ids run
    segment by segment in ``SEGMENTS`` order, and the k-th placement on a Right segment is the mirror
    image (y -> -y) of the k-th on its Left twin. ``lattice_digest()`` fingerprints the lattice
    (``LATTICE_VERSION`` is bumped whenever ids move).

Normalised coordinates ``u`` [P, 2]
    ``u[:, 0]`` in [0, 1]: position along the segment's surface patch from its proximal to its distal
    end (tube: linear in the axial fraction ``s``; ellipsoid: polar angle / pi from the proximal pole).
    ``u[:, 1]`` in [0, 1): angle around the axis in turns (the parametric angle of the elliptic cross
    section): 0 = the segment's reference direction ``e1`` (anterior, +x, for the vertical segments
    and the shoulders; dorsal/up for the feet and toes), 0.25 = ``e2`` (+y, the body's left, for all
    but the shoulders, where it is up). ``axial_fraction`` converts ``u[:, 0]`` to ``s`` = distance
    along the axis from the proximal joint / segment length.

Sensor frame (``PlacementTable.frame``, [P, 3, 3], segment frame, columns = sensor axes)
    ``frame[:, :, 0]`` = x_s = ``tangent``: the segment axis (proximal -> distal; torso and head: up;
    feet and toes: forward along the foot) projected onto the skin's tangent plane;
    ``frame[:, :, 1]`` = y_s = ``binormal`` = normal x tangent;
    ``frame[:, :, 2]`` = z_s = ``normal``: the outward surface normal (out of the skin, like a watch
    face). Orthonormal and right-handed (det +1). A vector measured by the sensor maps to the segment
    frame by ``frame @ v_sensor``; to the world by ``R_world_from_segment @ frame @ v_sensor``.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from anymo.body.skeleton import N_SEGMENTS, SEGMENT_INDEX, SEGMENTS, BodyShape, Skeleton, make_skeleton
from anymo.geometry.rotations import quat_to_matrix

LATTICE_VERSION = 1
N_PLACEMENTS = 2400


@dataclass(frozen=True)
class _PatchSpec:
    """Shape of one segment's surface, in units of its length and radii (body independent)."""

    kind: str  # "tube" or "ellipsoid"
    e1_ref: tuple[float, float, float]  # reference direction (u1 = 0), orthogonalised to the axis
    e2_ref: tuple[float, float, float]  # u1 = 0.25 direction, orthogonalised to axis and e1
    s_range: tuple[float, float] = (0.0, 1.0)  # tube: axial extent as fractions of the length
    taper1: tuple[float, float] = (1.0, 1.0)  # radius factor along e1 at s = 0 and s = 1 (ellipsoid: [0])
    taper2: tuple[float, float] = (1.0, 1.0)  # radius factor along e2 at s = 0 and s = 1
    centre: tuple[float, float] = (0.0, 0.0)  # centre-line offset along (e1, e2) in units of the radii
    centre_len: float = 0.0  # further offset along e1 in units of the length (feet: sole on the floor)
    centre_s: float = 0.5  # ellipsoid: centre along the axis (fraction of the length)
    half_s: float = 0.5  # ellipsoid: semi-axis along the axis (fraction of the length)
    axis_ref: tuple[float, float, float] | None = None  # patch axis if not the segment axis (feet: forward)
    density: float = 1.0  # placement density weight (per unit area)


_X, _Y, _Z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)


def _specs() -> tuple[_PatchSpec, ...]:
    v = {"e1_ref": _X, "e2_ref": _Y}  # vertical segments: u1 = 0 anterior, 0.25 left
    foot = {"e1_ref": _Z, "e2_ref": _Y}  # feet/toes: u1 = 0 dorsal (up), 0.25 left
    spec = {
        # torso lies in front of the spine; the pelvis patch reaches down to the gluteal fold
        "Pelvis": _PatchSpec("tube", **v, s_range=(-1.3, 1.0), taper1=(1.0, 0.93), taper2=(0.98, 0.92), centre=(-0.1, 0.0), density=1.5),
        "L5": _PatchSpec("tube", **v, taper1=(1.0, 1.0), taper2=(1.0, 0.94), centre=(0.3, 0.0), density=1.5),
        "L3": _PatchSpec("tube", **v, taper1=(1.0, 1.09), taper2=(1.0, 1.06), centre=(0.35, 0.0)),
        "T12": _PatchSpec("tube", **v, taper1=(1.0, 1.08), taper2=(1.0, 1.12), centre=(0.45, 0.0)),
        "T8": _PatchSpec("tube", **v, taper1=(1.0, 0.85), taper2=(1.0, 0.9), centre=(0.55, 0.0), density=1.5),
        "Neck": _PatchSpec("tube", **v, centre=(0.25, 0.0)),
        "Head": _PatchSpec("ellipsoid", **v, centre=(0.15, 0.0), density=2.0),
        "Shoulder": _PatchSpec("tube", e1_ref=_X, e2_ref=_Z),
        "UpperArm": _PatchSpec("tube", **v, taper1=(1.1, 0.85), taper2=(1.1, 0.85), density=1.5),
        # forearm in mid-pronation (palms to the thighs): at the wrist wide front-back, thin sideways
        "ForeArm": _PatchSpec("tube", **v, taper1=(1.25, 0.85), taper2=(1.15, 0.55), density=4.0),
        "Hand": _PatchSpec("ellipsoid", **v),
        "UpperLeg": _PatchSpec("tube", **v, taper1=(1.15, 0.75), taper2=(1.15, 0.75), density=1.5),
        "LowerLeg": _PatchSpec("tube", **v, taper1=(1.1, 0.62), taper2=(1.1, 0.68), centre=(-0.15, 0.0), density=2.0),
        # foot: horizontal ellipsoid from the heel (5 cm behind the ankle) to the ball, sole on the floor
        # (the floor is 0.039 H = 0.431 foot lengths below the ankle, 0.008 H = 0.178 toe lengths below the toe joint)
        "Foot": _PatchSpec("ellipsoid", **foot, axis_ref=_X, taper1=(0.85, 0.85), centre=(1.0, 0.0), centre_len=-0.431, centre_s=0.31, half_s=0.66, density=2.0),
        "Toe": _PatchSpec("ellipsoid", **foot, centre=(1.0, 0.0), centre_len=-0.178, half_s=0.6),
    }  # fmt: skip
    return tuple(spec[name.removeprefix("Right").removeprefix("Left")] for name in SEGMENTS)


SPECS: tuple[_PatchSpec, ...] = _specs()


@dataclass(frozen=True)
class _Patch:
    """One segment's surface on one body, in metres, in the segment frame."""

    spec: _PatchSpec
    length_m: float
    axis: np.ndarray  # [3]
    e1: np.ndarray  # [3]
    e2: np.ndarray  # [3]
    r1_m: float  # radius along e1 before taper
    r2_m: float  # radius along e2 before taper

    @property
    def centre_m(self) -> np.ndarray:
        """Centre-line offset (tube) or ellipsoid centre, segment frame."""
        c1 = self.spec.centre[0] * self.r1_m * (self.spec.taper1[0] if self.spec.kind == "ellipsoid" else 1.0)
        c = (c1 + self.spec.centre_len * self.length_m) * self.e1 + self.spec.centre[1] * self.r2_m * self.e2
        return c + self.spec.centre_s * self.length_m * self.axis if self.spec.kind == "ellipsoid" else c

    def radii_m(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Tube radii along e1, e2 at axial fraction ``s`` and their derivatives d r / d s."""
        (a0, a1), (b0, b1) = self.spec.taper1, self.spec.taper2
        return self.r1_m * (a0 + (a1 - a0) * s), self.r2_m * (b0 + (b1 - b0) * s), self.r1_m * (a1 - a0), self.r2_m * (b1 - b0)

    def point(self, u0: np.ndarray, u1: np.ndarray) -> np.ndarray:
        """Surface points [N, 3] at normalised coordinates."""
        theta = 2.0 * np.pi * np.asarray(u1, dtype=np.float64)
        c, s_ = np.cos(theta)[:, None], np.sin(theta)[:, None]
        if self.spec.kind == "tube":
            s = axial_fraction_of(self.spec, u0)
            r1, r2, _, _ = self.radii_m(s)
            return (s * self.length_m)[:, None] * self.axis + self.centre_m + r1[:, None] * c * self.e1 + r2[:, None] * s_ * self.e2
        psi = np.pi * np.asarray(u0, dtype=np.float64)[:, None]
        half = self.spec.half_s * self.length_m
        r1, r2 = self.r1_m * self.spec.taper1[0], self.r2_m * self.spec.taper2[0]
        return self.centre_m - half * np.cos(psi) * self.axis + np.sin(psi) * (r1 * c * self.e1 + r2 * s_ * self.e2)

    def implicit(self, p_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Implicit function F (0 on the surface, > 0 outside) and its gradient [N, 3] at points."""
        d = np.asarray(p_m, dtype=np.float64) - self.centre_m
        qa, q1, q2 = d @ self.axis, d @ self.e1, d @ self.e2
        if self.spec.kind == "tube":
            s = qa / self.length_m
            r1, r2, dr1, dr2 = self.radii_m(s)
            f = (q1 / r1) ** 2 + (q2 / r2) ** 2 - 1.0
            dfds = -2.0 * q1**2 * dr1 / r1**3 - 2.0 * q2**2 * dr2 / r2**3
            grad = (2.0 * q1 / r1**2)[:, None] * self.e1 + (2.0 * q2 / r2**2)[:, None] * self.e2
            return f, grad + (dfds / self.length_m)[:, None] * self.axis
        half = self.spec.half_s * self.length_m
        r1, r2 = self.r1_m * self.spec.taper1[0], self.r2_m * self.spec.taper2[0]
        f = (qa / half) ** 2 + (q1 / r1) ** 2 + (q2 / r2) ** 2 - 1.0
        grad = (2.0 * qa / half**2)[:, None] * self.axis + (2.0 * q1 / r1**2)[:, None] * self.e1 + (2.0 * q2 / r2**2)[:, None] * self.e2
        return f, grad


def axial_fraction_of(spec: _PatchSpec, u0: np.ndarray) -> np.ndarray:
    """Axial fraction ``s`` of ``u0`` on a patch of this shape."""
    u0 = np.asarray(u0, dtype=np.float64)
    if spec.kind == "tube":
        lo, hi = spec.s_range
        return lo + (hi - lo) * u0
    return spec.centre_s - spec.half_s * np.cos(np.pi * u0)


def axial_fraction(segment_id: np.ndarray, u0: np.ndarray) -> np.ndarray:
    """Axial fraction ``s`` (distance along the axis from the proximal joint / length) of ``u[:, 0]``."""
    segment_id = np.asarray(segment_id)
    u0 = np.asarray(u0, dtype=np.float64)
    out = np.empty(np.broadcast(segment_id, u0).shape)
    seg_b, u_b = np.broadcast_arrays(segment_id, u0)
    for i in np.unique(seg_b):
        m = seg_b == i
        out[m] = axial_fraction_of(SPECS[int(i)], u_b[m])
    return out


def normalised_coords(segment: int | str, s: float, angle_deg: float) -> np.ndarray:
    """``u`` [2] of the spot at axial fraction ``s`` and angle ``angle_deg`` (0 = e1, +90 = e2) on a segment."""
    spec = SPECS[SEGMENT_INDEX[segment] if isinstance(segment, str) else int(segment)]
    if spec.kind == "tube":
        lo, hi = spec.s_range
        u0 = (s - lo) / (hi - lo)
    else:
        u0 = float(np.arccos(np.clip((spec.centre_s - s) / spec.half_s, -1.0, 1.0)) / np.pi)
    if not 0.0 <= u0 <= 1.0:
        raise ValueError(f"axial fraction {s} is outside the surface patch of segment {segment}")
    return np.array([u0, (angle_deg / 360.0) % 1.0])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _patches(skeleton: Skeleton) -> tuple[_Patch, ...]:
    out = []
    for i, spec in enumerate(SPECS):
        a = _unit(np.asarray(spec.axis_ref if spec.axis_ref is not None else skeleton.axis[i], dtype=np.float64))
        e1 = np.asarray(spec.e1_ref) - np.dot(spec.e1_ref, a) * a
        e1 = _unit(e1)
        e2 = np.asarray(spec.e2_ref) - np.dot(spec.e2_ref, a) * a - np.dot(spec.e2_ref, e1) * e1
        e2 = _unit(e2)
        # radius_m: first column along the segment y axis (lateral), second across the other way
        ry, ro = float(skeleton.radius_m[i, 0]), float(skeleton.radius_m[i, 1])
        r1, r2 = (ry, ro) if abs(e1[1]) > abs(e2[1]) else (ro, ry)
        out.append(_Patch(spec, float(skeleton.length_m[i]), a, e1, e2, r1, r2))
    return tuple(out)


# ---- the lattice (built once on the reference body) ----------------------------------------------


def _segment_areas_m2(patches: tuple[_Patch, ...], n_v: int = 200, n_t: int = 180) -> np.ndarray:
    v = (np.arange(n_v) + 0.5) / n_v
    t = np.arange(n_t) / n_t
    areas = np.zeros(len(patches))
    for i, p in enumerate(patches):
        areas[i] = _area_grid(p, v, t).sum() / (n_v * n_t)
    return areas


def _area_grid(p: _Patch, v: np.ndarray, t: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Area density |dP/du0 x dP/du1| [len(v), len(t)] by central differences."""
    vv, tt = np.meshgrid(v, t, indexing="ij")
    vv, tt = vv.ravel(), tt.ravel()
    dv = (p.point(vv + eps, tt) - p.point(vv - eps, tt)) / (2 * eps)
    dt = (p.point(vv, tt + eps) - p.point(vv, tt - eps)) / (2 * eps)
    return np.linalg.norm(np.cross(dv, dt), axis=1).reshape(len(v), len(t))


def _segment_counts(areas_m2: np.ndarray) -> np.ndarray:
    w = areas_m2 * np.array([s.density for s in SPECS])
    raw = N_PLACEMENTS * w / w.sum()
    n = np.maximum(np.floor(raw).astype(int), 8)
    rem = raw - np.floor(raw)
    for i in np.argsort(-rem, kind="stable"):
        if n.sum() >= N_PLACEMENTS:
            break
        n[i] += 1
    while n.sum() > N_PLACEMENTS:  # only if the minimum of 8 pushed it over
        n[int(np.argmax(n))] -= 1
    return n


def _patch_lattice(p: _Patch, n_points: int, n_grid: int = 401) -> np.ndarray:
    """Equal-area hexagonal rows on one patch: normalised coordinates [n_points, 2]."""
    v = np.linspace(0.0, 1.0, n_grid)
    t = np.arange(180) / 180.0
    eps = 1e-6
    vv, tt = np.meshgrid(v, t, indexing="ij")
    pv = (p.point(np.clip(vv.ravel() + eps, 0, 1), tt.ravel()) - p.point(np.clip(vv.ravel() - eps, 0, 1), tt.ravel()))
    pv /= (np.clip(vv.ravel() + eps, 0, 1) - np.clip(vv.ravel() - eps, 0, 1))[:, None]
    meridian = np.linalg.norm(pv, axis=1).reshape(n_grid, len(t)).mean(axis=1)  # |dP/du0| around
    m_cum = np.concatenate([[0.0], np.cumsum(0.5 * (meridian[1:] + meridian[:-1]) * np.diff(v))])
    area = _area_grid(p, (np.arange(200) + 0.5) / 200, t).mean()
    # hexagonal packing: spacing d in a row, rows sqrt(3)/2 d apart
    d = np.sqrt(2.0 * area / (np.sqrt(3.0) * n_points))
    n_rows = int(max(1, min(n_points, round(m_cum[-1] / (np.sqrt(3.0) / 2.0 * d)))))
    v_rows = np.interp((np.arange(n_rows) + 0.5) / n_rows * m_cum[-1], m_cum, v)
    # circumference of each row and the arc-length parametrisation of its cross section
    t_fine = np.arange(1024) / 1024.0
    rows_u = []
    circ = np.empty(n_rows)
    arcs = []
    for k, vk in enumerate(v_rows):
        pts = p.point(np.full(t_fine.size + 1, vk), np.append(t_fine, 1.0))
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        arc = np.concatenate([[0.0], np.cumsum(seg)])
        circ[k] = arc[-1]
        arcs.append(arc)
    raw = n_points * circ / circ.sum()
    counts = np.maximum(np.floor(raw).astype(int), 1)
    rem = raw - np.floor(raw)
    for i in np.argsort(-rem, kind="stable"):
        if counts.sum() >= n_points:
            break
        counts[i] += 1
    while counts.sum() > n_points:
        counts[int(np.argmax(counts))] -= 1
    for k, (vk, nk, arc) in enumerate(zip(v_rows, counts, arcs)):
        phase = 0.5 * (k % 2)
        target = (np.arange(nk) + phase) / nk * arc[-1]
        u1 = np.interp(target, arc, np.append(t_fine, 1.0)) % 1.0
        rows_u.append(np.column_stack([np.full(nk, vk), u1]))
    return np.concatenate(rows_u)


@functools.lru_cache(maxsize=1)
def _reference_lattice() -> tuple[np.ndarray, np.ndarray]:
    patches = _patches(make_skeleton(BodyShape()))
    counts = _segment_counts(_segment_areas_m2(patches))
    segs, us = [], []
    for i, (p, n) in enumerate(zip(patches, counts)):
        u = _patch_lattice(p, int(n))
        if SEGMENTS[i].startswith("Right") and SPECS[i].e2_ref == _Y:  # right = mirror image of the left
            u = np.column_stack([u[:, 0], np.mod(-u[:, 1], 1.0)])
        segs.append(np.full(len(u), i, dtype=np.int16))
        us.append(u)
    seg = np.concatenate(segs)
    u = np.concatenate(us)
    seg.setflags(write=False)
    u.setflags(write=False)
    return seg, u


def lattice_digest() -> str:
    """Short hash of the reference lattice (segment and ``u`` of every id, rounded to 1e-9)."""
    seg, u = _reference_lattice()
    h = hashlib.sha256(seg.astype("<i2").tobytes() + np.round(u * 1e9).astype("<i8").tobytes())
    return h.hexdigest()[:16]


# ---- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PlacementTable:
    """Candidate sensor placements on one body, in segment frames (see the module docstring).

    ``frame`` columns are (x_s, y_s, z_s) = (tangent, binormal, normal): x_s along the limb toward its
    distal end, z_s out of the skin; right-handed and orthonormal.
    """

    placement_id: np.ndarray  # [P] int32, stable across bodies
    segment_id: np.ndarray  # [P] int16, index into SEGMENTS
    position_m: np.ndarray  # [P, 3] float64, on the skin, segment frame
    frame: np.ndarray  # [P, 3, 3] float64, segment-from-sensor rotation, columns (tangent, binormal, normal)
    u: np.ndarray  # [P, 2] normalised surface coordinates (along the patch, turns around the axis)
    region: np.ndarray | None = None  # optional [P] labels; None here (named regions: named_placements)

    @property
    def tangent(self) -> np.ndarray:
        """[P, 3] sensor x axis: along the limb toward the distal end (torso/head: up; feet: forward)."""
        return self.frame[:, :, 0]

    @property
    def binormal(self) -> np.ndarray:
        """[P, 3] sensor y axis = normal x tangent."""
        return self.frame[:, :, 1]

    @property
    def normal(self) -> np.ndarray:
        """[P, 3] sensor z axis: outward surface normal."""
        return self.frame[:, :, 2]

    @property
    def segment_names(self) -> list[str]:
        return [SEGMENTS[int(i)] for i in self.segment_id]

    def __len__(self) -> int:
        return int(self.placement_id.shape[0])

    def index_of(self, placement_ids: np.ndarray | int) -> np.ndarray:
        """Row indices of ``placement_ids`` in this table (ValueError for ids it does not hold)."""
        ids = np.atleast_1d(np.asarray(placement_ids, dtype=np.int64))
        order = np.argsort(self.placement_id, kind="stable")
        sorted_ids = self.placement_id[order]
        pos = np.searchsorted(sorted_ids, ids)
        ok = (pos < sorted_ids.size) & (sorted_ids[np.minimum(pos, sorted_ids.size - 1)] == ids)
        if not np.all(ok):
            raise ValueError(f"placement ids not in this table: {ids[~ok][:10].tolist()} (valid: 0..{N_PLACEMENTS - 1})")
        return order[pos]

    def subset(self, placement_ids: np.ndarray | list[int]) -> PlacementTable:
        """The rows for ``placement_ids``, in that order."""
        idx = self.index_of(placement_ids)
        reg = None if self.region is None else self.region[idx]
        return PlacementTable(self.placement_id[idx], self.segment_id[idx], self.position_m[idx], self.frame[idx], self.u[idx], reg)


def _frames(patches: tuple[_Patch, ...], seg: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = np.empty((len(seg), 3))
    frame = np.empty((len(seg), 3, 3))
    for i, p in enumerate(patches):
        m = seg == i
        if not np.any(m):
            continue
        x = p.point(u[m, 0], u[m, 1])
        _, grad = p.implicit(x)
        n = grad / np.linalg.norm(grad, axis=1, keepdims=True)
        # limbs/torso/head: the axis (proximal -> distal, or up); feet and toes: their axis, forward
        t = p.axis - (n @ p.axis)[:, None] * n
        t /= np.linalg.norm(t, axis=1, keepdims=True)
        b = np.cross(n, t)
        pos[m] = x
        frame[m] = np.stack([t, b, n], axis=-1)
    return pos, frame


_CACHE: dict[tuple, PlacementTable] = {}


def _skeleton_key(skeleton: Skeleton) -> tuple:
    arrays = (skeleton.axis, skeleton.length_m, skeleton.radius_m)
    return (skeleton.shape,) + tuple(np.ascontiguousarray(a, dtype=np.float64).tobytes() for a in arrays)


def surface_placements(skeleton: Skeleton) -> PlacementTable:
    """All candidate placements on ``skeleton``'s surface (cached per body; arrays are read-only)."""
    key = _skeleton_key(skeleton)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    seg, u = _reference_lattice()
    pos, frame = _frames(_patches(skeleton), seg, u)
    ids = np.arange(len(seg), dtype=np.int32)
    for a in (ids, pos, frame):
        a.setflags(write=False)
    table = PlacementTable(placement_id=ids, segment_id=seg, position_m=pos, frame=frame, u=u)
    if len(_CACHE) > 64:
        _CACHE.clear()
    _CACHE[key] = table
    return table


def reference_placements() -> PlacementTable:
    """Placements on the default body (``BodyShape()``: 1.75 m, neutral, average build)."""
    return surface_placements(make_skeleton(BodyShape()))


def surface_implicit(skeleton: Skeleton, segment: int | str, points_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Implicit surface function F (0 on the skin, > 0 outside) and its gradient at segment-frame points."""
    i = SEGMENT_INDEX[segment] if isinstance(segment, str) else int(segment)
    return _patches(skeleton)[i].implicit(np.atleast_2d(points_m))


def surface_distance_m(skeleton: Skeleton, segment: int | str, points_m: np.ndarray) -> np.ndarray:
    """Signed distance to the segment's surface (> 0 outside), first order in F: exact on the skin."""
    f, g = surface_implicit(skeleton, segment, points_m)
    return f / np.linalg.norm(g, axis=1)


def surface_points(skeleton: Skeleton, segment_id: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions [N, 3] and sensor frames [N, 3, 3] (segment frame) at any normalised coordinates ``u`` [N, 2]."""
    seg = np.asarray(segment_id).reshape(-1)
    u = np.asarray(u, dtype=np.float64).reshape(-1, 2)
    if seg.size and (seg.min() < 0 or seg.max() >= N_SEGMENTS):
        raise ValueError(f"segment ids must be in 0..{N_SEGMENTS - 1}")
    return _frames(_patches(skeleton), seg, u)


def placement_world_poses(table: PlacementTable, seg_pos_m: np.ndarray, seg_quat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World positions [T, P, 3] and sensor orientations [T, P, 3, 3] (world-from-sensor).

    ``seg_pos_m`` [T, 23, 3] and ``seg_quat`` [T, 23, 4] (wxyz, world-from-segment) are the outputs of
    ``anymo.body.kinematics.forward_kinematics``. Memory grows as T x P: take ``table.subset(ids)`` first
    for long sequences.
    """
    rot = quat_to_matrix(np.asarray(seg_quat, dtype=np.float64)[:, table.segment_id])  # [T, P, 3, 3]
    pos = np.asarray(seg_pos_m, dtype=np.float64)[:, table.segment_id] + np.einsum("tpij,pj->tpi", rot, table.position_m)
    return pos, np.einsum("tpij,pjk->tpik", rot, table.frame)


# ---- JSON (dataset manifests) --------------------------------------------------------------------

FRAME_CONVENTION = (
    "position_m and frame are in the segment frame (origin at the proximal joint); frame is the "
    "segment-from-sensor rotation, row-major, whose columns are the sensor axes x_s = tangent (along the "
    "limb toward its distal end; torso/head: up; feet: forward), y_s = binormal = normal x tangent, "
    "z_s = outward surface normal"
)


def placement_table_from_json(d: dict) -> PlacementTable:
    """Inverse of `anymo.body.named_placements.placement_table_json` (which lives there: it adds the named regions)."""
    rows = d["placements"]
    return PlacementTable(
        placement_id=np.array([r["id"] for r in rows], dtype=np.int32),
        segment_id=np.array([SEGMENT_INDEX[r["segment"]] for r in rows], dtype=np.int16),
        position_m=np.array([r["position_m"] for r in rows], dtype=np.float64).reshape(-1, 3),
        frame=np.array([r["frame"] for r in rows], dtype=np.float64).reshape(-1, 3, 3),
        u=np.array([r["u"] for r in rows], dtype=np.float64).reshape(-1, 2),
    )
