"""The supervised reference: hand-made features + ridge classifier, cross-validated on the dataset itself.

This is the documented exception to "never fit on real data": a labelled ceiling, not part of the
zero-shot model. Folds: leave-one-subject-out when the dataset names 2+ subjects; otherwise k-fold
by recording (windows of one recording never straddle train and test). Numpy only.

Multi-sensor windows (a session's sensors, e.g. Daphnet ankle/thigh/trunk) get the features of every
slot side by side (slot order is the dataset's, fixed within it); an empty slot gives zeros.
"""

from __future__ import annotations

import numpy as np

from anymo.data.recording import STANDARD_GRAVITY_MPS2
from anymo.preprocess.model_input import ModelInput

BANDS_HZ = ((0.0, 0.5), (0.5, 1.5), (1.5, 3.0), (3.0, 6.0), (6.0, 12.0), (12.0, 30.0))


def window_features(x: ModelInput) -> np.ndarray:
    """[N, S x F]: per slot and channel (acc xyz, |acc|, gyro xyz, |gyro|) mean, std, p10/p50/p90 and
    log band energies (acc in m/s², as the features were designed)."""
    return np.concatenate([_slot_features(x.signals[:, s].astype(np.float64), x.rate_hz) * x.sensor_mask[:, s, None]
                           for s in range(x.n_sensors)], axis=1)


def _slot_features(sig: np.ndarray, rate_hz: float) -> np.ndarray:
    acc = sig[..., :3] * STANDARD_GRAVITY_MPS2
    gyro = sig[..., 3:]
    chans = np.concatenate([acc, np.linalg.norm(acc, axis=-1, keepdims=True), gyro,
                            np.linalg.norm(gyro, axis=-1, keepdims=True)], axis=-1)  # [N, T, 8]
    feats = [chans.mean(1), chans.std(1), *np.percentile(chans, [10, 50, 90], axis=1)]
    spec = np.abs(np.fft.rfft(chans - chans.mean(1, keepdims=True), axis=1)) ** 2
    freqs = np.fft.rfftfreq(chans.shape[1], 1.0 / rate_hz)
    for lo, hi in BANDS_HZ:
        sel = (freqs >= lo) & (freqs < hi)
        feats.append(np.log1p(spec[:, sel].sum(1) / chans.shape[1]))
    return np.concatenate(feats, axis=1)


def folds(x: ModelInput, k: int = 5, seed: int = 0) -> tuple[str, np.ndarray]:
    """(protocol name, fold id per window)."""
    subject, recording = x.meta.subject, x.meta.recording
    subjects = [s for s in set(subject) if s != "unknown"]
    if len(subjects) >= 2 and "unknown" not in subject:
        order = {s: i for i, s in enumerate(sorted(subjects))}
        return "leave-one-subject-out", np.array([order[s] for s in subject])
    recs = np.unique(recording)
    perm = np.random.default_rng(seed).permutation(len(recs))
    fold_of = dict(zip(recs[perm], np.arange(len(recs)) % k))
    return f"{k}-fold by recording", np.array([fold_of[r] for r in recording])


def cross_validated_scores(w: ModelInput, y: np.ndarray, n_labels: int, ridge: float = 1.0, seed: int = 0) -> tuple[np.ndarray, str]:
    """Out-of-fold class scores [N, n_labels] from a ridge classifier on standardised features."""
    x = window_features(w)
    protocol, fold = folds(w, seed=seed)
    scores = np.zeros((len(y), n_labels))
    for f in np.unique(fold):
        tr, te = fold != f, fold == f
        mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-8
        xtr = np.concatenate([(x[tr] - mu) / sd, np.ones((tr.sum(), 1))], axis=1)
        xte = np.concatenate([(x[te] - mu) / sd, np.ones((te.sum(), 1))], axis=1)
        onehot = np.eye(n_labels)[y[tr]]
        reg = ridge * np.eye(xtr.shape[1])
        reg[-1, -1] = 0.0
        coef = np.linalg.solve(xtr.T @ xtr + reg, xtr.T @ onehot)
        scores[te] = xte @ coef
    return scores, protocol
