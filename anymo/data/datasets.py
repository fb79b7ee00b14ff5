"""The registry of real evaluation datasets and `load_dataset(name, data_dir)` (numpy only).

The data directory comes from the argument, else ``$ANYMO_DATA``, else ``<repo>/../shared/data``
(the developers' checkout). A dataset that is not there raises `DatasetNotFoundError` saying where
to get it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from anymo.data.loaders import (
    BASICMOTIONS_LABELS,
    HMP_LABELS,
    PLACEMENT_NOTES,
    WATCH_LABELS,
    DataFormatError,
    load_file,
)
from anymo.data.recording import Recording

REPO_ROOT = Path(__file__).resolve().parents[2]


class DatasetNotFoundError(FileNotFoundError):
    """A registered dataset is absent from the data directory; the message says where to get it."""


@dataclass(frozen=True)
class DatasetInfo:
    """One registered dataset: where its files live under the data dir and what it holds."""

    name: str
    folder: str
    patterns: tuple[str, ...]  # globs under folder
    description: str
    placements: str
    labels: tuple[str, ...]  # plain-language label vocabulary ( () = unlabelled )
    source: str
    labelled: bool = True


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            "basicmotions",
            "basicmotions",
            ("BasicMotions_TRAIN.ts", "BasicMotions_TEST.ts"),
            "UEA BasicMotions: 80 cases of 10 s, smartwatch acc+gyro, 10 Hz, gravity removed/normalised",
            PLACEMENT_NOTES["basicmotions"],
            tuple(BASICMOTIONS_LABELS.values()),
            "UEA/UCR archive (timeseriesclassification.com, BasicMotions), also bundled in `aeon` (BSD-3)",
        ),
        DatasetInfo(
            "watch_exercises",
            "watch_exercises",
            ("watch_exercises.npz",),
            "Burns et al. 2018 shoulder physiotherapy: 140 recordings, 10 subjects, acc+gyro, 50 Hz",
            PLACEMENT_NOTES["watch_exercises"],
            tuple(WATCH_LABELS.values()),
            "bundled in `seglearn` 1.2.5 (seglearn.datasets.load_watch, BSD), converted to npz",
        ),
        DatasetInfo(
            "hmp_adl",
            "hmp_adl",
            ("*/*.txt",),
            "HMP/WHARF wrist ADL: 839 trials, 14 activities, 16 volunteers, accelerometer only, 32 Hz",
            PLACEMENT_NOTES["hmp_adl"],
            tuple(HMP_LABELS.values()),
            "UCI 'Dataset for ADL Recognition with Wrist-worn Accelerometer' (Bruno et al. 2013); "
            "copy at github uTensor/ADL_demo Train/HMP_Dataset",
        ),
        DatasetInfo(
            "daphnet",
            "daphnet_excerpt",
            ("*.csv",),
            "Daphnet freezing-of-gait excerpt S06R02: 110 s walking, 3 accelerometers (mg), 64 Hz",
            PLACEMENT_NOTES["daphnet"],
            ("walking",),
            "UCI Daphnet Freezing of Gait (Bachlin et al., CC BY 4.0), also bundled in `aeon` 1.6.0",
        ),
        DatasetInfo(
            "xsens_walking",
            "xsens_walking",
            ("walking_xsens_*.txt",),
            "two Xsens MTw on thigh and shank while walking, ~29 s, acc+gyro, 120 Hz",
            PLACEMENT_NOTES["xsens_walking"],
            ("walking",),
            "test data of `scikit-kinematics` 0.12.0 (BSD-3), tests/data/walking_xsens_*.txt",
        ),
        DatasetInfo(
            "lowerback_walking",
            "gaitpy_lowerback",
            ("demo_data.csv",),
            "GENEActiv on the lower back, 168 s walking session with pauses, acc in g, 50 Hz",
            PLACEMENT_NOTES["lowerback_walking"],
            ("walking",),
            "demo data of `gaitpy` 1.6.1 (MIT), gaitpy/demo/demo_data.csv",
        ),
        DatasetInfo(
            "sit2stand_lumbar",
            "sit2stand_lumbar",
            ("sample.csv",),
            "lumbar accelerometer with sit-to-stand transitions, 91 s, m/s², 128 Hz (unlabelled)",
            PLACEMENT_NOTES["sit2stand_lumbar"],
            (),
            "sample data of `sit2standpy` 1.1.3 (MIT), sit2standpy/data/sample.csv",
            labelled=False,
        ),
    )
}


def default_data_dir() -> Path:
    """``$ANYMO_DATA`` if set, else ``<repo>/../shared/data``."""
    env = os.environ.get("ANYMO_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def dataset_files(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """The files of dataset ``name`` under the data dir (sorted); [] when absent."""
    info = _info(name)
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    folder = root / info.folder
    files: list[Path] = []
    for pat in info.patterns:
        files += sorted(folder.glob(pat))
    return files


def _info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return DATASETS[name]


def load_dataset(name: str, data_dir: str | Path | None = None) -> list[Recording]:
    """All recordings of dataset ``name`` from ``data_dir`` (default: `default_data_dir`)."""
    info = _info(name)
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    files = dataset_files(name, root)
    if not files:
        raise DatasetNotFoundError(
            f"dataset {name!r} not found: expected {' or '.join(info.patterns)} under {root / info.folder}. "
            f"Get it from: {info.source}; point --data or ANYMO_DATA at the folder holding {info.folder}/"
        )
    recs: list[Recording] = []
    for f in files:
        try:
            got = load_file(f)
        except DataFormatError:
            raise
        except (ValueError, OSError) as exc:  # anything else from a corrupt file: name the file
            raise DataFormatError(f"{f}: {exc}") from exc
        for r in got:
            r.dataset = name
        recs += got
    return recs
