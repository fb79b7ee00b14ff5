/*
 * anymo_imu.ino - reference firmware for the open "AnyMo IMU" GATT profile, version 1
 * (spec: firmware_bridge/docs/anymo_imu_profile.md; wiring and flashing: README.md next to this file).
 *
 * One code path, ArduinoBLE, for nRF52840 boards (Arduino Nano 33 BLE, Seeed XIAO nRF52840 Sense on its
 * mbed core) and ESP32 boards (ESP32, -S3, -C3 on the Espressif core). The bytes come from the portable
 * core anymo_imu_packet.h, the same code the host tests check against the spec's examples.
 *
 * Sampling: the MCU's micros() clock schedules samples on an ideal timeline t_k = t_0 + k * period_us
 * and reads the IMU's latest output (the IMU runs at 416 Hz with its own anti-alias filter), so the
 * packet timestamps are exact by construction. If the loop falls more than 4 periods behind (a busy
 * radio), the late samples are skipped: the central sees a time gap with no seq gap (spec section 6.2).
 */
#if !defined(ANYMO_IMU_SYNTHETIC) && !defined(ANYMO_IMU_LSM6DS3)
#define ANYMO_IMU_LSM6DS3  // or ANYMO_IMU_SYNTHETIC to bring up the BLE side without a sensor
#endif

#include <ArduinoBLE.h>

#include "anymo_imu_packet.h"
#include "imu_shim.h"

#define FW_MAJOR 1
#define FW_MINOR 0
#define FW_PATCH 0
#define DEVICE_NAME "AnyMo IMU"  // must start with "AnyMo"; keep it short (it goes in the scan response)

/* Largest notification payload we send: ATT_MTU - 3. ArduinoBLE does not tell the sketch the negotiated
 * MTU, so assume 185 (iOS; BlueZ and Android negotiate more). The central can ask for fewer samples
 * per packet in START. */
#ifndef ANYMO_MAX_PAYLOAD
#define ANYMO_MAX_PAYLOAD 182
#endif
#define SKIP_AFTER_PERIODS 4

static const uint16_t RATES_HZ[] = {25, 50, 100, 200};
static anymo_info_t info = {FW_MAJOR, FW_MINOR, FW_PATCH, ANYMO_SENSOR_UNKNOWN, 0, 0, 0,
                            sizeof(RATES_HZ) / sizeof(RATES_HZ[0]), RATES_HZ};
static anymo_state_t state;

BLEService anymoService(ANYMO_SERVICE_UUID);
BLECharacteristic infoChar(ANYMO_INFO_UUID, BLERead, ANYMO_INFO_FIXED_SIZE + 2 * sizeof(RATES_HZ) / sizeof(RATES_HZ[0]),
                           true);
BLECharacteristic configChar(ANYMO_CONFIG_UUID, BLERead | BLEWrite | BLENotify, 20);  // 20: longer writes are seen
BLECharacteristic dataChar(ANYMO_DATA_UUID, BLENotify, ANYMO_MAX_PAYLOAD);

static uint8_t packet[ANYMO_MAX_PAYLOAD];
static uint8_t packet_n = 0;       // samples in the packet being filled
static uint32_t packet_t0_us = 0;  // device time of its first sample
static uint32_t period_us = 10000;
static uint32_t next_us = 0;       // when the next sample is due, on the ideal timeline

static void publish_state() {
    uint8_t buf[1 + ANYMO_CONFIG_BODY_SIZE];
    size_t n = anymo_pack_config_read(buf, sizeof buf, &state);
    configChar.writeValue(buf, n);  // ArduinoBLE also notifies it; centrals ignore config notifications not starting with F0
}

static void send_packet() {
    if (packet_n == 0) return;
    anymo_pack_header(packet, state.cfg.sensors, state.seq, packet_t0_us, period_us, packet_n, state.cfg.acc_range_g,
                      state.cfg.gyro_range_dps);
    dataChar.writeValue(packet, anymo_packet_size(state.cfg.sensors, packet_n));
    state.seq++;  // u16: wraps 65535 -> 0
    packet_n = 0;
}

static void stop_stream() {
    state.streaming = 0;
    packet_n = 0;  // unsent samples are discarded
    imu::sleep();
}

static void start_stream() {
    period_us = (1000000UL + state.cfg.rate_hz / 2) / state.cfg.rate_hz;  // round(1e6 / rate_hz)
    packet_n = 0;
    next_us = micros();
}

static void sample_if_due() {
    uint32_t now = micros();
    if ((int32_t)(now - next_us) < 0) return;
    if (now - next_us > SKIP_AFTER_PERIODS * period_us) {  // fell behind: send what we have, skip to now
        send_packet();
        next_us = now;
    }
    float acc[3], gyro[3];
    if (!imu::read(acc, gyro)) {  // a failed read: close the packet, leave a time gap
        send_packet();
        next_us += period_us;
        return;
    }
    int16_t acc_raw[3], gyro_raw[3];
    double acc_lsb = anymo_acc_lsb_mps2(state.cfg.acc_range_g), gyro_lsb = anymo_gyro_lsb_rads(state.cfg.gyro_range_dps);
    for (int k = 0; k < 3; k++) {
        acc_raw[k] = anymo_quantize(acc[k], acc_lsb);
        gyro_raw[k] = anymo_quantize(gyro[k], gyro_lsb);
    }
    if (packet_n == 0) packet_t0_us = next_us;
    anymo_put_sample(packet, state.cfg.sensors, packet_n, acc_raw, gyro_raw, NULL);
    packet_n++;
    next_us += period_us;
    if (packet_n >= state.cfg.samples_per_packet) send_packet();
}

