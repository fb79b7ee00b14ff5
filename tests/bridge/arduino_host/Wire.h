/* Host stand-in for Wire with a fake LSM6DS3TR-C at 0x6A (tests only): WHO_AM_I 0x6A, register writes are
 * printed as "i2c <reg> <value>" (hex), and the output registers hold fixed raw values set by the harness. */
#ifndef ARDUINO_HOST_WIRE_H
#define ARDUINO_HOST_WIRE_H
#include "Arduino.h"

struct FakeLsm6ds3 {
    uint8_t regs[128];
    FakeLsm6ds3() {
        memset(regs, 0, sizeof regs);
        regs[0x0F] = 0x6A;
    }
};
extern FakeLsm6ds3 fake_imu;

class TwoWire {
  public:
    void begin() {}
    void setClock(long) {}
    void beginTransmission(uint8_t address) { addr_ = address; n_ = 0; }
    int write(uint8_t b) { if (n_ < 2) buf_[n_++] = b; return 1; }
    int endTransmission(bool = true) {
        if (addr_ != 0x6A) return 2;  /* NACK: nobody at this address */
        reg_ = buf_[0];
        if (n_ == 2) {
            fake_imu.regs[reg_ & 0x7F] = buf_[1];
            printf("i2c %02x %02x\n", reg_, buf_[1]);
        }
        return 0;
    }
    uint8_t requestFrom(uint8_t address, uint8_t n) { return address == 0x6A ? n : 0; }
    int read() { return fake_imu.regs[(reg_++) & 0x7F]; }

  private:
    uint8_t addr_ = 0, buf_[2] = {0, 0}, n_ = 0, reg_ = 0;
};
extern TwoWire Wire;
#endif
