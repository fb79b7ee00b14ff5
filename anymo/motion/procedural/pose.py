"""Joint-angle conventions, a pose container over time, and foot planting.

Anatomical angles (radians) -> local joint quaternions on the 23-segment skeleton (rest = N-pose,
every segment frame = world: x forward, y left, z up). ``side`` is -1 for right, +1 for left, so
one formula serves both limbs (mirror y). Rotations are composed flexion (about y), then
abduction (about the flexed x), then axial rotation (about the long axis z).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from anymo.body.skeleton import N_SEGMENTS, PARENTS, SEGMENT_INDEX, Skeleton
from anymo.geometry.rotations import quat_mul, quat_rotate

EX, EY, EZ = np.eye(3)
SIDES = {"right": -1.0, "left": 1.0}
OTHER_SIDE = {"right": "left", "left": "right"}


def rot(axis: np.ndarray, angle_rad: np.ndarray | float, n: int) -> np.ndarray:
    """Quaternions [n, 4] for a rotation about a fixed unit axis by (time-varying) angles."""
    half = 0.5 * np.broadcast_to(np.asarray(angle_rad, dtype=np.float64), (n,))
    q = np.empty((n, 4))
    q[:, 0] = np.cos(half)
    q[:, 1:] = np.sin(half)[:, None] * np.asarray(axis, dtype=np.float64)
    return q


def cardan(flex_y: np.ndarray | float, abd_x: np.ndarray | float, twist_z: np.ndarray | float, n: int) -> np.ndarray:
    """R = Ry(flex_y) Rx(abd_x) Rz(twist_z) as quaternions [n, 4] (closed form of the product)."""
    hy, hx, hz = (0.5 * np.broadcast_to(np.asarray(a, dtype=np.float64), (n,)) for a in (flex_y, abd_x, twist_z))
    cy, sy, cx, sx, cz, sz = np.cos(hy), np.sin(hy), np.cos(hx), np.sin(hx), np.cos(hz), np.sin(hz)
    q = np.empty((n, 4))
    q[:, 0] = cx * cy * cz + sx * sy * sz
    q[:, 1] = sx * cy * cz + cx * sy * sz
    q[:, 2] = cx * sy * cz - sx * cy * sz
    q[:, 3] = cx * cy * sz - sx * sy * cz
    return q


class Pose:
    """Local joint rotations [T, 23, 4] built up joint by joint (identity = rest N-pose)."""

    def __init__(self, n_frames: int):
        self.n = int(n_frames)
        self.local = np.zeros((self.n, N_SEGMENTS, 4))
        self.local[..., 0] = 1.0

    def apply(self, segment: str, q: np.ndarray) -> None:
        """Post-multiply the segment's local rotation by ``q`` [T, 4] (rotation in its own frame)."""
        i = SEGMENT_INDEX[segment]
        self.local[:, i] = quat_mul(self.local[:, i], q)

    def set(self, segment: str, q: np.ndarray) -> None:
        self.local[:, SEGMENT_INDEX[segment]] = q

    # --- anatomical joints --------------------------------------------------------------------
    def trunk(self, flex: np.ndarray | float = 0.0, side_bend: np.ndarray | float = 0.0, twist: np.ndarray | float = 0.0) -> None:
        """Spine flexion (forward +), bend to the left (+) and twist to the left (+), spread over L5..T8."""
        q = cardan(np.asarray(flex) / 4, -np.asarray(side_bend) / 4, np.asarray(twist) / 4, self.n)
        for seg in ("L5", "L3", "T12", "T8"):
            self.apply(seg, q)

    def head(self, flex: np.ndarray | float = 0.0, side_bend: np.ndarray | float = 0.0, twist: np.ndarray | float = 0.0) -> None:
        """Neck+head flexion (chin down +), bend left (+), turn left (+), split over Neck and Head."""
        q = cardan(np.asarray(flex) / 2, -np.asarray(side_bend) / 2, np.asarray(twist) / 2, self.n)
        self.apply("Neck", q)
        self.apply("Head", q)

    def pelvis(self, tilt_fwd: np.ndarray | float = 0.0, roll_left_up: np.ndarray | float = 0.0, yaw: np.ndarray | float = 0.0) -> None:
        """Pelvis orientation in the world: heading/yaw (left +) applied first, then tilt and roll."""
        q = quat_mul(rot(EZ, yaw, self.n), quat_mul(rot(EY, tilt_fwd, self.n), rot(EX, roll_left_up, self.n)))
        self.apply("Pelvis", q)

    def hip(self, side: str, flex, abd=0.0, int_rot=0.0) -> None:
        s = SIDES[side]
        self.apply(side.capitalize() + "UpperLeg", cardan(-np.asarray(flex), s * np.asarray(abd), -s * np.asarray(int_rot), self.n))

    def knee(self, side: str, flex) -> None:
        self.apply(side.capitalize() + "LowerLeg", rot(EY, flex, self.n))

    def ankle(self, side: str, dorsi, inversion=0.0) -> None:
        s = SIDES[side]
        self.apply(side.capitalize() + "Foot", cardan(-np.asarray(dorsi), -s * np.asarray(inversion), 0.0, self.n))

    def toe(self, side: str, extension) -> None:
        self.apply(side.capitalize() + "Toe", rot(EY, -np.asarray(extension), self.n))

    def clavicle(self, side: str, elevation=0.0, protraction=0.0) -> None:
        s = SIDES[side]
        self.apply(side.capitalize() + "Shoulder", quat_mul(rot(EX, s * np.asarray(elevation), self.n), rot(EZ, -s * np.asarray(protraction), self.n)))

    def shoulder(self, side: str, flex, abd=0.0, int_rot=0.0) -> None:
        s = SIDES[side]
        self.apply(side.capitalize() + "UpperArm", cardan(-np.asarray(flex), s * np.asarray(abd), -s * np.asarray(int_rot), self.n))

    def elbow(self, side: str, flex, pronation=0.0) -> None:
        s = SIDES[side]
        self.apply(side.capitalize() + "ForeArm", cardan(-np.asarray(flex), 0.0, -s * np.asarray(pronation), self.n))

    def wrist(self, side: str, flex=0.0, deviation=0.0) -> None:
        """Wrist flexion (towards the palm +) and radial deviation (towards the thumb, forward at rest +)."""
        s = SIDES[side]
        self.apply(side.capitalize() + "Hand", cardan(-np.asarray(deviation), -s * np.asarray(flex), 0.0, self.n))


