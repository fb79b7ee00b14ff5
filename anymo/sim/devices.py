"""Hardware presets for real wearables and phones, from the datasheets of the IMU chips inside them.

Every number carries its source next to it. Tags: [found] = seen in a public copy of the source while
writing this (Polar SDK docs, MbientLab docs, a Movesense API table, datasheet excerpts);
[DS] = the datasheet's typical value as recalled, not re-read here — verify against the PDF before
relying on it; [assumed] = a modelling choice where the datasheet says nothing. Datasheet "typ ±x"
values are used as 1σ (see ``anymo.sim.hardware``).

Bias drift: datasheets give no in-run instability for these parts, but they give the offset's
temperature coefficient; a worn device warms and cools by a few kelvin, so the Gauss-Markov drift is
tempco × 3 K with a 300 s thermal time constant [assumed].

Clocks: BLE wearables time-stamp with an nRF52 MCU on a 32.768 kHz crystal (±20 ppm class) [assumed];
phones/watches stamp with the host clock (±50 ppm) [assumed]. The IMU's own oscillator can be off by
more; check a real recording's effective rate (evaluation only, never tuning).
"""

from __future__ import annotations

from anymo.sim.hardware import IDEAL, ImuHardware

_THERMAL_K = 3.0  # assumed temperature swing of a body-worn device (K)

# --- chips ------------------------------------------------------------------------------------------

# Bosch BMI270 (BST-BMI270-DS000, rev 1.3-1.5): MetaMotionS.
_BMI270 = dict(
    chip="Bosch BMI270",
    acc_noise_density_ug_rthz=160.0,  # [found] "Accel Noise Density 0.16 mg/√Hz"
    gyro_noise_density_mdps_rthz=7.0,  # [found] "performance mode ... typ. < 7 mdps/√Hz"
    acc_bias_mg=20.0,  # [DS] zero-g offset ±20 mg
    gyro_bias_dps=0.5,  # [found] zero-rate offset ±0.5 dps (quoted on the Bosch forum)
    acc_bias_instability_mg=0.2 * _THERMAL_K,  # [DS] zero-g offset tempco ±0.2 mg/K
    gyro_bias_instability_dps=0.02 * _THERMAL_K,  # [DS] zero-rate offset tempco ±0.02 dps/K
    acc_scale_error_frac=0.004,  # [DS] sensitivity error ±0.4 %
    gyro_scale_error_frac=0.004,  # [DS] sensitivity error ±0.4 % (after CRT)
    acc_cross_axis_frac=0.01,  # [DS] cross-axis sensitivity 1 %
    gyro_cross_axis_frac=0.01,  # [DS] cross-axis sensitivity 1 %
    acc_adc_bits=16,  # [found] 16-bit accelerometer
    gyro_adc_bits=16,  # [found] 16-bit gyroscope
    bandwidth_frac=0.405,  # [found] Bosch normal filter mode: -3 dB at ≈0.405·ODR (BMI160 DS: OSR4 at 50 Hz = 5.06 Hz, 4× below normal)
)

# Bosch BMI160 (BST-BMI160-DS000-07/08): MetaMotionR / MetaMotionC, MetaWear C/RG/CPro.
_BMI160 = dict(
    chip="Bosch BMI160",
    acc_noise_density_ug_rthz=180.0,  # [DS] output noise density 180 µg/√Hz
    gyro_noise_density_mdps_rthz=7.0,  # [DS] output noise density 0.007 °/s/√Hz
    acc_bias_mg=40.0,  # [DS] zero-g offset ±40 mg
    gyro_bias_dps=3.0,  # [found] zero-rate offset ±3 °/s (quoted on the Bosch forum)
    acc_bias_instability_mg=1.0 * _THERMAL_K,  # [DS] zero-g offset tempco ±1 mg/K
    gyro_bias_instability_dps=0.05 * _THERMAL_K,  # [DS] zero-rate offset tempco ±0.05 °/s/K
    acc_scale_error_frac=0.01,  # [DS] sensitivity tolerance ±1 %
    gyro_scale_error_frac=0.01,  # [DS] sensitivity tolerance ±1 %
    acc_cross_axis_frac=0.01,  # [DS] cross-axis sensitivity 1 %
    gyro_cross_axis_frac=0.01,  # [DS] cross-axis sensitivity 1 %
    gyro_g_sensitivity_dps_per_g=0.1,  # [DS] g-sensitivity 0.1 °/s/g
    acc_adc_bits=16,  # [found] 16 bit digital, triaxial accelerometer
    gyro_adc_bits=16,  # [found] 16 bit digital, triaxial gyroscope
    bandwidth_frac=0.405,  # [found] normal filter mode, see _BMI270
)

