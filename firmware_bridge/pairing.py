"""The pairing store: which wearables this user owns, where each is worn, and its calibration.

One JSON file (default ``$ANYMO_CONFIG_DIR/devices.json``, else ``$XDG_CONFIG_HOME/anymo/devices.json``,
else ``~/.config/anymo/devices.json``)::

    {"schema_version": 1, "devices": [{"address": "AA:BB:CC:DD:EE:FF", "device_type": "anymo-imu",
      "placement": "left_wrist", "name": "AnyMo IMU", "paired_at": "2026-05-01T10:00:00+00:00",
      "calibration": {"acc_bias_mps2": [0, 0, 0], "acc_scale": [1, 1, 1], "gyro_bias_rads": [0, 0, 0],
                      "mount_rotation": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]},
      "settings": {"rate_hz": 100}}]}

Writes are atomic (temporary file in the same folder, fsync, ``os.replace``) and serialised between
processes by an ``fcntl`` lock on ``devices.json.lock``, so a crash or a second ``anymo pair`` never
leaves a half-written or clobbered file. A file that cannot be parsed is reported (ValueError naming
the file and the fix) and never overwritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from anymo.body.placement_names import check_placement_name
from anymo.geometry.rotations import quat_to_matrix

from .devices import get_driver
from .devices.base import StreamSettings

SCHEMA_VERSION = 1
FILE_NAME = "devices.json"

_MAC = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
_UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")  # CoreBluetooth ids (macOS)


def normalize_address(address: str) -> str:
    """``aa-bb-cc-dd-ee-ff`` / ``aabbccddeeff`` / ``AA:BB:..`` -> ``AA:BB:CC:DD:EE:FF`` (macOS UUIDs: upper-cased)."""
    if not isinstance(address, str):
        raise ValueError(f"a device address must be a string like AA:BB:CC:DD:EE:FF, got {address!r}")
    a = address.strip().upper()
    if _UUID.match(a):
        return a
    hexdigits = a.replace(":", "").replace("-", "")
    if len(hexdigits) == 12 and all(c in "0123456789ABCDEF" for c in hexdigits):
        a = ":".join(hexdigits[i:i + 2] for i in range(0, 12, 2))
    if not _MAC.match(a):
        raise ValueError(f"invalid Bluetooth address {address!r}: expected six hex bytes like AA:BB:CC:DD:EE:FF "
                         "(run `anymo scan` to see the addresses of nearby devices)")
    return a


def _vector3(name: str, value: Any) -> list[float]:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"calibration {name} must be 3 finite numbers (x, y, z), got {value!r}")
    return [float(x) for x in arr]


def _rotation_matrix(value: Any) -> list[list[float]]:
    """A 3x3 rotation matrix or a unit quaternion (w, x, y, z) -> a proper 3x3 rotation matrix as lists."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape == (4,) and np.all(np.isfinite(arr)):
        norm = float(np.linalg.norm(arr))
        if abs(norm - 1.0) > 1e-6:
            raise ValueError(f"calibration mount_rotation quaternion (w, x, y, z) must have unit length, got norm {norm:.6g}")
        arr = quat_to_matrix(arr / norm)
    elif arr.shape != (3, 3) or not np.all(np.isfinite(arr)):
        raise ValueError("calibration mount_rotation must be a 3x3 rotation matrix or a unit quaternion (w, x, y, z), "
                         f"got {value!r}")
    if not np.allclose(arr @ arr.T, np.eye(3), atol=1e-6) or np.linalg.det(arr) < 0:
        raise ValueError("calibration mount_rotation is not a rotation (needs R @ R.T = I and det(R) = +1); "
                         "a mirrored axis means the sensor axes were mislabelled")
    return [[float(x) for x in row] for row in arr]