/* BLE event handlers run inside BLE.poll(), in the middle of ATT processing: they only queue work,
 * loop() does it (no notifications sent from inside the stack). */
#define PENDING_MAX 4
static uint8_t pending[PENDING_MAX][20];
static uint8_t pending_len[PENDING_MAX];
static uint8_t pending_count = 0;
static bool disconnected = false, data_unsubscribed = false;

static void on_config_written(BLEDevice, BLECharacteristic ch) {
    if (pending_count == PENDING_MAX) return;  // a central floods the control point: drop (it gets no reply)
    int n = ch.valueLength();
    if (n > (int)sizeof pending[0]) n = sizeof pending[0];  // still longer than any command: BAD_LENGTH
    memcpy(pending[pending_count], ch.value(), n);
    pending_len[pending_count++] = (uint8_t)n;
}

static void on_data_unsubscribed(BLEDevice, BLECharacteristic) { data_unsubscribed = true; }

static void on_disconnected(BLEDevice) { disconnected = true; }

static void handle_command(const uint8_t *data, size_t len) {
    uint8_t reply[ANYMO_REPLY_MAX_SIZE];
    size_t n = anymo_handle_write(&info, &state, data, len, reply, sizeof reply);
    if (n == 0) return;
    if (reply[1] == ANYMO_OP_START && reply[2] == ANYMO_STATUS_OK) {
        if (imu::configure(state.cfg.acc_range_g, state.cfg.gyro_range_dps)) {
            start_stream();
        } else {
            stop_stream();
            n = anymo_pack_reply(reply, sizeof reply, ANYMO_OP_START, ANYMO_STATUS_SENSOR_ERROR, NULL);
        }
    } else if (reply[1] == ANYMO_OP_STOP && reply[2] == ANYMO_STATUS_OK) {
        stop_stream();
    }
    configChar.writeValue(reply, n);  // the reply notification
    publish_state();                  // what a read of the config characteristic returns
}

void setup() {
    Serial.begin(115200);
#ifdef LED_BUILTIN
    pinMode(LED_BUILTIN, OUTPUT);
#endif
    if (!imu::begin(info.sensor_id, info.sensors, info.acc_range_mask, info.gyro_range_mask)) {
        while (true) {  // no sensor: say so once a second (blink fast where there is an LED)
            Serial.println("anymo_imu: no IMU found (check wiring, or build with ANYMO_IMU_SYNTHETIC)");
#ifdef LED_BUILTIN
            for (int i = 0; i < 10; i++) { digitalWrite(LED_BUILTIN, i & 1); delay(100); }
#else
            delay(1000);
#endif
        }
    }
    imu::sleep();
    if (!BLE.begin()) {
        Serial.println("anymo_imu: BLE.begin() failed");
        while (true) delay(1000);
    }
    state.max_payload = ANYMO_MAX_PAYLOAD;
    anymo_config_t defaults = {ANYMO_FLAG_ACC | ANYMO_FLAG_GYRO, 100, 8, 2000, 0};
    state.cfg = defaults;

    uint8_t info_bytes[ANYMO_INFO_FIXED_SIZE + 2 * sizeof(RATES_HZ) / sizeof(RATES_HZ[0])];
    infoChar.writeValue(info_bytes, anymo_pack_info(info_bytes, sizeof info_bytes, &info));
    configChar.setEventHandler(BLEWritten, on_config_written);
    dataChar.setEventHandler(BLEUnsubscribed, on_data_unsubscribed);
    BLE.setEventHandler(BLEDisconnected, on_disconnected);
    anymoService.addCharacteristic(infoChar);
    anymoService.addCharacteristic(configChar);
    anymoService.addCharacteristic(dataChar);
    BLE.addService(anymoService);
    publish_state();

    BLE.setDeviceName(DEVICE_NAME);
    BLE.setLocalName(DEVICE_NAME);            // scan response (spec section 2)
    BLE.setAdvertisedService(anymoService);   // advertising data, with the flags
    BLE.setAdvertisingInterval(160);          // 160 x 0.625 ms = 100 ms
    BLE.advertise();
    Serial.print("anymo_imu: advertising as " DEVICE_NAME " at ");
    Serial.println(BLE.address());
}

void loop() {
    BLE.poll();
    if (disconnected) {  // the stream ends with the connection; commands still queued are void
        disconnected = data_unsubscribed = false;
        pending_count = 0;
        if (state.streaming) stop_stream();
        publish_state();
        if (!BLE.connected()) BLE.advertise();  // most cores resume by themselves; asking again is harmless
    }
    if (data_unsubscribed) {  // nobody listens to the data: stop (handled before any START queued after it)
        data_unsubscribed = false;
        if (state.streaming) stop_stream();
        publish_state();
    }
    for (uint8_t i = 0; i < pending_count; i++) handle_command(pending[i], pending_len[i]);
    pending_count = 0;
#ifdef LED_BUILTIN
    digitalWrite(LED_BUILTIN, state.streaming ? HIGH : LOW);
#endif
    if (state.streaming && BLE.connected()) sample_if_due();
}
