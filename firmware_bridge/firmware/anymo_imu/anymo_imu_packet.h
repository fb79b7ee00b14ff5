/*
 * anymo_imu_packet.h - the byte layouts of the open "AnyMo IMU" GATT profile, version 1.
 *
 * Normative spec: firmware_bridge/docs/anymo_imu_profile.md. This header is the portable core of the
 * reference firmware: pure functions, no allocation, no Arduino, no BLE stack, C99 and C++11. The sketch
 * (anymo_imu.ino) calls it; the host tests (tests/bridge/test_firmware_bytes.py) compile it with gcc and
 * check it produces the document's example bytes, byte for byte, and answers control-point writes exactly
 * like the Python emulator (firmware_bridge/devices/anymo_imu.py).
 *
 * Every multi-byte field is little-endian and written byte by byte, so the code does not depend on the
 * CPU's endianness or on struct packing.
 */
#ifndef ANYMO_IMU_PACKET_H
#define ANYMO_IMU_PACKET_H

#include <stddef.h>
#include <stdint.h>

#define ANYMO_PROTOCOL_VERSION 1

/* 128-bit UUIDs: base 616eXXXX-6d6f-4d55-9e00-494d55303031 */
#define ANYMO_SERVICE_UUID "616e0001-6d6f-4d55-9e00-494d55303031"
#define ANYMO_INFO_UUID    "616e0002-6d6f-4d55-9e00-494d55303031"
#define ANYMO_CONFIG_UUID  "616e0003-6d6f-4d55-9e00-494d55303031"
#define ANYMO_DATA_UUID    "616e0004-6d6f-4d55-9e00-494d55303031"

/* sensor flags (data packet byte 1, START byte 1, info byte 5) */
#define ANYMO_FLAG_ACC  0x01
#define ANYMO_FLAG_GYRO 0x02
#define ANYMO_FLAG_MAG  0x04
#define ANYMO_FLAGS_ALL 0x07

/* control point */
#define ANYMO_OP_START     0x01
#define ANYMO_OP_STOP      0x02
#define ANYMO_REPLY_MARKER 0xF0
#define ANYMO_STATUS_OK             0
#define ANYMO_STATUS_BAD_LENGTH     1
#define ANYMO_STATUS_UNSUPPORTED    2
#define ANYMO_STATUS_UNKNOWN_OPCODE 3
#define ANYMO_STATUS_SENSOR_ERROR   4

#define ANYMO_HEADER_SIZE      16 /* data packet header */
#define ANYMO_START_SIZE        8 /* START command */
#define ANYMO_CONFIG_BODY_SIZE  7 /* applied configuration: START without its opcode */
#define ANYMO_REPLY_MAX_SIZE   (3 + ANYMO_CONFIG_BODY_SIZE)
#define ANYMO_INFO_FIXED_SIZE   9 /* info bytes before the rate list */
#define ANYMO_MAX_SAMPLES     255 /* n is a u8 */

#define ANYMO_MAG_UT_PER_LSB 0.1 /* fixed: mag_uT = raw * 0.1 */

/* info range bitmasks: bit i <-> ANYMO_ACC_RANGES_G[i] / ANYMO_GYRO_RANGES_DPS[i] */
#define ANYMO_N_ACC_RANGES 4
#define ANYMO_N_GYRO_RANGES 5
static const uint8_t ANYMO_ACC_RANGES_G[ANYMO_N_ACC_RANGES] = {2, 4, 8, 16};
static const uint16_t ANYMO_GYRO_RANGES_DPS[ANYMO_N_GYRO_RANGES] = {125, 250, 500, 1000, 2000};

/* sensor ids (info byte 4) */
#define ANYMO_SENSOR_UNKNOWN  0
#define ANYMO_SENSOR_LSM6DS3  1
#define ANYMO_SENSOR_BMI270   2
#define ANYMO_SENSOR_LSM9DS1  3
#define ANYMO_SENSOR_MPU6050  4
#define ANYMO_SENSOR_ICM20948 5
#define ANYMO_SENSOR_BMI160   6
#define ANYMO_SENSOR_LSM6DSOX 7
#define ANYMO_SENSOR_EMULATOR 0xFF

/* What the device can do: the info characteristic. */
typedef struct {
    uint8_t fw_major, fw_minor, fw_patch;
    uint8_t sensor_id;
    uint8_t sensors;         /* ANYMO_FLAG_* the hardware has */
    uint8_t acc_range_mask;  /* bit i set: ANYMO_ACC_RANGES_G[i] supported */
    uint8_t gyro_range_mask; /* bit i set: ANYMO_GYRO_RANGES_DPS[i] supported */
    uint8_t n_rates;
    const uint16_t *rates_hz; /* n_rates supported output rates, ascending */
} anymo_info_t;

