"""Placement geometry tables the encoder keeps as buffers (numpy; built from `anymo.body`).

Row ``placement_id + 1`` of each table describes one placement of the reference table
(`anymo.body.surface.reference_placements`, 2400 rows); row 0 is "unknown placement" (id -1), for which
the network substitutes a learned vector. The kinematic-tree distances between the 23 segments (plus an
"unknown" segment) bias the attention between sensors.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from anymo.body.skeleton import N_SEGMENTS, PARENTS, BodyShape, make_skeleton
from anymo.body.surface import reference_placements

UNKNOWN_SEGMENT = N_SEGMENTS  # segment index used for an unknown placement
GEOMETRY_FEATURES = 16  # rest position (3) + sensor frame (9) + surface coords (along, cos/sin around) (3) + known flag (1)


@lru_cache(maxsize=1)
def placement_geometry() -> tuple[np.ndarray, np.ndarray]:
    """(features float32 [2401, 16], segment int64 [2401]); row 0 = unknown (zeros, segment 23).

    Features: the placement's position in the rest pose relative to the pelvis, in body heights
    (world frame, z up, x forward); its sensor frame in the rest pose (tangent, binormal, normal columns);
    the normalised surface coordinate along the segment and the angle around it (cos, sin); a 1 = known flag.
    """
    table = reference_placements()
    shape = BodyShape()
    rest = make_skeleton(shape).rest_positions_m()
    pos = (rest[table.segment_id] + table.position_m - rest[0]) / shape.height_m
    ang = 2 * np.pi * table.u[:, 1]
    feats = np.concatenate(
        [pos, table.frame.reshape(-1, 9), table.u[:, :1], np.cos(ang)[:, None], np.sin(ang)[:, None], np.ones((len(table), 1))],
        axis=1,
    )
    out = np.zeros((len(table) + 1, GEOMETRY_FEATURES), np.float32)
    out[table.placement_id + 1] = feats
    seg = np.full(len(table) + 1, UNKNOWN_SEGMENT, np.int64)
    seg[table.placement_id + 1] = table.segment_id
    return out, seg


@lru_cache(maxsize=4)
def segment_graph_distance(max_distance: int) -> np.ndarray:
    """int64 [24, 24]: hops between segments along the kinematic tree, capped at ``max_distance``;
    any pair with the unknown segment (index 23) gets ``max_distance + 1``."""
    n = N_SEGMENTS
    adj = [[] for _ in range(n)]
    for i, p in enumerate(PARENTS):
        if p >= 0:
            adj[i].append(p)
            adj[p].append(i)
    dist = np.full((n + 1, n + 1), max_distance + 1, np.int64)
    for s in range(n):
        d = {s: 0}
        frontier = [s]
        while frontier:
            nxt = []
            for u in frontier:
                for v in adj[u]:
                    if v not in d:
                        d[v] = d[u] + 1
                        nxt.append(v)
            frontier = nxt
        for t, k in d.items():
            dist[s, t] = min(k, max_distance)
    return dist
