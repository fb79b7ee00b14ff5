"""Physiological tremor (anymo.motion.tremor): the wrist sees the normative hand tremor, scaled by its lever arm."""

from __future__ import annotations

import numpy as np
import pytest

from anymo.body.named_placements import canonical_placement
from anymo.body.skeleton import SEGMENT_INDEX
from anymo.motion.procedural import generate_with_params
from anymo.motion.tremor import HAND_CENTRE_M, PhysiologicalTremor, add_tremor
from anymo.sim.simulate import SimConfig, simulate_imu

RATE_HZ = 200.0


def _standing():
    return generate_with_params("standing", 8.0, np.random.default_rng(0), rate_hz=120.0)[0]


def _band(x: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """(frequency of the strongest line, its per-axis peak amplitude) of x [T, 3] within lo..hi Hz."""
    spec = np.abs(np.fft.rfft(x - x.mean(0), axis=0)) * 2 / len(x)
    f = np.fft.rfftfreq(len(x), 1 / RATE_HZ)
    band = (f > lo) & (f < hi)
    k = np.unravel_index(np.argmax(spec[band]), spec[band].shape)
    return float(f[band][k[0]]), float(spec[band][k])


@pytest.mark.parametrize("freq_hz", [6.0, 8.0])
def test_wrist_sees_the_tremor_line_at_its_frequency_and_lever_arm(freq_hz: float) -> None:
    m = _standing()
    cfg = PhysiologicalTremor(amplitude_g=(0.02, 0.02), frequency_hz=(freq_hz, freq_hz), spread_hz=0.0, n_sines=1)
    pid = np.array([canonical_placement("right_wrist")])
    plain = simulate_imu(m, pid, SimConfig(rate_hz=RATE_HZ), np.random.default_rng(0)).acc_mps2[0] / 9.80665
    shaky = simulate_imu(m, pid, SimConfig(rate_hz=RATE_HZ, tremor=cfg), np.random.default_rng(0)).acc_mps2[0] / 9.80665
    f, amp = _band(shaky, 4.0, 10.0)
    assert abs(f - freq_hz) < 0.3, f
    fore = m.pos_m[:, SEGMENT_INDEX["RightHand"]] - m.pos_m[:, SEGMENT_INDEX["RightForeArm"]]
    hand_lever = np.linalg.norm(fore, axis=1).mean() + HAND_CENTRE_M
    # the wrist device sits ~at the wrist: its share of the hand-centre amplitude is its lever over the hand's,
    # and the two across-forearm axes share the line (per-axis amplitude <= total)
    total = np.sqrt(sum(_band(shaky[:, [i]], freq_hz - 0.3, freq_hz + 0.3)[1] ** 2 for i in range(3)))
    assert 0.5 * 0.02 < total < 0.02, (total, hand_lever)
    assert _band(plain, 4.0, 10.0)[1] < 0.1 * amp  # the smooth standing clip has no such line


def test_tremor_moves_only_the_forearms_and_hands_by_micrometres() -> None:
    m = _standing()
    t = add_tremor(m, PhysiologicalTremor(), np.random.default_rng(3))
    moved = np.abs(t.pos_m - m.pos_m).max(axis=(0, 2))
    arms = [SEGMENT_INDEX[f"{s}Hand"] for s in ("Right", "Left")]
    assert np.all(np.delete(moved, arms) == 0.0)
    assert 1e-7 < moved[arms].max() < 5e-4  # 0.035 g at 6 Hz is ~0.24 mm at the hand; the wrist moves less
    # a too-coarse motion (would alias in the spline) is returned unchanged
    coarse = generate_with_params("standing", 4.0, np.random.default_rng(0), rate_hz=25.0)[0]
    assert add_tremor(coarse, PhysiologicalTremor(), np.random.default_rng(0)) is coarse


def test_bad_tremor_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="amplitude_g"):
        PhysiologicalTremor(amplitude_g=(0.05, 0.01))
    with pytest.raises(ValueError, match="frequencies"):
        PhysiologicalTremor(frequency_hz=(8.0, 6.0))
    with pytest.raises(ValueError, match="tremor"):
        SimConfig(tremor="yes")  # type: ignore[arg-type]
