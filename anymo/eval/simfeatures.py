"""`--model simfeatures`: the reference of what the simulator gives without any representation learning.

Orientation-free hand-crafted features of each window (statistics and band energies of |acc| and
|gyro|, rotation invariants of the acc/gyro covariance and of the gravity direction's wander) and a
multinomial logistic regression trained ONLY on simulated windows of the dataset's label vocabulary,
simulated at the dataset's placement(s) through the full chain (`simulate_imu`, a real-device
error preset) and windowed by the same `make_windows` as the real data. Nothing recorded is used
to train or tune it: from the real windows it reads only what any model input carries (dataset name,
placement, has_gyro, gravity_removed); the device's documented rate and range come from
`DEVICE_SPECS` (the datasets' own documentation).

The training windows are simulated on the fly, deterministically (seeded), and cached on disk
(``$ANYMO_CACHE`` or ``~/.cache/anymo``/simfeatures) under a key that includes a digest of the
simulator's source code, so a change to the simulator re-simulates.

Scores: `embed_imu` returns class probabilities over a fixed label space (the pooled vocabulary of
the harness plus any other trained label) and `embed_text` one-hot rows in that space, so the
harness's cosine similarity ranks labels by probability. A text the model was not trained on gets
a zero row (score 0 against every window).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from anymo.constants import STANDARD_GRAVITY_MPS2
from anymo.preprocess.model_input import ModelInput
from anymo.preprocess.windows import WindowConfig, make_windows

G_MPS2 = STANDARD_GRAVITY_MPS2
BANDS_HZ = ((0.1, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, 16.0), (16.0, 30.0))
FEATURE_VERSION = 1


@dataclass(frozen=True)
class DeviceSpec:
    """What a dataset's device does to the signal, from its documentation (not from its data)."""

    rate_hz: float = 60.0  # native output rate (sets the band limit)
    acc_range_g: float | None = None  # full scale ±g (clipping) when documented
    acc_bits: int = 0  # output word length when documented (quantisation)
    worn_on_active_arm: bool = False  # the protocol puts the device on the arm that does the activity


# rates and ranges as documented by each dataset (anymo.data.datasets / ../shared/data/README.md)
DEVICE_SPECS: dict[str, DeviceSpec] = {
    "basicmotions": DeviceSpec(10.0),
    # Burns et al. 2018 (arXiv 1802.01489): the watch is on the wrist of the arm doing the exercise
    "watch_exercises": DeviceSpec(50.0, worn_on_active_arm=True),
    "hmp_adl": DeviceSpec(32.0, acc_range_g=1.5, acc_bits=6),  # Bruno et al. 2013: 6-bit codes over ±1.5 g
    "daphnet": DeviceSpec(64.0),
    "xsens_walking": DeviceSpec(120.0),
    "lowerback_walking": DeviceSpec(50.0),
    "sit2stand_lumbar": DeviceSpec(128.0),
}


@dataclass(frozen=True)
class SimTrainConfig:
    """How many simulated clips per label, how long, and the seed."""

    clips_per_label: int = 24
    clip_s: tuple[float, float] = (10.0, 25.0)
    seed: int = 0
    motion_rate_hz: float = 120.0
    ridge: float = 1e-2  # L2 penalty of the logistic regression (per standardised feature)


# ---- features ----------------------------------------------------------------------------------------


def _band_energies(x: np.ndarray, rate_hz: float) -> np.ndarray:
    """[N, B] log band energies (mean-removed, per sample) of signals x [N, T]."""
    n_t = x.shape[1]
    spec = np.abs(np.fft.rfft(x - x.mean(1, keepdims=True), axis=1)) ** 2 / n_t
    f = np.fft.rfftfreq(n_t, 1.0 / rate_hz)
    return np.stack([np.log(spec[:, (f >= lo) & (f < hi)].sum(1) / n_t + 1e-6) for lo, hi in BANDS_HZ], axis=1)


