"""Acclaim ASF/AMC motion capture (CMU, HDM05 and most Vicon exports) -> `BodyMotion`.

An ``.asf`` file is the skeleton (bones with a rest direction, length, local axes and degrees of
freedom; units), an ``.amc`` file the motion (per frame, each bone's dof values). Conventions
(Acclaim ASF/AMC v1.10, as the CMU and HDM05 viewers read them):

* Every ``direction`` and ``axis`` is given in the world frame of the rest pose; a bone starts at
  the end of its parent (the root's children start at the root) and ends ``length x direction``
  further on.
* ``axis ax ay az XYZ`` gives the bone's local frame C = R(axis) with the rotations applied in the
  order written (XYZ: about x first, so C = Rz Ry Rx). The AMC values of the rotational dofs make
  M the same way (missing dofs 0). The bone's world rotation is W = W_parent C M C^-1; the root's
  is C_root M_root C_root^-1 with C_root from ``:root orientation``; the root's dofs follow ``:root
  order`` (TX TY TZ: the root position in length units).
* ``:units length L``: the file's lengths are inches x L, so a unit is 0.0254 / L m (CMU and HDM05:
  L = 0.45, a unit is 0.0564 m); ``angle deg|rad``. AMC files hold no frame rate: CMU and HDM05
  capture at 120 Hz (``frame_rate_hz``).

The skeleton and motion become a `BvhClip` (one joint per bone at the bone's start, its world
rotation W), and `bvh_to_motion` retargets and cleans it like any BVH (rest-pose lead-in, flips,
low-pass). Bone names map to segments by `ASF_JOINT_MAP` (CMU/HDM05 names): the distal forearm bone
(``lwrist``, which carries the forearm's twist) drives the forearm, ``lhand`` the hand.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anymo.body.skeleton import BodyShape
from anymo.geometry.rotations import (
    quat_conj,
    quat_from_axis_angle,
    quat_mul,
    quat_normalize,
)
from anymo.motion.base import BodyMotion
from anymo.motion.bvh import BvhClip, bvh_to_motion

AMC_DEFAULT_RATE_HZ = 120.0  # CMU and HDM05 (AMC files do not store their rate)
INCH_M = 0.0254
_AXIS_INDEX = {"x": 0, "y": 1, "z": 2}

# ASF bone -> segment for the CMU/HDM05 skeleton (bones absent from a file are skipped).
ASF_JOINT_MAP: dict[str, str] = {
    "root": "Pelvis", "lowerback": "L5", "upperback": "T12", "thorax": "T8", "lowerneck": "Neck", "head": "Head",
}  # fmt: skip
for _s, _side in (("l", "Left"), ("r", "Right")):
    ASF_JOINT_MAP.update({
        f"{_s}clavicle": f"{_side}Shoulder", f"{_s}humerus": f"{_side}UpperArm", f"{_s}wrist": f"{_side}ForeArm",
        f"{_s}hand": f"{_side}Hand", f"{_s}femur": f"{_side}UpperLeg", f"{_s}tibia": f"{_side}LowerLeg",
        f"{_s}foot": f"{_side}Foot", f"{_s}toes": f"{_side}Toe",
    })  # fmt: skip


@dataclass
class AsfBone:
    name: str
    direction: np.ndarray  # [3] unit, world frame at rest
    length: float  # file units
    axis_deg: np.ndarray  # [3]
    axis_order: str  # e.g. "XYZ"
    dof: tuple[str, ...] = ()  # e.g. ("rx", "ry", "rz")


@dataclass
class AsfSkeleton:
    """A parsed ASF file. ``unit_m``: metres per length unit; ``angle_rad``: radians per angle unit."""

    name: str
    unit_m: float
    angle_rad: float
    root_order: tuple[str, ...]
    root_axis: str
    root_position: np.ndarray
    root_orientation_deg: np.ndarray
    bones: dict[str, AsfBone]
    children: dict[str, list[str]]  # parent -> children ("root" included)
    path: str = ""

    def parent_of(self) -> dict[str, str]:
        return {c: p for p, cs in self.children.items() for c in cs}

    def order(self) -> list[str]:
        """Bone names root first, parents before children (depth first in hierarchy order)."""
        out: list[str] = []
        stack = ["root"]
        while stack:
            b = stack.pop()
            out.append(b)
            stack.extend(reversed(self.children.get(b, [])))
        return out


@dataclass
class AcclaimClip(BvhClip):
    """A `BvhClip` built from ASF/AMC: joint rotations and root path given directly, not as channels."""

    local: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 4)))  # [F, J, 4] local rotations
    root_pos: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # [F, 3] file units

    def local_quats(self) -> np.ndarray:
        return self.local

    def root_translation(self) -> np.ndarray:
        return self.root_pos


def _err(path: str, msg: str) -> ValueError:
    return ValueError(f"{path}: {msg}")


def _floats(path: str, toks: list[str], n: int, what: str) -> np.ndarray:
    try:
        v = np.array([float(t) for t in toks[:n]])
    except ValueError:
        raise _err(path, f"{what} needs {n} numbers, got {' '.join(toks)!r}") from None
    if v.size != n or not np.all(np.isfinite(v)):
        raise _err(path, f"{what} needs {n} finite numbers, got {' '.join(toks)!r}")
    return v


def read_asf(path: str | Path) -> AsfSkeleton:
    """Parse an Acclaim ``.asf`` skeleton; malformed files raise ValueError saying what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        raise _err(str(path), f"cannot read ASF skeleton: {e}") from e
    return parse_asf(text, str(path))


