"""`load_motion_file`: one entry point for motion capture files, dispatching on the extension."""

from __future__ import annotations

from pathlib import Path

from anymo.motion.base import BodyMotion

MOTION_FILE_SUFFIXES = (".bvh", ".txt", ".json")


def load_motion_file(path: str | Path, **kw) -> BodyMotion:
    """Load ``.bvh`` (via `bvh_to_motion`) or a DeepMimic ``.txt``/``.json`` clip (via `load_deepmimic`).

    Keyword arguments go to the reader: both take ``shape`` and ``rate_hz``; BVH also
    ``joint_map``, ``up_axis``, ``unit_scale_m``; DeepMimic also ``n_loops``, ``duration_s``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"motion file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        from anymo.motion.bvh import bvh_to_motion, read_bvh

        return bvh_to_motion(read_bvh(path), **kw)
    if suffix in (".txt", ".json"):
        from anymo.motion.deepmimic import load_deepmimic

        return load_deepmimic(path, **kw)
    raise ValueError(
        f"{path}: unknown motion file type {suffix!r}; supported: .bvh (motion capture) and .txt/.json (DeepMimic clips)"
    )
