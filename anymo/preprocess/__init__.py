"""Preprocessing shared by evaluation and the device: resampling, gaps, windows, normalisation (numpy only)."""

from anymo.preprocess.gaps import GapReport, Segment, regularise
from anymo.preprocess.normalise import to_model_input
from anymo.preprocess.resample import MAX_RATE_HZ, MIN_RATE_HZ, check_rate, resample
from anymo.preprocess.windows import MODEL_RATE_HZ, WINDOW_S, WindowConfig, Windows, WindowStats, make_windows, recording_windows

__all__ = [
    "GapReport", "Segment", "regularise", "to_model_input", "MAX_RATE_HZ", "MIN_RATE_HZ", "check_rate", "resample",
    "MODEL_RATE_HZ", "WINDOW_S", "WindowConfig", "Windows", "WindowStats", "make_windows", "recording_windows",
]