def parse_asf(text: str, source: str = "<asf>") -> AsfSkeleton:
    """Parse ASF text (see `read_asf`)."""
    sections: dict[str, list[list[str]]] = {}
    cur = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            key, _, rest = line[1:].partition(" ")
            cur = key.lower()
            sections.setdefault(cur, [])
            if rest.strip():
                sections[cur].append(rest.split())
            continue
        if cur is not None:
            sections[cur].append(line.split())
    for need in ("bonedata", "hierarchy"):
        if need not in sections:
            raise _err(source, f"no :{need} section; is this an Acclaim .asf skeleton file?")
    units = {t[0].lower(): t[1] for t in sections.get("units", []) if len(t) >= 2}
    try:
        length_unit = float(units.get("length", "1.0"))
    except ValueError:
        raise _err(source, f":units length must be a number, got {units.get('length')!r}") from None
    if not (length_unit > 0):
        raise _err(source, f":units length must be positive, got {length_unit}")
    angle = units.get("angle", "deg").lower()
    if angle not in ("deg", "rad"):
        raise _err(source, f":units angle must be deg or rad, got {angle!r}")
    root = {t[0].lower(): t[1:] for t in sections.get("root", []) if t}
    root_order = tuple(x.lower() for x in root.get("order", ["TX", "TY", "TZ", "RX", "RY", "RZ"]))
    bad = [d for d in root_order if d not in ("tx", "ty", "tz", "rx", "ry", "rz")]
    if bad:
        raise _err(source, f":root order has unknown dof(s) {bad}; expected TX TY TZ RX RY RZ")
    root_axis = "".join(root.get("axis", ["XYZ"])).upper()
    root_position = _floats(source, root.get("position", ["0", "0", "0"]), 3, ":root position")
    root_orient = _floats(source, root.get("orientation", ["0", "0", "0"]), 3, ":root orientation")

    bones: dict[str, AsfBone] = {}
    cur_bone: dict | None = None
    for toks in sections["bonedata"]:
        key = toks[0].lower()
        if key == "begin":
            cur_bone = {}
        elif key == "end":
            if cur_bone is None or "name" not in cur_bone:
                raise _err(source, "a bone (begin ... end) in :bonedata has no name")
            name = cur_bone["name"]
            if name in bones or name == "root":
                raise _err(source, f"bone {name!r} is defined twice")
            direction = cur_bone.get("direction", np.zeros(3))
            n = float(np.linalg.norm(direction))
            bones[name] = AsfBone(
                name=name,
                direction=direction / n if n > 0 else direction,
                length=float(cur_bone.get("length", 0.0)),
                axis_deg=cur_bone.get("axis", np.zeros(3)),
                axis_order=cur_bone.get("axis_order", "XYZ"),
                dof=cur_bone.get("dof", ()),
            )
            cur_bone = None
        elif cur_bone is not None:
            if key == "name":
                cur_bone["name"] = toks[1]
            elif key == "direction":
                cur_bone["direction"] = _floats(source, toks[1:], 3, "bone direction")
            elif key == "length":
                cur_bone["length"] = float(_floats(source, toks[1:], 1, "bone length")[0])
            elif key == "axis":
                cur_bone["axis"] = _floats(source, toks[1:], 3, "bone axis")
                cur_bone["axis_order"] = toks[4].upper() if len(toks) > 4 else "XYZ"
            elif key == "dof":
                cur_bone["dof"] = tuple(t.lower() for t in toks[1:])
    children: dict[str, list[str]] = {}
    for toks in sections["hierarchy"]:
        if toks[0].lower() in ("begin", "end"):
            continue
        parent, kids = toks[0], toks[1:]
        for k in [parent, *kids]:
            if k != "root" and k not in bones:
                raise _err(source, f":hierarchy names bone {k!r}, which :bonedata does not define")
        children.setdefault(parent, []).extend(kids)
    for name, b in bones.items():
        if not re.fullmatch(r"[XYZ]{3}", b.axis_order) or len(set(b.axis_order)) != 3:
            raise _err(source, f"bone {name!r}: axis order must be a permutation of XYZ, got {b.axis_order!r}")
    sk = AsfSkeleton(
        name=" ".join(sections.get("name", [[""]])[0]),
        unit_m=INCH_M / length_unit,
        angle_rad=math.pi / 180.0 if angle == "deg" else 1.0,
        root_order=root_order,
        root_axis=root_axis if re.fullmatch(r"[XYZ]{3}", root_axis) else "XYZ",
        root_position=root_position,
        root_orientation_deg=root_orient,
        bones=bones,
        children=children,
        path=source,
    )
    reached = set(sk.order())
    orphans = sorted(set(bones) - reached)
    if orphans:
        raise _err(source, f"bones {orphans[:5]} are not connected to the root in :hierarchy")
    return sk