@dataclass
class Calibration:
    """Per-device correction, applied as ``R @ ((acc - acc_bias) * acc_scale)`` and ``R @ (gyro - gyro_bias)``.

    ``mount_rotation`` (R) maps the device's own sensor axes into the axes of its placement's canonical
    sensor frame (``anymo.body.surface``). Give it as a 3x3 matrix or a unit quaternion (w, x, y, z); it is
    stored as a matrix. All values are plain lists, so the dataclass is JSON friendly as is.
    """

    acc_bias_mps2: Sequence[float] = (0.0, 0.0, 0.0)
    acc_scale: Sequence[float] = (1.0, 1.0, 1.0)
    gyro_bias_rads: Sequence[float] = (0.0, 0.0, 0.0)
    mount_rotation: Sequence = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))

    def __post_init__(self) -> None:
        self.acc_bias_mps2 = _vector3("acc_bias_mps2", self.acc_bias_mps2)
        self.acc_scale = _vector3("acc_scale", self.acc_scale)
        if min(self.acc_scale) <= 0:
            raise ValueError(f"calibration acc_scale must be positive per axis, got {self.acc_scale}")
        self.gyro_bias_rads = _vector3("gyro_bias_rads", self.gyro_bias_rads)
        self.mount_rotation = _rotation_matrix(self.mount_rotation)

    def apply(self, acc_mps2: np.ndarray | None, gyro_rads: np.ndarray | None = None
              ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Correct [n, 3] sensor-frame samples into the placement frame (None passes through)."""
        rot = np.asarray(self.mount_rotation)
        acc = None if acc_mps2 is None else \
            ((np.asarray(acc_mps2, dtype=np.float64) - self.acc_bias_mps2) * self.acc_scale) @ rot.T
        gyro = None if gyro_rads is None else (np.asarray(gyro_rads, dtype=np.float64) - self.gyro_bias_rads) @ rot.T
        return acc, gyro

    def to_json(self) -> dict[str, Any]:
        return {"acc_bias_mps2": list(self.acc_bias_mps2), "acc_scale": list(self.acc_scale),
                "gyro_bias_rads": list(self.gyro_bias_rads), "mount_rotation": [list(r) for r in self.mount_rotation]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Calibration:
        if not isinstance(obj, dict):
            raise ValueError(f"calibration must be an object, got {obj!r}")
        unknown = set(obj) - {"acc_bias_mps2", "acc_scale", "gyro_bias_rads", "mount_rotation"}
        if unknown:
            raise ValueError(f"calibration has unknown fields {sorted(unknown)}")
        return cls(**obj)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class PairedDevice:
    """One paired wearable. Validates and normalises itself on construction (ValueError on bad input).

    ``placement`` is a named placement (``anymo.body.placement_names``) or ``"unknown"``; ``settings`` holds
    JSON values, e.g. the stream settings to use (``rate_hz``, ``acc_range_g``, ``gyro_range_dps``, ``sensors``).
    """

    address: str
    device_type: str
    placement: str
    name: str | None = None
    calibration: Calibration = field(default_factory=Calibration)
    paired_at: str = field(default_factory=_now_iso)
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.address = normalize_address(self.address)
        get_driver(self.device_type)  # ValueError listing the valid device types
        self.placement = check_placement_name(self.placement, allow_unknown=True)
        if self.name is not None and not isinstance(self.name, str):
            raise ValueError(f"device name must be a string or null, got {self.name!r}")
        if isinstance(self.calibration, dict):
            self.calibration = Calibration.from_json(self.calibration)
        elif not isinstance(self.calibration, Calibration):
            raise ValueError(f"calibration must be a Calibration, got {type(self.calibration).__name__}")
        try:
            datetime.fromisoformat(self.paired_at)
        except (TypeError, ValueError):
            raise ValueError(f"paired_at must be an ISO 8601 time like 2026-05-01T10:00:00+00:00, "
                             f"got {self.paired_at!r}") from None
        if not isinstance(self.settings, dict):
            raise ValueError(f"settings must be a JSON object (dict), got {self.settings!r}")
        try:
            json.dumps(self.settings, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"settings must hold plain JSON values only: {exc}") from None

    def stream_settings(self, default: StreamSettings | None = None) -> StreamSettings:
        """The StreamSettings to use for this device: ``default`` overridden by the stored settings."""
        base = default or StreamSettings()
        return StreamSettings(
            rate_hz=float(self.settings.get("rate_hz", base.rate_hz)),
            acc_range_g=float(self.settings.get("acc_range_g", base.acc_range_g)),
            gyro_range_dps=float(self.settings.get("gyro_range_dps", base.gyro_range_dps)),
            sensors=tuple(self.settings.get("sensors", base.sensors)),
        )

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "device_type": self.device_type, "placement": self.placement,
                "name": self.name, "paired_at": self.paired_at, "calibration": self.calibration.to_json(),
                "settings": dict(self.settings)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PairedDevice:
        if not isinstance(obj, dict):
            raise ValueError(f"a paired device must be an object, got {obj!r}")
        missing = {"address", "device_type", "placement"} - set(obj)
        if missing:
            raise ValueError(f"a paired device lacks {sorted(missing)}")
        unknown = set(obj) - {"address", "device_type", "placement", "name", "paired_at", "calibration", "settings"}
        if unknown:
            raise ValueError(f"a paired device has unknown fields {sorted(unknown)}")
        return cls(**obj)


def default_store_path() -> Path:
    """``$ANYMO_CONFIG_DIR/devices.json``, else ``$XDG_CONFIG_HOME/anymo/devices.json``, else ``~/.config/anymo/...``."""
    if os.environ.get("ANYMO_CONFIG_DIR"):
        return Path(os.environ["ANYMO_CONFIG_DIR"]).expanduser() / FILE_NAME
    if os.environ.get("XDG_CONFIG_HOME"):
        return Path(os.environ["XDG_CONFIG_HOME"]).expanduser() / "anymo" / FILE_NAME
    return Path.home() / ".config" / "anymo" / FILE_NAME


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so readers see the old or the new file, never a mix (even after a crash)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class PairingStore:
    """The paired devices in one JSON file; every call re-reads the file, so several processes can share it."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_store_path()

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _unusable(self, what: Path, exc: OSError) -> ValueError:
        if what.is_dir():
            problem = "is a folder, not a file"
        else:
            problem = f"cannot be used ({exc.strerror or exc})"
        return ValueError(f"the pairing store {what} {problem}: move it away, or point ANYMO_CONFIG_DIR at another "
                          "folder (the pairing store is the file devices.json in it)")

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        if not exclusive and not self.path.parent.exists():
            yield
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = open(self.lock_path, "a+b")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise self._unusable(self.lock_path if self.path.parent.is_dir() else self.path.parent, exc) from None
        with lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _corrupt(self, problem: str) -> ValueError:
        return ValueError(f"the pairing store {self.path} is unreadable ({problem}); it was left untouched: fix it by "
                          f"hand, or move it away (mv '{self.path}' '{self.path}.bak') and pair your devices again")

    def _read(self) -> dict[str, PairedDevice]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except UnicodeDecodeError as exc:
            raise self._corrupt(f"not UTF-8 text: {exc}") from None
        except OSError as exc:  # a folder named devices.json, no permission, ...
            raise self._unusable(self.path, exc) from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self._corrupt(f"invalid JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("devices"), list):
            raise self._corrupt('expected an object {"schema_version": 1, "devices": [...]}')
        version = doc.get("schema_version")
        if not isinstance(version, int) or version < 1:
            raise self._corrupt(f"missing or invalid schema_version {version!r}")
        if version > SCHEMA_VERSION:
            raise ValueError(f"the pairing store {self.path} has schema version {version}, newer than this anymo "
                             f"understands ({SCHEMA_VERSION}); upgrade anymo-edge (it was left untouched)")
        devices: dict[str, PairedDevice] = {}
        for i, obj in enumerate(doc["devices"]):
            try:
                dev = PairedDevice.from_json(obj)
            except (TypeError, ValueError) as exc:
                raise self._corrupt(f"device #{i}: {exc}") from None
            if dev.address in devices:
                raise self._corrupt(f"device {dev.address} is listed twice")
            devices[dev.address] = dev
        return devices

    def _write(self, devices: dict[str, PairedDevice]) -> None:
        doc = {"schema_version": SCHEMA_VERSION, "devices": [d.to_json() for d in devices.values()]}
        try:
            atomic_write_text(self.path, json.dumps(doc, indent=2, allow_nan=False) + "\n")
        except (IsADirectoryError, PermissionError) as exc:  # other OSErrors (disk full, ...) speak for themselves
            raise self._unusable(self.path, exc) from None

    def load(self) -> dict[str, PairedDevice]:
        """All paired devices by address (empty when the file does not exist yet)."""
        with self._locked(exclusive=False):
            return self._read()

    def list(self) -> list[PairedDevice]:
        """Paired devices in the order they were first paired."""
        return list(self.load().values())

    def get(self, address: str) -> PairedDevice:
        """The device paired under ``address``; KeyError naming the paired addresses otherwise."""
        devices = self.load()
        key = normalize_address(address)
        if key not in devices:
            raise KeyError(self._unknown(key, devices))
        return devices[key]

    def __contains__(self, address: str) -> bool:
        return normalize_address(address) in self.load()

    def add(self, device: PairedDevice, replace: bool = True) -> PairedDevice:
        """Store ``device``; with ``replace=False`` an already paired address is a ValueError."""
        if not isinstance(device, PairedDevice):
            raise ValueError(f"add() takes a PairedDevice, got {type(device).__name__}")
        with self._locked(exclusive=True):
            devices = self._read()
            if device.address in devices and not replace:
                raise ValueError(f"{device.address} is already paired (as {devices[device.address].placement}); "
                                 "remove it first or pass replace=True")
            devices[device.address] = device
            self._write(devices)
        return device

    def remove(self, address: str) -> PairedDevice:
        """Forget the device paired under ``address`` and return it; KeyError naming the paired addresses otherwise."""
        key = normalize_address(address)
        with self._locked(exclusive=True):
            devices = self._read()
            if key not in devices:
                raise KeyError(self._unknown(key, devices))
            dev = devices.pop(key)
            self._write(devices)
        return dev

    @staticmethod
    def _unknown(address: str, devices: dict[str, PairedDevice]) -> str:
        known = ", ".join(devices) or "none (pair one with `anymo pair ADDRESS --placement NAME`)"
        return f"no paired device {address}; paired devices: {known}"


__all__ = ["SCHEMA_VERSION", "Calibration", "PairedDevice", "PairingStore", "atomic_write_text", "default_store_path",
           "normalize_address"]