# --- feet on the floor ------------------------------------------------------------------------

def foot_contacts_m(skeleton: Skeleton, pos: np.ndarray, quat: np.ndarray) -> np.ndarray:
    """Sole points [T, 6, 3] (heel, ball, toe tip of the right then the left foot) from world poses."""
    h = skeleton.shape.height_m
    ankle_h = 0.039 * h
    out = []
    for side in ("Right", "Left"):
        f, t = SEGMENT_INDEX[side + "Foot"], SEGMENT_INDEX[side + "Toe"]
        heel = pos[:, f] + quat_rotate(quat[:, f], np.array([-0.025 * h, 0.0, -ankle_h]))
        ball = pos[:, f] + quat_rotate(quat[:, f], np.array([0.085 * h, 0.0, -ankle_h]))
        tip = pos[:, t] + quat_rotate(quat[:, t], np.array([skeleton.length_m[t], 0.0, -0.008 * h]))
        out += [heel, ball, tip]
    return np.stack(out, axis=1)


def softmin_weights(z: np.ndarray, softness_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Smooth minimum over the last axis and its weights (softmax of -z / softness)."""
    zmin = z.min(axis=-1, keepdims=True)
    e = np.exp(-(z - zmin) / softness_m)
    s = e.sum(axis=-1, keepdims=True)
    return (zmin - softness_m * np.log(s))[..., 0], e / s


def stance_weights(stride_phase_rad: np.ndarray, stance_frac: float = 0.6, sharpness: float = 0.08) -> np.ndarray:
    """Smooth weights [T, 2] (right, left) of which foot bears the weight during gait.

    The right foot is down from stride phase 0 (heel strike) for ``stance_frac`` of the cycle,
    the left half a cycle later; in double support the weight crosses over smoothly.
    """
    half = np.pi * stance_frac
    w = []
    for off in (0.0, np.pi):
        x = (np.cos(stride_phase_rad + off - half) - np.cos(half)) / sharpness
        w.append(0.5 + 0.5 * np.tanh(x))
    w = np.stack(w, axis=-1) + 1e-9
    return w / w.sum(axis=-1, keepdims=True)


def plant_root(skeleton: Skeleton, rel_pos: np.ndarray, quat: np.ndarray, rate_hz: float, *, softness_m: float = 0.01,
               floor_m: float = 0.0, stance: np.ndarray | None = None, smooth_s: float = 0.05) -> np.ndarray:
    """Root trajectory [T, 3] that keeps the lowest sole points on the floor and unmoving.

    ``rel_pos`` are segment positions from forward kinematics with the root at the origin. Height:
    the smooth minimum of the sole points sits on the floor. Horizontal: the root moves opposite to
    the (softly) lowest points' motion relative to it, so a stance foot does not slide. ``stance``
    [T, 2] (right, left weights, see `stance_weights`) says which foot is down when it is known.
    """
    c = foot_contacts_m(skeleton, rel_pos, quat)
    zmin, w = softmin_weights(c[..., 2], softness_m)
    if stance is not None:
        _, w_r = softmin_weights(c[:, :3, 2], softness_m)
        _, w_l = softmin_weights(c[:, 3:, 2], softness_m)
        w = np.concatenate([w_r * stance[:, :1], w_l * stance[:, 1:]], axis=1)
    vel = np.gradient(c[..., :2], 1.0 / rate_hz, axis=0)
    v_root = -np.sum(w[..., None] * vel, axis=1)
    # contact switches (heel strike) are sharp: soften them over a few tens of milliseconds
    sigma = smooth_s * rate_hz
    v_root = gaussian_filter1d(v_root, sigma, axis=0, mode="nearest")
    z = gaussian_filter1d(floor_m - zmin, sigma, mode="nearest")
    # the smooth minimum lies below the true one (by up to softness * ln 6 with all soles level):
    # shift so that the lowest sole typically touches the floor
    z -= np.median(c[..., 2].min(axis=1) + z - floor_m)
    xy = np.concatenate([[[0.0, 0.0]], np.cumsum(0.5 * (v_root[1:] + v_root[:-1]), axis=0) / rate_hz])
    return np.concatenate([xy, z[:, None]], axis=1)


def _qmul(a: tuple, b: tuple) -> tuple:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw)


def _qrot(q: tuple, v: np.ndarray) -> tuple:
    """Rotate a constant vector v [3] by quaternions given as components."""
    w, x, y, z = q
    vx, vy, vz = (float(c) for c in v)
    tx, ty, tz = 2 * (y * vz - z * vy), 2 * (z * vx - x * vz), 2 * (x * vy - y * vx)
    return (vx + w * tx + (y * tz - z * ty), vy + w * ty + (z * tx - x * tz), vz + w * tz + (x * ty - y * tx))


def fast_fk(skeleton: Skeleton, root_pos_m: np.ndarray, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`anymo.body.kinematics.forward_kinematics` on component arrays (several times faster for long T).

    Same result: world positions [T, 23, 3] and orientations [T, 23, 4] (wxyz). ``local`` must hold
    unit quaternions.
    """
    comp = np.ascontiguousarray(np.moveaxis(np.asarray(local, dtype=np.float64), -1, 0))  # [4, T, 23]
    n_t = comp.shape[1]
    pos = np.empty((N_SEGMENTS, 3, n_t))
    quat = np.empty((N_SEGMENTS, 4, n_t))
    for i, p in enumerate(PARENTS):
        q_local = tuple(np.ascontiguousarray(comp[k, :, i]) for k in range(4))
        if p < 0:
            quat[i] = q_local
            pos[i] = np.asarray(root_pos_m, dtype=np.float64).T
        else:
            qp = tuple(quat[p, k] for k in range(4))
            quat[i] = _qmul(qp, q_local)
            off = _qrot(qp, skeleton.offset_m[i])
            pos[i] = pos[p] + np.stack(off)
    return np.transpose(pos, (2, 0, 1)), np.transpose(quat, (2, 0, 1))


def fk_rel(skeleton: Skeleton, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics with the root at the origin."""
    return fast_fk(skeleton, np.zeros((local.shape[0], 3)), local)
