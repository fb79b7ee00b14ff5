"""Simulated multi-placement IMU windows with labels and captions, written as shards (`anymo simulate`).

The requested hours are split into work units of ``unit_s`` seconds (the last one shorter). Unit ``u``
draws everything from its own generator ``default_rng(SeedSequence(seed, spawn_key=(u,)))`` (the u-th
child of ``SeedSequence(seed).spawn``), so the output depends on the seed only, not on the number of
worker processes. A unit is one continuous sequence:

1. a random body (``random_body_shape``) and a motion: mostly a procedural sequence of activities
   (``generate_sequence``), a fraction ``mocap_fraction`` of units a looping DeepMimic clip;
2. K placements: each is, with probability ``named_fraction``, a random spot inside a random named
   region (wrist, thigh, lower back, ...; distinct names), else uniform over the 2400 candidates;
3. one hardware preset (random among the real-device ``DEVICE_PRESETS`` unless ``device`` is given; "ideal" = no
   errors), random mounting (any in-plane angle, up to 5 deg tilt) and, for ``soft_tissue_fraction``
   of the units, soft-tissue wobble - per unit, like a person wearing the devices for that stretch:
   bias, clock and mounting stay put within a recording, as on a real device;
4. ``simulate_imu`` once for all K placements at the device's own supported rate nearest ``rate_hz``
   (no preset streams at exactly 60 Hz: most give 52 Hz), resampled to ``rate_hz`` (anti-aliased, as the device
   runtime resamples real streams); then non-overlapping windows of ``window_s``.

Labels: a window's activity is the label segment covering most of it; ``label_purity`` (the fraction
it covers) is stored with it. Windows are never dropped - ``hours`` is exactly what you get - so a
training loader can choose its own purity threshold (windows straddling a transition are typically
0.5-1.0 pure). The caption is one caption of the majority activity, drawn at random - from the
captions of its label segment in the window when the segment has its own (procedural sequences: they
tell the speed, hand, ... that step was done with), else its parameter-free phrases; when another
activity covers at least ``TRANSITION_CAPTION_FRAC`` of the window the caption says so
("..., then sitting down").
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from itertools import repeat
from pathlib import Path

import numpy as np

from anymo.body.named_placements import placement_ids_for
from anymo.body.placement_names import NAMED_PLACEMENTS
from anymo.body.surface import N_PLACEMENTS, lattice_digest, placement_table_json, reference_placements
from anymo.data.recording import LabelSegment
from anymo.motion.base import BodyMotion
from anymo.sim import shards

MAX_RATE_HZ = 1000.0
MIN_WINDOW_SAMPLES = 8
MARGIN_S = 1.0  # extra motion simulated past the last window (clock drift, filter edges)
TRANSITION_CAPTION_FRAC = 0.3
MOTION_ATTEMPTS = 5
_MOTION_FAILURES = [0]  # sequences the generator refused in this process (reported per unit)


@dataclass(frozen=True)
class DatasetConfig:
    """What `generate_dataset` makes. Every field goes into the manifest's ``args``."""

    hours: float
    seed: int = 0
    sensors_per_window: int = 8
    rate_hz: float = 60.0
    window_s: float = 5.0
    unit_s: float = 60.0  # length of one work unit (one continuous simulated sequence)
    shard_windows: int = 1024
    device: str | None = None  # a DEVICE_PRESETS name, or None: random per unit
    mocap_dir: str | None = None  # folder of DeepMimic clips; None: no motion capture
    mocap_fraction: float = 0.1  # fraction of units from motion capture (when mocap_dir has clips)
    named_fraction: float = 0.5  # fraction of placements drawn inside named regions
    soft_tissue_fraction: float = 0.5  # fraction of units whose devices wobble on soft tissue
    motion_rate_hz: float | None = None  # rate of the generated motion; None: max(120, 2 x rate_hz)

    def __post_init__(self) -> None:
        check_config(self)

    @property
    def samples_per_window(self) -> int:
        return int(round(self.window_s * self.rate_hz))

    @property
    def n_windows(self) -> int:
        return max(1, int(round(self.hours * 3600.0 / self.window_s)))

    @property
    def windows_per_unit(self) -> int:
        return max(1, int(self.unit_s // self.window_s))

    @property
    def n_units(self) -> int:
        return math.ceil(self.n_windows / self.windows_per_unit)

    def unit_windows(self, unit_id: int) -> int:
        """Windows cut from unit ``unit_id`` (all full except the last)."""
        return min(self.windows_per_unit, self.n_windows - unit_id * self.windows_per_unit)

    def motion_rate(self) -> float:
        return float(self.motion_rate_hz or max(120.0, 2.0 * self.rate_hz))


def _finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def check_config(cfg: DatasetConfig) -> None:
    """ValueError naming the first impossible setting and how to fix it."""
    if not _finite(cfg.hours) or cfg.hours <= 0:
        raise ValueError(f"hours must be a positive number of hours of signal, got {cfg.hours} (e.g. --hours 0.5)")
    if not _finite(cfg.rate_hz) or not (0 < cfg.rate_hz <= MAX_RATE_HZ):
        raise ValueError(f"rate_hz must be a sampling rate in (0, {MAX_RATE_HZ:g}] Hz, got {cfg.rate_hz} (e.g. --rate-hz 60)")
    if not _finite(cfg.window_s) or cfg.window_s <= 0:
        raise ValueError(f"window_s must be a positive window length in seconds, got {cfg.window_s} (e.g. --window-s 5)")
    if cfg.window_s * cfg.rate_hz < MIN_WINDOW_SAMPLES:
        raise ValueError(
            f"a window of {cfg.window_s} s at {cfg.rate_hz} Hz holds fewer than {MIN_WINDOW_SAMPLES} samples; "
            "raise --rate-hz or --window-s"
        )
    if abs(cfg.window_s * cfg.rate_hz - round(cfg.window_s * cfg.rate_hz)) > 1e-6:
        raise ValueError(
            f"window_s x rate_hz must be a whole number of samples, got {cfg.window_s} s x {cfg.rate_hz} Hz = "
            f"{cfg.window_s * cfg.rate_hz:g}; pick a window length that is a multiple of 1/rate"
        )
    if not _finite(cfg.unit_s) or cfg.unit_s < cfg.window_s:
        raise ValueError(f"unit_s ({cfg.unit_s}) must be at least one window ({cfg.window_s} s)")
    if not isinstance(cfg.sensors_per_window, (int, np.integer)) or not (1 <= cfg.sensors_per_window <= N_PLACEMENTS):
        raise ValueError(
            f"sensors_per_window must be between 1 and the number of placements ({N_PLACEMENTS}), got {cfg.sensors_per_window}"
        )
    if not isinstance(cfg.seed, (int, np.integer)) or cfg.seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {cfg.seed!r}")
    if not isinstance(cfg.shard_windows, (int, np.integer)) or cfg.shard_windows < 1:
        raise ValueError(f"shard_windows must be a positive integer, got {cfg.shard_windows!r}")
    for name in ("mocap_fraction", "named_fraction", "soft_tissue_fraction"):
        v = getattr(cfg, name)
        if not _finite(v) or not (0.0 <= v <= 1.0):
            raise ValueError(f"{name} must be a fraction in [0, 1], got {v}")
    if cfg.motion_rate_hz is not None and (not _finite(cfg.motion_rate_hz) or cfg.motion_rate_hz < cfg.rate_hz):
        raise ValueError(f"motion_rate_hz ({cfg.motion_rate_hz}) must be at least the output rate ({cfg.rate_hz} Hz)")
    if cfg.device is not None:
        from anymo.sim.simulate import resolve_hardware

        resolve_hardware(cfg.device)  # ValueError listing the valid names
    if cfg.mocap_dir is not None and not Path(cfg.mocap_dir).is_dir():
        raise ValueError(f"mocap_dir {cfg.mocap_dir} is not a folder; give a folder of DeepMimic clips or leave it out")


def unit_rng(seed: int, unit_id: int) -> np.random.Generator:
    """The generator of work unit ``unit_id``: the ``unit_id``-th child of ``SeedSequence(seed)``."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(unit_id),)))


# ---- placements ------------------------------------------------------------------------------------

_REGION_IDS: dict[str, np.ndarray] = {}


def region_ids(name: str) -> np.ndarray:
    """Candidate placement ids of a named region (cached per process)."""
    if name not in _REGION_IDS:
        _REGION_IDS[name] = placement_ids_for(name)
    return _REGION_IDS[name]


def draw_placements(rng: np.random.Generator, k: int, named_fraction: float) -> np.ndarray:
    """``k`` distinct placement ids (int32, random order): about ``named_fraction`` of them each a random
    spot in a different random named region, the rest uniform over all candidates."""
    n_named = min(int(rng.binomial(k, named_fraction)), len(NAMED_PLACEMENTS))
    chosen: list[int] = []
    for name in rng.permutation(np.array(NAMED_PLACEMENTS))[:n_named]:
        ids = np.setdiff1d(region_ids(str(name)), chosen)
        if ids.size:
            chosen.append(int(rng.choice(ids)))
    rest = np.setdiff1d(np.arange(N_PLACEMENTS), chosen)
    chosen += rng.choice(rest, size=k - len(chosen), replace=False).tolist()
    return rng.permutation(np.array(chosen, dtype=np.int32))


# ---- motion ----------------------------------------------------------------------------------------


def mocap_clips(mocap_dir: str | None) -> list[Path]:
    """Looping DeepMimic clips under ``mocap_dir`` (non-looping ones are too short to fill a unit)."""
    if mocap_dir is None:
        return []
    from anymo.motion.deepmimic import find_deepmimic_clips, read_deepmimic_frames

    return [p for p in find_deepmimic_clips(mocap_dir) if read_deepmimic_frames(p)[0]]


def unit_motion(cfg: DatasetConfig, rng: np.random.Generator, duration_s: float, clips: list[Path]) -> tuple[BodyMotion, str]:
    """A random body doing a procedural activity sequence, or a looped mocap clip; and its source tag."""
    from anymo.motion.procedural import generate_sequence, random_body_shape

    shape = random_body_shape(rng)
    use_mocap = bool(clips) and rng.random() < cfg.mocap_fraction
    if use_mocap:
        from anymo.motion.deepmimic import load_deepmimic

        clip = clips[int(rng.integers(len(clips)))]
        motion = load_deepmimic(clip, shape=shape, rate_hz=cfg.motion_rate(), duration_s=duration_s)
        return motion, f"deepmimic:{clip.stem}"
    for attempt in range(MOTION_ATTEMPTS):
        try:
            return generate_sequence(None, duration_s, rng, shape=shape, rate_hz=cfg.motion_rate()), "procedural"
        except ValueError:  # a rare failure of the sequence blender: draw another sequence (deterministic)
            if attempt == MOTION_ATTEMPTS - 1:
                raise
            _MOTION_FAILURES[0] += 1
    raise AssertionError("unreachable")


_PHRASE_DEFAULTS = {"arm_obj": "one arm", "shoulders": "the shoulders"}


def phrase_without_params(template: str) -> str:
    """An activity phrase template with its parameter slots dropped: a comma clause holding a slot
    goes ("..., toothbrush {held}"), object slots get a neutral noun ("{arm_obj}" -> "one arm"), other
    slots (speed, tempo, hand, ...) vanish - so the phrase claims nothing the window may not show.
    A phrase whose slot is the object of a preposition ("in {pendulum}") cannot lose it: ""."""
    import re

    template = re.sub(r"\bthe \{side\} (leg|arm|hand|foot)\b", r"one \1", template)  # "the {side} leg" -> "one leg"
    if re.search(r"\b(in|with|about|at|of|for|by|to)\s+\{(?!(?:%s)\})" % "|".join(_PHRASE_DEFAULTS), template):
        return ""  # the slot is the object of a preposition: the phrase needs it
    text = re.sub(r",[^,{]*\{(?!(?:%s)\})[^}]*\}[^,]*" % "|".join(_PHRASE_DEFAULTS), "", template)
    for k, v in _PHRASE_DEFAULTS.items():
        text = text.replace("{" + k + "}", v)
    text = re.sub(r"\{[^}]*\}", "", text)
    return re.sub(r"\s+([,;])", r"\1", re.sub(r"\s+", " ", text)).strip(" ,;")


def _activity_id(activity: str) -> str | None:
    """The procedural activity given by id or by its plain-language text; None for one the library does not know."""
    from anymo.motion.procedural import ACTIVITIES, activity_text

    if activity in ACTIVITIES:
        return activity
    return {activity_text(a): a for a in ACTIVITIES}.get(activity)


def activity_captions(activity: str) -> list[str]:
    """Captions of a procedural activity given by id or plain-language text, built from its phrases
    (without parameters) and the shared subjects; [] for activities the library does not know."""
    from anymo.motion.procedural import activity_text
    from anymo.motion.procedural.activities import spec
    from anymo.motion.procedural.captions import SUBJECTS

    act = _activity_id(activity)
    if act is None:
        return []
    phrases = list(dict.fromkeys(p for p in (phrase_without_params(t) for t in spec(act).phrases) if p))
    caps = [f"{SUBJECTS[i % len(SUBJECTS)]} {ph}." for i, ph in enumerate(phrases)]
    caps.append(f"{SUBJECTS[len(phrases) % len(SUBJECTS)]}: {activity_text(act)}.")
    return [c[0].upper() + c[1:] for c in caps]


def _captioned_segments(motion: BodyMotion, activity: str, window_s: tuple[float, float] | None) -> list[LabelSegment]:
    """The ``activity`` label segments that have own captions: those overlapping the window, largest
    overlap first (ties: earliest first); without a window all of them in label order."""
    segs = [s for s in motion.labels if s.activity == activity and s.captions]
    if window_s is None:
        return segs
    t0, t1 = window_s

    def overlap_s(seg: LabelSegment) -> float:
        return min(seg.end_s, t1) - max(seg.start_s, t0)

    return sorted((s for s in segs if overlap_s(s) > 0), key=lambda s: -overlap_s(s))


def segment_captions(motion: BodyMotion, activity: str, window_s: tuple[float, float] | None = None) -> list[str]:
    """Captions of one labelled activity of ``motion`` (in the window ``window_s`` = (t0, t1) when given).

    In order of preference: the own captions of the ``activity`` label segment overlapping the window
    most (they carry the speed, hand, ... that stretch was done with); the motion's captions when it
    holds only that activity; `activity_captions` (the phrases without parameters).
    """
    segs = _captioned_segments(motion, activity, window_s)
    if segs and (window_s is not None or len(segs) == 1):
        return list(segs[0].captions)
    if len({seg.activity for seg in motion.labels}) <= 1 and motion.captions:
        return list(motion.captions)
    return activity_captions(activity) or [f"A person: {activity}."]


def window_labels(labels: list[LabelSegment], t0_s: float, t1_s: float) -> list[tuple[str, float]]:
    """Activities overlapping [t0, t1) with the fraction of the window each covers, largest first
    (ties: earliest first)."""
    cover: dict[str, float] = {}
    for seg in labels:
        ov = min(seg.end_s, t1_s) - max(seg.start_s, t0_s)
        if ov > 0:
            cover[seg.activity] = cover.get(seg.activity, 0.0) + ov / (t1_s - t0_s)
    return sorted(cover.items(), key=lambda kv: -kv[1])


def activity_predicate(activity: str) -> str:
    """A short verb phrase for an activity ("walks", "sits down on a chair"), for transition captions."""
    try:
        from anymo.motion.procedural.activities import spec
    except ImportError:
        return f"is {activity}"
    act = _activity_id(activity)
    if act is not None:
        for t in spec(act).phrases:
            if phrase := phrase_without_params(t):
                return phrase
    return f"is {activity}"


def window_caption(rng: np.random.Generator, motion: BodyMotion, cover: list[tuple[str, float]],
                   window_s: tuple[float, float] | None = None) -> str:
    """One caption of the majority activity (see `segment_captions`); when another activity covers at
    least ``TRANSITION_CAPTION_FRAC`` of the window, a caption telling both in the order they happen in
    the window instead, each from its segment's shortest own caption when it has one, else its
    parameter-free phrase ("A person walks briskly, then sits down on a chair.")."""
    main = cover[0][0]
    caps = segment_captions(motion, main, window_s)
    caption = caps[int(rng.integers(len(caps)))]
    if len(cover) > 1 and cover[1][1] >= TRANSITION_CAPTION_FRAC:
        first, second = sorted((main, cover[1][0]), key=lambda a: _start_in(motion.labels, a, window_s))
        # the segments' own captions carry the hand, arms, speed ("walks briskly", not "walks" twice)
        p1, p2 = (_own_predicate(motion, a, window_s) or activity_predicate(a) for a in (first, second))
        caption = f"A person {p1}, then {p2}."
    return caption


def _start_in(labels: list[LabelSegment], activity: str, window_s: tuple[float, float] | None) -> float:
    """When ``activity`` starts within the window (its earliest overlapping segment; the whole motion without a window)."""
    t0, t1 = window_s if window_s is not None else (-math.inf, math.inf)
    starts = [max(s.start_s, t0) for s in labels if s.activity == activity and min(s.end_s, t1) > max(s.start_s, t0)]
    return min(starts, default=min((s.start_s for s in labels if s.activity == activity), default=math.inf))


def _own_predicate(motion: BodyMotion, activity: str, window_s: tuple[float, float] | None) -> str | None:
    """The shortest own caption of the activity's segment in the window, without its subject ("walks briskly"),
    or None when it has no caption that starts with a known subject."""
    from anymo.motion.procedural.captions import GENDERED, SUBJECTS

    subjects = SUBJECTS + tuple(s for s, _ in GENDERED.values())
    segs = _captioned_segments(motion, activity, window_s)
    preds = []
    for cap in segs[0].captions if segs else ():
        low = cap.rstrip(".").strip()
        for subj in subjects:
            if low.lower().startswith(subj + " "):
                preds.append(low[len(subj) + 1 :].strip())
                break
    return min(preds, key=len) if preds else None


# ---- one work unit ---------------------------------------------------------------------------------


@dataclass
class UnitResult:
    """Windows of one unit (arrays named as in the shards) and the seconds spent per stage."""

    arrays: dict[str, np.ndarray]
    timings_s: dict[str, float] = field(default_factory=dict)
    motion_retries: int = 0  # motions the generator failed on and were drawn again


def device_rate_hz(device: str, rate_hz: float) -> float:
    """The rate a device of preset ``device`` streams at when ``rate_hz`` is wanted: its supported rate
    nearest to it ("ideal": exactly ``rate_hz``)."""
    from anymo.sim.simulate import resolve_hardware

    return float(resolve_hardware(device).nearest_rate(rate_hz))


def to_rate(x: np.ndarray, rate_in_hz: float, rate_out_hz: float, n_out: int) -> np.ndarray:
    """[S, T, 3] at ``rate_in_hz`` -> [S, n_out, 3] at ``rate_out_hz`` (sample j at j / rate_out_hz):
    polyphase anti-aliased resampling (Kaiser-windowed sinc, like ``anymo.preprocess.resample`` that
    the runtime applies to real streams, but ~6x faster), edges extended linearly."""
    if abs(rate_in_hz - rate_out_hz) < 1e-9:
        return x[:, :n_out]
    from fractions import Fraction

    from scipy.signal import resample_poly

    ratio = Fraction(rate_out_hz / rate_in_hz).limit_denominator(1000)
    y = resample_poly(np.asarray(x, dtype=np.float64), ratio.numerator, ratio.denominator, axis=1, padtype="line", window=("kaiser", 8.0))
    if y.shape[1] < n_out:
        raise ValueError(f"resampling {x.shape[1]} samples from {rate_in_hz:g} to {rate_out_hz:g} Hz gives {y.shape[1]} < {n_out}")
    return y[:, :n_out]


def device_choices(cfg: DatasetConfig) -> list[str]:
    """Hardware presets a unit may use: ``cfg.device``, else every real-device preset (not "ideal"), sorted."""
    from anymo.sim.hardware import DEVICE_PRESETS

    return [cfg.device] if cfg.device else sorted(n for n, hw in DEVICE_PRESETS.items() if not hw.is_ideal)


def simulate_unit(cfg: DatasetConfig, unit_id: int, clips: list[Path] | None = None) -> UnitResult:
    """Simulate work unit ``unit_id`` of ``cfg`` and cut it into windows (deterministic for the pair).

    The devices stream at their own supported rate nearest ``cfg.rate_hz`` (52 Hz for most presets
    when 60 Hz is asked); the stream is resampled to ``cfg.rate_hz`` the way real streams are.
    """
    from anymo.sim.mounting import MountingConfig, SoftTissue
    from anymo.sim.simulate import SimConfig, simulate_imu

    rng = unit_rng(cfg.seed, unit_id)
    n_win = cfg.unit_windows(unit_id)
    n_t = cfg.samples_per_window
    clips = mocap_clips(cfg.mocap_dir) if clips is None else clips
    t = time.perf_counter()
    failures_before = _MOTION_FAILURES[0]
    motion, source = unit_motion(cfg, rng, n_win * cfg.window_s + MARGIN_S, clips)
    t_motion = time.perf_counter() - t
    motion_retries = _MOTION_FAILURES[0] - failures_before
    ids = draw_placements(rng, cfg.sensors_per_window, cfg.named_fraction)
    choices = device_choices(cfg)
    device = choices[int(rng.integers(len(choices)))]
    native_hz = device_rate_hz(device, cfg.rate_hz)
    wobble = SoftTissue(spread_frac=0.3) if rng.random() < cfg.soft_tissue_fraction else None
    t = time.perf_counter()
    sig = simulate_imu(motion, ids, SimConfig(rate_hz=native_hz, hardware=device, mounting=MountingConfig(wobble=wobble)), rng)
    t_sim = time.perf_counter() - t
    t = time.perf_counter()
    n_all = n_win * n_t
    need = int(np.ceil((n_all - 1) * native_hz / cfg.rate_hz)) + 1
    if sig.acc_mps2.shape[1] < need:
        raise RuntimeError(f"unit {unit_id}: simulated {sig.acc_mps2.shape[1]} samples at {native_hz:g} Hz, need {need}")
    s = ids.size
    acc = to_rate(sig.acc_mps2, native_hz, cfg.rate_hz, n_all).reshape(s, n_win, n_t, 3).transpose(1, 0, 2, 3)
    gyro = to_rate(sig.gyro_rads, native_hz, cfg.rate_hz, n_all).reshape(s, n_win, n_t, 3).transpose(1, 0, 2, 3)
    t_resample = time.perf_counter() - t
    activity, caption, purity = [], [], []
    for w in range(n_win):
        t0_s, t1_s = w * cfg.window_s, (w + 1) * cfg.window_s
        cover = window_labels(motion.labels, t0_s, t1_s)
        if not cover:
            raise RuntimeError(f"unit {unit_id}: no activity label covers window {w} of {source}")
        activity.append(cover[0][0])
        purity.append(cover[0][1])
        caption.append(window_caption(rng, motion, cover, (t0_s, t1_s)))
    arrays = {
        "acc_mps2": np.ascontiguousarray(acc, dtype=np.float32),
        "gyro_rads": np.ascontiguousarray(gyro, dtype=np.float32),
        "placement_id": np.broadcast_to(np.asarray(sig.placement_id, dtype=np.int32), (n_win, s)).copy(),
        "segment_id": np.broadcast_to(np.asarray(sig.segment_id, dtype=np.int16), (n_win, s)).copy(),
        "device_rot": np.broadcast_to(np.asarray(sig.device_rot, dtype=np.float32), (n_win, s, 3, 3)).copy(),
        "activity": np.array(activity, dtype=str),
        "caption": np.array(caption, dtype=str),
        "label_purity": np.array(purity, dtype=np.float32),
        "device": np.array([device] * n_win, dtype=str),
        "device_rate_hz": np.full(n_win, native_hz, dtype=np.float32),
        "source": np.array([source] * n_win, dtype=str),
        "body_height_m": np.full(n_win, motion.skeleton.shape.height_m, dtype=np.float32),
        "unit_id": np.full(n_win, unit_id, dtype=np.int32),
        "window_start_s": (np.arange(n_win) * cfg.window_s).astype(np.float32),
    }
    return UnitResult(arrays, {"motion_s": t_motion, "simulate_s": t_sim, "resample_s": t_resample}, motion_retries)


# ---- the whole dataset -----------------------------------------------------------------------------


def prepare_out_dir(out_dir: str | Path, overwrite: bool) -> Path:
    """Create ``out_dir`` (or check it is empty, or with ``overwrite`` clear our files from it)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder; choose a folder path")
    if out.is_dir():
        ours = [p for p in out.iterdir() if p.name == shards.MANIFEST_NAME or (p.name.startswith(("shard-", ".shard-", ".manifest")))]
        others = [p for p in out.iterdir() if p not in ours]
        if (ours or others) and not overwrite:
            raise ValueError(f"--out {out} is not empty; choose a new folder or pass --overwrite to replace a previous dataset there")
        if others:
            raise ValueError(
                f"--out {out} holds files that are not a simulated dataset ({others[0].name}, ...); --overwrite only replaces "
                "shards and manifest.json, so choose an empty folder"
            )
        for p in ours:
            p.unlink()
    else:
        try:
            out.mkdir(parents=True)
        except OSError as exc:
            raise ValueError(f"cannot create --out {out}: {exc.strerror or exc}; choose a writable folder") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out} is not writable (permission denied); choose a writable folder")
    return out


def _run_units(cfg: DatasetConfig, workers: int, clips: list[Path]):
    """Unit results in unit order, computed in ``workers`` processes (1: in this process)."""
    if workers <= 1 or cfg.n_units == 1:
        for u in range(cfg.n_units):
            yield simulate_unit(cfg, u, clips)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # no fork: safe with threads (tqdm, BLAS) on every OS
    # one BLAS/OpenMP thread per worker process (the processes are the parallelism), unless set by the user
    single = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if k not in os.environ}
    os.environ.update(single)
    try:
        with ProcessPoolExecutor(max_workers=min(workers, cfg.n_units), mp_context=ctx) as ex:
            results = ex.map(simulate_unit, repeat(cfg), range(cfg.n_units), repeat(clips))
            for k in single:  # the workers have started with it; restore this process's environment
                os.environ.pop(k, None)
            single = {}
            yield from results
    finally:
        for k in single:
            os.environ.pop(k, None)