/* A stream configuration: the body of START and of its reply. */
typedef struct {
    uint8_t sensors;
    uint16_t rate_hz;
    uint8_t acc_range_g;
    uint16_t gyro_range_dps;
    uint8_t samples_per_packet; /* 0 in START: "as many as fit" */
} anymo_config_t;

/* The device's protocol state for one connection. */
typedef struct {
    uint8_t streaming;
    anymo_config_t cfg;       /* applied configuration (valid while streaming) */
    uint16_t seq;             /* next data packet's sequence number */
    uint16_t max_payload;     /* ATT_MTU - 3: the most bytes one notification may carry */
} anymo_state_t;

/* --- little-endian field access ---------------------------------------------------------------- */

static inline void anymo_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

static inline void anymo_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static inline void anymo_put_i16(uint8_t *p, int16_t v) { anymo_put_u16(p, (uint16_t)v); }

static inline uint16_t anymo_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* --- scales ------------------------------------------------------------------------------------- */

/* m/s^2 per LSB at +-range_g; rad/s per LSB at +-range_dps (int16 full scale = the range). Double, so
 * the quantisation below matches the Python codec's float64 arithmetic. */
static inline double anymo_acc_lsb_mps2(uint8_t range_g) { return (double)range_g * 9.80665 / 32768.0; }

static inline double anymo_gyro_lsb_rads(uint16_t range_dps) {
    return (double)range_dps * 3.14159265358979323846 / 180.0 / 32768.0; /* same order as the Python codec */
}

/* value / lsb rounded to the nearest integer (ties to even, like numpy's round), saturated to int16:
 * never wraps. Exact: floor and fraction of a double below 2^52 involve no rounding. */
static inline int16_t anymo_quantize(double value, double lsb) {
    double x = value / lsb;
    if (!(x == x)) return 0; /* NaN */
    if (x >= 32767.0) return 32767;
    if (x <= -32768.0) return -32768;
    long r = (long)x;            /* truncates toward zero ... */
    if ((double)r > x) r -= 1;   /* ... so step down to the floor for negatives */
    double frac = x - (double)r; /* in [0, 1) */
    if (frac > 0.5 || (frac == 0.5 && (r & 1))) r += 1;
    return (int16_t)r;
}

/* --- data packets ------------------------------------------------------------------------------- */

static inline uint8_t anymo_bytes_per_sample(uint8_t flags) {
    return (uint8_t)(6 * (((flags & ANYMO_FLAG_ACC) != 0) + ((flags & ANYMO_FLAG_GYRO) != 0) +
                          ((flags & ANYMO_FLAG_MAG) != 0)));
}

static inline size_t anymo_packet_size(uint8_t flags, uint8_t n) {
    return ANYMO_HEADER_SIZE + (size_t)n * anymo_bytes_per_sample(flags);
}

/* Most samples per notification for ``max_payload`` = ATT_MTU - 3 bytes; 0 if not even one fits. */
static inline uint8_t anymo_max_samples_per_packet(uint8_t flags, uint16_t max_payload) {
    uint8_t per = anymo_bytes_per_sample(flags);
    if (per == 0 || max_payload < ANYMO_HEADER_SIZE + per) return 0;
    size_t n = (size_t)(max_payload - ANYMO_HEADER_SIZE) / per;
    return (uint8_t)(n > ANYMO_MAX_SAMPLES ? ANYMO_MAX_SAMPLES : n);
}

/* Write the 16-byte header (seq and t_first_us are taken modulo 2^16 / 2^32 by their width). */
static inline void anymo_pack_header(uint8_t *buf, uint8_t flags, uint16_t seq, uint32_t t_first_us,
                                     uint32_t period_us, uint8_t n, uint8_t acc_range_g, uint16_t gyro_range_dps) {
    buf[0] = ANYMO_PROTOCOL_VERSION;
    buf[1] = flags;
    anymo_put_u16(buf + 2, seq);
    anymo_put_u32(buf + 4, t_first_us);
    anymo_put_u32(buf + 8, period_us);
    buf[12] = n;
    buf[13] = acc_range_g;
    anymo_put_u16(buf + 14, gyro_range_dps);
}

/* Write sample ``index`` (raw int16 x, y, z per present sensor, in the order acc, gyro, mag) after the
 * header. Blocks whose flag is clear are skipped (their pointer may be NULL). */
