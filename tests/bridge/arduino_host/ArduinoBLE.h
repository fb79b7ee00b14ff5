/* Host stand-in for the slice of ArduinoBLE the AnyMo IMU sketch uses (tests only): characteristics keep
 * their value like ArduinoBLE (a write sets it, and notifies it when the central subscribed); every
 * notification is printed to stdout as "notify <uuid> <hex>". */
#ifndef ARDUINO_HOST_ARDUINOBLE_H
#define ARDUINO_HOST_ARDUINOBLE_H
#include "Arduino.h"

enum { BLERead = 0x02, BLEWrite = 0x08, BLENotify = 0x10 };
enum BLECharacteristicEvent { BLESubscribed = 0, BLEUnsubscribed = 1, BLERead_ = 2, BLEWritten = 3 };
enum BLEDeviceEvent { BLEConnected = 0, BLEDisconnected = 1 };

struct BLEDevice {};
class BLECharacteristic;
typedef void (*BLECharacteristicEventHandler)(BLEDevice, BLECharacteristic);
typedef void (*BLEDeviceEventHandler)(BLEDevice);

class BLECharacteristic {
  public:
    BLECharacteristic(const char *uuid, uint8_t props, int size, bool fixed = false)
        : uuid_(uuid), props_(props), size_(size), fixed_(fixed), len_(0), subscribed_(false), self_(this) {
        memset(handlers_, 0, sizeof handlers_);
    }
    BLECharacteristic(const BLECharacteristic &o) { *this = o; }
    BLECharacteristic &operator=(const BLECharacteristic &o) {
        memcpy((void *)this, (const void *)&o, sizeof *this);
        return *this;
    }
    int writeValue(const uint8_t *value, int length) {
        BLECharacteristic *c = self_;
        c->len_ = length < c->size_ ? length : c->size_;
        memcpy(c->value_, value, c->len_);
        if (c->fixed_) c->len_ = c->size_;
        if ((c->props_ & BLENotify) && c->subscribed_) {
            printf("notify %s ", c->uuid_);
            for (int i = 0; i < c->len_; i++) printf("%02x", c->value_[i]);
            printf("\n");
        }
        return 1;
    }
    const uint8_t *value() const { return self_->value_; }
    int valueLength() const { return self_->len_; }
    void setEventHandler(int event, BLECharacteristicEventHandler h) { handlers_[event] = h; }
    /* the central's side */
    void central_write(const uint8_t *data, int length) {
        writeValue(data, length);  /* ArduinoBLE stores (and echoes) the written value */
        if (handlers_[BLEWritten]) handlers_[BLEWritten](BLEDevice(), *this);
    }
    void central_subscribe(bool on) {
        subscribed_ = on;
        int ev = on ? BLESubscribed : BLEUnsubscribed;
        if (handlers_[ev]) handlers_[ev](BLEDevice(), *this);
    }
    const char *uuid_;
    uint8_t props_;
    int size_;
    bool fixed_;
    int len_;
    bool subscribed_;
    BLECharacteristic *self_;
    uint8_t value_[512];
    BLECharacteristicEventHandler handlers_[4];
};

class BLEService {
  public:
    explicit BLEService(const char *uuid) : uuid_(uuid) {}
    void addCharacteristic(BLECharacteristic &) {}
    const char *uuid_;
};

class BLELocalDevice {
  public:
    bool begin() { return true; }
    void poll() {}
    bool connected() const { return connected_; }
    int advertise() { advertising_ = true; return 1; }
    void setDeviceName(const char *) {}
    void setLocalName(const char *name) { name_ = name; }
    void setAdvertisedService(const BLEService &s) { service_ = s.uuid_; }
    void setAdvertisingInterval(uint16_t) {}
    void addService(BLEService &) {}
    void setEventHandler(int event, BLEDeviceEventHandler h) { handlers_[event] = h; }
    const char *address() const { return "AA:4D:00:00:00:99"; }
    void central_connect() { connected_ = true; advertising_ = false; }
    void central_disconnect() {
        connected_ = false;
        if (handlers_[BLEDisconnected]) handlers_[BLEDisconnected](BLEDevice());
    }
    bool connected_ = false, advertising_ = false;
    const char *name_ = 0, *service_ = 0;
    BLEDeviceEventHandler handlers_[2] = {0, 0};
};
extern BLELocalDevice BLE;
#endif
