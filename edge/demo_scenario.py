"""What the demo's emulated wearables replay: an activity sequence that changes, from real recordings when present.

Four wearables, each asked for ~100 Hz, replay the same three phases of ``PHASE_S`` seconds, looped:

1. **walking**: right wrist = HMP "Walk" (wrist accelerometer), right thigh / right shank = the two Xsens
   MTw sensors recorded together on one walking leg, lower back = the Daphnet trunk accelerometer (walking);
2. **sitting down**: right wrist = HMP "Sitdown_chair", lower back = the sit-to-stand lumbar recording;
3. **arm exercise**: right wrist = smartwatch "shoulder abduction" (Burns et al., accelerometer channels).

Where no real recording of a phase exists for a placement (the thigh and shank while sitting and during
the arm exercise, the lower back during the arm exercise), the wearable holds the posture of that phase:
gravity in the sensor orientation the posture implies (the thigh rotated 90 degrees about its flexion axis
when sitting — the axis the walking recording rotates about most — and upright otherwise), plus sensor
noise. Phases are joined with a 0.25 s cross-fade. Without the data folder every phase is synthesised
(`synthetic_scenario`): gait at 1.8 steps/s, a sit-down transition and still sitting, a 0.25 Hz arm raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anymo.data.recording import STANDARD_GRAVITY_MPS2, Recording
from anymo.preprocess.resample import resample

PHASE_S = 20.0
RATE_HZ = 100.0
PHASES = ("walking", "sitting down", "arm exercise")
FADE_S = 0.25


@dataclass
class DemoWearable:
    device_type: str
    placement: str
    recording: Recording
    sources: list[str]  # what each phase replays (a file, or "posture: ...")


# placement -> device type, each streaming ~100 Hz (anymo-imu 100, movesense 104, polar-h10 100). All three
# protocols carry sequence numbers or sample timestamps, so every lost packet is counted exactly; the
# count-timed ones (MetaMotion, WitMotion, Thingy:52) can only have their losses inferred from arrival times.
DEVICES = {"right_wrist": "anymo-imu", "right_thigh": "movesense", "right_shank": "anymo-imu",
           "lower_back": "polar-h10"}


def _load(path: Path) -> list[Recording]:
    from anymo.data.loaders import load_file

    return load_file(path)


def _segment(rec: Recording, start_s: float, use_gyro: bool) -> np.ndarray:
    """``PHASE_S`` of ``rec`` from ``start_s`` (looped if short) at RATE_HZ: [n, 6] (gyro zero when absent/unused)."""
    rate = float(rec.rate_hz)
    x = rec.acc_mps2 if not use_gyro else np.concatenate([rec.acc_mps2, rec.gyro_rads], axis=1)
    x = resample(np.asarray(x, np.float64), rate, RATE_HZ)
    n = int(PHASE_S * RATE_HZ)
    i0 = int(start_s * RATE_HZ) % len(x)
    idx = (i0 + np.arange(n)) % len(x)
    seg = x[idx]
    return seg if use_gyro else np.concatenate([seg, np.zeros_like(seg)], axis=1)


def _posture(gravity_dir: np.ndarray, seed: int, gyro: bool) -> np.ndarray:
    """A still posture: specific force +g along ``gravity_dir`` (sensor frame) plus noise, [n, 6]."""
    rng = np.random.default_rng(seed)
    n = int(PHASE_S * RATE_HZ)
    g = STANDARD_GRAVITY_MPS2 * gravity_dir / np.linalg.norm(gravity_dir)
    acc = g + rng.normal(0.0, 0.03, (n, 3))  # ~3 mg noise: a MEMS accelerometer at 100 Hz
    w = rng.normal(0.0, 0.004, (n, 3)) if gyro else np.zeros((n, 3))
    return np.concatenate([acc, w], axis=1)


def _rotate(v: np.ndarray, axis: int, angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    i, j = [k for k in range(3) if k != axis]
    out = v.copy()
    out[i], out[j] = c * v[i] - s * v[j], s * v[i] + c * v[j]
    return out


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate phases with a linear cross-fade at each boundary (no step in the signal)."""
    k = int(FADE_S * RATE_HZ)
    out = parts[0].copy()
    for p in parts[1:]:
        p = p.copy()
        w = np.linspace(0.0, 1.0, k)[:, None]
        p[:k] = (1 - w) * out[-1] + w * p[:k]
        out = np.concatenate([out, p])
    return out


