"""Preprocessing shared by the simulator, evaluation and the device: resampling, gaps, windows, labels,
normalisation, and `ModelInput`, the one model input every source produces (numpy only)."""

from anymo.preprocess.gaps import GapReport, Segment, regularise
from anymo.preprocess.labels import label_cover, window_label
from anymo.preprocess.model_input import MODEL_RATE_HZ, WINDOW_S, ModelInput, WindowMeta, placement_id_of
from anymo.preprocess.normalise import to_model_input
from anymo.preprocess.resample import MAX_RATE_HZ, MIN_RATE_HZ, check_rate, estimate_rate_hz, resample
from anymo.preprocess.windows import WindowConfig, WindowStats, frame, frame_starts, make_windows, recording_windows

__all__ = [
    "GapReport", "Segment", "regularise", "label_cover", "window_label", "MODEL_RATE_HZ", "WINDOW_S", "ModelInput",
    "WindowMeta", "placement_id_of", "to_model_input", "MAX_RATE_HZ", "MIN_RATE_HZ", "check_rate", "estimate_rate_hz",
    "resample", "WindowConfig", "WindowStats", "frame", "frame_starts", "make_windows", "recording_windows",
]
