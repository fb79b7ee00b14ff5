/*
 * imu_shim.h - the small driver layer between the sketch and an IMU chip.
 *
 * A shim provides, in namespace imu:
 *   bool begin(uint8_t &sensor_id, uint8_t &sensors, uint8_t &acc_range_mask, uint8_t &gyro_range_mask);
 *   bool configure(uint8_t acc_range_g, uint16_t gyro_range_dps);  // full scales from the START command
 *   bool read(float acc_mps2[3], float gyro_rads[3]);              // the latest sample, SI units, sensor axes
 *   void sleep();                                                  // power down between streams
 * Values leave the shim in SI units; the sketch quantises them to the profile's scale
 * (anymo_quantize), so a chip's native sensitivity never leaks into the packets.
 *
 * Shims here (choose one with a #define before including this file, see anymo_imu.ino):
 *   ANYMO_IMU_LSM6DS3   ST LSM6DS3 / LSM6DS3TR-C / LSM6DSOX over I2C (address 0x6A or 0x6B), registers only
 *   ANYMO_IMU_SYNTHETIC no chip: a device turning slowly about its x axis (bring-up of the BLE side)
 * To add a chip (e.g. a BMI270), write the four functions above for it in a new #elif block.
 */
#ifndef ANYMO_IMU_SHIM_H
#define ANYMO_IMU_SHIM_H

#include <Arduino.h>
#include <math.h>

#include "anymo_imu_packet.h"

#if defined(ANYMO_IMU_LSM6DS3)
#include <Wire.h>

/* The I2C bus of the IMU. The XIAO nRF52840 Sense wires its on-board IMU to a second, internal bus. */
#ifndef ANYMO_IMU_WIRE
#if defined(PIN_LSM6DS3TR_C_POWER) && (defined(PIN_WIRE1_SDA) || (defined(WIRE_INTERFACES_COUNT) && WIRE_INTERFACES_COUNT > 1))
#define ANYMO_IMU_WIRE Wire1
#else
#define ANYMO_IMU_WIRE Wire
#endif
#endif

