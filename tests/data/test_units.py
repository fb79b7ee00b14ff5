from __future__ import annotations

import numpy as np
import pytest

from anymo.data.units import acc_to_mps2, dps_to_rads, g_to_mps2, gyro_to_rads, hmp_code_to_g, mag_to_uT, mg_to_mps2


def test_gravity_units_convert_to_mps2() -> None:
    assert g_to_mps2(np.array([1.0]))[0] == pytest.approx(9.80665)
    assert mg_to_mps2(np.array([1000.0, -500.0])).tolist() == pytest.approx([9.80665, -4.903325])
    assert acc_to_mps2(np.array([2.0]), "g")[0] == pytest.approx(19.6133)
    assert acc_to_mps2(np.array([250.0]), "mg")[0] == pytest.approx(2.4516625)
    assert acc_to_mps2(np.array([3.5]), "m/s²")[0] == 3.5


def test_gyro_and_mag_units() -> None:
    assert dps_to_rads(np.array([180.0]))[0] == pytest.approx(np.pi)
    assert gyro_to_rads(np.array([90.0]), "deg/s")[0] == pytest.approx(np.pi / 2)
    assert gyro_to_rads(np.array([1.25]), "rad/s")[0] == 1.25
    assert mag_to_uT(np.array([0.5]), "gauss")[0] == pytest.approx(50.0)


def test_hmp_codes_map_onto_plus_minus_1p5_g() -> None:
    assert hmp_code_to_g(np.array([0, 63, 21])).tolist() == pytest.approx([-1.5, 1.5, -0.5])
    with pytest.raises(ValueError, match="0..63"):
        hmp_code_to_g(np.array([64]))


def test_unknown_unit_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown accelerometer unit 'ft/s2'.*mg"):
        acc_to_mps2(np.zeros(3), "ft/s2")
    with pytest.raises(ValueError, match="unknown gyroscope unit 'rpm'.*deg/s"):
        gyro_to_rads(np.zeros(3), "rpm")