def _stats(x: np.ndarray, rate_hz: float) -> list[np.ndarray]:
    """Magnitude statistics of x [N, T]: mean, std, percentiles, mean |derivative|, periodicity."""
    p = np.percentile(x, [5, 25, 50, 75, 95], axis=1)
    d = np.abs(np.diff(x, axis=1)).mean(1) * rate_hz
    xc = x - x.mean(1, keepdims=True)
    spec = np.abs(np.fft.rfft(xc, n=2 * x.shape[1], axis=1)) ** 2
    ac = np.fft.irfft(spec, axis=1)[:, : x.shape[1]]
    ac = ac / (ac[:, :1] + 1e-12)
    lo, hi = int(0.25 * rate_hz), int(2.5 * rate_hz)  # repetition periods 0.25-2.5 s
    per = ac[:, lo:hi].max(1)
    lag = (lo + np.argmax(ac[:, lo:hi], axis=1)) / rate_hz
    return [x.mean(1), x.std(1), *p, p[4] - p[0], np.log(d + 1e-3), per, lag]


def _cov_eigs(v: np.ndarray) -> np.ndarray:
    """[N, 3] sorted eigenvalues (sqrt) of the covariance of vectors v [N, T, 3]: rotation invariant."""
    c = v - v.mean(1, keepdims=True)
    cov = np.einsum("nti,ntj->nij", c, c) / v.shape[1]
    return np.sqrt(np.clip(np.linalg.eigvalsh(cov), 0.0, None))[:, ::-1]


def window_features(acc_mps2: np.ndarray, gyro_rads: np.ndarray | None, rate_hz: float) -> np.ndarray:
    """[N, F] orientation-free features of windows acc [N, T, 3] (any unit, here g) and gyro [N, T, 3] or None.

    Everything is invariant to a constant rotation of the sensor: magnitudes, band energies of the
    magnitudes, covariance eigenvalues, the wander of the (low-passed) acc direction and the
    consistency of the rotation axis.
    """
    acc = np.asarray(acc_mps2, dtype=np.float64)
    a = np.linalg.norm(acc, axis=-1)
    feats = _stats(a, rate_hz) + list(_band_energies(a, rate_hz).T) + list(np.log(_cov_eigs(acc) + 1e-3).T)
    # direction wander: 1 - |mean unit vector| of the 1 s moving average of acc (tilt changes)
    k = max(1, int(round(rate_hz)))
    kern = np.ones(k) / k
    low = np.apply_along_axis(lambda s: np.convolve(s, kern, mode="valid"), 1, acc)
    u = low / (np.linalg.norm(low, axis=-1, keepdims=True) + 1e-9)
    feats.append(np.log(1.0 - np.linalg.norm(u.mean(1), axis=-1) + 1e-4))
    if gyro_rads is not None:
        gyro = np.asarray(gyro_rads, dtype=np.float64)
        g = np.linalg.norm(gyro, axis=-1)
        feats += _stats(np.log(g + 0.05), rate_hz) + list(_band_energies(g, rate_hz).T) + list(np.log(_cov_eigs(gyro) + 1e-3).T)
        feats.append(np.linalg.norm(gyro.mean(1), axis=-1) / (g.mean(1) + 1e-6))  # consistency of the rotation axis
    return np.stack(feats, axis=1)