static inline void anymo_put_sample(uint8_t *buf, uint8_t flags, uint8_t index, const int16_t *acc_raw,
                                    const int16_t *gyro_raw, const int16_t *mag_raw) {
    uint8_t *p = buf + ANYMO_HEADER_SIZE + (size_t)index * anymo_bytes_per_sample(flags);
    const int16_t *blocks[3] = {acc_raw, gyro_raw, mag_raw};
    for (int b = 0; b < 3; b++) {
        if (!(flags & (1 << b))) continue;
        for (int k = 0; k < 3; k++) anymo_put_i16(p + 2 * k, blocks[b][k]);
        p += 6;
    }
}

/* A whole packet from ``samples``: n rows of 3 * (number of present sensors) int16, sample-major in
 * the order acc xyz, gyro xyz, mag xyz. Returns its size, or 0 when it does not fit ``cap`` / n is 0. */
static inline size_t anymo_pack_data(uint8_t *buf, size_t cap, uint8_t flags, uint16_t seq, uint32_t t_first_us,
                                     uint32_t period_us, uint8_t acc_range_g, uint16_t gyro_range_dps, uint8_t n,
                                     const int16_t *samples) {
    size_t size = anymo_packet_size(flags, n);
    uint8_t per = anymo_bytes_per_sample(flags);
    if (n == 0 || per == 0 || (flags & ~ANYMO_FLAGS_ALL) || size > cap) return 0;
    anymo_pack_header(buf, flags, seq, t_first_us, period_us, n, acc_range_g, gyro_range_dps);
    for (size_t i = 0; i < (size_t)n * (per / 2); i++) anymo_put_i16(buf + ANYMO_HEADER_SIZE + 2 * i, samples[i]);
    return size;
}

/* --- info characteristic ------------------------------------------------------------------------ */

static inline size_t anymo_info_size(const anymo_info_t *info) { return ANYMO_INFO_FIXED_SIZE + 2u * info->n_rates; }

static inline size_t anymo_pack_info(uint8_t *buf, size_t cap, const anymo_info_t *info) {
    size_t size = anymo_info_size(info);
    if (size > cap) return 0;
    buf[0] = ANYMO_PROTOCOL_VERSION;
    buf[1] = info->fw_major;
    buf[2] = info->fw_minor;
    buf[3] = info->fw_patch;
    buf[4] = info->sensor_id;
    buf[5] = info->sensors;
    buf[6] = info->acc_range_mask;
    buf[7] = info->gyro_range_mask;
    buf[8] = info->n_rates;
    for (uint8_t i = 0; i < info->n_rates; i++) anymo_put_u16(buf + ANYMO_INFO_FIXED_SIZE + 2 * i, info->rates_hz[i]);
    return size;
}

/* --- control point ------------------------------------------------------------------------------ */

static inline void anymo_pack_config_body(uint8_t *buf, const anymo_config_t *cfg) {
    buf[0] = cfg->sensors;
    anymo_put_u16(buf + 1, cfg->rate_hz);
    buf[3] = cfg->acc_range_g;
    anymo_put_u16(buf + 4, cfg->gyro_range_dps);
    buf[6] = cfg->samples_per_packet;
}

static inline void anymo_unpack_config_body(const uint8_t *buf, anymo_config_t *cfg) {
    cfg->sensors = buf[0];
    cfg->rate_hz = anymo_get_u16(buf + 1);
    cfg->acc_range_g = buf[3];
    cfg->gyro_range_dps = anymo_get_u16(buf + 4);
    cfg->samples_per_packet = buf[6];
}

/* The START command a central writes (the device never sends it; here for hosts and tests). */
static inline size_t anymo_pack_start(uint8_t *buf, size_t cap, const anymo_config_t *cfg) {
    if (cap < ANYMO_START_SIZE) return 0;
    buf[0] = ANYMO_OP_START;
    anymo_pack_config_body(buf + 1, cfg);
    return ANYMO_START_SIZE;
}

/* Reply notification: F0, opcode, status, then the applied configuration when ``applied`` is not NULL. */
static inline size_t anymo_pack_reply(uint8_t *buf, size_t cap, uint8_t opcode, uint8_t status,
                                      const anymo_config_t *applied) {
    size_t size = applied ? ANYMO_REPLY_MAX_SIZE : 3;
    if (size > cap) return 0;
    buf[0] = ANYMO_REPLY_MARKER;
    buf[1] = opcode;
    buf[2] = status;
    if (applied) anymo_pack_config_body(buf + 3, applied);
    return size;
}

