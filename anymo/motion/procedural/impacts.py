"""Foot-ground impacts: the heel-strike shock of gait as a small, damped, C2-smooth displacement.

At initial contact the shank is stopped within a few ms; a body-worn accelerometer sees a short
damped oscillation ("heel-strike transient") on top of the smooth gait acceleration, strongest at
the shank and attenuated up the chain (knee, hip/pelvis, spine, head). Each contact adds to the
segment origins (after forward kinematics) a small displacement: the relative motion of a damped
oscillator (bone + soft tissue, frequency f, damping ratio zeta) hit by a smooth force pulse
(Hann, 0.3 periods: ~20 ms, the duration of the heel-strike force transient),

    x'' + 2 zeta w x' + w^2 x = pulse(t),    x = x' = 0 before contact,

scaled so that the peak of |x''| is the drawn peak acceleration times the segment's transmission
gain. It acts along the shank axis on the contacting leg and vertically on the rest of the body.
x, x' and x'' start at 0 and x'' is continuous (C2, so the simulator's splines differentiate it), and
the oscillator comes back to rest, so the motion's path is unchanged once the ringing has died out.
The displacement is a few mm (2 g at 15 Hz: ~2 mm).

Numbers from the biomechanics literature (nothing here was tuned to the evaluation recordings):

* walking, shank/tibia peak: 2.7-3.7 g resultant depending on footwear (bone-pin accelerometer,
  Lafortune 1991, J Biomech 24:877); ~5 g with hard heels and about half that with resilient heels,
  skull ~0.5 g (Light, McLellan & Klenerman 1980, J Biomech 13:477);
* running: 10.6 g at the tibia (Lafortune 1991); 6.9 +- 2.9 g at the tibial tuberosity in treadmill
  running (Mizrahi et al. 2000, Hum Mov Sci 19:139); amplitude and frequency of the leg shock rise
  with speed over 2-5 m/s, impact content 12-20 Hz, strongly attenuated on the way to the head
  (Shorten & Winslow 1992, J Appl Biomech 8:288; Derrick, Hamill & Caldwell 1998, MSSE 30:128;
  Mercer et al. 2002, Eur J Appl Physiol 87:403, who quantify it in the 10-20 Hz band);
* transmission up the chain: tibia -> skull ~0.1 in walking (Light et al. 1980). The gains of the
  segments in between (thigh 0.6, pelvis/lower back ~0.33, upper trunk 0.2-0.25) are a monotone
  interpolation along the kinetic chain (an assumption: the order is documented, e.g. tibia vs
  sacrum/PSIS vs forehead in Ryu 2020, Korean J Sport Biomech 30:197, not these exact values).
  High frequencies are attenuated most (Shorten & Winslow 1992), so proximal segments ring lower
  (down to 0.65 x the shank frequency at the head) and up to 8 ms later (travelling wave, Light 1980).

Variation: per clip the wearer (lognormal, 20 %) and shoe/surface (x0.5-1.0: resilient heels halve
the transient, Light 1980), per step (lognormal, 12 %); larger at higher speed (proportional to
speed, Shorten & Winslow 1992); running >> walking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anymo.body.skeleton import SEGMENT_INDEX, SEGMENTS
from anymo.data.recording import STANDARD_GRAVITY_MPS2 as G_MPS2
from anymo.motion.procedural.signals import smoothstep

DECAY_WINDOW = 7.0  # a transient is evaluated over 7 decay times (e^-7 ~ 1e-3), then smoothly cut

# peak acceleration relative to the contacting shank; "side" segments belong to the contacting leg
_LEG_GAINS = {"UpperLeg": 0.6, "LowerLeg": 1.0, "Foot": 1.0, "Toe": 0.8}
_OTHER_LEG_GAINS = {"UpperLeg": 0.25, "LowerLeg": 0.15, "Foot": 0.1, "Toe": 0.1}
_BODY_GAINS = {"Pelvis": 0.35, "L5": 0.33, "L3": 0.3, "T12": 0.25, "T8": 0.2, "Neck": 0.13, "Head": 0.1,
               "Shoulder": 0.17, "UpperArm": 0.15, "ForeArm": 0.12, "Hand": 0.1}  # fmt: skip


def _gain_table() -> np.ndarray:
    """[3, 23] gains for a contact of the right foot (row 0), the left (1) and both feet (2)."""
    g = np.zeros((3, len(SEGMENTS)))
    for name, i in SEGMENT_INDEX.items():
        side = "Right" if name.startswith("Right") else "Left" if name.startswith("Left") else ""
        part = name[len(side):]
        if not side or part in _BODY_GAINS:
            g[:, i] = _BODY_GAINS[part]
        else:
            own, other = _LEG_GAINS[part], _OTHER_LEG_GAINS[part]
            g[0, i], g[1, i] = (own, other) if side == "Right" else (other, own)
            g[2, i] = own
    return g


GAINS = _gain_table()
_LEG_OF = {SEGMENT_INDEX[side + part]: s for s, side in ((0, "Right"), (1, "Left")) for part in _LEG_GAINS}
# transmission levels: (gain above, gain up to, frequency scale, delay): high frequencies are attenuated
# most on the way up (Shorten & Winslow 1992), so proximal segments ring lower, and a few ms later
LEVELS = ((0.7, 1.0, 1.0, 0.0), (0.5, 0.7, 0.85, 0.002), (0.22, 0.5, 0.75, 0.005), (0.0, 0.22, 0.65, 0.008))


@dataclass(frozen=True)
class Impacts:
    """Foot-ground contacts of a motion and the shock each one sends through the body."""

    t_s: np.ndarray  # [E] contact instants, seconds from the motion's start
    side: np.ndarray  # [E] int: 0 = right foot, 1 = left foot, 2 = both feet (a two-footed landing)
    peak_mps2: np.ndarray  # [E] peak impact acceleration at the contacting shank (m/s², gait excluded)
    freq_hz: np.ndarray  # [E] ringing frequency at the shank
    zeta: np.ndarray  # [E] damping ratio

    @staticmethod
    def empty() -> "Impacts":
        z = np.zeros(0)
        return Impacts(z, np.zeros(0, dtype=np.int64), z, z, z)

    def __len__(self) -> int:
        return int(self.t_s.size)

    def moved(self, offset_s: float, scale: np.ndarray | float = 1.0) -> "Impacts":
        """The same contacts ``offset_s`` later, their peaks multiplied by ``scale`` (e.g. a blend weight)."""
        return Impacts(self.t_s + offset_s, self.side, self.peak_mps2 * scale, self.freq_hz, self.zeta)

    @staticmethod
    def concat(parts: list["Impacts"]) -> "Impacts":
        if not parts:
            return Impacts.empty()
        return Impacts(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("t_s", "side", "peak_mps2", "freq_hz", "zeta")))


def contact_times_s(t_s: np.ndarray, phase_rad: np.ndarray, contact_phase_rad: float) -> np.ndarray:
    """Instants where the unwrapped, increasing ``phase_rad`` passes ``contact_phase_rad`` (mod 2 pi)."""
    k = np.floor((phase_rad - contact_phase_rad) / (2 * np.pi))
    i = np.nonzero(np.diff(k) > 0)[0]
    target = contact_phase_rad + 2 * np.pi * k[i + 1]
    frac = (target - phase_rad[i]) / (phase_rad[i + 1] - phase_rad[i])
    return t_s[i] + frac * (t_s[i + 1] - t_s[i])


def landing_times_s(t_s: np.ndarray, gap_m: np.ndarray, approx_s: np.ndarray, side: np.ndarray, *,
                    before_s: float | np.ndarray, after_s: float | np.ndarray) -> np.ndarray:
    """When each foot reaches the floor: the first instant in [approx - before, approx + after] where
    ``gap_m[:, side]`` (the foot's height above the floor, [T, 2]: right, left) comes down through 0.

    Linear interpolation between frames; NaN where the gap does not come down through 0 in the window.
    """
    n_t = len(t_s)
    dt = float(t_s[1] - t_s[0])
    approx_s, side = np.asarray(approx_s, dtype=np.float64), np.asarray(side, dtype=np.int64)
    before, after = np.broadcast_to(before_s, approx_s.shape), np.broadcast_to(after_s, approx_s.shape)
    lo = np.clip(np.floor((approx_s - before - t_s[0]) / dt), 0, n_t - 1).astype(np.int64)
    n_win = int(np.ceil(np.max(before + after, initial=0.0) / dt)) + 2
    idx = lo[:, None] + np.arange(n_win)[None, :]  # [E, W]
    inside = idx + 1 < np.minimum(n_t, np.ceil((approx_s + after - t_s[0]) / dt).astype(np.int64) + 1)[:, None]
    idx = np.minimum(idx, n_t - 2)
    g0, g1 = gap_m[idx, side[:, None]], gap_m[idx + 1, side[:, None]]
    down = inside & (g0 > 0) & (g1 <= 0)
    first = np.argmax(down, axis=1)
    i = idx[np.arange(len(idx)), first]
    a, b = g0[np.arange(len(idx)), first], g1[np.arange(len(idx)), first]
    out = t_s[i] + dt * a / np.where(a > b, a - b, 1.0)
    return np.where(down.any(axis=1), out, np.nan)


def gait_impacts(t_s: np.ndarray, stride_phase_rad: np.ndarray, *, running: bool, speed_mps: float,
                 rng: np.random.Generator, gap_m: np.ndarray | None = None) -> Impacts:
    """Heel strikes of a gait whose right foot lands near stride phase 0 and the left near pi.

    With ``gap_m`` [T, 2] (each foot's height above the floor in the generated kinematics, right
    then left) a contact is the instant that foot comes down to the floor (`landing_times_s`, searched
    from 15 % of a stride before to 40 % after its phase), and a step whose foot does not come down
    there has no impact; without it, the contact is at the phase itself (0 % of the normative cycle).

    Shank peak with hard shoes: walking 4.5 g at 1.35 m/s, running 9 g at 3.5 m/s, in proportion to
    speed (jogging in place, ``speed_mps`` 0, lands like running at 1.5 m/s: 3.9 g); shoes and
    surface take 0.5-1.0 of it (means: walking 3.4 g, running 6.8 g). Per clip: the
    wearer (lognormal, 20 %) and shoe/surface (x0.5-1.0); per step: lognormal, 12 %. Call it after the
    gait's other draws (it is the last user of ``rng`` in a gait generator; the draws do not depend
    on ``gap_m``).
    """
    right = contact_times_s(t_s, stride_phase_rad, 0.0)
    left = contact_times_s(t_s, stride_phase_rad, np.pi)
    times = np.concatenate([right, left])
    side = np.concatenate([np.zeros(right.size, dtype=np.int64), np.ones(left.size, dtype=np.int64)])
    order = np.argsort(times, kind="stable")
    times, side = times[order], side[order]
    n = times.size
    wearer = np.exp(rng.normal(0.0, 0.2))  # heel pad, knee angle at contact, strike pattern
    shoe_surface = rng.uniform(0.5, 1.0)  # resilient heels / soft ground halve the transient (Light 1980)
    per_step = np.exp(rng.normal(0.0, 0.12, n))
    if running:
        nominal_g = 9.0 * max(speed_mps, 1.5) / 3.5  # mean 6.8 g (Mizrahi 2000), up to ~11 g (Lafortune 1991); rises with speed
        freq = np.clip(12.0 + 2.5 * (speed_mps - 2.0), 12.0, 20.0) + rng.uniform(-1.0, 1.0, n)  # 12-20 Hz, higher when faster
    else:
        nominal_g = 4.5 * speed_mps / 1.35  # hard heels ~5 g, resilient ~2.5 g (Light 1980); 2.7-3.7 g (Lafortune 1991)
        freq = np.clip(10.0 + 3.0 * (speed_mps - 0.6), 10.0, 16.0) + rng.uniform(-1.0, 1.0, n)
    peak = nominal_g * G_MPS2 * wearer * shoe_surface * per_step
    imp = Impacts(times, side, peak, freq, rng.uniform(0.2, 0.35, n))
    if gap_m is None or n == 0:
        return imp
    stride_s = 2 * np.pi / np.interp(times, t_s, np.gradient(stride_phase_rad, t_s))
    landed = landing_times_s(t_s, gap_m, times, side, before_s=0.15 * stride_s, after_s=0.4 * stride_s)
    keep = np.isfinite(landed)
    order = np.argsort(landed[keep], kind="stable")
    return Impacts(*(x[keep][order] for x in (landed, side, imp.peak_mps2, imp.freq_hz, imp.zeta)))


# ---- rendering -------------------------------------------------------------------------------------

PULSE_PERIODS = 0.3  # impact force pulse (Hann) length in periods of the ringing (20 ms at 15 Hz)
_ZETA_GRID = np.linspace(0.15, 0.5, 36)
_PHASE_STEP = 2 * np.pi / 1024  # table resolution: 1024 samples per cycle


def _shape_table() -> tuple[np.ndarray, np.ndarray]:
    """Unit transients [len(_ZETA_GRID), P] on the phase grid (w = 1 rad/s), each scaled to peak |x''| = 1.

    x'' + 2 zeta x' + x = Hann pulse of ``PULSE_PERIODS`` periods: the relative motion of a damped
    segment (bone + soft tissue) hit by the heel-strike force. x, x' and x'' start at 0 and x'' is
    continuous (C2); the oscillator returns to rest, so the motion's path is unchanged afterwards.
    Each row ends with a smooth cut over the last 30 % of its ``DECAY_WINDOW`` decay times (e^-7).
    Returns the table and the phase where each row has ended.
    """
    width = 2 * np.pi * PULSE_PERIODS
    row_end = width + DECAY_WINDOW / _ZETA_GRID
    ph = np.arange(0.0, row_end.max() + 2 * _PHASE_STEP, _PHASE_STEP)
    pulse = 0.5 * (1.0 - np.cos(2 * np.pi * ph[ph < width] / width))
    x = np.empty((len(_ZETA_GRID), ph.size))
    for i, z in enumerate(_ZETA_GRID):  # x = impulse response (*) pulse
        wd = np.sqrt(1.0 - z * z)
        impulse = np.exp(-z * ph) * np.sin(wd * ph) / wd
        x[i] = np.convolve(impulse, pulse)[: ph.size] * _PHASE_STEP
    x *= smoothstep((1.0 - ph[None, :] / row_end[:, None]) / 0.3)
    peak = np.abs(np.diff(x, 2, axis=1)).max(axis=1) / _PHASE_STEP**2
    return x / peak[:, None], row_end


_SHAPES, _ROW_END = _shape_table()


def unit_transient(phase_rad: np.ndarray, zeta: np.ndarray) -> np.ndarray:
    """The transient (peak |x''| = 1 at w = 1 rad/s) at ``phase_rad`` = w x time since contact; 0 outside.

    ``zeta`` is taken to the nearest row of the table (steps of 0.01); linear interpolation in the
    1024-samples-per-cycle table (relative error ~1e-5).
    """
    row = np.clip(np.rint((np.asarray(zeta) - _ZETA_GRID[0]) / (_ZETA_GRID[1] - _ZETA_GRID[0])), 0, len(_ZETA_GRID) - 1).astype(np.int64)
    pi = np.clip(np.asarray(phase_rad) / _PHASE_STEP, 0.0, _SHAPES.shape[1] - 1.000001)
    p0 = np.floor(pi).astype(np.int64)
    pf = pi - p0
    return _SHAPES[row, p0] * (1.0 - pf) + _SHAPES[row, p0 + 1] * pf


def add_impacts(pos_m: np.ndarray, impacts: Impacts, rate_hz: float) -> np.ndarray:
    """Segment origins ``pos_m`` [T, 23, 3] sampled at ``rate_hz`` with every contact's shock added (a new array)."""
    out = np.array(pos_m, dtype=np.float64, copy=True)
    keep = impacts.peak_mps2 > 0
    if not np.any(keep):
        return out
    t_c, side = impacts.t_s[keep], impacts.side[keep]
    peak, f, zeta = impacts.peak_mps2[keep], impacts.freq_hz[keep], impacts.zeta[keep]
    n_t = out.shape[0]
    end_rad = np.interp(zeta, _ZETA_GRID, _ROW_END) + 2 * _PHASE_STEP  # [E] phase by which a transient is over
    # direction up the contacting shank (ankle -> knee) at the contact frame
    i_c = np.clip(np.round(t_c * rate_hz).astype(np.int64), 0, n_t - 1)
    shank = {}
    for s, name in ((0, "Right"), (1, "Left")):
        axis = out[i_c, SEGMENT_INDEX[name + "LowerLeg"]] - out[i_c, SEGMENT_INDEX[name + "Foot"]]
        shank[s] = axis / np.linalg.norm(axis, axis=1, keepdims=True)
    for lo, hi, fscale, delay_s in LEVELS:
        w = 2 * np.pi * f * fscale  # [E] rad/s
        n_win = int(np.ceil((end_rad / w).max() * rate_hz)) + 2
        start = t_c + delay_s
        idx = np.ceil(start * rate_hz).astype(np.int64)[:, None] + np.arange(n_win)[None, :]  # [E, W]
        tau = idx / rate_hz - start[:, None]
        # metres per unit gain: the unit transient peaks at |x''| = w^2
        wave = (peak / w**2)[:, None] * unit_transient(w[:, None] * tau, np.broadcast_to(zeta[:, None], tau.shape))
        ok = idx < n_t

        def series(events: np.ndarray, weights: np.ndarray | None = None, idx=idx, wave=wave, ok=ok) -> np.ndarray:
            """Sum over the chosen contacts of their transients (times ``weights``) as one series [T]."""
            m = ok & events[:, None]
            wv = wave if weights is None else wave * weights[:, None]
            return np.bincount(idx[m], weights=wv[m], minlength=n_t)[:n_t]

        codes = [c for c in (0, 1, 2) if np.any(side == c)]
        vertical = {c: series(side == c) for c in codes}
        along = {}  # (leg, contact code) -> [T, 3]: the contacting leg moves along its own shank
        for seg in range(out.shape[1]):
            leg = _LEG_OF.get(seg)
            for c in codes:
                g = GAINS[c, seg]
                if not (lo < g <= hi):
                    continue
                if leg is not None and c in (leg, 2):
                    if (leg, c) not in along:
                        along[leg, c] = np.stack([series(side == c, shank[leg][:, k]) for k in range(3)], axis=1)
                    out[:, seg] += g * along[leg, c]
                else:
                    out[:, seg, 2] += g * vertical[c]
    return out