# ST LSM6DSL (DocID028475): assumed for the Polar Verity Sense — Polar does not publish the part; its
# ODR ladder (26·2^k Hz) and ±250..2000 dps ranges [found, Polar SDK] match ST's LSM6DSL family.
_LSM6DSL = dict(
    chip="ST LSM6DSL (assumed)",
    acc_noise_density_ug_rthz=80.0,  # [DS] An, high-performance mode, 80 µg/√Hz
    gyro_noise_density_mdps_rthz=4.0,  # [DS] Rn, 4 mdps/√Hz
    acc_bias_mg=40.0,  # [DS] LA_TyOff ±40 mg
    gyro_bias_dps=2.0,  # [DS] G_TyOff ±2 dps
    acc_bias_instability_mg=0.1 * _THERMAL_K,  # [DS] LA_OffDr ±0.1 mg/°C
    gyro_bias_instability_dps=0.015 * _THERMAL_K,  # [DS] G_OffDr ±0.015 dps/°C
    acc_scale_error_frac=0.01,  # [assumed] ST lists no sensitivity tolerance in this table; 1 %
    gyro_scale_error_frac=0.01,  # [assumed] 1 %
    acc_cross_axis_frac=0.01,  # [assumed] ST does not list cross-axis in the datasheet; 1 %
    gyro_cross_axis_frac=0.01,  # [assumed] 1 %
    acc_adc_bits=16,  # [found] Polar SDK: resolution 16
    gyro_adc_bits=16,  # [found] Polar SDK: resolution 16
    bandwidth_frac=0.45,  # [DS] digital LPF1 at ≈ODR/2 ("noise RMS related to BW = ODR/2"), kept under Nyquist
)

# ST LSM6DS3 (DocID026899): Movesense — its gyro ranges 245/500/1000/2000 dps [found, Movesense API]
# are the LSM6DS3's (±245 dps is unique to that generation).
_LSM6DS3 = dict(
    chip="ST LSM6DS3",
    acc_noise_density_ug_rthz=90.0,  # [DS] An, high-performance mode, 90 µg/√Hz
    gyro_noise_density_mdps_rthz=7.0,  # [DS] Rn, 7 mdps/√Hz
    acc_bias_mg=40.0,  # [DS] LA_TyOff ±40 mg
    gyro_bias_dps=10.0,  # [DS] G_TyOff ±10 dps
    acc_bias_instability_mg=0.5 * _THERMAL_K,  # [DS] LA_OffDr ±0.5 mg/°C
    gyro_bias_instability_dps=0.05 * _THERMAL_K,  # [DS] G_OffDr ±0.05 dps/°C
    acc_scale_error_frac=0.01,  # [assumed] 1 %
    gyro_scale_error_frac=0.01,  # [assumed] 1 %
    acc_cross_axis_frac=0.01,  # [assumed] 1 %
    gyro_cross_axis_frac=0.01,  # [assumed] 1 %
    acc_adc_bits=16,  # [found] 16-bit output (LSM6DS3 driver docs)
    gyro_adc_bits=16,
    bandwidth_frac=0.45,  # [DS] ≈ODR/2, kept under Nyquist
)

