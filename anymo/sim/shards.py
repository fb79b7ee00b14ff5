"""Simulated-dataset shards on disk: atomic writer, manifest, validating reader (numpy + json only).

A dataset is a folder ``DIR`` with ``shard-00000.npz``, ``shard-00001.npz``, ... and ``manifest.json``
(see docs/simulated_dataset.md for every field). Each shard is a plain ``.npz`` of fixed-width arrays:
strings are numpy unicode arrays, so ``np.load(path, allow_pickle=False)`` reads every file.
The manifest is written last: a folder without one is an interrupted run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anymo.preprocess.model_input import ModelInput, WindowMeta
from anymo.versioned_json import read_versioned_json

FORMAT_NAME = "anymo-sim-shards"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
SHARD_PATTERN = "shard-{:05d}.npz"

# name -> (dtype kind, number of dims) of the per-window arrays every shard holds (first dim = N windows).
SHARD_ARRAYS: dict[str, tuple[str, int]] = {
    "acc_mps2": ("f", 4),  # [N, S, T, 3] specific force in the device frame, float32
    "gyro_rads": ("f", 4),  # [N, S, T, 3] angular rate in the device frame, float32
    "placement_id": ("i", 2),  # [N, S] ids into the manifest's placement table
    "segment_id": ("i", 2),  # [N, S] index into anymo.body.skeleton.SEGMENTS
    "device_rot": ("f", 4),  # [N, S, 3, 3] placement-sensor-from-device rotation (mounting)
    "activity": ("U", 1),  # [N] activity label of the window (plain language)
    "caption": ("U", 1),  # [N] one caption of the window
    "label_purity": ("f", 1),  # [N] fraction of the window covered by its activity label
    "device": ("U", 1),  # [N] hardware preset that produced the window
    "device_rate_hz": ("f", 1),  # [N] rate the device streamed at before resampling to rate_hz
    "source": ("U", 1),  # [N] motion source, e.g. "procedural" or "deepmimic:humanoid3d_walk"
    "body_height_m": ("f", 1),  # [N] standing height of the simulated body
    "unit_id": ("i", 1),  # [N] work unit (one continuous simulated sequence) the window was cut from
    "window_start_s": ("f", 1),  # [N] start of the window within its unit's sequence
}
SHARD_SCALARS = ("rate_hz",)


class ShardFormatError(ValueError):
    """A dataset folder or shard does not follow the shard format; the message names the file."""


def shard_name(index: int) -> str:
    return SHARD_PATTERN.format(index)


def arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the names, dtypes, shapes and bytes of ``arrays`` (sorted by name): equal digests,
    equal contents, whatever the zip container around them."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _atomic_write(path: Path, write) -> None:
    """Write via a temporary file in the same folder, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_shard_arrays(arrays: dict[str, np.ndarray], where: str = "shard") -> int:
    """Validate names, kinds and leading sizes of one shard's arrays; return its number of windows."""
    missing = [k for k in (*SHARD_ARRAYS, *SHARD_SCALARS) if k not in arrays]
    if missing:
        raise ShardFormatError(f"{where}: missing arrays {missing}")
    n = int(arrays["acc_mps2"].shape[0])
    for name, (kind, ndim) in SHARD_ARRAYS.items():
        a = arrays[name]
        if a.dtype.kind != kind or a.ndim != ndim or a.shape[0] != n:
            raise ShardFormatError(
                f"{where}: {name} must be a {ndim}-d array of kind {kind!r} with {n} windows first, got {a.dtype} {a.shape}"
            )
    acc, gyro = arrays["acc_mps2"], arrays["gyro_rads"]
    if acc.shape != gyro.shape or acc.shape[-1] != 3:
        raise ShardFormatError(f"{where}: acc_mps2 and gyro_rads must both be [N, S, T, 3], got {acc.shape} and {gyro.shape}")
    if arrays["placement_id"].shape != acc.shape[:2] or arrays["segment_id"].shape != acc.shape[:2]:
        raise ShardFormatError(f"{where}: placement_id and segment_id must be [N, S] = {acc.shape[:2]}")
    return n