# ---- hand contacts (hand-hand: claps; hand-object: knocks, taps, catches) --------------------------------

# Peak acceleration relative to the contacting hand. The wrist's sensors sit on the distal forearm, which
# the shock reaches through the carpus (less attenuated than the foot -> head path of gait, but damped by
# the soft tissue of the palm): a monotone fall along the arm like _BODY_GAINS, an assumption with the
# order of the chain documented for hand impacts (e.g. hammering/tool shocks are strongest at the hand
# and fall several-fold by the upper arm: Adewusi, Rakheja & Marcotte 2010, J Sound Vib 329:2953).
_HAND_CHAIN_GAINS = {"Hand": 1.0, "ForeArm": 0.7, "UpperArm": 0.3, "Shoulder": 0.12}


@dataclass(frozen=True)
class HandImpacts:
    """Hand contacts of a motion: each stops the hand within a few ms along ``direction``.

    ``side`` 0 = right hand, 1 = left hand, 2 = both hands (a clap: the left hand moves the opposite way).
    ``direction`` [E, 3] (world, unit) is the way the shock pushes the contacting hand (against its approach).
    """

    t_s: np.ndarray
    side: np.ndarray
    peak_mps2: np.ndarray  # peak shock acceleration at the hand
    freq_hz: np.ndarray
    zeta: np.ndarray
    direction: np.ndarray

    @staticmethod
    def empty() -> "HandImpacts":
        z = np.zeros(0)
        return HandImpacts(z, np.zeros(0, dtype=np.int64), z, z, z, np.zeros((0, 3)))

    def __len__(self) -> int:
        return int(self.t_s.size)