def _jsonable(x):
    if is_dataclass(x) and not isinstance(x, type):
        return {f.name: _jsonable(getattr(x, f.name)) for f in fields(x)}
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    return x


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("anymo-edge")
    except PackageNotFoundError:
        return "unknown"


def generate_dataset(
    cfg: DatasetConfig,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
    command: str | None = None,
) -> dict:
    """Simulate ``cfg`` into shards under ``out_dir`` and write its manifest; return the manifest.

    The manifest's ``timings_s`` holds the wall time and the summed per-stage times of all units.
    """
    from anymo.sim.simulate import resolve_hardware

    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    out = prepare_out_dir(out_dir, overwrite)
    clips = mocap_clips(cfg.mocap_dir)
    t_start = time.perf_counter()
    writer = shards.ShardWriter(out, cfg.shard_windows, cfg.rate_hz)
    per_activity: Counter[str] = Counter()
    per_device: Counter[str] = Counter()
    per_source: Counter[str] = Counter()
    motion_retries = 0
    stage = Counter({"motion_s": 0.0, "simulate_s": 0.0, "resample_s": 0.0, "write_s": 0.0})
    from tqdm import tqdm

    bar = tqdm(total=cfg.n_windows, unit="win", desc="simulate", file=sys.stderr, disable=not progress, dynamic_ncols=True)
    try:
        for res in _run_units(cfg, workers, clips):
            a = res.arrays
            per_activity.update(a["activity"].tolist())
            per_device.update(a["device"].tolist())
            per_source.update(a["source"].tolist())
            stage.update(res.timings_s)
            motion_retries += res.motion_retries
            t = time.perf_counter()
            writer.add(a)
            stage["write_s"] += time.perf_counter() - t
            bar.update(int(a["activity"].shape[0]))
        t = time.perf_counter()
        entries = writer.close()
        stage["write_s"] += time.perf_counter() - t
    finally:
        bar.close()
    wall_s = time.perf_counter() - t_start
    manifest = {
        "format": shards.FORMAT_NAME,
        "format_version": shards.FORMAT_VERSION,
        "anymo_edge_version": _package_version(),
        "command": command,
        "seed": cfg.seed,
        "args": _jsonable(asdict(cfg)),
        "rate_hz": cfg.rate_hz,
        "window_s": cfg.window_s,
        "samples_per_window": cfg.samples_per_window,
        "sensors_per_window": cfg.sensors_per_window,
        "counts": {
            "windows": sum(e["windows"] for e in entries),
            "shards": len(entries),
            "units": cfg.n_units,
            "per_activity": dict(sorted(per_activity.items())),
            "per_device": dict(sorted(per_device.items())),
            "per_source": dict(sorted(per_source.items())),
            "motion_retries": motion_retries,
        },
        "shards": entries,
        "devices": {name: {**_jsonable(resolve_hardware(name)), "stream_rate_hz": device_rate_hz(name, cfg.rate_hz)} for name in sorted(per_device)},
        "mocap_clips": [p.name for p in clips],
        "workers": workers,
        "timings_s": {"wall": round(wall_s, 3), **{k: round(v, 3) for k, v in stage.items()}},
        "lattice_digest": lattice_digest(),
        "placement_table": placement_table_json(reference_placements()),
    }
    shards.write_manifest(out, manifest)
    return manifest

