"""Live sessions on disk (SQLite): raw samples as they arrive, labels, captions, device statistics.

One database file holds every session (default ``$ANYMO_SESSIONS_DB``, else
``$XDG_DATA_HOME/anymo/sessions.sqlite``, else ``~/.local/share/anymo/sessions.sqlite``). Tables:

* ``sessions`` (id, started_at_s, ended_at_s, name, meta JSON), ``devices`` (placement, type per address);
* ``samples``: one row per delivered block: host and device times (float64 blobs), acc/gyro/mag
  (float32 blobs, [n, 3]), sensor, clock epoch, arrival time;
* ``labels`` (one per window: shown label, confidence, top-k JSON, raw argmax), ``captions``,
  ``device_stats`` (a JSON snapshot per device every few seconds), ``events``.

Crash safety: WAL journal, and the open transaction is committed at least every ``commit_every_s``
(0.5 s by default; by the writer's ``tick`` and on every write after the interval). A ``kill -9`` loses
only what was not yet committed: at most the last ``commit_every_s`` of data, and the file stays
readable (SQLite's journal rolls the partial transaction back on the next open). WAL with
``synchronous=NORMAL`` survives a process crash; a power cut may lose the last commits too.

The writer is used from one thread (the runtime's event loop); readers (`SessionReader`, the
companion's history page, the exporters) open their own connections.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started_at_s REAL NOT NULL, ended_at_s REAL,
    name TEXT NOT NULL DEFAULT '', meta TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS devices (
    session_id INTEGER NOT NULL REFERENCES sessions(id), address TEXT NOT NULL, device_type TEXT NOT NULL,
    placement TEXT NOT NULL, PRIMARY KEY (session_id, address));
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id INTEGER NOT NULL, address TEXT NOT NULL,
    sensor TEXT NOT NULL, epoch INTEGER NOT NULL, n INTEGER NOT NULL, t_arrival_s REAL NOT NULL,
    t_first_s REAL NOT NULL, t_host_s BLOB NOT NULL, t_device_s BLOB NOT NULL,
    acc_mps2 BLOB, gyro_rads BLOB, mag_uT BLOB);
CREATE INDEX IF NOT EXISTS samples_by_session ON samples(session_id, address, id);
CREATE TABLE IF NOT EXISTS labels (
    session_id INTEGER NOT NULL, window_index INTEGER NOT NULL, t_start_s REAL NOT NULL, t_end_s REAL NOT NULL,
    t_emitted_s REAL NOT NULL, label TEXT NOT NULL, confidence REAL NOT NULL, raw_label TEXT NOT NULL,
    raw_confidence REAL NOT NULL, top TEXT NOT NULL, sensors TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS labels_by_session ON labels(session_id, window_index);
CREATE TABLE IF NOT EXISTS captions (
    session_id INTEGER NOT NULL, window_index INTEGER NOT NULL, t_end_s REAL NOT NULL, t_emitted_s REAL NOT NULL,
    text TEXT NOT NULL, elapsed_ms REAL NOT NULL);
CREATE TABLE IF NOT EXISTS device_stats (
    session_id INTEGER NOT NULL, t_s REAL NOT NULL, address TEXT NOT NULL, stats TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    session_id INTEGER NOT NULL, t_s REAL NOT NULL, kind TEXT NOT NULL, info TEXT NOT NULL);
"""


def default_sessions_path() -> Path:
    if os.environ.get("ANYMO_SESSIONS_DB"):
        return Path(os.environ["ANYMO_SESSIONS_DB"]).expanduser()
    base = Path(os.environ["XDG_DATA_HOME"]).expanduser() if os.environ.get("XDG_DATA_HOME") \
        else Path.home() / ".local" / "share"
    return base / "anymo" / "sessions.sqlite"


class SessionStoreError(RuntimeError):
    """The session database cannot be used; the message says why and what to do."""