def slot_signals(x: ModelInput, slot: np.ndarray, has_gyro: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """acc (g) [B, T, 3] and gyro (rad/s) [B, T, 3] or None of one sensor slot per window."""
    rows = np.arange(len(x))
    sig = x.signals[rows, slot].astype(np.float64)
    return sig[..., :3], (sig[..., 3:] if has_gyro else None)


def placement_name(placement_id: int, default: str = "left_wrist") -> str:
    """The named placement whose canonical spot (or region) holds ``placement_id``; ``default`` for -1."""
    from anymo.body.named_placements import canonical_placement, placement_ids_for
    from anymo.body.placement_names import NAMED_PLACEMENTS

    if placement_id < 0:
        return default
    for name in NAMED_PLACEMENTS:
        if canonical_placement(name) == placement_id:
            return name
    for name in NAMED_PLACEMENTS:
        if placement_id in placement_ids_for(name):
            return name
    return default


# ---- logistic regression -----------------------------------------------------------------------------


@dataclass
class Logistic:
    """Multinomial logistic regression on standardised features (numpy + scipy L-BFGS)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # [F + 1, K]

    @staticmethod
    def fit(x: np.ndarray, y: np.ndarray, n_classes: int, ridge: float) -> Logistic:
        from scipy.optimize import minimize

        mu, sd = x.mean(0), x.std(0) + 1e-6
        z = np.concatenate([(x - mu) / sd, np.ones((len(x), 1))], axis=1)
        onehot = np.eye(n_classes)[y]
        # balanced: each class weighs the same in the loss whatever its number of windows
        w = 1.0 / np.bincount(y, minlength=n_classes)[y]
        w = w / w.sum()
        pen = np.full((z.shape[1], 1), ridge)
        pen[-1] = 0.0

        def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
            c = flat.reshape(z.shape[1], n_classes)
            s = z @ c
            s -= s.max(1, keepdims=True)
            logp = s - np.log(np.exp(s).sum(1, keepdims=True))
            val = -np.sum(w * np.sum(onehot * logp, 1)) + 0.5 * np.sum(pen * c * c)
            grad = z.T @ (w[:, None] * (np.exp(logp) - onehot)) + pen * c
            return float(val), grad.ravel()

        res = minimize(loss, np.zeros(z.shape[1] * n_classes), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
        return Logistic(mu, sd, res.x.reshape(z.shape[1], n_classes))

    def proba(self, x: np.ndarray) -> np.ndarray:
        z = np.concatenate([(x - self.mean) / self.scale, np.ones((len(x), 1))], axis=1)
        s = z @ self.coef
        s -= s.max(1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(1, keepdims=True)


# ---- simulated training windows ----------------------------------------------------------------------


def _source_digest() -> str:
    """Digest of the simulator's and this module's source (motion generators, IMU physics, windows)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for sub in ("motion", "sim", "body", "preprocess"):
        for p in sorted((root / sub).rglob("*.py")):
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    base = os.environ.get("ANYMO_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "anymo") / "simfeatures"


def activity_for_label(label: str) -> str | None:
    """The procedural activity id whose plain-language text (or id) is ``label``; None if there is none."""
    from anymo.motion.procedural import ACTIVITIES, activity_text

    if label in ACTIVITIES:
        return label
    return {activity_text(a): a for a in ACTIVITIES}.get(label)


def _gravity_in_device(motion, table, device_rot: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """[S, T, 3] R^T g of each device at ``t_s`` (what removing gravity from the specific force adds)."""
    from anymo.geometry.rotations import quat_conj, quat_make_continuous, quat_rotate

    g_world = np.array([0.0, 0.0, -G_MPS2])
    out = []
    fi = np.clip(t_s * motion.rate_hz, 0, motion.n_frames - 1)
    i0 = np.minimum(np.floor(fi).astype(int), motion.n_frames - 2)
    fr = (fi - i0)[:, None]
    for j, seg in enumerate(table.segment_id):
        q = quat_make_continuous(motion.quat_wxyz[:, seg], axis=0)
        qt = (1 - fr) * q[i0] + fr * q[i0 + 1]
        qt /= np.linalg.norm(qt, axis=1, keepdims=True)
        g_seg = quat_rotate(quat_conj(qt), g_world)  # [T, 3] in the segment frame
        m = table.frame[j] @ device_rot[j]  # segment-from-device
        out.append(g_seg @ m)
    return np.stack(out)


def simulate_label_windows(label: str, placements: list[str], spec: DeviceSpec, *, has_gyro: bool,
                           gravity_removed: bool, cfg: SimTrainConfig, window: WindowConfig) -> ModelInput:
    """Simulated windows of one label at the named placements, through the device of ``spec``."""
    from anymo.body.named_placements import placement_ids_for
    from anymo.body.surface import surface_placements
    from anymo.data.recording import LabelSegment, Recording
    from anymo.motion.procedural import generate_with_params
    from anymo.motion.procedural.sequence import TRANSITION_S
    from anymo.sim.devices import DEVICE_PRESETS
    from anymo.sim.mounting import MountingConfig
    from anymo.sim.simulate import SimConfig, simulate_imu
    from anymo.sim.unit import UNIT_TREMOR

    act = activity_for_label(label)
    if act is None:
        raise ValueError(f"label {label!r} has no procedural activity to simulate")
    presets = sorted(n for n, hw in DEVICE_PRESETS.items() if not hw.is_ideal)
    recs = []
    for c in range(cfg.clips_per_label):
        rng = np.random.default_rng([cfg.seed, int.from_bytes(hashlib.sha256(label.encode()).digest()[:4], "little"), c])
        dur = float(rng.uniform(*TRANSITION_S[act])) if act in TRANSITION_S else float(rng.uniform(*cfg.clip_s))
        place = placements[c % len(placements)]
        hand = place.split("_")[0] if spec.worn_on_active_arm and place.split("_")[0] in ("left", "right") else None
        motion, _ = generate_with_params(act, dur, rng, rate_hz=cfg.motion_rate_hz, hand=hand)
        pid = int(rng.choice(placement_ids_for(place)))
        hw = replace(DEVICE_PRESETS[presets[int(rng.integers(len(presets)))]], supported_rates_hz=())
        if spec.acc_range_g is not None:
            hw = replace(hw, acc_range_g=spec.acc_range_g, acc_adc_bits=spec.acc_bits)
        sig = simulate_imu(motion, np.array([pid]), SimConfig(rate_hz=spec.rate_hz, hardware=hw, mounting=MountingConfig(),
                                                                 tremor=UNIT_TREMOR), rng)
        acc = sig.acc_mps2[0].astype(np.float64)
        if gravity_removed:
            table = surface_placements(motion.skeleton).subset(np.array([pid]))
            acc = acc + _gravity_in_device(motion, table, sig.device_rot, sig.t_true_s)[0]
        recs.append(Recording(acc_mps2=acc, gyro_rads=sig.gyro_rads[0].astype(np.float64) if has_gyro else None,
                              rate_hz=spec.rate_hz, placement=place, subject=f"sim{c}", dataset="sim",
                              labels=[LabelSegment(label, 0.0, float(len(acc)) / spec.rate_hz)], gravity_removed=gravity_removed))
    return make_windows(recs, window)


def training_set(labels: list[str], placements: list[str], spec: DeviceSpec, *, has_gyro: bool, gravity_removed: bool,
                 cfg: SimTrainConfig = SimTrainConfig(), window: WindowConfig = WindowConfig(),
                 use_cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Features [N, F] and label indices [N] (into ``labels``) of simulated windows, cached on disk."""
    key = hashlib.sha256(repr((FEATURE_VERSION, sorted(labels), sorted(placements), spec, has_gyro, gravity_removed,
                               cfg.clips_per_label, cfg.clip_s, cfg.seed, cfg.motion_rate_hz, window,
                               _source_digest())).encode()).hexdigest()[:24]
    path = cache_dir() / f"{key}.npz"
    if use_cache and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            names = [str(s) for s in z["labels"]]
            idx = np.array([labels.index(names[i]) for i in z["y"]])
            return z["x"], idx
    xs, ys = [], []
    for k, lab in enumerate(labels):
        w = simulate_label_windows(lab, placements, spec, has_gyro=has_gyro, gravity_removed=gravity_removed, cfg=cfg, window=window)
        xs.append(window_features(*slot_signals(w, np.zeros(len(w), int), has_gyro), w.rate_hz))
        ys.append(np.full(len(w), k))
    x, y = np.concatenate(xs), np.concatenate(ys)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, x=x, y=y, labels=np.array(labels, dtype=str))
        tmp.replace(path)
    return x, y


# ---- the model -------------------------------------------------------------------------------------------


class SimFeaturesModel:
    """The `MotionTextModel` of ``--model simfeatures`` (see the module docstring)."""

    name = "simfeatures"

    def __init__(self, cfg: SimTrainConfig = SimTrainConfig(), use_cache: bool = True) -> None:
        from anymo.eval.harness import POOLED_VOCABULARY

        self.cfg, self.use_cache = cfg, use_cache
        self.space: list[str] = list(POOLED_VOCABULARY)  # label space of the scores
        self.trained: dict[tuple, tuple[list[str], Logistic]] = {}

    def vocabulary_for(self, dataset: str) -> list[str]:
        """The labels a dataset's windows are scored against (the harness's rule: its own, else pooled)."""
        from anymo.data.datasets import DATASETS
        from anymo.eval.harness import POOLED_VOCABULARY

        own = sorted(DATASETS[dataset].labels) if dataset in DATASETS else []
        return own if len(own) >= 2 else list(POOLED_VOCABULARY)

    def _classifier(self, dataset: str, placements: list[str], has_gyro: bool, gravity_removed: bool) -> tuple[list[str], Logistic]:
        key = (dataset, tuple(placements), has_gyro, gravity_removed)
        if key not in self.trained:
            vocab = [lab for lab in self.vocabulary_for(dataset) if activity_for_label(lab) is not None]
            if len(vocab) < 2:
                raise ValueError(f"{dataset}: fewer than two of its labels have a simulated activity; simfeatures cannot classify it")
            spec = DEVICE_SPECS.get(dataset, DeviceSpec())
            x, y = training_set(vocab, placements, spec, has_gyro=has_gyro, gravity_removed=gravity_removed,
                                cfg=self.cfg, use_cache=self.use_cache)
            self.trained[key] = (vocab, Logistic.fit(x, y, len(vocab), self.cfg.ridge))
        return self.trained[key]

    def embed_imu(self, x: ModelInput) -> np.ndarray:
        """[B, len(space)] class probabilities of each window, from its first sensor slot; windows are
        grouped by dataset, placement and gyro/gravity flags (one classifier per group)."""
        slot = np.argmax(x.sensor_mask, axis=1)
        rows = np.arange(len(x))
        has_gyro, grav, pid = x.has_gyro[rows, slot], x.gravity_removed[rows, slot], x.placement_id[rows, slot]
        groups: dict[tuple, list[int]] = {}
        for i in rows:
            groups.setdefault((x.meta.dataset[i], bool(has_gyro[i]), bool(grav[i])), []).append(int(i))
        probs: list[tuple[np.ndarray, list[str], np.ndarray]] = []
        for (ds, gyro_ok, grav_removed), idx in groups.items():
            idx_a = np.array(idx)
            placements = sorted({placement_name(int(p)) for p in pid[idx_a]})
            vocab, clf = self._classifier(ds, placements, gyro_ok, grav_removed)
            for lab in vocab:
                if lab not in self.space:
                    self.space.append(lab)
            probs.append((idx_a, vocab, clf.proba(window_features(*slot_signals(x.subset(idx_a), slot[idx_a], gyro_ok), x.rate_hz))))
        out = np.zeros((len(x), len(self.space)))
        for idx_a, vocab, p in probs:
            for k, lab in enumerate(vocab):
                out[idx_a, self.space.index(lab)] = p[:, k]
        return out

    def embed_text(self, texts: list[str]) -> np.ndarray:
        """One-hot rows of ``texts`` in the label space (zero rows for labels never trained)."""
        out = np.zeros((len(texts), len(self.space)))
        for i, t in enumerate(texts):
            if t in self.space:
                out[i, self.space.index(t)] = 1.0
        return out
