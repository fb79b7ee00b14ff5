"""Import the user's own recordings: a folder with ``recordings.csv`` and one CSV per recording.

Format (documented in docs/user_data.md)::

    recordings.csv   file,placement,rate_hz,acc_unit,gyro_unit,label,subject
    <file>.csv       acc_x,acc_y,acc_z[,gyro_x,gyro_y,gyro_z][,t_s]

Units are converted on load (acc: m/s2, g, mg; gyro: rad/s, deg/s). Numpy + stdlib csv only.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from anymo.body.placement_names import check_placement_name
from anymo.constants import MAX_RATE_HZ, MIN_RATE_HZ, STANDARD_GRAVITY_MPS2
from anymo.data.recording import LabelSegment, Recording
from anymo.data.units import ACC_UNIT_TO_MPS2, acc_to_mps2, gyro_to_rads
from anymo.errors import DataFormatError
from anymo.preprocess.resample import estimate_rate_hz

INDEX_COLUMNS = ("file", "placement", "rate_hz", "acc_unit", "gyro_unit", "label", "subject")
REQUIRED_INDEX_COLUMNS = ("file", "placement", "rate_hz", "acc_unit")
ACC_COLUMNS = ("acc_x", "acc_y", "acc_z")
GYRO_COLUMNS = ("gyro_x", "gyro_y", "gyro_z")
# A worn accelerometer measures gravity: the median |acc| of a recording lies near 9.8 m/s² (about
# 0.5-2 g even when running). Outside this band the declared unit is wrong.
PLAUSIBLE_MEDIAN_ACC_MPS2 = (2.5, 40.0)
# Wearable gyroscopes saturate at 2000 deg/s (34.9 rad/s; a few at 4000): beyond this the unit is deg/s.
MAX_PLAUSIBLE_GYRO_RADS = 40.0


def _read_index(index_path: Path) -> list[dict[str, str]]:
    with open(index_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        _check_separator(index_path, [c.lower() for c in cols])
        missing = [c for c in REQUIRED_INDEX_COLUMNS if c not in cols]
        if missing:
            raise DataFormatError(
                f"{index_path}: missing column(s) {missing}; the header must be {','.join(INDEX_COLUMNS)}"
            )
        rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    if not rows:
        raise DataFormatError(f"{index_path}: no recordings listed (one row per recording file)")
    return rows


def _row_for(csv_path: Path) -> dict[str, str] | None:
    index = csv_path.parent / "recordings.csv"
    if not index.exists():
        return None
    for row in _read_index(index):
        if (csv_path.parent / row["file"]).resolve() == csv_path.resolve():
            return row
    return None


def load_user_csv(path: str | Path, meta: dict[str, str] | None = None) -> list[Recording]:
    """One user CSV (columns acc_x..z, optional gyro_x..z, optional t_s) -> one Recording.

    ``meta`` is the file's row of recordings.csv; when omitted, it is looked up in a
    ``recordings.csv`` next to the file. Without a row, the CSV needs a ``t_s`` column (seconds) and
    its accelerometer is taken as m/s².
    """
    path = Path(path)
    meta = meta if meta is not None else _row_for(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read file ({exc.strerror})") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataFormatError(f"{path}: not a UTF-8 text CSV ({exc}); export it as CSV (UTF-8)") from None
    if len(rows) < 2:
        raise DataFormatError(f"{path}: needs a header line and at least one sample row")
    header = [h.strip().lower() for h in rows[0]]
    _check_separator(path, header)
    missing = [c for c in ACC_COLUMNS if c not in header]
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {missing}; a recording CSV needs acc_x,acc_y,acc_z")
    col = {h: i for i, h in enumerate(header)}
    data, line_no = _sample_rows(path, rows, header, has_t="t_s" in col)
    for what, cols in (("accelerometer", ACC_COLUMNS), ("gyroscope", GYRO_COLUMNS), ("t_s", ("t_s",))):
        if all(c in col for c in cols):
            bad = ~np.all(np.isfinite(data[:, [col[c] for c in cols]]), axis=1)
            if bad.any():
                raise DataFormatError(
                    f"{path}: line {line_no[int(np.argmax(bad))]}: {what} is NaN/inf ({int(bad.sum())} such rows); "
                    "drop those rows (with a t_s column the gap they leave is handled)"
                )
    meta = meta or {}
    acc_unit = meta.get("acc_unit") or "m/s2"
    gyro_unit = meta.get("gyro_unit") or "rad/s"
    try:
        acc = acc_to_mps2(data[:, [col[c] for c in ACC_COLUMNS]], acc_unit)
        has_gyro = all(c in col for c in GYRO_COLUMNS)
        gyro = gyro_to_rads(data[:, [col[c] for c in GYRO_COLUMNS]], gyro_unit) if has_gyro else None
        placement = check_placement_name(meta.get("placement") or "unknown", allow_unknown=True)
    except ValueError as exc:
        raise DataFormatError(f"{path}: {exc}") from None
    rate_txt = meta.get("rate_hz", "")
    try:
        rate = float(rate_txt) if rate_txt else None
    except ValueError:
        raise DataFormatError(f"{path}: rate_hz {rate_txt!r} is not a number; give the sampling rate in Hz (e.g. 50)") from None
    if rate is not None and not (MIN_RATE_HZ <= rate <= MAX_RATE_HZ and math.isfinite(rate)):
        raise DataFormatError(f"{path}: rate_hz {rate_txt} is outside {MIN_RATE_HZ:g}..{MAX_RATE_HZ:g} Hz")
    t_s = data[:, col["t_s"]] - data[0, col["t_s"]] if "t_s" in col else None
    if rate is None and t_s is None:
        raise DataFormatError(
            f"{path}: no sampling rate: list the file in recordings.csv with rate_hz, or add a t_s column"
        )
    if t_s is not None and len(t_s) > 1 and not np.all(np.diff(t_s) > 0):
        raise DataFormatError(f"{path}: t_s must increase strictly; sort the rows and drop duplicates")
    _check_units(path, acc, acc_unit, gyro, gyro_unit)
    if rate is None:
        rate = estimate_rate_hz(t_s, min_samples=2)
        if rate is None:
            raise DataFormatError(f"{path}: one sample is not a recording; record at least a few seconds")
    label = meta.get("label", "")
    return [
        Recording(
            acc_mps2=acc,
            gyro_rads=gyro,
            rate_hz=rate,
            t_s=t_s,
            placement=placement,
            device=meta.get("device", "") or "user device",
            subject=meta.get("subject", "") or "unknown",
            dataset="user",
            labels=[LabelSegment(label, 0.0, float("inf"))] if label else [],
            source=str(path),
        )
    ]


def _check_units(path: Path, acc_mps2: np.ndarray, acc_unit: str, gyro_rads: np.ndarray | None, gyro_unit: str) -> None:
    """DataFormatError when the converted values cannot come from a worn IMU in the declared units,
    naming the unit the numbers look like (a g recording declared as m/s² reads |acc| ~ 1 "m/s²")."""
    median = float(np.median(np.linalg.norm(acc_mps2, axis=1)))
    lo, hi = PLAUSIBLE_MEDIAN_ACC_MPS2
    if not lo <= median <= hi:
        raw = median / float(acc_to_mps2(1.0, acc_unit))  # the median in the numbers as written
        likely = min(("m/s2", "g", "mg"), key=lambda u: abs(np.log(max(raw, 1e-12) * ACC_UNIT_TO_MPS2[u] / STANDARD_GRAVITY_MPS2)))
        raise DataFormatError(
            f"{path}: the median |acc| is {median:.2f} m/s² when read as acc_unit={acc_unit!r}, but a worn accelerometer "
            f"measures gravity (about 9.8 m/s²); the numbers look like {likely!r}: fix acc_unit in recordings.csv "
            "(this format expects raw accelerometer data with gravity, not linear acceleration)"
        )
    if gyro_rads is not None and gyro_rads.size:
        p99 = float(np.percentile(np.linalg.norm(gyro_rads, axis=1), 99))
        if p99 > MAX_PLAUSIBLE_GYRO_RADS and float(gyro_to_rads(1.0, gyro_unit)) == 1.0:
            raise DataFormatError(
                f"{path}: the gyroscope reads up to {p99:.0f} rad/s as gyro_unit={gyro_unit!r}, beyond any wearable's "
                f"range (2000 deg/s = 34.9 rad/s); the numbers look like 'deg/s': fix gyro_unit in recordings.csv"
            )


def _check_separator(path: Path, header: list[str]) -> None:
    """A header read as one field holding ';' or tabs: the file is not comma-separated."""
    if len(header) == 1:
        for sep, name in ((";", "semicolons (a spreadsheet export in a European locale)"), ("\t", "tabs")):
            if sep in header[0]:
                raise DataFormatError(
                    f"{path}: the values are separated by {name}, not commas; save the file as CSV with ',' "
                    "between values and '.' as the decimal point (docs/user_data.md)"
                )


def _sample_rows(path: Path, rows: list[list[str]], header: list[str], has_t: bool) -> tuple[np.ndarray, list[int]]:
    """The sample rows as floats [N, C] and each one's line number; DataFormatError naming file and line
    for a row with another number of values than the header, a value that is not a number, or (without
    a t_s column, where every row is one sample at rate_hz) an empty row between samples."""
    n_cols = len(header)
    last = max((i for i, r in enumerate(rows) if any(x.strip() for x in r)), default=0)
    out, lines = [], []
    for i, r in enumerate(rows[1 : last + 1], start=1):
        line = i + 1
        if not any(x.strip() for x in r):
            if not has_t:
                raise DataFormatError(
                    f"{path}: line {line} is empty; without a t_s column each row is one sample at rate_hz, so a "
                    "skipped row would shift every later sample: delete the line, or add a t_s column"
                )
            continue  # with t_s the times say where each sample belongs
        if len(r) != n_cols:
            where = ("the last line: the file looks truncated (an interrupted export); delete that line"
                     if i == last else "fix or delete that line")
            raise DataFormatError(
                f"{path}: line {line} has {len(r)} values, the header has {n_cols} ({','.join(header)}); {where}"
            )
        try:
            out.append([float(v) for v in r])
        except ValueError:
            bad = next(v for v in r if not _is_number(v))
            raise DataFormatError(f"{path}: line {line}: {bad.strip()!r} is not a number: {','.join(r)[:80]!r}") from None
        lines.append(line)
    if not out:
        raise DataFormatError(f"{path}: no sample rows after the header")
    return np.array(out, dtype=np.float64), lines


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def load_user_folder(folder: str | Path) -> list[Recording]:
    """A folder with ``recordings.csv`` -> one Recording per listed file (in listed order)."""
    folder = Path(folder)
    index = folder / "recordings.csv"
    if not index.exists():
        raise FileNotFoundError(
            f"{index}: not found; a user data folder needs recordings.csv "
            f"({','.join(INDEX_COLUMNS)}), see docs/user_data.md"
        )
    recs: list[Recording] = []
    for row in _read_index(index):
        f = folder / row["file"]
        if not f.exists():
            raise FileNotFoundError(f"{index}: lists {row['file']!r} but {f} does not exist")
        recs += load_user_csv(f, meta=row)
    return recs
