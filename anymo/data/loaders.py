"""Readers for the original file formats of the real datasets, and `load_file` which sniffs any of them.

Each reader returns ``list[Recording]`` with units converted explicitly (see `anymo.data.units`) and
plain-language labels. Numpy only (runs on the device and in the BLE emulator).

Placement guesses (documented in docs/user_data.md, "Datasets"): where a dataset does not say which
side of the body a sensor was on, we pick one and say so in ``PLACEMENT_NOTES``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from anymo.data.recording import LabelSegment, Recording
from anymo.data.units import g_to_mps2, hmp_code_to_g, mg_to_mps2
from anymo.data.user_import import load_user_csv, load_user_folder
from anymo.errors import DataFormatError  # defined apart so user_import raises it without importing this module
from anymo.preprocess.resample import estimate_rate_hz

__all__ = ["DataFormatError", "load_file", "sniff_format"]


# ---- plain-language label vocabularies -----------------------------------------------------------

BASICMOTIONS_LABELS: dict[str, str] = {
    "Standing": "standing",
    "Walking": "walking",
    "Running": "running",
    "Badminton": "playing badminton",
}
WATCH_LABELS: dict[str, str] = {
    "PEN": "shoulder pendulum swing",
    "ABD": "shoulder abduction",
    "FEL": "shoulder forward elevation",
    "IR": "shoulder internal rotation",
    "ER": "shoulder external rotation",
    "TRAP": "trapezius row",
    "ROW": "upright row",
}
HMP_LABELS: dict[str, str] = {
    "Brush_teeth": "brushing teeth",
    "Climb_stairs": "climbing stairs",
    "Comb_hair": "combing hair",
    "Descend_stairs": "descending stairs",
    "Drink_glass": "drinking from a glass",
    "Eat_meat": "eating meat",
    "Eat_soup": "eating soup",
    "Getup_bed": "getting up from bed",
    "Liedown_bed": "lying down on bed",
    "Pour_water": "pouring water",
    "Sitdown_chair": "sitting down on a chair",
    "Standup_chair": "standing up from a chair",
    "Use_telephone": "using the telephone",
    "Walk": "walking",
}

# Where the sources leave the side (or the exact spot) open, the named placement is our guess.
PLACEMENT_NOTES: dict[str, str] = {
    "basicmotions": "smartwatch, wrist side not documented: mapped to left_wrist (the usual watch wrist)",
    "watch_exercises": "smartwatch; `side` 1 = right, 0 = left (seglearn docs) -> right_wrist / left_wrist",
    "hmp_adl": "right wrist, as documented",
    "daphnet": "ankle (shank above the ankle), thigh, trunk (lower back); leg side not documented: "
    "mapped to right_ankle, right_thigh, lower_back",
    "xsens_walking": "upper leg and lower leg of the same leg, side not documented: right_thigh, right_shank",
    "lowerback_walking": "GENEActiv worn on the lower back ('Device Location Code, back') -> lower_back",
    "sit2stand_lumbar": "lumbar accelerometer -> lower_back",
}


# ---- helpers --------------------------------------------------------------------------------------


def _whole(rec_label: str | None) -> list[LabelSegment]:
    """One label over the whole recording (end is open: +inf covers the last sample)."""
    return [] if rec_label is None else [LabelSegment(rec_label, 0.0, float("inf"))]


def _rate_or_times(t_s: np.ndarray, nominal_hz: float, path: Path) -> tuple[float, np.ndarray | None]:
    """Keep only the nominal rate when timestamps are uniform (jitter < 40 % of a period), else times.

    Times are shifted to start at 0. Non-increasing timestamps are a format error.
    """
    t = np.asarray(t_s, dtype=np.float64) - float(t_s[0])
    if len(t) < 2:
        return nominal_hz, None
    dt = np.diff(t)
    if not np.all(dt > 0):
        bad = int(np.argmin(dt > 0)) + 1
        raise DataFormatError(f"{path}: timestamps do not increase at sample {bad}; sort the file or drop duplicates")
    if np.all(np.abs(dt - 1.0 / nominal_hz) < 0.4 / nominal_hz):
        return nominal_hz, None
    return nominal_hz, t


def _numeric_rows(lines: list[str], delimiter: str | None, path: Path, first_line_no: int) -> np.ndarray:
    """Parse lines of numbers into a 2-D float array, naming the file and line on failure."""
    rows = [ln for ln in lines if ln.strip()]
    try:
        arr = np.array([[float(v) for v in ln.strip().split(delimiter)] for ln in rows], dtype=np.float64)
    except ValueError:
        for i, ln in enumerate(lines):
            try:
                [float(v) for v in ln.strip().split(delimiter)] if ln.strip() else None
            except ValueError:
                raise DataFormatError(
                    f"{path}: line {first_line_no + i} is not numeric: {ln.strip()[:80]!r}"
                ) from None
        raise DataFormatError(f"{path}: rows have different numbers of columns") from None
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise DataFormatError(f"{path}: no data rows (or rows with different numbers of columns)")
    return arr


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read file ({exc.strerror})") from exc


# ---- BasicMotions (.ts, UEA/sktime time-series format) ------------------------------------------


def read_uea_ts(path: str | Path) -> list[Recording]:
    """UEA ``.ts`` multivariate series; BasicMotions: acc xyz then gyro xyz, 10 Hz, units undocumented.

    BasicMotions accelerometer values sit near 0 (gravity removed or normalised): the samples are kept
    as they are (treated as m/s² and rad/s, which their ranges fit) and ``gravity_removed=True``.
    One Recording per case (10 s each); the subject of a case is not given in the file ("unknown").
    """
    path = Path(path)
    text = _read_text(path)
    header, sep, body = text.partition("@data")
    if not sep:
        raise DataFormatError(f"{path}: no '@data' line; not a UEA .ts file")
    meta: dict[str, str] = {}
    for ln in header.splitlines():
        if ln.startswith("@"):
            key, _, val = ln[1:].partition(" ")
            meta[key.lower()] = val.strip()
    problem = meta.get("problemname", "")
    is_bm = problem.lower() == "basicmotions"
    dims = int(meta.get("dimensions", "0") or 0)
    if dims < 3:
        raise DataFormatError(f"{path}: needs at least 3 dimensions (acc xyz), header says {dims}")
    recs: list[Recording] = []
    for i, case in enumerate(ln for ln in body.splitlines() if ln.strip()):
        parts = case.strip().split(":")
        if len(parts) < dims + 1:
            raise DataFormatError(f"{path}: case {i} has {len(parts) - 1} dimensions, expected {dims}")
        try:
            chans = np.array([[float(v) for v in p.split(",")] for p in parts[:dims]], dtype=np.float64).T
        except ValueError:
            raise DataFormatError(f"{path}: case {i} has a non-numeric or ragged value") from None
        label_raw = parts[dims].strip()
        label = BASICMOTIONS_LABELS.get(label_raw, label_raw.lower()) if is_bm else label_raw
        recs.append(
            Recording(
                acc_mps2=chans[:, :3],
                gyro_rads=chans[:, 3:6] if dims >= 6 else None,
                rate_hz=10.0 if is_bm else float(meta.get("rate_hz", 0) or 0) or _missing_rate(path),
                placement="left_wrist" if is_bm else "unknown",
                device="smartwatch" if is_bm else "unknown",
                subject="unknown",
                dataset="basicmotions" if is_bm else "",
                labels=_whole(label),
                gravity_removed=is_bm,
                source=f"{path}#{i}",
            )
        )
    if not recs:
        raise DataFormatError(f"{path}: no cases after '@data'")
    return recs


def _missing_rate(path: Path) -> float:
    raise DataFormatError(f"{path}: the .ts header gives no sampling rate; only BasicMotions (10 Hz) is known")


# ---- WATCH shoulder exercises (npz) -------------------------------------------------------------


def read_watch_npz(path: str | Path) -> list[Recording]:
    """Burns et al. smartwatch exercises: 140 recordings, acc in g -> m/s², gyro rad/s, 50 Hz."""
    path = Path(path)
    try:
        z = np.load(path, allow_pickle=False)
        samples, offsets = z["samples"], z["offsets"]
        label, label_names, subject, side = z["label"], z["label_names"], z["subject"], z["side"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataFormatError(f"{path}: not a watch_exercises npz (samples, offsets, label, ...): {exc}") from exc
    if samples.ndim != 2 or samples.shape[1] != 6 or offsets[-1] != samples.shape[0]:
        raise DataFormatError(f"{path}: samples {samples.shape} / offsets end {offsets[-1]} do not match")
    recs = []
    for i in range(len(offsets) - 1):
        s = samples[offsets[i] : offsets[i + 1]].astype(np.float64)
        code = str(label_names[int(label[i])])
        recs.append(
            Recording(
                acc_mps2=g_to_mps2(s[:, :3]),
                gyro_rads=s[:, 3:6],
                rate_hz=50.0,
                placement="right_wrist" if int(side[i]) == 1 else "left_wrist",
                device="smartwatch",
                subject=f"s{int(subject[i])}",
                dataset="watch_exercises",
                labels=_whole(WATCH_LABELS.get(code, code.lower())),
                source=f"{path}#{i}",
            )
        )
    return recs


# ---- HMP / WHARF wrist ADL (.txt, codes 0..63) ---------------------------------------------------

_HMP_NAME = re.compile(r"-([a-z_]+)-([fm]\d+)\.txt$", re.IGNORECASE)


def read_hmp_txt(path: str | Path) -> list[Recording]:
    """One HMP trial: lines ``x y z`` coded 0..63 -> g -> m/s², 32 Hz, right wrist.

    The activity comes from the parent folder (e.g. ``Brush_teeth``), the volunteer from the file
    suffix (``...-f1.txt`` -> "f1").
    """
    path = Path(path)
    arr = _numeric_rows(_read_text(path).splitlines(), None, path, 1)
    if arr.shape[1] != 3:
        raise DataFormatError(f"{path}: HMP lines must be 'x y z', got {arr.shape[1]} columns")
    try:
        acc = g_to_mps2(hmp_code_to_g(arr))
    except ValueError as exc:
        raise DataFormatError(f"{path}: {exc}") from None
    m = _HMP_NAME.search(path.name)
    subject = m.group(2).lower() if m else "unknown"
    folder = path.parent.name
    label = HMP_LABELS.get(folder)
    return [
        Recording(
            acc_mps2=acc,
            rate_hz=32.0,
            placement="right_wrist",
            device="HMP wrist accelerometer",
            subject=subject,
            dataset="hmp_adl",
            labels=_whole(label),
            source=str(path),
        )
    ]


# ---- Daphnet freezing-of-gait excerpt (csv, mg, 64 Hz) ------------------------------------------

DAPHNET_PLACEMENTS = {"ankle": "right_ankle", "leg": "right_thigh", "trunk": "lower_back"}


def read_daphnet_csv(path: str | Path) -> list[Recording]:
    """Daphnet csv: three accelerometers (ankle, leg=thigh, trunk) in mg -> m/s², 64 Hz -> 3 Recordings.

    Labelled "walking" (the excerpt is a walking task, no freezing); ``is_anomaly`` rows = 1 (freezing)
    would be labelled "freezing of gait".
    """
    path = Path(path)
    lines = _read_text(path).splitlines()
    if not lines:
        raise DataFormatError(f"{path}: empty file")
    cols = [c.strip() for c in lines[0].split(",")]
    need = [f"{p}_{a}" for p in DAPHNET_PLACEMENTS for a in ("horiz_fwd", "vert", "horiz_lateral")]
    missing = [c for c in need if c not in cols]
    if missing or cols[0] != "timestamp":
        raise DataFormatError(f"{path}: not a Daphnet csv (missing columns {missing or ['timestamp']})")
    stamps, rows = [], []
    for i, ln in enumerate(lines[1:], start=2):
        if not ln.strip():
            continue
        f = ln.split(",")
        stamps.append(f[0].strip())
        try:
            rows.append([float(v) for v in f[1:]])
        except ValueError:
            raise DataFormatError(f"{path}: line {i} is not numeric: {ln[:80]!r}") from None
    try:
        t = np.array(stamps, dtype="datetime64[ms]").astype(np.int64) / 1000.0
        data = np.array(rows, dtype=np.float64)
    except ValueError as exc:
        raise DataFormatError(f"{path}: bad timestamp or ragged rows ({exc})") from None
    rate, t_s = _rate_or_times(t, 64.0, path)
    idx = {c: j - 1 for j, c in enumerate(cols)}
    anomaly = data[:, idx["is_anomaly"]] if "is_anomaly" in idx else np.zeros(len(data))
    labels = _segments_from_flags(anomaly > 0, t_s if t_s is not None else np.arange(len(data)) / rate)
    subject = path.stem[:3] if re.match(r"S\d\d", path.stem) else "unknown"
    recs = []
    for part, placement in DAPHNET_PLACEMENTS.items():
        acc = data[:, [idx[f"{part}_horiz_fwd"], idx[f"{part}_vert"], idx[f"{part}_horiz_lateral"]]]
        recs.append(
            Recording(
                acc_mps2=mg_to_mps2(acc),
                rate_hz=rate,
                t_s=t_s,
                placement=placement,
                device=f"Daphnet accelerometer ({part})",
                subject=subject,
                dataset="daphnet",
                labels=list(labels),
                source=str(path),
                session=str(path),  # the three accelerometers share the file's timestamps
            )
        )
    return recs


def _segments_from_flags(freezing: np.ndarray, t: np.ndarray) -> list[LabelSegment]:
    """'walking' where the flag is 0 and 'freezing of gait' where it is 1, as contiguous segments."""
    segs: list[LabelSegment] = []
    if len(t) == 0:
        return segs
    change = np.flatnonzero(np.diff(freezing.astype(np.int8))) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(t)]])
    for s, e in zip(starts, ends):
        end_s = float("inf") if e == len(t) else float(t[e])
        segs.append(LabelSegment("freezing of gait" if freezing[s] else "walking", float(t[s]), end_s))
    return segs


# ---- Xsens MTw export (.txt, tab separated) ------------------------------------------------------

XSENS_PLACEMENTS = {"upperleg": "right_thigh", "lowerleg": "right_shank"}


def read_xsens_txt(path: str | Path) -> list[Recording]:
    """Xsens MT Manager export: ``// Sample rate: 120.0Hz`` header, Counter, Acc m/s², Gyr rad/s, Mag.

    The magnetometer of this export is in Xsens arbitrary units (normalised to the local field, |m|≈1),
    not µT, so it is not loaded (``mag_uT=None``) rather than scaled by a guessed field strength.
    """
    path = Path(path)
    lines = _read_text(path).splitlines()
    rate = None
    hdr = 0
    while hdr < len(lines) and lines[hdr].startswith("//"):
        m = re.search(r"Sample rate:\s*([\d.]+)", lines[hdr])
        if m:
            rate = float(m.group(1))
        hdr += 1
    if hdr >= len(lines) or "Acc_X" not in lines[hdr]:
        raise DataFormatError(f"{path}: no 'Counter Acc_X ...' column header; not an Xsens export")
    if rate is None:
        raise DataFormatError(f"{path}: no '// Sample rate: ...Hz' header line; add it or convert via recordings.csv")
    cols = lines[hdr].split("\t")
    cols = [c.strip() for c in cols]
    arr = _numeric_rows(lines[hdr + 1 :], "\t", path, hdr + 2)
    col = {c: i for i, c in enumerate(cols) if c}

    def take(names: list[str]) -> np.ndarray | None:
        return arr[:, [col[n] for n in names]] if all(n in col for n in names) else None

    acc = take(["Acc_X", "Acc_Y", "Acc_Z"])
    gyro = take(["Gyr_X", "Gyr_Y", "Gyr_Z"])
    t_s = None
    if "PacketCounter" in col or "Counter" in col:
        counter = arr[:, col.get("PacketCounter", col.get("Counter"))]
        steps = np.mod(np.diff(counter), 65536)  # the 16-bit counter wraps
        if np.any(steps == 0):
            raise DataFormatError(f"{path}: repeated sample counter; drop the duplicate rows")
        if np.any(steps != 1):  # dropped packets: keep the true sample times
            t_s = np.concatenate([[0.0], np.cumsum(steps)]) / rate
    key = next((k for k in XSENS_PLACEMENTS if k in path.stem.lower()), None)
    return [
        Recording(
            acc_mps2=acc,
            gyro_rads=gyro,
            rate_hz=rate,
            t_s=t_s,
            placement=XSENS_PLACEMENTS[key] if key else "unknown",
            device="Xsens MTw",
            subject="unknown",
            dataset="xsens_walking" if key else "",
            labels=_whole("walking") if "walk" in path.stem.lower() else [],
            source=str(path),
            # upper and lower leg of one walk are two exports of one recording ("..._upperLeg", "..._lowerLeg")
            session=str(path.parent / path.stem.lower().replace(key, "")) if key else "",
        )
    ]


# ---- GENEActiv csv (gaitpy lower-back walking) ---------------------------------------------------


def read_geneactiv_csv(path: str | Path) -> list[Recording]:
    """GENEActiv export: 100 header lines ('Measurement Frequency,50.0 Hz', 'Units,g'), then
    ``timestamp, x, y, z, lux, button, temp`` with x y z in g -> m/s².

    The gaitpy demo is a walking session on the lower back; it is labelled "walking" as a whole
    (it has short pauses: the label is the session's, not per-step ground truth).
    """
    path = Path(path)
    lines = _read_text(path).splitlines()
    if not lines or not lines[0].startswith("Device Type"):
        raise DataFormatError(f"{path}: first line is not 'Device Type,...'; not a GENEActiv csv")
    meta: dict[str, str] = {}
    for ln in lines[:100]:
        k, _, v = ln.partition(",")
        meta.setdefault(k.strip(), v.strip().strip("\x00").strip())
    m = re.match(r"([\d.]+)", meta.get("Measurement Frequency", ""))
    if not m:
        raise DataFormatError(f"{path}: header has no 'Measurement Frequency' line")
    rate = float(m.group(1))
    stamps, rows = [], []
    for i, ln in enumerate(lines[100:], start=101):
        if not ln.strip():
            continue
        f = ln.split(",")
        if len(f) < 4:
            raise DataFormatError(f"{path}: line {i} has {len(f)} fields, expected timestamp,x,y,z,...")
        ts = f[0].strip()
        stamps.append(ts[:19] + "." + ts[20:23])  # 'YYYY-MM-DD hh:mm:ss:mmm' -> '.mmm'
        try:
            rows.append([float(f[1]), float(f[2]), float(f[3])])
        except ValueError:
            raise DataFormatError(f"{path}: line {i} is not numeric: {ln[:80]!r}") from None
    try:
        t = np.array(stamps, dtype="datetime64[ms]").astype(np.int64) / 1000.0
    except ValueError as exc:
        raise DataFormatError(f"{path}: bad timestamp ({exc})") from None
    rate, t_s = _rate_or_times(t, rate, path)
    loc = meta.get("Device Location Code", "").lower()
    placement = "lower_back" if loc in ("back", "lower back", "lower_back") else (
        "left_wrist" if "left wrist" in loc else "right_wrist" if "right wrist" in loc else "unknown"
    )
    is_gaitpy = path.name == "demo_data.csv"
    return [
        Recording(
            acc_mps2=g_to_mps2(np.array(rows)),
            rate_hz=rate,
            t_s=t_s,
            placement=placement,
            device="GENEActiv",
            subject=meta.get("Subject Code", "unknown") or "unknown",
            dataset="lowerback_walking" if is_gaitpy else "",
            labels=_whole("walking") if is_gaitpy else [],
            source=str(path),
        )
    ]


# ---- sit2standpy lumbar sample (csv: unix µs, acc m/s²) ------------------------------------------


def read_unix_acc_csv(path: str | Path) -> list[Recording]:
    """Headerless ``time, ax, ay, az`` with unix time (µs, ms or s, detected by magnitude) and acc in
    m/s² (sit2standpy sample: lumbar, 128 Hz). Unlabelled: the sit-to-stand transitions in the source
    are algorithmic, so no label is invented here.
    """
    path = Path(path)
    arr = _numeric_rows(_read_text(path).splitlines(), ",", path, 1)
    if arr.shape[1] != 4:
        raise DataFormatError(f"{path}: expected 4 columns (unix time, ax, ay, az), got {arr.shape[1]}")
    t = arr[:, 0]
    scale = 1e-6 if t[0] > 1e14 else 1e-3 if t[0] > 1e11 else 1.0
    t = (t - t[0]) * scale
    measured = estimate_rate_hz(t, min_samples=2)
    nominal = float(np.round(measured)) if measured is not None else 0.0
    if nominal <= 0:
        raise DataFormatError(f"{path}: cannot infer a sampling rate from the time column")
    rate, t_s = _rate_or_times(t, nominal, path)
    return [
        Recording(
            acc_mps2=arr[:, 1:4],
            rate_hz=rate,
            t_s=t_s,
            placement="lower_back",
            device="lumbar accelerometer",
            subject="unknown",
            dataset="sit2stand_lumbar" if path.name == "sample.csv" else "",
            labels=[],
            source=str(path),
        )
    ]


# ---- sniffing ---------------------------------------------------------------------------------------


def sniff_format(path: str | Path) -> str:
    """Name the format of ``path``: uea_ts, watch_npz, hmp_txt, xsens_txt, daphnet_csv, geneactiv_csv,
    unix_acc_csv, user_csv or user_index. Raises DataFormatError when none fits."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return "watch_npz"
    if suffix == ".ts":
        return "uea_ts"
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read file ({exc.strerror})") from exc
    first = head.splitlines()[0] if head.strip() else ""
    if suffix == ".txt":
        if first.startswith("//") or "Acc_X" in first:
            return "xsens_txt"
        if re.fullmatch(r"\s*\d+\s+\d+\s+\d+\s*", first):
            return "hmp_txt"
    if suffix == ".csv":
        low = first.lower()
        if first.startswith("Device Type"):
            return "geneactiv_csv"
        if low.startswith("timestamp,ankle_"):
            return "daphnet_csv"
        if path.name == "recordings.csv" or ("file" in low.split(",") and "placement" in low):
            return "user_index"
        if "acc_x" in low:
            return "user_csv"
        if re.fullmatch(r"[-+\d.eE]+(,[-+\d.eE]+){3}", first.strip()):
            return "unix_acc_csv"
    raise DataFormatError(
        f"{path}: unrecognised file format (first line {first[:60]!r}); supported: Xsens .txt, HMP .txt, "
        "UEA .ts, watch .npz, Daphnet/GENEActiv/unix-time csv, or a user CSV with acc_x,acc_y,acc_z "
        "(see docs/user_data.md)"
    )


def load_file(path: str | Path) -> list[Recording]:
    """Read any single file the dataset loaders read (or a user CSV / recordings.csv) -> its Recordings."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise DataFormatError(f"{path}: is a folder; use anymo.data.datasets.load_dataset or load_user_folder")
    fmt = sniff_format(path)
    if fmt in ("user_csv", "user_index"):
        return load_user_folder(path.parent) if fmt == "user_index" else load_user_csv(path)
    reader = {
        "uea_ts": read_uea_ts,
        "watch_npz": read_watch_npz,
        "hmp_txt": read_hmp_txt,
        "xsens_txt": read_xsens_txt,
        "daphnet_csv": read_daphnet_csv,
        "geneactiv_csv": read_geneactiv_csv,
        "unix_acc_csv": read_unix_acc_csv,
    }[fmt]
    return reader(path)