def hand_contact_impacts(t_s: np.ndarray, side: int, approach_mps: np.ndarray, direction: np.ndarray,
                         rng: np.random.Generator, *, contact_s: tuple[float, float] = (0.006, 0.012),
                         freq_hz: tuple[float, float] = (18.0, 28.0)) -> HandImpacts:
    """Contacts at ``t_s`` where the hand, approaching at ``approach_mps`` [E], is stopped by a surface.

    The shock's peak is the approach speed lost over the contact time: a = v / contact (contact 6-12 ms;
    hand claps give acoustic pulses of a few ms: Repp 1987, J Acoust Soc Am 81:1100; a knuckle or palm
    stopped by a rigid surface stops within ~10 ms). Ringing of the hand-forearm soft tissue at 18-28 Hz,
    damping 0.25-0.4. Per contact variation: lognormal 15 %.
    """
    t_s = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
    n = t_s.size
    v = np.abs(np.broadcast_to(np.asarray(approach_mps, dtype=np.float64), (n,)))
    peak = v / rng.uniform(*contact_s, n) * np.exp(rng.normal(0.0, 0.15, n))
    d = np.broadcast_to(np.asarray(direction, dtype=np.float64), (n, 3))
    d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    return HandImpacts(t_s, np.full(n, int(side), dtype=np.int64), peak, rng.uniform(*freq_hz, n), rng.uniform(0.25, 0.4, n), d)