# ST LSM6DSO (DS12140 rev 2): a typical smartwatch IMU (ST markets it for smart watches [found]).
_LSM6DSO = dict(
    chip="ST LSM6DSO",
    acc_noise_density_ug_rthz=80.0,  # [DS] An at FS ±8 g (70 at ±2 g, 75 at ±4 g, 110 at ±16 g) µg/√Hz
    gyro_noise_density_mdps_rthz=3.8,  # [DS] Rn 3.8 mdps/√Hz
    acc_bias_mg=20.0,  # [DS] LA_TyOff ±20 mg
    gyro_bias_dps=1.0,  # [DS] G_TyOff ±1 dps
    acc_bias_instability_mg=0.1 * _THERMAL_K,  # [DS] LA_OffDr ±0.1 mg/°C
    gyro_bias_instability_dps=0.01 * _THERMAL_K,  # [DS] G_OffDr ±0.01 dps/°C
    acc_scale_error_frac=0.01,  # [assumed] 1 %
    gyro_scale_error_frac=0.01,  # [assumed] 1 %
    acc_cross_axis_frac=0.01,  # [assumed] 1 %
    gyro_cross_axis_frac=0.01,  # [assumed] 1 %
    acc_adc_bits=16,  # [found] 1 LSb = 0.061 mg at ±2 g (16 bit)
    gyro_adc_bits=16,  # [found] 1 LSb = 70 mdps at ±2000 dps (16 bit)
    bandwidth_frac=0.45,  # [DS] ≈ODR/2, kept under Nyquist
)

# TDK InvenSense ICM-42605 (DS-000292 rev 1.5): a typical phone IMU.
_ICM42605 = dict(
    chip="TDK ICM-42605",
    acc_noise_density_ug_rthz=70.0,  # [found] "Accelerometer Noise: 70 µg/√Hz"
    gyro_noise_density_mdps_rthz=3.8,  # [found] "Gyroscope Noise: 3.8 mdps/√Hz"
    acc_bias_mg=20.0,  # [DS] zero-g initial tolerance ±20 mg
    gyro_bias_dps=0.5,  # [DS] ZRO initial tolerance ±0.5 dps
    acc_bias_instability_mg=0.15 * _THERMAL_K,  # [DS] zero-g level change vs temperature ±0.15 mg/°C
    gyro_bias_instability_dps=0.005 * _THERMAL_K,  # [DS] ZRO variation over temperature ±0.005 dps/°C
    acc_scale_error_frac=0.005,  # [DS] sensitivity initial tolerance ±0.5 %
    gyro_scale_error_frac=0.005,  # [DS] sensitivity initial tolerance ±0.5 %
    acc_cross_axis_frac=0.02,  # [DS] cross-axis sensitivity ±2 %
    gyro_cross_axis_frac=0.02,  # [DS] cross-axis sensitivity ±2 %
    acc_adc_bits=16,  # [DS] 16-bit data registers
    gyro_adc_bits=16,
    bandwidth_frac=0.25,  # [DS] default UI filter bandwidth ODR/4
)

_BLE_WEARABLE_CLOCK = dict(clock_drift_ppm=20.0, random_start_phase=True)  # [assumed] nRF52 + 32.768 kHz crystal
_HOST_CLOCK = dict(clock_drift_ppm=50.0, random_start_phase=True)  # [assumed] host-clock time stamps

# --- devices ----------------------------------------------------------------------------------------

SMARTWATCH = ImuHardware(
    name="smartwatch",
    description="wrist smartwatch (Wear OS class) with an ST LSM6DSO, sensor-hub time stamps",
    acc_range_g=8.0,  # [assumed] ±8 g, the common Android watch setting (chip: ±2/4/8/16 g)
    gyro_range_dps=2000.0,  # [assumed] ±2000 dps (chip: ±125..2000 dps)
    rate_hz=52.0,  # [assumed] the ODR an app asking for ~50 Hz (SENSOR_DELAY_GAME) gets
    supported_rates_hz=(12.5, 26.0, 52.0, 104.0, 208.0, 416.0),  # [found] LSM6DSO ODR ladder (to what a watch exposes)
    timestamp_jitter_s=0.2e-3,  # [assumed] sensor-hub FIFO time stamps, 0.2 ms
    **_HOST_CLOCK,
    **_LSM6DSO,
)