def _euler_quat(angles_rad: np.ndarray, order: str) -> np.ndarray:
    """Rotation [..., 4] applying the rotations about the axes in ``order`` one after the other
    (order "XYZ": about x first, then y, then z, in fixed axes: R = Rz Ry Rx)."""
    q = np.zeros((*angles_rad.shape[:-1], 4))
    q[..., 0] = 1.0
    for ax in order.lower():
        i = _AXIS_INDEX[ax]
        q = quat_mul(quat_from_axis_angle(np.eye(3)[i], angles_rad[..., i]), q)
    return q


def read_amc(path: str | Path, asf: AsfSkeleton) -> dict[str, np.ndarray]:
    """Per-bone dof values [F, n_dof] (file units) of an ``.amc`` motion for skeleton ``asf``.

    Bones the frames do not list keep zeros; lines naming bones the skeleton lacks raise.
    """
    path = Path(path)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as e:
        raise _err(str(path), f"cannot read AMC motion: {e}") from e
    src = str(path)
    n_dofs = {"root": len(asf.root_order), **{name: len(b.dof) for name, b in asf.bones.items()}}
    # one pass collecting each bone's value strings per frame; numbers are converted per bone at the end
    values: dict[str, list[list[str]]] = {name: [] for name in n_dofs}
    frame_of: dict[str, list[int]] = {name: [] for name in n_dofs}
    line_of: dict[str, list[int]] = {name: [] for name in n_dofs}
    n_frames = 0
    for lineno, raw in enumerate(lines, 1):
        toks = raw.split()
        if not toks or toks[0][0] in "#:":
            continue
        if len(toks) == 1 and toks[0].isdigit():
            n_frames += 1
            continue
        if not n_frames:
            raise _err(src, f"line {lineno}: bone values before the first frame number: {raw.strip()[:60]!r}")
        name = toks[0]
        if name not in values:
            raise _err(src, f"line {lineno}: bone {name!r} is not in the skeleton {asf.path}; is it the right .asf?")
        if len(toks) - 1 != n_dofs[name]:
            raise _err(src, f"line {lineno}: bone {name!r} has {len(toks) - 1} values, the skeleton gives it {n_dofs[name]} dofs")
        values[name].append(toks[1:])
        frame_of[name].append(n_frames - 1)
        line_of[name].append(lineno)
    if not n_frames:
        raise _err(src, "no frames (lines with a frame number, then one line per bone)")
    out = {}
    for name, n_dof in n_dofs.items():
        if n_dof == 0:
            continue
        arr = np.zeros((n_frames, n_dof))
        if values[name]:
            try:
                v = np.array(values[name], dtype=np.float64)
            except ValueError:
                bad = next(i for i, row in enumerate(values[name]) if not _all_numbers(row))
                raise _err(src, f"line {line_of[name][bad]}: a value of bone {name!r} is not a number: {' '.join(values[name][bad])[:80]!r}") from None
            finite = np.isfinite(v).all(axis=1)
            if not finite.all():
                raise _err(src, f"line {line_of[name][int(np.argmin(finite))]}: NaN or infinite value for bone {name!r}")
            arr[np.asarray(frame_of[name])] = v
        out[name] = arr
    return out


