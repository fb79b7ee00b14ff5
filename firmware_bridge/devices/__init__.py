"""Device registry: one ``DeviceDriver`` and one ``VirtualPeripheral`` factory per device type id."""

from __future__ import annotations

from collections.abc import Callable

from . import polar
from .anymo_imu import AnymoImuDriver, AnymoImuPeripheral
from .base import DeviceDriver, VirtualPeripheral
from .metawear import MetaWearDriver, MetaWearPeripheral
from .movesense import MovesenseDriver, MovesensePeripheral
from .thingy52 import Thingy52Driver, Thingy52Peripheral
from .witmotion import WitMotionDriver, WitMotionPeripheral

_DRIVERS: list[DeviceDriver] = [AnymoImuDriver(), *polar.DRIVERS, MetaWearDriver(), MovesenseDriver(),
                                WitMotionDriver(), Thingy52Driver()]
_PERIPHERALS: dict[str, Callable[..., VirtualPeripheral]] = {
    "anymo-imu": AnymoImuPeripheral, **polar.PERIPHERALS, "metamotion": MetaWearPeripheral,
    "movesense": MovesensePeripheral, "witmotion-wt901ble": WitMotionPeripheral, "thingy52": Thingy52Peripheral}

DRIVERS: dict[str, DeviceDriver] = {d.device_type: d for d in _DRIVERS}
PERIPHERALS: dict[str, Callable[..., VirtualPeripheral]] = dict(_PERIPHERALS)
assert set(DRIVERS) == set(PERIPHERALS), "every driver needs its virtual peripheral"


def get_driver(device_type: str) -> DeviceDriver:
    """The driver for ``device_type``; a ValueError listing the valid types otherwise."""
    try:
        return DRIVERS[device_type]
    except KeyError:
        raise ValueError(f"unknown device type {device_type!r}; valid types: {', '.join(sorted(DRIVERS))}") from None


def get_peripheral(device_type: str, **kwargs) -> VirtualPeripheral:
    """A new virtual peripheral for ``device_type`` (for the emulator); ValueError listing valid types otherwise."""
    try:
        factory = PERIPHERALS[device_type]
    except KeyError:
        raise ValueError(f"unknown device type {device_type!r}; valid types: {', '.join(sorted(PERIPHERALS))}") from None
    return factory(**kwargs)


__all__ = ["DRIVERS", "PERIPHERALS", "get_driver", "get_peripheral"]
