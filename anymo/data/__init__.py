"""Real IMU recordings: the `Recording` type, dataset loaders and the user import (numpy only)."""

from anymo.data.recording import STANDARD_GRAVITY_MPS2, LabelSegment, Recording

__all__ = ["STANDARD_GRAVITY_MPS2", "LabelSegment", "Recording"]