def _all_numbers(tokens: list[str]) -> bool:
    try:
        [float(t) for t in tokens]
    except ValueError:
        return False
    return True


def asf_amc_clip(asf: AsfSkeleton, amc: dict[str, np.ndarray], frame_rate_hz: float = AMC_DEFAULT_RATE_HZ, path: str = "") -> AcclaimClip:
    """The skeleton and motion as a `BvhClip`: one joint per bone at its start, rotations W_parent^-1 W."""
    if not (frame_rate_hz > 0 and math.isfinite(frame_rate_hz)):
        raise ValueError(f"frame_rate_hz must be a positive number, got {frame_rate_hz}")
    order = asf.order()
    parent = asf.parent_of()
    index = {b: i for i, b in enumerate(order)}
    n_f = next(iter(amc.values())).shape[0] if amc else 1
    offsets = np.zeros((len(order), 3))
    end_sites: dict[int, np.ndarray] = {}
    local = np.zeros((n_f, len(order), 4))
    local[..., 0] = 1.0
    root_pos = np.tile(asf.root_position, (n_f, 1))
    root_rot = np.zeros((n_f, 3))
    for k, d in enumerate(asf.root_order):
        v = amc["root"][:, k] if "root" in amc else np.zeros(n_f)
        if d.startswith("t"):
            root_pos[:, _AXIS_INDEX[d[1]]] = v
        else:
            root_rot[:, _AXIS_INDEX[d[1]]] = v * asf.angle_rad
    c_root = _euler_quat(np.radians(asf.root_orientation_deg), asf.root_axis)
    local[:, 0] = quat_mul(quat_mul(c_root, _euler_quat(root_rot, asf.root_axis)), quat_conj(c_root))
    for name in order[1:]:
        b = asf.bones[name]
        j = index[name]
        p = parent[name]
        if p != "root":
            pb = asf.bones[p]
            offsets[j] = pb.length * pb.direction
        if not asf.children.get(name):
            end_sites[j] = b.length * b.direction
        if b.dof and name in amc:
            ang = np.zeros((n_f, 3))
            for k, d in enumerate(b.dof):
                if d in ("rx", "ry", "rz"):
                    ang[:, _AXIS_INDEX[d[1]]] = amc[name][:, k] * asf.angle_rad
            c = _euler_quat(np.radians(b.axis_deg), b.axis_order)
            local[:, j] = quat_mul(quat_mul(c, _euler_quat(ang, b.axis_order)), quat_conj(c))
    return AcclaimClip(
        names=order,
        parents=[-1] + [index[parent[b]] for b in order[1:]],
        offsets=offsets,
        channels=[() for _ in order],
        frame_time_s=1.0 / frame_rate_hz,
        frames=np.zeros((n_f, 0)),
        end_sites=end_sites,
        path=path,
        local=quat_normalize(local),
        root_pos=root_pos,
    )