/* Value of the config characteristic when read: streaming (0/1), then the applied configuration. */
static inline size_t anymo_pack_config_read(uint8_t *buf, size_t cap, const anymo_state_t *st) {
    if (cap < 1 + ANYMO_CONFIG_BODY_SIZE) return 0;
    buf[0] = st->streaming ? 1 : 0;
    anymo_pack_config_body(buf + 1, &st->cfg);
    return 1 + ANYMO_CONFIG_BODY_SIZE;
}

static inline int anymo_acc_range_supported(const anymo_info_t *info, uint8_t range_g) {
    for (int i = 0; i < ANYMO_N_ACC_RANGES; i++)
        if (ANYMO_ACC_RANGES_G[i] == range_g) return (info->acc_range_mask >> i) & 1;
    return 0;
}

static inline int anymo_gyro_range_supported(const anymo_info_t *info, uint16_t range_dps) {
    for (int i = 0; i < ANYMO_N_GYRO_RANGES; i++)
        if (ANYMO_GYRO_RANGES_DPS[i] == range_dps) return (info->gyro_range_mask >> i) & 1;
    return 0;
}

static inline int anymo_rate_supported(const anymo_info_t *info, uint16_t rate_hz) {
    for (uint8_t i = 0; i < info->n_rates; i++)
        if (info->rates_hz[i] == rate_hz) return 1;
    return 0;
}

/* START validation: ANYMO_STATUS_OK or ANYMO_STATUS_UNSUPPORTED (see the spec, "Rate and range negotiation"). */
static inline uint8_t anymo_check_start(const anymo_info_t *info, const anymo_config_t *req, uint16_t max_payload) {
    if (req->sensors == 0 || (req->sensors & ~info->sensors)) return ANYMO_STATUS_UNSUPPORTED;
    if (!anymo_rate_supported(info, req->rate_hz)) return ANYMO_STATUS_UNSUPPORTED;
    if ((req->sensors & ANYMO_FLAG_ACC) && !anymo_acc_range_supported(info, req->acc_range_g))
        return ANYMO_STATUS_UNSUPPORTED;
    if ((req->sensors & ANYMO_FLAG_GYRO) && !anymo_gyro_range_supported(info, req->gyro_range_dps))
        return ANYMO_STATUS_UNSUPPORTED;
    if (anymo_max_samples_per_packet(req->sensors, max_payload) == 0) return ANYMO_STATUS_UNSUPPORTED;
    return ANYMO_STATUS_OK;
}

/* Handle one write to the config characteristic: update ``st`` and write the reply notification into
 * ``reply`` (at least ANYMO_REPLY_MAX_SIZE bytes). Returns the reply length (0: no reply, empty write).
 * On an accepted START the caller configures the sensor and starts sampling at seq 0; if the sensor
 * then fails it should send anymo_pack_reply(..., ANYMO_STATUS_SENSOR_ERROR, NULL) instead and clear
 * ``st->streaming``. */
static inline size_t anymo_handle_write(const anymo_info_t *info, anymo_state_t *st, const uint8_t *data, size_t len,
                                        uint8_t *reply, size_t cap) {
    if (len == 0) return 0;
    uint8_t op = data[0];
    if (op == ANYMO_OP_STOP) {
        if (len != 1) return anymo_pack_reply(reply, cap, op, ANYMO_STATUS_BAD_LENGTH, NULL);
        st->streaming = 0;
        return anymo_pack_reply(reply, cap, op, ANYMO_STATUS_OK, NULL);
    }
    if (op != ANYMO_OP_START) return anymo_pack_reply(reply, cap, op, ANYMO_STATUS_UNKNOWN_OPCODE, NULL);
    if (len != ANYMO_START_SIZE) return anymo_pack_reply(reply, cap, op, ANYMO_STATUS_BAD_LENGTH, NULL);
    anymo_config_t req;
    anymo_unpack_config_body(data + 1, &req);
    uint8_t status = anymo_check_start(info, &req, st->max_payload);
    if (status != ANYMO_STATUS_OK) return anymo_pack_reply(reply, cap, op, status, NULL);
    uint8_t max_spp = anymo_max_samples_per_packet(req.sensors, st->max_payload);
    if (req.samples_per_packet == 0 || req.samples_per_packet > max_spp) req.samples_per_packet = max_spp;
    st->cfg = req;
    st->seq = 0;
    st->streaming = 1;
    return anymo_pack_reply(reply, cap, op, ANYMO_STATUS_OK, &st->cfg);
}

#endif /* ANYMO_IMU_PACKET_H */