POLAR_VERITY = ImuHardware(
    name="polar-verity",
    description="Polar Verity Sense (arm band), ACC+GYRO over Polar PMD; 52 Hz, or 26-416 Hz in SDK mode",
    acc_range_g=8.0,  # [found] Polar SDK: range 8 G in normal mode (2/4/8/16 G in SDK mode)
    gyro_range_dps=2000.0,  # [found] Polar SDK: 2000 dps (250/500/1000/2000 in SDK mode)
    rate_hz=52.0,  # [found] Polar SDK: 52 Hz in normal operation
    supported_rates_hz=(26.0, 52.0, 104.0, 208.0, 416.0),  # [found] Polar SDK mode table
    timestamp_jitter_s=0.1e-3,  # [assumed] per-frame ns time stamps, samples spread evenly inside a frame
    **_BLE_WEARABLE_CLOCK,
    **_LSM6DSL,
)

MOVESENSE = ImuHardware(
    name="movesense",
    description="Movesense sensor (chest strap / clip), /Meas/IMU6 over the Movesense GATT protocol",
    acc_range_g=8.0,  # [assumed] ±8 g (configurable 2/4/8/16 g [found])
    gyro_range_dps=2000.0,  # [assumed] ±2000 dps (configurable 245/500/1000/2000 dps [found])
    rate_hz=52.0,  # [assumed] 52 Hz, the rate most Movesense apps subscribe to
    supported_rates_hz=(13.0, 26.0, 52.0, 104.0, 208.0, 416.0, 833.0, 1666.0),  # [found] /Meas/IMU6/{Rate}
    timestamp_jitter_s=0.1e-3,  # [assumed] one time stamp per packet, samples spread evenly inside it
    **_BLE_WEARABLE_CLOCK,
    **_LSM6DS3,
)

METAMOTION = ImuHardware(
    name="metamotion",
    description="MbientLab MetaMotionS (BMI270) streaming accelerometer and gyroscope",
    acc_range_g=16.0,  # [assumed] ±16 g (configurable 2/4/8/16 g [found])
    gyro_range_dps=2000.0,  # [found] MetaWear gyro ranges 125..2000 dps
    rate_hz=100.0,  # [assumed] 100 Hz, a common MetaBase setting
    supported_rates_hz=(25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0),  # [found] MetaWear ODRs common to acc and gyro
    timestamp_jitter_s=0.1e-3,  # [assumed] per-packet tick-counter time stamps, samples spread evenly
    **_BLE_WEARABLE_CLOCK,
    **_BMI270,
)

METAMOTION_R = ImuHardware(
    name="metamotion-r",
    description="MbientLab MetaMotionR / MetaMotionC (BMI160), the older MetaWear boards",
    acc_range_g=16.0,  # [assumed] ±16 g (configurable 2/4/8/16 g [found])
    gyro_range_dps=2000.0,  # [found] MetaWear gyro ranges 125..2000 dps
    rate_hz=100.0,  # [assumed]
    supported_rates_hz=(25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0),  # [found] BMI160 gyro 25..3200 Hz, acc 12.5..1600 Hz
    timestamp_jitter_s=0.1e-3,  # [assumed] per-packet tick-counter time stamps, samples spread evenly
    **_BLE_WEARABLE_CLOCK,
    **_BMI160,
)

PHONE = ImuHardware(
    name="phone",
    description="smartphone in a pocket or hand, TDK ICM-42605 behind the Android sensor HAL",
    acc_range_g=8.0,  # [assumed] ±8 g (chip: ±2/4/8/16 g [found])
    gyro_range_dps=2000.0,  # [found] chip: ±15.6..2000 dps
    rate_hz=100.0,  # [assumed]
    supported_rates_hz=(12.5, 25.0, 50.0, 100.0, 200.0, 500.0),  # [DS] ICM-42605 ODRs up to 500 Hz
    timestamp_jitter_s=0.2e-3,  # [assumed] sensor-hub FIFO time stamps through the HAL, 0.2 ms
    **_HOST_CLOCK,
    **_ICM42605,
)

DEVICE_PRESETS: dict[str, ImuHardware] = {
    hw.name: hw for hw in (IDEAL, SMARTWATCH, POLAR_VERITY, MOVESENSE, METAMOTION, METAMOTION_R, PHONE)
}


def device_preset(name: str) -> ImuHardware:
    """The preset called ``name``; unknown names raise ValueError listing the valid ones."""
    try:
        return DEVICE_PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown device preset {name!r}; valid names: {', '.join(DEVICE_PRESETS)}") from None