def add_hand_impacts(pos_m: np.ndarray, impacts: HandImpacts, rate_hz: float) -> np.ndarray:
    """Segment origins ``pos_m`` [T, 23, 3] with every hand contact's shock added along its direction (a new array)."""
    out = np.array(pos_m, dtype=np.float64, copy=True)
    keep = impacts.peak_mps2 > 0
    if not np.any(keep):
        return out
    t_c, side, peak = impacts.t_s[keep], impacts.side[keep], impacts.peak_mps2[keep]
    f, zeta, d = impacts.freq_hz[keep], impacts.zeta[keep], impacts.direction[keep]
    n_t = out.shape[0]
    w = 2 * np.pi * f
    end_rad = np.interp(zeta, _ZETA_GRID, _ROW_END) + 2 * _PHASE_STEP
    n_win = int(np.ceil((end_rad / w).max() * rate_hz)) + 2
    idx = np.ceil(t_c * rate_hz).astype(np.int64)[:, None] + np.arange(n_win)[None, :]
    tau = idx / rate_hz - t_c[:, None]
    wave = (peak / w**2)[:, None] * unit_transient(w[:, None] * tau, np.broadcast_to(zeta[:, None], tau.shape))
    ok = (idx < n_t) & (idx >= 0)
    for hand, code, sign in (("Right", 0, 1.0), ("Left", 1, 1.0), ("Right", 2, 1.0), ("Left", 2, -1.0)):
        m = side == code
        if not np.any(m):
            continue
        disp = np.stack([np.bincount(idx[m][ok[m]], weights=(wave[m] * d[m, k:k + 1])[ok[m]], minlength=n_t)[:n_t]
                         for k in range(3)], axis=1) * sign
        for part, g in _HAND_CHAIN_GAINS.items():
            out[:, SEGMENT_INDEX[hand + part]] += g * disp
    return out