def find_asf_for(amc_path: str | Path) -> Path:
    """The skeleton of an ``.amc`` file: the only ``.asf`` beside it or in a sibling ``asf/`` folder,
    else the one whose name's words/numbers (``subject_16``, ``HDM_bd``) all appear in the AMC's name."""
    amc_path = Path(amc_path)
    folders = [amc_path.parent, amc_path.parent.parent / "asf", amc_path.parent / "asf"]
    cands = sorted({p for f in folders if f.is_dir() for p in f.glob("*.asf")} | {p for f in folders if f.is_dir() for p in f.glob("*.ASF")})
    if not cands:
        raise ValueError(f"{amc_path}: no .asf skeleton beside it or in ../asf; pass asf_path")
    same = [p for p in cands if p.stem.lower() == amc_path.stem.lower()]
    if same:
        return same[0]
    if len(cands) == 1:
        return cands[0]
    words = _name_words(amc_path.stem)
    generic = {"subject", "hdm", "hdm05", "cmu", "skeleton", "asf"}
    # a skeleton whose words all appear in the AMC's name; several: the one named earliest (the
    # subject comes before the trial: cmu_16_13 is subject 16, trial 13)
    where = {}
    for p in cands:
        w = [x for x in _name_words(p.stem) if x not in generic]
        if w and all(x in words for x in w):
            where[p] = max(words.index(x) for x in w)
    best = sorted(where, key=where.get)
    if len(best) == 1 or (len(best) > 1 and where[best[0]] < where[best[1]]):
        return best[0]
    raise ValueError(
        f"{amc_path}: cannot tell which skeleton it uses among {[p.name for p in cands]}"
        f"{' (several match)' if best else ''}; pass asf_path"
    )


def _name_words(stem: str) -> list[str]:
    """Words of a file name in order, numbers without leading zeros ("cmu_16_01" -> cmu, 16, 1)."""
    return [str(int(w)) if w.isdigit() else w for w in re.split(r"[_\-\s.]+", stem.lower()) if w]


def load_asf_amc(
    amc_path: str | Path,
    asf_path: str | Path | None = None,
    shape: BodyShape | None = None,
    rate_hz: float = 200.0,
    frame_rate_hz: float = AMC_DEFAULT_RATE_HZ,
    joint_map: dict[str, str] | None = None,
    **kw,
) -> BodyMotion:
    """Load an ``.amc`` motion (skeleton ``asf_path``, default `find_asf_for`) onto our skeleton.

    Further keyword arguments go to `bvh_to_motion` (``smooth_hz``, ``trim_lead_in``, ``fix_flips``,
    ``report``); the up axis is y and the unit comes from the ASF's ``:units``.
    """
    amc_path = Path(amc_path)
    if not amc_path.is_file():
        raise ValueError(f"AMC motion file not found: {amc_path}")
    asf = read_asf(asf_path if asf_path is not None else find_asf_for(amc_path))
    clip = asf_amc_clip(asf, read_amc(amc_path, asf), frame_rate_hz, str(amc_path))
    if joint_map is None:
        joint_map = {b: s for b, s in ASF_JOINT_MAP.items() if b in clip.names}
    motion = bvh_to_motion(clip, joint_map=joint_map, shape=shape, rate_hz=rate_hz, up_axis="y", unit_scale_m=asf.unit_m, **kw)
    motion.source = f"amc:{amc_path.name}"
    return motion


__all__ = [
    "AMC_DEFAULT_RATE_HZ",
    "ASF_JOINT_MAP",
    "AcclaimClip",
    "AsfBone",
    "AsfSkeleton",
    "asf_amc_clip",
    "find_asf_for",
    "load_asf_amc",
    "parse_asf",
    "read_amc",
    "read_asf",
]
