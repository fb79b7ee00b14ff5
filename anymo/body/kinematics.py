"""Forward kinematics: local joint rotations + root translation -> world segment poses."""

from __future__ import annotations

import numpy as np

from anymo.body.skeleton import N_SEGMENTS, PARENTS, Skeleton
from anymo.geometry.rotations import quat_mul, quat_normalize, quat_rotate


def forward_kinematics(skeleton: Skeleton, root_pos_m: np.ndarray, local_quat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World positions [T, 23, 3] and orientations [T, 23, 4] (wxyz, world-from-segment).

    ``root_pos_m`` [T, 3] is the pelvis origin in the world; ``local_quat`` [T, 23, 4] is each
    segment's rotation relative to its parent (for the pelvis: relative to the world), identity at rest.
    """
    root_pos_m = np.asarray(root_pos_m, dtype=np.float64)
    local_quat = quat_normalize(local_quat)
    if local_quat.ndim != 3 or local_quat.shape[1:] != (N_SEGMENTS, 4):
        raise ValueError(f"local_quat must be [T, {N_SEGMENTS}, 4], got {local_quat.shape}")
    if root_pos_m.shape != (local_quat.shape[0], 3):
        raise ValueError(f"root_pos_m must be [T, 3] with T={local_quat.shape[0]}, got {root_pos_m.shape}")
    if not (np.all(np.isfinite(root_pos_m)) and np.all(np.isfinite(local_quat))):
        raise ValueError("motion contains NaN or infinite values; clean or interpolate the input first")
    n_t = local_quat.shape[0]
    pos = np.empty((n_t, N_SEGMENTS, 3))
    quat = np.empty((n_t, N_SEGMENTS, 4))
    for i, p in enumerate(PARENTS):
        if p < 0:
            quat[:, i] = local_quat[:, i]
            pos[:, i] = root_pos_m
        else:
            quat[:, i] = quat_mul(quat[:, p], local_quat[:, i])
            pos[:, i] = pos[:, p] + quat_rotate(quat[:, p], skeleton.offset_m[i])
    return pos, quat
