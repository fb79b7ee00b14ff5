"""IMU simulation: body motion -> specific force and angular rate at body-surface placements.

``imu`` (ideal physics on a fine grid, band-limiting, sampling), ``mounting`` (device rotation on the
skin, soft-tissue wobble), ``hardware`` (range, noise, bias, scale/cross-axis, ADC, clocks) and its
device presets, ``simulate`` (the whole chain); `anymo simulate`: ``config`` (`DatasetConfig`), ``sources``
(the motion source contract), ``source_registry`` (the table of sources), ``unit`` (one work unit through `anymo.preprocess`), ``captions``,
``placement_draw``, ``pool``, ``dataset`` (folder, shards, manifest), ``shards`` and ``cli``.
"""
