"""Battery level where a wearable reports it: the standard GATT Battery Service (0x180F), Battery Level 0x2A19.

Central side: ``watch_battery(gatt, on_level)`` reads the level once a link is up, then follows its
notifications, or re-reads it every ``poll_s`` when the characteristic does not notify; it ends quietly when
the device has no Battery Service or the link drops. Peripheral side: ``BatteryLevel`` is the emulated
service (a slow discharge, notified on change), offered by the emulator for device types whose real
hardware has it (``VirtualPeripheral.battery_service``: Polar H10/OH1/Verity Sense, MetaWear, Thingy:52,
AnyMo IMU; not Movesense or WitMotion, which report battery through their own protocols).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from .devices.base import GattCharacteristicSpec, GattClient, GattServiceSpec

log = logging.getLogger(__name__)

BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
POLL_S = 60.0


def parse_level(data: bytes) -> int | None:
    """Battery Level: one uint8, percent 0..100 (other values are not a level)."""
    if len(data) < 1 or data[0] > 100:
        return None
    return int(data[0])


async def watch_battery(gatt: GattClient, on_level: Callable[[int], None], poll_s: float = POLL_S) -> bool:
    """Report the battery level through ``on_level`` while the link lasts; False when the device has none.

    Run it as a task next to the stream and cancel it when the link ends (it stops notifications then)."""
    try:
        level = parse_level(await gatt.read(BATTERY_LEVEL_UUID))
    except Exception as exc:  # noqa: BLE001 - no Battery Service (or no link): nothing to report
        log.debug("no battery level: %s", exc)
        return False
    if level is not None:
        on_level(level)

    def on_notify(_uuid: str, data: bytes) -> None:
        value = parse_level(data)
        if value is not None:
            on_level(value)

    try:
        await gatt.start_notify(BATTERY_LEVEL_UUID, on_notify)
        notifying = True
    except Exception as exc:  # noqa: BLE001 - read-only Battery Level: poll it
        log.debug("battery level does not notify (%s); polling every %g s", exc, poll_s)
        notifying = False
    try:
        while True:
            await asyncio.sleep(poll_s)
            if not notifying:
                value = parse_level(await gatt.read(BATTERY_LEVEL_UUID))
                if value is not None:
                    on_level(value)
    except asyncio.CancelledError:
        if notifying:
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.wait_for(gatt.stop_notify(BATTERY_LEVEL_UUID), 2.0))
        raise
    except Exception as exc:  # noqa: BLE001 - the link dropped
        log.debug("battery polling ended: %s", exc)
        return True


class BatteryLevel:
    """The emulated Battery Service: starts at ``level_pct`` and loses 1 % every ``pct_every_s`` seconds."""

    service = GattServiceSpec(BATTERY_SERVICE_UUID, (GattCharacteristicSpec(BATTERY_LEVEL_UUID, ("read", "notify")),))

    def __init__(self, level_pct: int = 87, pct_every_s: float = 30.0, now: Callable[[], float] | None = None) -> None:
        import time

        self._now = now or time.monotonic
        self._t0 = self._now()
        self.level0 = int(level_pct)
        self.pct_every_s = float(pct_every_s)
        self.notifying = False
        self._last_sent: int | None = None

    def level(self) -> int:
        return max(0, self.level0 - int((self._now() - self._t0) / self.pct_every_s))

    def read(self) -> bytes:
        return bytes([self.level()])

    def changed(self) -> bytes | None:
        """The new value to notify when the level dropped since the last notification (and someone listens)."""
        level = self.level()
        if not self.notifying or level == self._last_sent:
            return None
        self._last_sent = level
        return bytes([level])
