/* Host stand-in for the slice of the Arduino core the AnyMo IMU sketch uses (tests only). */
#ifndef ARDUINO_HOST_ARDUINO_H
#define ARDUINO_HOST_ARDUINO_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern uint64_t host_time_us;  /* the fake clock: the harness advances it */
inline uint32_t micros() { return (uint32_t)host_time_us; }
inline uint32_t millis() { return (uint32_t)(host_time_us / 1000); }
inline void delay(unsigned long ms) { host_time_us += 1000ull * ms; }
#define OUTPUT 1
#define HIGH 1
#define LOW 0
#define LED_BUILTIN 13
inline void pinMode(int, int) {}
inline void digitalWrite(int, int) {}
inline int digitalRead(int) { return 0; }

struct HostSerial {
    void begin(long) {}
    void print(const char *s) { fprintf(stderr, "%s", s); }
    void println(const char *s) { fprintf(stderr, "%s\n", s); }
};
extern HostSerial Serial;
#endif