def write_shard(path: str | Path, arrays: dict[str, np.ndarray]) -> str:
    """Write one shard atomically (uncompressed npz); return its `arrays_digest`."""
    path = Path(path)
    check_shard_arrays(arrays, str(path))
    _atomic_write(path, lambda f: np.savez(f, **arrays))
    return arrays_digest(arrays)


def write_manifest(directory: str | Path, manifest: dict) -> Path:
    """Write ``DIR/manifest.json`` atomically (after every shard it lists)."""
    path = Path(directory) / MANIFEST_NAME
    _atomic_write(path, lambda f: f.write(json.dumps(manifest, indent=1).encode()))
    return path


def read_shard(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of one shard (``allow_pickle=False``), validated."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise ShardFormatError(f"{path}: not a readable shard ({exc})") from exc
    check_shard_arrays(arrays, str(path))
    return arrays


@dataclass(frozen=True)
class SimWindow:
    """One simulated window: S sensors x T samples, with its label and caption."""

    acc_mps2: np.ndarray  # [S, T, 3]
    gyro_rads: np.ndarray  # [S, T, 3]
    placement_id: np.ndarray  # [S]
    segment_id: np.ndarray  # [S]
    device_rot: np.ndarray  # [S, 3, 3]
    activity: str
    caption: str
    label_purity: float
    device: str
    source: str
    rate_hz: float


@dataclass(frozen=True)
class ShardedDataset:
    """A validated dataset folder: its manifest and shard files (loaded lazily)."""

    directory: Path
    manifest: dict

    @property
    def shard_paths(self) -> list[Path]:
        return [self.directory / s["file"] for s in self.manifest["shards"]]

    @property
    def rate_hz(self) -> float:
        return float(self.manifest["rate_hz"])

    def __len__(self) -> int:
        return int(self.manifest["counts"]["windows"])

    def shard(self, index: int, verify: bool = False) -> dict[str, np.ndarray]:
        """Arrays of shard ``index``; with ``verify`` also check its content digest against the manifest."""
        entry = self.manifest["shards"][index]
        path = self.directory / entry["file"]
        arrays = read_shard(path)
        n = int(arrays["acc_mps2"].shape[0])
        if n != entry["windows"]:
            raise ShardFormatError(f"{path}: holds {n} windows, the manifest says {entry['windows']}")
        if verify and arrays_digest(arrays) != entry["digest"]:
            raise ShardFormatError(f"{path}: contents differ from the manifest's digest (file changed or corrupt)")
        return arrays

    def model_input(self, index: int, verify: bool = False) -> ModelInput:
        """Shard ``index`` as the model input (`load_model_input`; the shard's other arrays via `shard`)."""
        return load_model_input(self.shard(index, verify=verify))

    def iter_shards(self, verify: bool = False) -> Iterator[dict[str, np.ndarray]]:
        for i in range(len(self.manifest["shards"])):
            yield self.shard(i, verify=verify)

    def iter_windows(self) -> Iterator[SimWindow]:
        """Every window in order (shard by shard)."""
        for a in self.iter_shards():
            rate = float(a["rate_hz"])
            for i in range(a["acc_mps2"].shape[0]):
                yield SimWindow(
                    acc_mps2=a["acc_mps2"][i],
                    gyro_rads=a["gyro_rads"][i],
                    placement_id=a["placement_id"][i],
                    segment_id=a["segment_id"][i],
                    device_rot=a["device_rot"][i],
                    activity=str(a["activity"][i]),
                    caption=str(a["caption"][i]),
                    label_purity=float(a["label_purity"][i]),
                    device=str(a["device"][i]),
                    source=str(a["source"][i]),
                    rate_hz=rate,
                )


SIM_DATASET = "sim"


def load_model_input(arrays: dict[str, np.ndarray]) -> ModelInput:
    """One shard's windows as the model input (`ModelInput`: acc in g, gyro rad/s, clipped, at the shard's
    rate), every slot a sensor with a gyroscope at its placement id. ``meta``: label = the activity,
    captions = (the caption,), subject = ``sim:<unit>``, recording = the unit, start_s = the window's start
    in its unit. What only training uses (device_rot, segment_id, label_purity, device, source, ...) stays
    in ``arrays``, row for row."""
    n = int(arrays["acc_mps2"].shape[0])
    unit = np.asarray(arrays["unit_id"], dtype=np.int64)
    meta = WindowMeta([str(a) for a in arrays["activity"].tolist()], [(str(c),) for c in arrays["caption"].tolist()],
                      [f"sim:{u}" for u in unit.tolist()], [SIM_DATASET] * n, unit,
                      np.asarray(arrays["window_start_s"], dtype=np.float64), np.zeros(n, bool))
    pid = np.asarray(arrays["placement_id"], dtype=np.int32)
    return ModelInput.from_arrays(arrays["acc_mps2"], arrays["gyro_rads"], pid, meta=meta, rate_hz=float(arrays["rate_hz"]))


def load_manifest(directory: str | Path) -> dict:
    """``DIR/manifest.json``, checked for format, version and the fields readers rely on."""
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    if not path.is_file():
        hint = " (shards without a manifest: the run was interrupted; run it again)" if any(directory.glob("shard-*.npz")) else ""
        raise ShardFormatError(f"{path}: no manifest; not a simulated dataset folder{hint}")
    m = read_versioned_json(path, FORMAT_NAME, FORMAT_VERSION, ShardFormatError, what="a simulated dataset manifest",
                            remedy="regenerate the dataset with this version's `anymo simulate`")
    need = ("rate_hz", "window_s", "seed", "counts", "shards", "placement_table")
    missing = [k for k in need if k not in m]
    if missing:
        raise ShardFormatError(f"{path}: missing fields {missing}")
    total = sum(int(s["windows"]) for s in m["shards"])
    if total != m["counts"]["windows"] or len(m["shards"]) != m["counts"]["shards"]:
        raise ShardFormatError(f"{path}: counts {m['counts']} disagree with the shard list ({len(m['shards'])} shards, {total} windows)")
    return m


def load_shards(directory: str | Path) -> ShardedDataset:
    """Open a dataset folder: validate the manifest and that every shard it lists exists."""
    directory = Path(directory)
    m = load_manifest(directory)
    absent = [s["file"] for s in m["shards"] if not (directory / s["file"]).is_file()]
    if absent:
        raise ShardFormatError(f"{directory}: shards listed in the manifest are missing: {absent[:5]}")
    return ShardedDataset(directory, m)


class ShardWriter:
    """Buffers windows in arrival order and writes full shards of ``shard_windows`` windows each.

    ``add`` takes a dict of per-window arrays (the `SHARD_ARRAYS` names, any number of windows);
    ``close`` writes the last, partial shard. ``entries`` lists what was written, for the manifest.
    """

    def __init__(self, directory: str | Path, shard_windows: int, rate_hz: float) -> None:
        if shard_windows < 1:
            raise ValueError(f"shard_windows must be at least 1, got {shard_windows}")
        self.directory = Path(directory)
        self.shard_windows = int(shard_windows)
        self.rate_hz = float(rate_hz)
        self.entries: list[dict] = []
        self._pending: list[dict[str, np.ndarray]] = []
        self._n_pending = 0

    def add(self, arrays: dict[str, np.ndarray]) -> None:
        self._pending.append(arrays)
        self._n_pending += int(arrays["acc_mps2"].shape[0])
        while self._n_pending >= self.shard_windows:
            self._write(self.shard_windows)

    def close(self) -> list[dict]:
        if self._n_pending:
            self._write(self._n_pending)
        return self.entries

    def _write(self, n: int) -> None:
        merged = {k: np.concatenate([p[k] for p in self._pending]) for k in SHARD_ARRAYS}
        shard = {k: v[:n] for k, v in merged.items()}
        rest = {k: v[n:] for k, v in merged.items()}
        shard["rate_hz"] = np.array(self.rate_hz)
        name = shard_name(len(self.entries))
        digest = write_shard(self.directory / name, shard)
        self.entries.append({"file": name, "windows": n, "digest": digest})
        self._n_pending -= n
        self._pending = [rest] if self._n_pending else []
