"""`anymo placements`: the body-surface placements and the named placements (numpy only)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from anymo.body.named_placements import NAMED_REGIONS, canonical_placement, placement_ids_for, placement_table_json
from anymo.body.placement_names import check_placement_name
from anymo.body.skeleton import SEGMENTS, BodyShape, make_skeleton
from anymo.body.surface import FRAME_CONVENTION, LATTICE_VERSION, lattice_digest, surface_placements


def _parser(prog: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=prog,
        description="List the candidate sensor placements on the body surface and the named placements "
        "(the names users and datasets use) with the surface region each maps to.",
    )
    ap.add_argument("--name", help="show one named placement's region, e.g. left_wrist")
    ap.add_argument("--json", metavar="FILE", help="write the full placement table (id, segment, position, frame) as JSON")
    ap.add_argument("--segments", action="store_true", help="list the candidate count per segment")
    ap.add_argument("--height-m", type=float, default=BodyShape.height_m, help="body height in metres (default %(default)s)")
    ap.add_argument("--sex", choices=("female", "male", "neutral"), default=BodyShape.sex)
    ap.add_argument("--build", type=float, default=BodyShape.build, help="girth scale: 0.85 slim, 1.0 average, 1.2 heavy")
    return ap


def _fmt(v: np.ndarray, digits: int = 3) -> str:
    return "(" + ", ".join(f"{x:+.{digits}f}" for x in v) + ")"


def main(argv: list[str], prog: str = "anymo placements") -> int:
    args = _parser(prog).parse_args(argv)
    try:
        shape = BodyShape(height_m=args.height_m, sex=args.sex, build=args.build)
        name = check_placement_name(args.name) if args.name else None
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    skeleton = make_skeleton(shape)
    table = surface_placements(skeleton)
    body = f"{shape.height_m:.2f} m, {shape.sex}, build {shape.build:g}"

    if args.json:
        doc = placement_table_json(table)
        doc["body_shape"] = {"height_m": shape.height_m, "sex": shape.sex, "build": shape.build}
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
        print(f"wrote {len(table)} placements ({body}) to {path}")

    if name:
        spec = NAMED_REGIONS[name]
        ids = placement_ids_for(name, table)
        canon = canonical_placement(name)
        i = int(table.index_of(canon)[0])
        world = skeleton.rest_positions_m()[table.segment_id[i]] + table.position_m[i]
        print(f"{name}: {spec.description}")
        for p in spec.patches:
            print(f"  region: {p.segment}, along the axis {p.along[0]:.2f}..{p.along[1]:.2f} of its length, "
                  f"around {p.around_deg[0]:+.0f}..{p.around_deg[1]:+.0f} deg (0 anterior/dorsal, +90 left)")  # fmt: skip
        print(f"  candidates: {len(ids)} ids: {' '.join(str(k) for k in ids)}")
        print(f"  canonical id {canon} on {SEGMENTS[table.segment_id[i]]} ({body}):")
        print(f"    position in segment frame {_fmt(table.position_m[i])} m, in the rest-pose world {_fmt(world)} m")
        print(f"    sensor x (tangent)  {_fmt(table.tangent[i])}")
        print(f"    sensor y (binormal) {_fmt(table.binormal[i])}")
        print(f"    sensor z (normal)   {_fmt(table.normal[i])}")
        return 0

    if args.segments:
        print(f"{len(table)} placements on {len(SEGMENTS)} segments ({body}):")
        for k, seg in enumerate(SEGMENTS):
            print(f"  {seg:<14} {int(np.sum(table.segment_id == k)):>4}")
        return 0

    if args.json:
        return 0
    print(f"{len(table)} candidate placements on the body surface ({body}); lattice v{LATTICE_VERSION} {lattice_digest()}")
    print(f"frames: {FRAME_CONVENTION}\n")
    width = max(len(n) for n in NAMED_REGIONS)
    print(f"{'name':<{width}}  {'segment':<14} {'ids':>4} {'canonical':>9}  where")
    for n, spec in NAMED_REGIONS.items():
        print(f"{n:<{width}}  {'+'.join(spec.segments):<14} {len(placement_ids_for(n, table)):>4} {canonical_placement(n):>9}  {spec.description}")
    print(f"\nRun `{prog} --name NAME` for one region, `--json FILE` for the whole table.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
