"""The simulator's device presets and the BLE drivers describe the same hardware: the rates a driver can
set (acc and gyro together) are rates of the matching preset, and asked for any rate in the supported
range both pick the same one - so `anymo simulate` streams a preset at the rate the real device would.

`anymo/` knows nothing of BLE and the bridge nothing of the simulator; this test is where the two
tables meet. Presets without a BLE driver (smartwatch, phone: their host OS streams them) are not here.
"""

from __future__ import annotations

import numpy as np
import pytest

from anymo.constants import MAX_RATE_HZ, MIN_RATE_HZ
from anymo.sim.devices import DEVICE_PRESETS
from firmware_bridge.devices import metawear, movesense, polar
from firmware_bridge.devices.common import nearest


def _driver_rates(driver: str) -> set[float]:
    """Rates the driver can configure with both accelerometer and gyroscope streaming."""
    if driver == "movesense":
        return {float(r) for r in movesense.RATES_HZ}
    if driver == "metawear":
        return set(metawear.ACC_ODR) & set(metawear.GYRO_ODR)
    spec = polar.POLAR_MODELS[driver].sensors
    return {float(r) for r in spec[polar.ACC].rates_hz} & {float(r) for r in spec[polar.GYRO].rates_hz}


# preset -> (driver, whether the driver's table is the whole of the preset's)
PAIRS = {
    "movesense": ("movesense", True),
    "metamotion": ("metawear", True),
    "metamotion-r": ("metawear", True),
    # the Verity driver's emulated PMD settings offer 52 Hz only (the device offers 26..416 Hz, as the preset)
    "polar-verity": ("polar-verity", False),
}


@pytest.mark.parametrize("preset", sorted(PAIRS))
def test_preset_and_driver_rate_tables_agree(preset: str) -> None:
    driver, whole = PAIRS[preset]
    hw = DEVICE_PRESETS[preset]
    sim, ble = {float(r) for r in hw.supported_rates_hz}, _driver_rates(driver)
    assert ble and ble <= sim, f"{driver} can set {sorted(ble - sim)} Hz, which preset {preset} does not list"
    if whole:
        assert sim == ble, f"preset {preset} lists {sorted(sim - ble)} Hz that the {driver} driver cannot set"
    requests = np.geomspace(MIN_RATE_HZ, MAX_RATE_HZ, 97)
    chosen = [(r, hw.nearest_rate(r), nearest(r, ble)) for r in requests]
    differ = [c for c in chosen if c[1] != c[2] and (whole or c[2] == c[1])]
    assert not differ, f"{preset} vs {driver}: (asked, preset, driver) {differ[:3]}"
    assert hw.nearest_rate(60.0) == nearest(60.0, ble)  # the model's rate: what the simulator streams at


def test_every_preset_with_a_ble_driver_is_paired() -> None:
    no_driver = {"smartwatch", "phone"}
    assert set(DEVICE_PRESETS) - {"ideal"} - no_driver == set(PAIRS)