def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    try:
        if readonly:
            if not path.is_file():
                raise SessionStoreError(f"no session database at {path}; run `anymo live` or `anymo demo` first")
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=5.0)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(path, check_same_thread=False, timeout=5.0, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.executescript(SCHEMA)
            con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        version = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise SessionStoreError(f"{path} is not a usable session database ({exc}); move it away and start again "
                                "(or point ANYMO_SESSIONS_DB elsewhere)") from None
    if version is None or int(version[0]) > SCHEMA_VERSION:
        raise SessionStoreError(f"{path} has session schema {version[0] if version else '?'}, newer than this anymo "
                                f"reads ({SCHEMA_VERSION}); upgrade anymo-edge")
    return con


def _blob(x: np.ndarray | None, dtype) -> bytes | None:
    return None if x is None else np.ascontiguousarray(x, dtype=dtype).tobytes()


class SessionWriter:
    """Appends one session. ``add_*`` from one thread; ``tick()`` (or any write) commits when due."""

    def __init__(self, path: Path | str | None = None, *, name: str = "", meta: dict | None = None,
                 devices: list[tuple[str, str, str]] = (), commit_every_s: float = 0.5) -> None:
        self.path = Path(path) if path is not None else default_sessions_path()
        self.con = _connect(self.path)
        self.commit_every_s = float(commit_every_s)
        now = time.time()
        cur = self.con.execute("INSERT INTO sessions (started_at_s, name, meta) VALUES (?, ?, ?)",
                               (now, name, json.dumps(meta or {})))
        self.session_id = int(cur.lastrowid)
        for address, device_type, placement in devices:
            self.add_device(address, device_type, placement)
        self._in_tx = False
        self._last_commit = time.monotonic()
        self.closed = False
        self.samples_written = 0

    def _begin(self) -> None:
        if not self._in_tx:
            self.con.execute("BEGIN")
            self._in_tx = True

    def add_device(self, address: str, device_type: str, placement: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO devices VALUES (?, ?, ?, ?)",
                         (self.session_id, address, device_type, placement))

    def add_samples(self, address: str, block) -> None:
        """One bridge ``StreamBlock`` (or anything with its fields)."""
        n = len(block.t_host_s)
        if n == 0:
            return
        self._begin()
        self.con.execute(
            "INSERT INTO samples (session_id, address, sensor, epoch, n, t_arrival_s, t_first_s, t_host_s, t_device_s,"
            " acc_mps2, gyro_rads, mag_uT) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (self.session_id, address, block.sensor, int(block.epoch), n, float(block.t_arrival_s),
             float(block.t_host_s[0]), _blob(block.t_host_s, np.float64), _blob(block.t_device_s, np.float64),
             _blob(block.acc_mps2, np.float32), _blob(block.gyro_rads, np.float32), _blob(block.mag_uT, np.float32)))
        self.samples_written += n
        self.tick()

    def add_label(self, window_index: int, t_start_s: float, t_end_s: float, t_emitted_s: float, label: str,
                  confidence: float, raw_label: str, raw_confidence: float, top: list, sensors: list[str]) -> None:
        self._begin()
        self.con.execute("INSERT INTO labels VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                         (self.session_id, window_index, t_start_s, t_end_s, t_emitted_s, label, confidence, raw_label,
                          raw_confidence, json.dumps(top), json.dumps(sensors)))
        self.tick()

    def add_caption(self, window_index: int, t_end_s: float, t_emitted_s: float, text: str, elapsed_ms: float) -> None:
        self._begin()
        self.con.execute("INSERT INTO captions VALUES (?,?,?,?,?,?)",
                         (self.session_id, window_index, t_end_s, t_emitted_s, text, elapsed_ms))
        self.tick()

    def add_device_stats(self, address: str, stats: dict, t_s: float | None = None) -> None:
        self._begin()
        self.con.execute("INSERT INTO device_stats VALUES (?,?,?,?)",
                         (self.session_id, time.time() if t_s is None else t_s, address, json.dumps(stats, default=str)))
        self.tick()

    def add_event(self, kind: str, **info) -> None:
        self._begin()
        self.con.execute("INSERT INTO events VALUES (?,?,?,?)",
                         (self.session_id, time.time(), kind, json.dumps(info, default=str)))
        self.tick()

    def tick(self) -> None:
        """Commit the open transaction if ``commit_every_s`` has passed since the last commit."""
        if self._in_tx and time.monotonic() - self._last_commit >= self.commit_every_s:
            self.commit()

    def commit(self) -> None:
        if self._in_tx:
            self.con.execute("COMMIT")
            self._in_tx = False
        self._last_commit = time.monotonic()

    def close(self, meta: dict | None = None) -> None:
        if self.closed:
            return
        self._begin()
        if meta:
            old = json.loads(self.con.execute("SELECT meta FROM sessions WHERE id=?", (self.session_id,)).fetchone()[0])
            old.update(meta)
            self.con.execute("UPDATE sessions SET meta=? WHERE id=?", (json.dumps(old, default=str), self.session_id))
        self.con.execute("UPDATE sessions SET ended_at_s=? WHERE id=?", (time.time(), self.session_id))
        self.commit()
        self.con.close()
        self.closed = True