def _recording(x: np.ndarray, placement: str, gyro: bool, source: str) -> Recording:
    return Recording(acc_mps2=x[:, :3], gyro_rads=x[:, 3:] if gyro else None, rate_hz=RATE_HZ, placement=placement,
                     device="demo", dataset="demo", source=source)


def real_scenario(data_dir: Path) -> list[DemoWearable] | None:
    """The sequence from the real recordings under ``data_dir``; None when one of them is missing."""
    d = Path(data_dir)
    files = {
        "walk_wrist": d / "hmp_adl/Walk/Accelerometer-2011-03-24-09-51-07-walk-f1.txt",
        "sit_wrist": d / "hmp_adl/Sitdown_chair/Accelerometer-2011-12-05-09-50-54-sitdown_chair-f1.txt",
        "watch": d / "watch_exercises/watch_exercises.npz",
        "thigh": d / "xsens_walking/walking_xsens_upperLeg.txt",
        "shank": d / "xsens_walking/walking_xsens_lowerLeg.txt",
        "daphnet": d / "daphnet_excerpt/S06R02E0.csv",
        "sit2stand": d / "sit2stand_lumbar/sample.csv",
    }
    if not all(p.is_file() for p in files.values()):
        return None
    watch = [r for r in _load(files["watch"]) if r.placement == "right_wrist"
             and r.labels and r.labels[0].activity == "shoulder abduction"]
    if not watch:
        return None
    trunk = next(r for r in _load(files["daphnet"]) if r.placement == "lower_back")
    thigh, shank = _load(files["thigh"])[0], _load(files["shank"])[0]
    rel = lambda p: str(p.relative_to(d))

    # thigh/shank posture from the walking recording: mean specific force = "upright"; the flexion axis is the
    # axis the leg rotates about most while walking; sitting turns the thigh 90 degrees about it
    def upright(rec: Recording) -> np.ndarray:
        return rec.acc_mps2.mean(axis=0)

    def flexion_axis(rec: Recording) -> int:
        return int(np.argmax(rec.gyro_rads.std(axis=0)))

    thigh_sit = _rotate(upright(thigh), flexion_axis(thigh), np.pi / 2)
    out = [
        DemoWearable(DEVICES["right_wrist"], "right_wrist", _recording(_join([
            _segment(_load(files["walk_wrist"])[0], 2.0, False),
            _segment(_load(files["sit_wrist"])[0], 0.0, False),
            _segment(watch[0], 2.0, False)]), "right_wrist", False, "demo wrist"),
            [rel(files["walk_wrist"]), rel(files["sit_wrist"]), f"{rel(files['watch'])} (shoulder abduction)"]),
        DemoWearable(DEVICES["right_thigh"], "right_thigh", _recording(_join([
            _segment(thigh, 2.0, True), _posture(thigh_sit, 1, True), _posture(upright(thigh), 2, True)]),
            "right_thigh", True, "demo thigh"),
            [rel(files["thigh"]), "posture: thigh horizontal (sitting)", "posture: thigh upright (standing)"]),
        DemoWearable(DEVICES["right_shank"], "right_shank", _recording(_join([
            _segment(shank, 2.0, True), _posture(upright(shank), 3, True), _posture(upright(shank), 4, True)]),
            "right_shank", True, "demo shank"),
            [rel(files["shank"]), "posture: shank upright (sitting)", "posture: shank upright (standing)"]),
        DemoWearable(DEVICES["lower_back"], "lower_back", _recording(_join([
            _segment(trunk, 10.0, False), _segment(_load(files["sit2stand"])[0], 5.0, False),
            _posture(upright(trunk), 5, False)]), "lower_back", False, "demo lower back"),
            [rel(files["daphnet"]) + " (trunk)", rel(files["sit2stand"]), "posture: trunk upright (standing)"]),
    ]
    return out


