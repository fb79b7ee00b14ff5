"""Closed 2-D paths a hand can trace, as smooth periodic curves of the cycle phase.

Coordinates are (right, up) as the viewer of the plane sees them, unit size (the path spans about
[-1, 1] on its larger axis). Polygons and letters are walked at constant speed along their strokes and
then truncated to a few Fourier harmonics, so the path is C-infinity (the IMU simulator differentiates
it twice) while the corners stay recognisable. Counter-clockwise (as seen by the viewer) is the
positive direction; `shape_xy` reverses it for clockwise.
"""

from __future__ import annotations

import numpy as np

# vertices of the closed polylines, in drawing order (counter-clockwise where a direction applies)
_POLY = {
    "triangle": [(0.0, 1.0), (-0.87, -0.5), (0.87, -0.5)],
    "square": [(0.8, 0.8), (-0.8, 0.8), (-0.8, -0.8), (0.8, -0.8)],
    # letters as the person reads them in front of the body, with the hand's return to the start
    "letter X": [(-0.7, 1.0), (0.7, -1.0), (0.7, 1.0), (-0.7, -1.0)],
    "letter Z": [(-0.7, 1.0), (0.7, 1.0), (-0.7, -1.0), (0.7, -1.0)],
    "letter M": [(-0.8, -1.0), (-0.8, 1.0), (0.0, -0.2), (0.8, 1.0), (0.8, -1.0)],
}
SHAPES = ("line", "circle", "triangle", "square", "figure eight", "letter X", "letter Z", "letter M")
DIRECTED = ("circle", "triangle", "square")  # shapes whose turning direction a caption can state
N_HARMONICS = {"triangle": 9, "square": 9, "letter X": 11, "letter Z": 11, "letter M": 13}
_GRID = 512


def _polyline_samples(points: list[tuple[float, float]]) -> np.ndarray:
    """[GRID, 2] points walked at constant speed around the closed polyline."""
    p = np.asarray(points + points[:1], dtype=np.float64)
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    u = np.arange(_GRID) / _GRID * s[-1]
    return np.stack([np.interp(u, s, p[:, k]) for k in range(2)], axis=1)


def _fourier(samples: np.ndarray, n_harm: int) -> np.ndarray:
    spec = np.fft.rfft(samples, axis=0)
    spec[n_harm + 1 :] = 0.0
    return spec


_COEF = {name: _fourier(_polyline_samples(pts), N_HARMONICS[name]) for name, pts in _POLY.items()}


def shape_xy(shape: str, phase_rad: np.ndarray, clockwise: bool = False) -> np.ndarray:
    """Points [T, 2] (right, up) of ``shape`` at the unwrapped cycle phase (one cycle = 2 pi)."""
    ph = np.asarray(phase_rad, dtype=np.float64)
    if clockwise:
        ph = -ph
    if shape == "circle":
        return np.stack([np.cos(ph + np.pi / 2), np.sin(ph + np.pi / 2)], axis=1)  # starts at the top
    if shape == "line":  # side to side and back
        return np.stack([np.sin(ph), 0.0 * ph], axis=1)
    if shape == "figure eight":  # a lemniscate lying on its side
        return np.stack([np.sin(ph), 0.5 * np.sin(2 * ph)], axis=1)
    if shape not in _COEF:
        raise ValueError(f"unknown shape {shape!r}; shapes are: {', '.join(SHAPES)}")
    spec = _COEF[shape]
    u = np.mod(ph / (2 * np.pi), 1.0)
    k = np.arange(spec.shape[0])
    basis = np.exp(2j * np.pi * np.outer(u, k))  # [T, K]
    weight = np.where(k == 0, 1.0, 2.0) / _GRID
    out = (basis * weight) @ spec
    return out.real


def signed_area(xy: np.ndarray) -> float:
    """Shoelace area of a closed path [T, 2]: positive when it turns counter-clockwise."""
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