@dataclass
class SessionInfo:
    id: int
    started_at_s: float
    ended_at_s: float | None  # None: still running, or the process died (see last_data_s)
    name: str
    meta: dict
    devices: list[dict]
    n_labels: int
    n_captions: int
    n_samples: int
    last_data_s: float | None

    def to_json(self) -> dict:
        return dict(self.__dict__)


class SessionReader:
    """Read-only access to the sessions of one database (safe while a writer is appending)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_sessions_path()
        self.con = _connect(self.path, readonly=True)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> SessionReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def sessions(self) -> list[SessionInfo]:
        ids = [r[0] for r in self.con.execute("SELECT id FROM sessions ORDER BY id DESC")]
        return [self.session(i) for i in ids]

    def session(self, session_id: int) -> SessionInfo:
        row = self.con.execute("SELECT id, started_at_s, ended_at_s, name, meta FROM sessions WHERE id=?",
                               (session_id,)).fetchone()
        if row is None:
            raise KeyError(f"no session {session_id} in {self.path}")
        devs = [{"address": a, "device_type": t, "placement": p} for a, t, p in self.con.execute(
            "SELECT address, device_type, placement FROM devices WHERE session_id=? ORDER BY address", (session_id,))]
        count = lambda table: self.con.execute(f"SELECT COUNT(*) FROM {table} WHERE session_id=?",
                                               (session_id,)).fetchone()[0]
        n_samples, last = self.con.execute("SELECT COALESCE(SUM(n), 0), MAX(t_arrival_s) FROM samples WHERE session_id=?",
                                           (session_id,)).fetchone()
        return SessionInfo(row[0], row[1], row[2], row[3], json.loads(row[4]), devs, count("labels"), count("captions"),
                           int(n_samples), last)

    def labels(self, session_id: int) -> list[dict]:
        cols = ["window_index", "t_start_s", "t_end_s", "t_emitted_s", "label", "confidence", "raw_label",
                "raw_confidence", "top", "sensors"]
        out = []
        for r in self.con.execute(f"SELECT {', '.join(cols)} FROM labels WHERE session_id=? ORDER BY window_index",
                                  (session_id,)):
            d = dict(zip(cols, r, strict=True))
            d["top"], d["sensors"] = json.loads(d["top"]), json.loads(d["sensors"])
            out.append(d)
        return out

    def timeline(self, session_id: int) -> list[dict]:
        """Consecutive windows with the same shown label merged: [{label, start_s, end_s, confidence}]."""
        segs: list[dict] = []
        for lab in self.labels(session_id):
            if segs and segs[-1]["label"] == lab["label"] and lab["t_end_s"] - segs[-1]["end_s"] < 3.0:
                s = segs[-1]
                s["end_s"] = lab["t_end_s"]
                s["n"] += 1
                s["confidence"] += (lab["confidence"] - s["confidence"]) / s["n"]
            else:
                segs.append({"label": lab["label"], "start_s": lab["t_end_s"] - 1.0 if segs else lab["t_start_s"],
                             "end_s": lab["t_end_s"], "confidence": lab["confidence"], "n": 1})
        return segs

    def captions(self, session_id: int) -> list[dict]:
        cols = ["window_index", "t_end_s", "t_emitted_s", "text", "elapsed_ms"]
        return [dict(zip(cols, r, strict=True)) for r in self.con.execute(
            f"SELECT {', '.join(cols)} FROM captions WHERE session_id=? ORDER BY t_emitted_s", (session_id,))]

    def device_stats(self, session_id: int, last_only: bool = True) -> list[dict]:
        q = "SELECT t_s, address, stats FROM device_stats WHERE session_id=? ORDER BY t_s"
        rows = [{"t_s": t, "address": a, "stats": json.loads(s)} for t, a, s in self.con.execute(q, (session_id,))]
        if last_only:
            rows = list({r["address"]: r for r in rows}.values())
        return rows

    def samples(self, session_id: int, address: str, sensor: str | None = None) -> dict[str, np.ndarray]:
        """Every stored sample of one device: t_host_s, t_device_s [n], acc_mps2/gyro_rads/mag_uT [n, 3] (NaN when
        a block lacked that sensor), sensor [n], t_arrival_s [n] (the arrival of each sample's block)."""
        q = ("SELECT sensor, n, t_arrival_s, t_host_s, t_device_s, acc_mps2, gyro_rads, mag_uT FROM samples "
             "WHERE session_id=? AND address=?" + (" AND sensor=?" if sensor else "") + " ORDER BY id")
        parts: dict[str, list] = {k: [] for k in ("sensor", "t_arrival_s", "t_host_s", "t_device_s", "acc_mps2",
                                                   "gyro_rads", "mag_uT")}
        args = (session_id, address, sensor) if sensor else (session_id, address)
        for sen, n, t_arr, th, td, acc, gyro, mag in self.con.execute(q, args):
            parts["sensor"].append(np.full(n, sen))
            parts["t_arrival_s"].append(np.full(n, t_arr))
            parts["t_host_s"].append(np.frombuffer(th, np.float64))
            parts["t_device_s"].append(np.frombuffer(td, np.float64))
            for key, blob in (("acc_mps2", acc), ("gyro_rads", gyro), ("mag_uT", mag)):
                parts[key].append(np.frombuffer(blob, np.float32).reshape(n, 3).astype(np.float64) if blob
                                  else np.full((n, 3), np.nan))
        out = {}
        for k, v in parts.items():
            shape = (0, 3) if k in ("acc_mps2", "gyro_rads", "mag_uT") else (0,)
            out[k] = np.concatenate(v) if v else np.zeros(shape)
        return out

    # -- export --------------------------------------------------------------------------------------

    def export_json(self, session_id: int, out: Path | str, include_samples: bool = False) -> Path:
        """The session as one JSON document (labels, timeline, captions, device stats; samples on request)."""
        info = self.session(session_id)
        doc = {"session": info.to_json(), "timeline": self.timeline(session_id), "labels": self.labels(session_id),
               "captions": self.captions(session_id), "device_stats": self.device_stats(session_id, last_only=False)}
        if include_samples:
            doc["samples"] = {}
            for d in info.devices:
                s = self.samples(session_id, d["address"])
                doc["samples"][d["address"]] = {k: np.where(np.isnan(v), None, v).tolist() if v.dtype.kind == "f"
                                                else v.tolist() for k, v in s.items()}
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
        return out

    def export_csv(self, session_id: int, out_dir: Path | str) -> list[Path]:
        """``labels.csv``, ``captions.csv`` and one ``samples-<address>.csv`` per device in ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        labels = self.labels(session_id)
        p = out_dir / "labels.csv"
        with p.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["window_index", "t_start_s", "t_end_s", "t_emitted_s", "label", "confidence", "raw_label",
                        "raw_confidence", "top", "sensors"])
            for lab in labels:
                w.writerow([lab["window_index"], f"{lab['t_start_s']:.3f}", f"{lab['t_end_s']:.3f}",
                            f"{lab['t_emitted_s']:.3f}", lab["label"], f"{lab['confidence']:.4f}", lab["raw_label"],
                            f"{lab['raw_confidence']:.4f}", json.dumps(lab["top"]), " ".join(lab["sensors"])])
        written.append(p)
        p = out_dir / "captions.csv"
        with p.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["window_index", "t_end_s", "t_emitted_s", "text", "elapsed_ms"])
            for c in self.captions(session_id):
                w.writerow([c["window_index"], f"{c['t_end_s']:.3f}", f"{c['t_emitted_s']:.3f}", c["text"],
                            f"{c['elapsed_ms']:.1f}"])
        written.append(p)
        for d in self.session(session_id).devices:
            s = self.samples(session_id, d["address"])
            p = out_dir / f"samples-{d['address'].replace(':', '')}.csv"
            with p.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["sensor", "t_host_s", "t_device_s", "acc_x_mps2", "acc_y_mps2", "acc_z_mps2",
                            "gyro_x_rads", "gyro_y_rads", "gyro_z_rads"])
                for i in range(len(s["t_host_s"])):
                    vals = [*s["acc_mps2"][i], *s["gyro_rads"][i]]
                    w.writerow([s["sensor"][i], f"{s['t_host_s'][i]:.6f}", f"{s['t_device_s'][i]:.6f}",
                                *("" if np.isnan(v) else f"{v:.6g}" for v in vals)])
            written.append(p)
        return written