def synthetic_scenario(seed: int = 0) -> list[DemoWearable]:
    """The same three phases synthesised (no data folder): gait, sitting down then still, an arm raise."""
    rng = np.random.default_rng(seed)
    n = int(PHASE_S * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    g = STANDARD_GRAVITY_MPS2
    step_hz = 1.8

    def noisy(x: np.ndarray) -> np.ndarray:
        return x + rng.normal(0, 0.03, x.shape)

    def walk(amp_acc: float, amp_gyro: float, phase: float) -> np.ndarray:
        a = np.stack([g + amp_acc * np.sin(2 * np.pi * step_hz * t + phase) + 0.5 * amp_acc * np.sin(4 * np.pi * step_hz * t),
                      0.3 * amp_acc * np.sin(np.pi * step_hz * t + phase), 0.4 * amp_acc * np.cos(2 * np.pi * step_hz * t)], 1)
        w = np.stack([0.2 * amp_gyro * np.sin(np.pi * step_hz * t), 0.3 * amp_gyro * np.cos(np.pi * step_hz * t),
                      amp_gyro * np.sin(np.pi * step_hz * t + phase)], 1)
        return noisy(np.concatenate([a, w], 1))

    def still(direction: tuple[float, float, float]) -> np.ndarray:
        d = np.asarray(direction, float) / np.linalg.norm(direction)
        return np.concatenate([noisy(np.tile(g * d, (n, 1))), rng.normal(0, 0.004, (n, 3))], 1)

    def sit_down(direction_from, direction_to) -> np.ndarray:
        a0, a1 = np.asarray(direction_from, float), np.asarray(direction_to, float)
        s = np.clip((t - 2.0) / 1.5, 0.0, 1.0)  # the transition takes 1.5 s, from t = 2 s
        s = s * s * (3 - 2 * s)
        d = (1 - s)[:, None] * a0 + s[:, None] * a1
        d = g * d / np.linalg.norm(d, axis=1, keepdims=True)
        rate = np.gradient(s, t) * (np.pi / 2)
        return noisy(np.concatenate([d, np.stack([np.zeros(n), np.zeros(n), rate], 1)], 1))

    def arm_raise() -> np.ndarray:
        ang = (np.pi / 2) * 0.5 * (1 - np.cos(2 * np.pi * 0.25 * t))  # 0..90 degrees, 4 s a repetition
        a = g * np.stack([np.cos(ang), np.sin(ang), np.zeros(n)], 1)
        w = np.stack([np.zeros(n), np.zeros(n), np.gradient(ang, t)], 1)
        return noisy(np.concatenate([a, w], 1))

    up = (1.0, 0.0, 0.0)
    synth = "synthetic: "
    return [
        DemoWearable(DEVICES["right_wrist"], "right_wrist", _recording(
            _join([walk(2.0, 1.5, 0.0), sit_down(up, (0.3, 0.0, 1.0)), arm_raise()]), "right_wrist", True, "synthetic"),
            [synth + p for p in PHASES]),
        DemoWearable(DEVICES["right_thigh"], "right_thigh", _recording(
            _join([walk(4.0, 3.0, 0.5), sit_down(up, (0.0, 1.0, 0.0)), still(up)]), "right_thigh", True, "synthetic"),
            [synth + p for p in PHASES]),
        DemoWearable(DEVICES["right_shank"], "right_shank", _recording(
            _join([walk(6.0, 4.0, 1.0), still(up), still(up)]), "right_shank", True, "synthetic"),
            [synth + p for p in PHASES]),
        DemoWearable(DEVICES["lower_back"], "lower_back", _recording(
            _join([walk(2.0, 0.5, 0.2), sit_down(up, (0.9, 0.0, 0.4)), still(up)]), "lower_back", False, "synthetic"),
            [synth + p for p in PHASES]),
    ]


def scenario(data_dir: Path | None, seed: int = 0, phase_s: float | None = None) -> tuple[list[DemoWearable], bool]:
    """(wearables, from_real_recordings); ``phase_s`` sets the length of each phase (default ``PHASE_S``)."""
    global PHASE_S
    if phase_s is not None:
        if not phase_s >= 2.0:
            raise ValueError(f"a phase lasts at least 2 s, got {phase_s}")
        PHASE_S = float(phase_s)  # read by the segment builders below (and by phase_at in this process)
    if data_dir is not None:
        real = real_scenario(Path(data_dir))
        if real is not None:
            return real, True
    return synthetic_scenario(seed), False


def phase_at(t_since_start_s: float, phase_s: float | None = None) -> str:
    """The phase being replayed ``t`` seconds after the wearables started streaming (they loop)."""
    return PHASES[int(t_since_start_s // (phase_s or PHASE_S)) % len(PHASES)]
