"""The simulator's motion sources: the contract a source implements, and the built-in ones.

Every work unit of `anymo simulate` draws one source (by ``DatasetConfig.source_shares``) and asks it
for ``duration_s`` of motion; the unit then puts sensors on that body, simulates them and cuts windows.

Adding a source (e.g. ``mocap``, ``compositional``): write a class in your own module (importing the
contract types from here: `SourceOptions`, `SourceMotion`, `SourceUnavailable`) and add ONE line to
the registry table `anymo.sim.source_registry.SOURCES`, ``"name": "package.module:ClassName"``
(imported by name, in each worker process; the table lives apart so that sources may import this
module without an import loop). The contract the simulator relies on:

* ``__init__(self, options: SourceOptions)``: set up once per worker process (index files, clip lists).
  ``options.folder(name, default_subdir)`` is where your data is (``--source-dir name=DIR``, else ``DATA/<default_subdir>``).
  Raise `SourceUnavailable` with a one-line reason and fix when the data is missing; `anymo simulate`
  reports it before writing anything.
* ``motion(self, rng, duration_s, rate_hz, shape) -> SourceMotion``: a `BodyMotion` of ``shape`` (the
  unit's random body) lasting at least ``duration_s`` seconds at ``rate_hz`` frames/s, whose ``labels``
  (`LabelSegment`: plain-language activity, start/end seconds, optional per-segment ``captions``) cover
  [0, duration_s) without holes - every window gets the activity covering most of it, and its caption
  from that segment's captions (else from ``motion.captions``, else "A person: <activity>."). Draw every
  random number from ``rng`` (nothing else: the output must depend on the seed only, whatever the number
  of workers), and return a ``tag`` for the shards' ``source`` array ("name" or "name:clip").
  A source may retry internally; count the retries in ``SourceMotion.retries`` (reported in the manifest).
* ``manifest(self) -> dict``: JSON-ready facts for the manifest's ``sources`` entry (files used, ...).
* class attribute ``default_subdir``: its folder under the shared data folder, or None (needs no data).

Units of one source share nothing but the body shape draw: sources can be mixed in any proportion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from anymo.body.skeleton import BodyShape
from anymo.motion.base import BodyMotion

MOTION_ATTEMPTS = 5  # procedural sequences the blender may refuse in a row before the unit fails


class SourceUnavailable(ValueError):
    """A motion source cannot run here (its data is missing); the message says what to do."""


@dataclass(frozen=True)
class SourceOptions:
    """Where sources find their data: the shared data folder and per-source folder overrides."""

    data_dir: str | None = None  # None: $ANYMO_DATA (anymo.data.datasets.default_data_dir)
    source_dirs: tuple[tuple[str, str], ...] = ()

    def folder(self, name: str, default_subdir: str | None) -> Path | None:
        """The folder of source ``name``: its override, else ``data_dir/default_subdir`` (None without either)."""
        own = dict(self.source_dirs).get(name)
        if own is not None:
            return Path(own)
        if default_subdir is None:
            return None
        from anymo.data.datasets import default_data_dir

        return (Path(self.data_dir) if self.data_dir else default_data_dir()) / default_subdir


@dataclass
class SourceMotion:
    """What a source gives one unit: the motion, a tag for the shards' ``source`` array, retries made."""

    motion: BodyMotion
    tag: str
    retries: int = 0


class MotionSource(Protocol):
    """See the module docstring for the contract."""

    name: str
    default_subdir: str | None

    def __init__(self, options: SourceOptions) -> None: ...

    def motion(self, rng: np.random.Generator, duration_s: float, rate_hz: float, shape: BodyShape) -> SourceMotion: ...

    def manifest(self) -> dict: ...


# ---- the built-in sources -------------------------------------------------------------------------


@dataclass
class ProceduralSource:
    """Random sequences of the procedural activity library (`anymo.motion.procedural.generate_sequence`)."""

    options: SourceOptions
    name: str = "procedural"
    default_subdir: str | None = None

    def motion(self, rng: np.random.Generator, duration_s: float, rate_hz: float, shape: BodyShape) -> SourceMotion:
        from anymo.motion.procedural import generate_sequence

        for attempt in range(MOTION_ATTEMPTS):
            try:
                return SourceMotion(generate_sequence(None, duration_s, rng, shape=shape, rate_hz=rate_hz), self.name, attempt)
            except ValueError:  # a rare failure of the sequence blender: draw another sequence (deterministic)
                if attempt == MOTION_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def manifest(self) -> dict:
        return {}


@dataclass
class DeepMimicSource:
    """Looping DeepMimic clips (non-looping ones are too short to fill a unit), one per unit, on the unit's body."""

    options: SourceOptions
    name: str = "deepmimic"
    default_subdir: str | None = "deepmimic_motions"
    clips: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        from anymo.motion.deepmimic import find_deepmimic_clips, read_deepmimic_frames

        folder = self.options.folder(self.name, self.default_subdir)
        if folder is None or not folder.is_dir():
            raise SourceUnavailable(f"deepmimic: no folder of DeepMimic clips at {folder}; give the source its folder "
                                    "(SourceOptions.source_dirs, or the shared data folder), or leave it out")
        self.clips = [p for p in find_deepmimic_clips(folder) if read_deepmimic_frames(p)[0]]
        if not self.clips:
            raise SourceUnavailable(f"deepmimic: {folder} holds no looping DeepMimic clip (humanoid3d_*.txt with "
                                    "\"Loop\": \"wrap\"); give the source another folder or leave it out")

    def motion(self, rng: np.random.Generator, duration_s: float, rate_hz: float, shape: BodyShape) -> SourceMotion:
        from anymo.motion.deepmimic import load_deepmimic

        clip = self.clips[int(rng.integers(len(self.clips)))]
        return SourceMotion(load_deepmimic(clip, shape=shape, rate_hz=rate_hz, duration_s=duration_s), f"{self.name}:{clip.stem}")

    def manifest(self) -> dict:
        return {"clips": [p.name for p in self.clips]}
