"""Measured severity against simulated strength: the table behind ``severity.CALIBRATION``.

Detection's ramps (``detection.RAMPS``) were set to *detect* a degradation; the engines
were trained with Controls equal to the strength of our simulator
(``training/degrade.py``). This script degrades training pairs of the split in
``heldout.py`` (never held-out pairs, never the foreign simulator) at known strengths and
prints, per kind, the mean measured severity at each strength: the points of the
monotonic map from measured severity back to simulator strength that
:func:`napari_textif.severity.calibrate` applies.

Usage::

    python benchmarks/severity_calibration.py --data ../shared/data/ivif --pairs 12
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heldout import load_pair, split
from napari_textif.controls import DEGRADATIONS
from napari_textif.detection import measure, strengths_from
from napari_textif.training.degrade import degrade_pair

STRENGTHS = (0.15, 0.3, 0.6, 0.9)


def measured_curve(pairs, kind: str, seed: int = 100) -> list[float]:  # type: ignore[no-untyped-def]
    """Mean measured severity of ``kind`` at each of :data:`STRENGTHS`, made non-decreasing."""
    means = []
    for strength in STRENGTHS:
        degraded = (degrade_pair(ir, vis, {kind: strength}, seed + i) for i, (ir, vis) in enumerate(pairs))
        values = [strengths_from(measure(*pair), named=True)[0][kind] for pair in degraded]
        means.append(float(np.mean(values)))
    return [float(v) for v in np.maximum.accumulate(means)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the ivif folder")
    parser.add_argument("--pairs", type=int, default=12, help="training pairs per kind")
    args = parser.parse_args(argv)
    train = split(args.data)["train"]
    chosen = train[:: max(len(train) // args.pairs, 1)][: args.pairs]
    pairs = [load_pair(a, b) for _, a, b in chosen]
    print(f"# measured severity at simulator strengths {STRENGTHS} ({len(pairs)} training pairs)")
    print("CALIBRATION = {")
    for kind in DEGRADATIONS:
        curve = measured_curve(pairs, kind)
        print(f"    {kind!r}: ({', '.join(f'{v:.2f}' for v in curve)}),", flush=True)
    print("}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
