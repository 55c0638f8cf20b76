"""Which Controls strength restores best, at each simulated strength: behind ``Engine.strength_response``.

``severity.CALIBRATION`` maps what the images measure back to the strength of our
simulator (``training/degrade.py``). That strength is not always the one the engine
restores best with: on our own simulator the network over-corrects mild overexposure
when told its true strength, and rain is best removed at about half of it. This script
degrades training pairs of the split in ``heldout.py`` (never held-out pairs, never the
foreign simulator of ``restoration.py``) at the strengths 0.3 / 0.6 / 0.9, fuses each
with the engine told every strength of a grid (explicit Controls: no severity reading),
and prints the mean normalised SSIM gain (``restoration.gains``) of each cell and the
best strength per row.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/strength_response.py --data ../shared/data/ivif --pairs 4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from napari_textif.api import fuse
from napari_textif.controls import Controls
from napari_textif.severity import CALIBRATION, RESPONSE_STRENGTHS
from napari_textif.training.degrade import degrade_pair
from restoration import gains
from restoration_selection import training_pairs

#: Controls strengths tried at each simulated strength.
GRID = (0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0)


def _fused(ir: np.ndarray, vis: np.ndarray, controls: Controls, engine: str) -> np.ndarray:
    return fuse(ir, vis, controls=controls, engine=engine, device="cpu").image


def response(pairs, kind: str, engine: str, seed: int = 77) -> list[list[float]]:  # type: ignore[no-untyped-def]
    """Mean normalised SSIM gain, one row per :data:`RESPONSE_STRENGTHS`, one column per :data:`GRID`."""
    table = []
    for true in RESPONSE_STRENGTHS:
        rows = []
        for i, (ir, vis, clean) in enumerate(pairs):
            ir_d, vis_d = degrade_pair(ir, vis, {kind: true}, seed + i)
            neutral = _fused(ir_d, vis_d, Controls(), engine)
            told = (_fused(ir_d, vis_d, Controls(**{kind: s}), engine) for s in GRID)
            rows.append([gains(fused, neutral, clean)["ssim_gain"] for fused in told])
        table.append(np.mean(rows, axis=0).tolist())
    return table


def best(row: list[float]) -> float:
    """The strength of the grid with the largest gain (the mean of the tied ones, within 0.01)."""
    top = max(row)
    return round(float(np.mean([s for s, g in zip(GRID, row) if g >= top - 0.01])), 2)


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description="best Controls strength per simulated strength")
    parser.add_argument("--data", type=Path, required=True, help="the ivif folder")
    parser.add_argument("--pairs", type=int, default=4, help="training pairs")
    parser.add_argument("--engine", default="lite")
    parser.add_argument("--kinds", nargs="*", default=sorted(CALIBRATION))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    loaded = training_pairs(args.data, args.pairs)
    pairs = [(ir, vis, _fused(ir, vis, Controls(), args.engine)) for ir, vis in loaded]
    print(f"{'kind':<18}{'simulated':>10}" + "".join(f"{s:>7}" for s in GRID) + "   best")
    for kind in args.kinds:
        for true, row in zip(RESPONSE_STRENGTHS, response(pairs, kind, args.engine)):
            cells = "".join(f"{g:+7.2f}" for g in row)
            print(f"{kind:<18}{true:>10}{cells}   {best(row)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
