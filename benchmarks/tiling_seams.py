"""Seams of the lite engine's tiling: tiled against whole fusion, per blend margin and overlap.

Each pair of the *validation* split (``heldout.py``; the choice of
``engines.lite.engine.BLEND_MARGIN`` and ``OVERLAP_RADII`` was made here) is upscaled 2x and
fused twice with the neutral prompt: whole (one tile) and tiled with tiles of ``--tile`` pixels
(raised to twice the overlap, as the engine does). The table gives the largest, mean and
99.9th-percentile absolute difference in grey levels (0-255). A seam shows as a line of
differences of several grey levels; under one grey level does not show.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/tiling_seams.py --data ../shared/data/ivif --pairs 4 \\
        --margins 0,0.25,0.4 --radii 1,1.5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heldout import load_pair, split
from napari_textif.api import fuse
from napari_textif.engines.lite import engine as lite_engine

WEIGHTS = lite_engine.WEIGHTS_DIR


def pairs(data: Path, count: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``count`` validation pairs spread over the split, upscaled 2x so that they need tiles."""
    validation = split(data)["validation"]
    chosen = validation[:: max(len(validation) // count, 1)][:count]
    out = []
    for name, ir_path, vis_path in chosen:
        ir, vis = load_pair(ir_path, vis_path)
        out.append((name, ndimage.zoom(ir, 2, order=1), ndimage.zoom(vis, (2, 2, 1), order=1)))
    return out


def seams(ir: np.ndarray, vis: np.ndarray, weights: Path, tile: int) -> dict[str, float]:
    """Differences (grey levels) between tiled and whole fusion, and the number of tiles."""
    options = {"checkpoint": str(weights)}
    whole = fuse(ir, vis, engine="lite", options={**options, "tile_size": 100000}).image
    tiled = fuse(ir, vis, engine="lite", options={**options, "tile_size": tile})
    diff = np.abs(tiled.image - whole) * 255.0
    return {"tiles": float(tiled.provenance.get("tiles") or 1), "max": float(diff.max()),
            "mean": float(diff.mean()), "p999": float(np.percentile(diff, 99.9))}


def main(argv: list[str] | None = None) -> int:
    """Print one row per weights, overlap, margin and pair."""
    parser = argparse.ArgumentParser(description="tiled against whole lite fusion")
    parser.add_argument("--data", type=Path, required=True, help="the ivif folder")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--weights", nargs="*", default=[str(WEIGHTS / "lite_v2.safetensors"),
                                                        str(WEIGHTS / "lite_v3.safetensors")])
    parser.add_argument("--margins", default=str(lite_engine.BLEND_MARGIN), help="comma-separated fractions")
    parser.add_argument("--radii", default=str(lite_engine.OVERLAP_RADII), help="comma-separated overlaps")
    parser.add_argument("--tile", type=int, default=520)
    args = parser.parse_args(argv)
    chosen = pairs(args.data, args.pairs)
    print("| weights | overlap radii | overlap px | margin | pair | tiles | max | mean | p99.9 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for weights in map(Path, args.weights):
        for radii in (float(r) for r in args.radii.split(",")):
            lite_engine.OVERLAP_RADII = radii
            overlap = lite_engine.tile_overlap(weights)
            for margin in (float(m) for m in args.margins.split(",")):
                lite_engine.BLEND_MARGIN = margin
                for name, ir, vis in chosen:
                    r = seams(ir, vis, weights, args.tile)
                    print(f"| {weights.stem} | {radii:g} | {overlap} | {margin:g} | {name} "
                          f"| {r['tiles']:.0f} | {r['max']:.2f} | {r['mean']:.3f} | {r['p999']:.2f} |",
                          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
