"""Motion capture files -> `BodyMotion`: `load_motion_file` (one file, by extension) and
`load_motions` (a file or a whole folder of BVH, ASF/AMC and DeepMimic clips)."""

from __future__ import annotations

from pathlib import Path

from anymo.motion.base import BodyMotion

MOTION_FILE_SUFFIXES = (".bvh", ".amc", ".txt", ".json")


def load_motion_file(path: str | Path, **kw) -> BodyMotion:
    """Load ``.bvh`` (`bvh_to_motion`), Acclaim ``.amc`` (`load_asf_amc`; its ``.asf`` skeleton is found
    beside it or in ``../asf``, or given as ``asf_path``) or a DeepMimic ``.txt``/``.json`` clip.

    Keyword arguments go to the reader: all take ``shape`` and ``rate_hz``; BVH and AMC also
    ``joint_map``, ``smooth_hz``, ``trim_lead_in``, ``fix_flips``, ``report``; BVH ``up_axis``,
    ``unit_scale_m``; AMC ``asf_path``, ``frame_rate_hz``; DeepMimic ``n_loops``, ``duration_s``.
    A folder is `load_motions`' job.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; load_motions(folder) loads every motion file in it")
    if not path.is_file():
        raise ValueError(f"motion file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        from anymo.motion.bvh import bvh_to_motion, read_bvh

        return bvh_to_motion(read_bvh(path), **kw)
    if suffix == ".amc":
        from anymo.motion.asf_amc import load_asf_amc

        return load_asf_amc(path, **kw)
    if suffix == ".asf":
        raise ValueError(f"{path} is an Acclaim skeleton (.asf) without motion; load an .amc motion file that uses it")
    if suffix in (".txt", ".json"):
        from anymo.motion.deepmimic import load_deepmimic

        return load_deepmimic(path, **kw)
    raise ValueError(
        f"{path}: unknown motion file type {suffix!r}; supported: .bvh and .amc (+ .asf) motion capture, "
        ".txt/.json (DeepMimic clips)"
    )


def find_motion_files(folder: str | Path) -> list[Path]:
    """Motion files under ``folder`` (recursively, sorted): ``.bvh``, ``.amc``, and ``.txt``/``.json``
    that are DeepMimic clips (JSON with 'Frames')."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        suffix = p.suffix.lower()
        if suffix in (".bvh", ".amc"):
            out.append(p)
        elif suffix in (".txt", ".json"):
            with p.open("rb") as f:
                if b'"Frames"' in f.read(4096):
                    out.append(p)
    return out


def load_motions(path: str | Path, **kw) -> dict[str, BodyMotion]:
    """Every motion of a file or folder: {path relative to the folder (the file name for a file): motion}.

    Keyword arguments go to `load_motion_file`. A file that fails to load raises ValueError naming it.
    """
    path = Path(path)
    if path.is_file():
        return {path.name: load_motion_file(path, **kw)}
    files = find_motion_files(path) if path.is_dir() else []
    if not path.exists():
        raise ValueError(f"motion file or folder not found: {path}")
    if not files:
        raise ValueError(f"no motion files (.bvh, .amc, DeepMimic .txt/.json) under {path}")
    return {p.relative_to(path).as_posix(): load_motion_file(p, **kw) for p in files}
