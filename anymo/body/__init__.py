"""The body: 23-segment skeleton, its surface and the sensor placements on it (numpy only)."""
