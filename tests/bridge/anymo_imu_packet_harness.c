/* Host harness for firmware_bridge/firmware/anymo_imu/anymo_imu_packet.h (driven by test_firmware_bytes.py).
 *
 * Reads one command per line on stdin, prints one line per command on stdout:
 *   info FMAJ FMIN FPAT SENSOR_ID SENSORS ACC_MASK GYRO_MASK RATE...   -> info bytes (hex); also the info used by "write"
 *   start SENSORS RATE ACC GYRO SPP                                     -> START command (hex)
 *   reply OPCODE STATUS [SENSORS RATE ACC GYRO SPP]                     -> reply notification (hex)
 *   data FLAGS SEQ T_FIRST_US PERIOD_US ACC_RANGE GYRO_RANGE N RAW...   -> data packet (hex), "-" if refused
 *   session MAX_PAYLOAD [SENSORS RATE ACC GYRO SPP]                     -> "ok": new connection state (+ defaults)
 *   write HEX                                                           -> "REPLY CONFIG_READ SEQ" (hex, "-" = none)
 *   qacc RANGE_G VALUE / qgyro RANGE_DPS VALUE                          -> the quantised int16
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anymo_imu_packet.h"

static void print_hex(const uint8_t *buf, size_t n) {
    if (n == 0) fputs("-", stdout);
    for (size_t i = 0; i < n; i++) printf("%02x", buf[i]);
}

static size_t parse_hex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    if (strcmp(s, "-") == 0) return 0;
    while (s[0] && s[1] && n < cap) {
        char pair[3] = {s[0], s[1], 0};
        out[n++] = (uint8_t)strtoul(pair, NULL, 16);
        s += 2;
    }
    return n;
}

int main(void) {
    static char line[1 << 16];
    static uint16_t rates[128];
    static uint8_t buf[8192];
    static int16_t raw[4096];
    anymo_info_t info = {0};
    anymo_state_t st = {0};
    while (fgets(line, sizeof line, stdin)) {
        char *tok[4200];
        int nt = 0;
        for (char *t = strtok(line, " \t\r\n"); t && nt < 4200; t = strtok(NULL, " \t\r\n")) tok[nt++] = t;
        if (nt == 0) continue;
        const char *cmd = tok[0];
#define ARG(i) strtol(tok[i], NULL, 0)
        if (strcmp(cmd, "info") == 0 && nt >= 8) {
            info.fw_major = (uint8_t)ARG(1); info.fw_minor = (uint8_t)ARG(2); info.fw_patch = (uint8_t)ARG(3);
            info.sensor_id = (uint8_t)ARG(4); info.sensors = (uint8_t)ARG(5);
            info.acc_range_mask = (uint8_t)ARG(6); info.gyro_range_mask = (uint8_t)ARG(7);
            info.n_rates = (uint8_t)(nt - 8);
            for (int i = 8; i < nt; i++) rates[i - 8] = (uint16_t)ARG(i);
            info.rates_hz = rates;
            print_hex(buf, anymo_pack_info(buf, sizeof buf, &info));
        } else if (strcmp(cmd, "start") == 0 && nt == 6) {
            anymo_config_t c = {(uint8_t)ARG(1), (uint16_t)ARG(2), (uint8_t)ARG(3), (uint16_t)ARG(4), (uint8_t)ARG(5)};
            print_hex(buf, anymo_pack_start(buf, sizeof buf, &c));
        } else if (strcmp(cmd, "reply") == 0 && (nt == 3 || nt == 8)) {
            anymo_config_t c = {0};
            if (nt == 8) {
                anymo_config_t t = {(uint8_t)ARG(3), (uint16_t)ARG(4), (uint8_t)ARG(5), (uint16_t)ARG(6), (uint8_t)ARG(7)};
                c = t;
            }
            print_hex(buf, anymo_pack_reply(buf, sizeof buf, (uint8_t)ARG(1), (uint8_t)ARG(2), nt == 8 ? &c : NULL));
        } else if (strcmp(cmd, "data") == 0 && nt >= 8) {
            for (int i = 8; i < nt; i++) raw[i - 8] = (int16_t)ARG(i);
            print_hex(buf, anymo_pack_data(buf, sizeof buf, (uint8_t)ARG(1), (uint16_t)ARG(2), (uint32_t)strtoul(tok[3], NULL, 0),
                                           (uint32_t)strtoul(tok[4], NULL, 0), (uint8_t)ARG(5), (uint16_t)ARG(6),
                                           (uint8_t)ARG(7), raw));
        } else if (strcmp(cmd, "session") == 0 && (nt == 2 || nt == 7)) {
            memset(&st, 0, sizeof st);
            st.max_payload = (uint16_t)ARG(1);
            if (nt == 7) {
                anymo_config_t c = {(uint8_t)ARG(2), (uint16_t)ARG(3), (uint8_t)ARG(4), (uint16_t)ARG(5), (uint8_t)ARG(6)};
                st.cfg = c;
            }
            fputs("ok", stdout);
        } else if (strcmp(cmd, "write") == 0 && nt == 2) {
            uint8_t in[512];
            size_t n = parse_hex(tok[1], in, sizeof in);
            print_hex(buf, anymo_handle_write(&info, &st, in, n, buf, sizeof buf));
            fputs(" ", stdout);
            print_hex(buf, anymo_pack_config_read(buf, sizeof buf, &st));
            printf(" %u", (unsigned)st.seq);
        } else if (strcmp(cmd, "qacc") == 0 && nt == 3) {
            printf("%d", anymo_quantize(strtod(tok[2], NULL), anymo_acc_lsb_mps2((uint8_t)ARG(1))));
        } else if (strcmp(cmd, "qgyro") == 0 && nt == 3) {
            printf("%d", anymo_quantize(strtod(tok[2], NULL), anymo_gyro_lsb_rads((uint16_t)ARG(1))));
        } else {
            printf("error: bad command %s (%d tokens)", cmd, nt);
        }
        fputs("\n", stdout);
        fflush(stdout);
    }
    return 0;
}
