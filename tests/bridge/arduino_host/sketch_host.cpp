/* Runs the AnyMo IMU sketch on the host against the ArduinoBLE/Arduino stand-ins (driven by
 * tests/bridge/test_firmware_bytes.py). stdin, one command per line:
 *   connect | disconnect | subscribe config|data | unsubscribe config|data | write HEX | run MICROSECONDS
 *   adv | read info|config | imu REG=HEX... (set fake LSM6DS3 registers; ANYMO_IMU_LSM6DS3 builds)
 * stdout: every notification as "notify <uuid> <hex>", and "advertising <0|1> <name> <service>" for "adv". */
#include "Arduino.h"
#include "ArduinoBLE.h"
#include "Wire.h"

uint64_t host_time_us = 4294967296ull - 1500000ull;  /* 1.5 s before micros() wraps */
HostSerial Serial;
BLELocalDevice BLE;
TwoWire Wire;
FakeLsm6ds3 fake_imu;

#include "anymo_imu.ino"

int main() {
    setup();
    char line[1024];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[32] = {0}, arg[1000] = {0};
        if (sscanf(line, "%31s %999s", cmd, arg) < 1) continue;
        if (!strcmp(cmd, "connect")) BLE.central_connect();
        else if (!strcmp(cmd, "disconnect")) BLE.central_disconnect();
        else if (!strcmp(cmd, "subscribe") || !strcmp(cmd, "unsubscribe"))
            (!strcmp(arg, "data") ? dataChar : configChar).central_subscribe(cmd[0] == 's');
        else if (!strcmp(cmd, "write")) {
            uint8_t data[512];
            int n = 0;
            for (const char *p = arg; p[0] && p[1] && n < 512; p += 2) {
                unsigned v;
                sscanf(p, "%2x", &v);
                data[n++] = (uint8_t)v;
            }
            configChar.central_write(data, strcmp(arg, "-") ? n : 0);
        } else if (!strcmp(cmd, "run")) {
            uint64_t end = host_time_us + strtoull(arg, 0, 10);
            while (host_time_us < end) {
                loop();
                host_time_us += 37;  /* loop() period: deliberately not a divisor of any sample period */
            }
        } else if (!strcmp(cmd, "imu")) {  /* imu 22 HEXBYTES: registers from 0x22 on */
            unsigned reg = 0;
            char hex[512] = {0};
            sscanf(line, "imu %x %511s", &reg, hex);
            for (const char *p = hex; p[0] && p[1]; p += 2) {
                unsigned v;
                sscanf(p, "%2x", &v);
                fake_imu.regs[(reg++) & 0x7F] = (uint8_t)v;
            }
        } else if (!strcmp(cmd, "adv")) {
            printf("advertising %d %s %s\n", BLE.advertising_ ? 1 : 0, BLE.name_, BLE.service_);
        } else if (!strcmp(cmd, "read")) {
            printf("read %s ", arg);
            BLECharacteristic &c = !strcmp(arg, "info") ? infoChar : configChar;
            for (int i = 0; i < c.valueLength(); i++) printf("%02x", c.value()[i]);
            printf("\n");
        }
        fflush(stdout);
    }
    return 0;
}