namespace imu {

const uint8_t REG_WHO_AM_I = 0x0F, REG_CTRL1_XL = 0x10, REG_CTRL2_G = 0x11, REG_CTRL3_C = 0x12, REG_OUTX_L_G = 0x22;
const uint8_t ODR_416HZ = 0x60;  // bits 7..4 = 0110: 416 Hz, at least 2x every output rate the sketch offers

uint8_t address = 0x6A;
float acc_mps2_per_lsb = 0.0f, gyro_rads_per_lsb = 0.0f;

inline bool write_reg(uint8_t reg, uint8_t value) {
    ANYMO_IMU_WIRE.beginTransmission(address);
    ANYMO_IMU_WIRE.write(reg);
    ANYMO_IMU_WIRE.write(value);
    return ANYMO_IMU_WIRE.endTransmission() == 0;
}

inline bool read_regs(uint8_t reg, uint8_t *out, uint8_t n) {
    ANYMO_IMU_WIRE.beginTransmission(address);
    ANYMO_IMU_WIRE.write(reg);
    if (ANYMO_IMU_WIRE.endTransmission(false) != 0) return false;
    if (ANYMO_IMU_WIRE.requestFrom(address, n) != n) return false;
    for (uint8_t i = 0; i < n; i++) out[i] = (uint8_t)ANYMO_IMU_WIRE.read();
    return true;
}

inline bool begin(uint8_t &sensor_id, uint8_t &sensors, uint8_t &acc_range_mask, uint8_t &gyro_range_mask) {
#ifdef PIN_LSM6DS3TR_C_POWER  // Seeed XIAO nRF52840 Sense: the IMU has a power switch
    pinMode(PIN_LSM6DS3TR_C_POWER, OUTPUT);
    digitalWrite(PIN_LSM6DS3TR_C_POWER, HIGH);
    delay(10);
#endif
    ANYMO_IMU_WIRE.begin();
    ANYMO_IMU_WIRE.setClock(400000);
    const uint8_t candidates[2] = {0x6A, 0x6B};
    for (uint8_t c = 0; c < 2; c++) {
        address = candidates[c];
        uint8_t who = 0;
        if (!read_regs(REG_WHO_AM_I, &who, 1)) continue;
        if (who == 0x69 || who == 0x6A) sensor_id = ANYMO_SENSOR_LSM6DS3;  // LSM6DS3(3), LSM6DS3TR-C
        else if (who == 0x6C) sensor_id = ANYMO_SENSOR_LSM6DSOX;         // LSM6DSOX / LSM6DSO
        else continue;
        sensors = ANYMO_FLAG_ACC | ANYMO_FLAG_GYRO;
        acc_range_mask = 0x0F;   // +-2, 4, 8, 16 g
        gyro_range_mask = 0x1F;  // +-125, 250, 500, 1000, 2000 dps
        return write_reg(REG_CTRL3_C, 0x44);  // BDU: no torn samples; IF_INC: burst reads
    }
    return false;
}

inline bool configure(uint8_t acc_range_g, uint16_t gyro_range_dps) {
    uint8_t fs_xl;
    float acc_mg_per_lsb;  // datasheet sensitivities, not range/32768
    switch (acc_range_g) {
        case 2: fs_xl = 0x00; acc_mg_per_lsb = 0.061f; break;
        case 4: fs_xl = 0x08; acc_mg_per_lsb = 0.122f; break;
        case 8: fs_xl = 0x0C; acc_mg_per_lsb = 0.244f; break;
        case 16: fs_xl = 0x04; acc_mg_per_lsb = 0.488f; break;
        default: return false;
    }
    uint8_t fs_g;
    float gyro_mdps_per_lsb;
    switch (gyro_range_dps) {
        case 125: fs_g = 0x02; gyro_mdps_per_lsb = 4.375f; break;
        case 250: fs_g = 0x00; gyro_mdps_per_lsb = 8.75f; break;
        case 500: fs_g = 0x04; gyro_mdps_per_lsb = 17.5f; break;
        case 1000: fs_g = 0x08; gyro_mdps_per_lsb = 35.0f; break;
        case 2000: fs_g = 0x0C; gyro_mdps_per_lsb = 70.0f; break;
        default: fs_g = 0x0C; gyro_mdps_per_lsb = 70.0f; break;  // gyro not streamed: any valid setting
    }
    acc_mps2_per_lsb = acc_mg_per_lsb * 1e-3f * 9.80665f;
    gyro_rads_per_lsb = gyro_mdps_per_lsb * 1e-3f * (3.14159265f / 180.0f);
    bool ok = write_reg(REG_CTRL1_XL, ODR_416HZ | fs_xl) && write_reg(REG_CTRL2_G, ODR_416HZ | fs_g);
    delay(20);  // let the first samples settle after the mode change
    return ok;
}

inline bool read(float acc_mps2[3], float gyro_rads[3]) {
    uint8_t b[12];  // gyro x, y, z then acc x, y, z: int16 little-endian
    if (!read_regs(REG_OUTX_L_G, b, 12)) return false;
    for (int k = 0; k < 3; k++) {
        gyro_rads[k] = (int16_t)(b[2 * k] | (b[2 * k + 1] << 8)) * gyro_rads_per_lsb;
        acc_mps2[k] = (int16_t)(b[6 + 2 * k] | (b[6 + 2 * k + 1] << 8)) * acc_mps2_per_lsb;
    }
    return true;
}

inline void sleep() {
    write_reg(REG_CTRL1_XL, 0x00);
    write_reg(REG_CTRL2_G, 0x00);
}

}  // namespace imu

#elif defined(ANYMO_IMU_SYNTHETIC)

namespace imu {

const float OMEGA_RADS = 0.5f;  // turning about x at 0.5 rad/s, gravity rotating accordingly in the sensor frame

inline bool begin(uint8_t &sensor_id, uint8_t &sensors, uint8_t &acc_range_mask, uint8_t &gyro_range_mask) {
    sensor_id = ANYMO_SENSOR_UNKNOWN;
    sensors = ANYMO_FLAG_ACC | ANYMO_FLAG_GYRO;
    acc_range_mask = 0x0F;
    gyro_range_mask = 0x1F;
    return true;
}

inline bool configure(uint8_t, uint16_t) { return true; }

inline bool read(float acc_mps2[3], float gyro_rads[3]) {
    static uint32_t last_us = 0;
    static bool started = false;
    static float angle = 0.0f;  // integrated from micros() differences: continuous across its 2^32 wrap
    uint32_t now_us = micros();
    if (started) angle = fmodf(angle + OMEGA_RADS * (uint32_t)(now_us - last_us) * 1e-6f, 6.28318531f);
    started = true;
    last_us = now_us;
    acc_mps2[0] = 0.0f;
    acc_mps2[1] = 9.80665f * sinf(angle);
    acc_mps2[2] = 9.80665f * cosf(angle);
    gyro_rads[0] = OMEGA_RADS;
    gyro_rads[1] = 0.0f;
    gyro_rads[2] = 0.0f;
    return true;
}

inline void sleep() {}

}  // namespace imu

#else
#error "choose an IMU shim: #define ANYMO_IMU_LSM6DS3 or ANYMO_IMU_SYNTHETIC before #include \"imu_shim.h\""
#endif

#endif /* ANYMO_IMU_SHIM_H */
