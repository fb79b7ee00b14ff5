"""Facts the whole project shares, defined once (no imports: any module may use them)."""

STANDARD_GRAVITY_MPS2 = 9.80665  # m/s² per g (ISO 80000-3)

# Sampling rates the preprocessing supports (recordings, user imports, live streams, the simulator's
# output): below 10 Hz nothing of human movement is left to resample, above 1 kHz no wearable streams.
MIN_RATE_HZ = 10.0
MAX_RATE_HZ = 1000.0
