"""Medical fusion quality on held-out slices: the medical lite weights against the baselines.

For each of MRI-CT, MRI-PET and MRI-SPECT (``../shared/data/medical``), the held-out
slices of :func:`napari_textif.training.datasets.split_slices` (a slice-number range of
every volume that ``lite_medical_v1`` was never trained or validated on) are fused with a
neutral prompt by

* ``lite`` -- the shipped medical weights (``fuse(..., kind=K)``), or ``--weights``;
* ``lite_v2`` -- the infrared/visible weights, zero-shot;
* ``classic`` -- the training-free engine;
* ``laplacian`` -- a plain Laplacian-pyramid fusion of the two luminances;

each result rounded to 8 bits as if saved, and scored with the eight literature metrics
(:func:`napari_textif.metrics.compute_all`, MRI in the visible role and the other modality
in the infrared role, as CDDFuse's evaluator; SSIM in the ``literature`` convention). For
PET and SPECT, the mean hue difference to the functional image over its coloured pixels
(:func:`napari_textif.metrics.hue_difference`) is printed too.

``--split val`` scores the validation range instead (for choosing between training runs,
so that the held-out numbers are only reported, never used to choose).

Usage::

    python benchmarks/medical_quality.py --data ../shared/data/medical [--per-set 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from napari_textif import imaging, metrics
from napari_textif.api import fuse
from napari_textif.engines.lite.engine import DEFAULT_WEIGHTS
from napari_textif.io import quantize, read_image
from napari_textif.pairkinds import get_kind
from napari_textif.training.datasets import find_pairs, split_slices

EIGHT = ("EN", "SD", "SF", "MI", "SCD", "VIF", "Qabf", "SSIM")
#: data folder -> pair kind.
SETS = {"mri_ct": "mri-ct", "mri_pet": "mri-pet", "mri_spect": "mri-spect"}
BASELINES = ("lite_v2", "classic", "laplacian")

Method = Callable[[np.ndarray, np.ndarray, str], np.ndarray]


def held_out(folder: Path, per_set: int, split: str = "held_out") -> list[tuple[str, Path, Path]]:
    """``(name, MRI path, other path)`` of the held-out slices, ``per_set`` spread over them (0: all)."""
    records = split_slices(find_pairs(folder))[split]
    if per_set:
        spread = np.linspace(0, len(records) - 1, min(per_set, len(records))).astype(int)
        records = [records[i] for i in spread]
    return [(r.name, r.visible[0].path, r.infrared[0].path) for r in records]


def methods(weights: str | None) -> dict[str, Method]:
    """Name -> ``fn(mri, other, kind)`` returning the fused image."""
    from napari_textif.engines.classic.pyramid import laplacian_fusion

    medical = {"checkpoint": weights} if weights else {}

    def laplacian(mri: np.ndarray, other: np.ndarray, kind: str) -> np.ndarray:
        ir, vis, colour, _ = _slots(mri, other, kind)
        return imaging.with_luminance(colour, laplacian_fusion(ir, vis))

    return {
        "lite": lambda m, o, k: fuse(m, o, kind=k, engine="lite", device="cpu", options=medical).image,
        "lite_v2": lambda m, o, k: fuse(m, o, kind=k, engine="lite", device="cpu",
                                        options={"checkpoint": str(DEFAULT_WEIGHTS)}).image,
        "classic": lambda m, o, k: fuse(m, o, kind=k, engine="classic").image,
        "laplacian": laplacian,
    }


def _slots(mri: np.ndarray, other: np.ndarray, kind: str) -> tuple[np.ndarray, ...]:
    from napari_textif.api import prepare_kind

    pair = get_kind(kind)
    return prepare_kind(*pair.in_slots(mri, other), pair)


def score_set(
    folder: Path, kind: str, chosen: dict[str, Method], per_set: int, split: str = "held_out"
) -> dict[str, dict]:
    """Mean metrics (and hue difference) per method over the held-out (or ``split``) slices of one set."""
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in chosen}
    pairs = held_out(folder, per_set, split)
    for _, mri_path, other_path in pairs:
        mri, other = read_image(mri_path), read_image(other_path)
        _, _, colour, _ = _slots(mri, other, kind)
        for name, fn in chosen.items():
            fused = quantize(np.clip(fn(mri, other, kind), 0.0, 1.0), 8)
            row = metrics.compute_all(fused, colour, mri)
            if colour.ndim == 3:
                row["hue"] = metrics.hue_difference(fused, colour)
            rows[name].append(row)
    table = {name: {k: float(np.nanmean([r[k] for r in rs])) for k in rs[0]} for name, rs in rows.items()}
    return {"pairs": [n for n, _, _ in pairs], "table": table}


def wins(table: dict[str, dict[str, float]]) -> dict[str, int]:
    """On how many of the eight metrics ``lite`` beats each baseline (higher is better for all)."""
    lite = table.get("lite")
    if lite is None:
        return {}
    return {base: sum(lite[m] > table[base][m] for m in EIGHT) for base in BASELINES if base in table}


def print_set(kind: str, result: dict) -> None:
    """One table: methods by the eight metrics (and hue), then the win counts."""
    table = result["table"]
    extra = ("hue",) if "hue" in next(iter(table.values())) else ()
    print(f"\n{kind}: {len(result['pairs'])} {result.get('split', 'held_out')} slices")
    print(f"{'method':<10}" + "".join(f"{m:>8}" for m in EIGHT + extra))
    for name, row in table.items():
        print(f"{name:<10}" + "".join(f"{row[m]:8.3f}" for m in EIGHT + extra))
    print("lite better on: " + ", ".join(f"{n}/8 vs {b}" for b, n in wins(table).items()))


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description="medical fusion quality on held-out slices")
    parser.add_argument("--data", type=Path, required=True, help="the medical folder (mri_ct/, mri_pet/...)")
    parser.add_argument("--weights", default=None, help="medical lite .safetensors (default: shipped)")
    parser.add_argument("--per-set", type=int, default=0, help="held-out slices per set (0: all)")
    parser.add_argument("--split", default="held_out", choices=("held_out", "val"),
                        help="held_out (reported numbers) or val (for choosing between runs)")
    parser.add_argument("--methods", default="lite,lite_v2,classic,laplacian", help="comma-separated")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    chosen = {k: v for k, v in methods(args.weights).items() if k in args.methods.split(",")}
    report = {}
    for folder, kind in SETS.items():
        if (args.data / folder).is_dir():
            report[kind] = score_set(args.data / folder, kind, chosen, args.per_set, args.split)
            report[kind]["split"] = args.split
            report[kind]["wins"] = wins(report[kind]["table"])
            print_set(kind, report[kind])
    print(f"\n({time.time() - t0:.0f} s; SSIM literature convention; images rounded to 8 bits)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
