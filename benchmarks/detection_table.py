"""Calibration table for degradation detection (napari_textif.detect).

Measures, on the real registered pairs of ``shared/data/ivif``:

1. clean pairs: how many get any degradation above 0.5 (false alarms), per set and
   per control; LLVIP (and the M3SVD night sequence) are genuinely dark at night,
   so their ``vis_low_light`` detections are listed apart from the false alarms;
2. simulated degradations (napari_textif.training.degrade, each of the nine kinds at a
   moderate strength) of the clean pairs: how often the simulated kind is the top
   detection;
3. the real degraded inputs of ``degraded_pairs``: how often the named kind is the
   top detection of its camera and how often it exceeds 0.5.

Run::

    python benchmarks/detection_table.py            # the full table (a few minutes)
    python benchmarks/detection_table.py --quick    # every 4th pair
    python benchmarks/detection_table.py --held-out # only pairs not used for calibration
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from napari_textif.controls import DEGRADATIONS
from napari_textif.detection import detect
from napari_textif.imaging import prepare, to_gray
from napari_textif.io import list_images, read_image

CLEAN_SETS = ("roadscene", "llvip", "m3svd/0114_1551", "m3svd/0111_1753", "m3svd/0115_1847", "vifb")
NIGHT_SETS = ("llvip", "m3svd/0115_1847")
IR_CODES = {"LC": "ir_low_contrast", "RN": "ir_noise", "SN": "ir_stripe_noise"}
VI_CODES = {"LL": "vis_low_light", "RN": "vis_noise", "Rain": "vis_rain", "Blur": "vis_blur",
            "haze": "vis_haze"}


def data_dir() -> Path:
    root = Path(os.environ.get("NAPARI_TEXTIF_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    return root / "data" / "ivif"


def load_pairs(folder: Path, step: int, start: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, infrared float (H, W), visible float) for every `step`-th pair of a set from `start`."""
    ir_files, vi_files = list_images(folder / "ir"), list_images(folder / "vi")
    names = sorted(set(ir_files) & set(vi_files))[start::step]
    pairs = []
    for name in names:
        ir = prepare(read_image(ir_files[name]), name="infrared").data
        vis = prepare(read_image(vi_files[name]), name="visible").data
        pairs.append((name, to_gray(ir) if ir.ndim == 3 else ir, vis))
    return pairs


def clean_table(sets: dict[str, list], records: list) -> None:
    print("\n== clean pairs: detections above 0.5 ==")
    print(f"{'set':18s} {'pairs':>5s} {'any>0.5':>8s} {'any>0.5 excl. night dark':>25s}  controls above 0.5")
    total = total_any = total_fa = 0
    for set_name, pairs in sets.items():
        counts: dict[str, int] = defaultdict(int)
        n_any = n_fa = 0
        for name, ir, vis in pairs:
            found = detect(ir, vis).controls
            high = [k for k in DEGRADATIONS if getattr(found, k) > 0.5]
            records.append({"set": set_name, "name": name, "clean": found.to_dict()})
            for k in high:
                counts[k] += 1
            n_any += bool(high)
            night_dark_only = set_name in NIGHT_SETS and set(high) <= {"vis_low_light"}
            n_fa += bool(high) and not night_dark_only
        total, total_any, total_fa = total + len(pairs), total_any + n_any, total_fa + n_fa
        listed = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        print(f"{set_name:18s} {len(pairs):5d} {n_any / len(pairs):8.1%} {n_fa / len(pairs):25.1%}  {listed}")
    print(f"{'all':18s} {total:5d} {total_any / total:8.1%} {total_fa / total:25.1%}")


def simulated_table(sets: dict[str, list], strength: float, seed: int) -> float:
    from napari_textif.training.degrade import degrade

    print(f"\n== simulated degradations at strength {strength}: right kind is the top detection ==")
    rng = np.random.default_rng(seed)
    hits: dict[str, list[bool]] = defaultdict(list)
    by_set: dict[str, list[bool]] = defaultdict(list)
    confusions: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    clean_pairs = [(s, p) for s, pairs in sets.items() for p in pairs]
    for kind in DEGRADATIONS:
        for set_name, (_name, ir, vis) in clean_pairs:
            if kind.startswith("vis_"):
                vis = degrade(vis, kind, strength, rng)
            else:
                ir = degrade(ir, kind, strength, rng)
            found = detect(ir, vis).controls
            values = {k: getattr(found, k) for k in DEGRADATIONS}
            top = max(values, key=values.get)
            hits[kind].append(top == kind and values[kind] > 0)
            by_set[set_name].append(hits[kind][-1])
            confusions[kind][top if values[top] > 0 else "none"] += 1
    print(f"{'kind':18s} {'cases':>5s} {'top-1':>7s}  top detections")
    all_hits = []
    for kind in DEGRADATIONS:
        all_hits += hits[kind]
        tops = ", ".join(f"{k} {v}" for k, v in sorted(confusions[kind].items(), key=lambda kv: -kv[1]))
        print(f"{kind:18s} {len(hits[kind]):5d} {np.mean(hits[kind]):7.1%}  {tops}")
    rate = float(np.mean(all_hits))
    print(f"{'all':18s} {len(all_hits):5d} {rate:7.1%}")
    print("by clean set: " + ", ".join(f"{k} {np.mean(v):.1%} ({len(v)})" for k, v in by_set.items()))
    return rate


def degraded_pairs_table(root: Path) -> None:
    print("\n== real degraded inputs (degraded_pairs, train + val) ==")
    print(f"{'kind':18s} {'cases':>5s} {'top of camera':>14s} {'top overall':>12s} {'> 0.5':>7s}  "
          "mean strength")
    results: dict[str, list[tuple[bool, bool, bool, float]]] = defaultdict(list)
    for split in ("train", "val"):
        folder = root / "degraded_pairs" / split
        if not folder.is_dir():
            continue
        ir_files, vi_files = list_images(folder / "IR"), list_images(folder / "VI")
        for stem, path in sorted({**{f"IR/{k}": v for k, v in ir_files.items()},
                                  **{f"VI/{k}": v for k, v in vi_files.items()}}.items()):
            camera, name = stem.split("/")
            scene, _, code = name.rpartition("_")
            codes = IR_CODES if camera == "IR" else VI_CODES
            if code not in codes:
                continue
            partner = (vi_files if camera == "IR" else ir_files).get(f"{scene}_Norm")
            if partner is None:
                continue
            ir_path, vi_path = (path, partner) if camera == "IR" else (partner, path)
            found = detect(read_image(ir_path), read_image(vi_path)).controls
            kind = codes[code]
            values = {k: getattr(found, k) for k in DEGRADATIONS}
            same_camera = {k: v for k, v in values.items() if k[:3] == kind[:3]}
            top_camera = max(same_camera, key=same_camera.get) == kind and values[kind] > 0
            top_all = max(values, key=values.get) == kind and values[kind] > 0
            results[kind].append((top_camera, top_all, values[kind] > 0.5, values[kind]))
    everything = []
    for kind, rows in results.items():
        everything += rows
        arr = np.array(rows, dtype=float)
        print(f"{kind:18s} {len(rows):5d} {arr[:, 0].mean():14.1%} {arr[:, 1].mean():12.1%} "
              f"{arr[:, 2].mean():7.1%}  {arr[:, 3].mean():.2f}")
    if everything:
        arr = np.array(everything, dtype=float)
        print(f"{'all':18s} {len(arr):5d} {arr[:, 0].mean():14.1%} {arr[:, 1].mean():12.1%} "
              f"{arr[:, 2].mean():7.1%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="use every 4th pair of each set")
    parser.add_argument(
        "--held-out", action="store_true",
        help="use only the odd-numbered pairs of each set (the ramps were calibrated on the even ones)",
    )
    parser.add_argument("--strength", type=float, default=0.5, help="simulated strength (moderate: 0.5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dump", type=Path, help="write per-pair statistics to this JSON file")
    args = parser.parse_args(argv)
    root = data_dir()
    if not root.is_dir():
        print(f"no data folder at {root}; set NAPARI_TEXTIF_SHARED", file=sys.stderr)
        return 1
    step, first = (2, 1) if args.held_out else (4 if args.quick else 1, 0)
    start = time.perf_counter()
    sets = {name: load_pairs(root / name, step, first) for name in CLEAN_SETS if (root / name).is_dir()}
    records: list = []
    clean_table(sets, records)
    simulated_table(sets, args.strength, args.seed)
    degraded_pairs_table(root)
    if args.dump:
        args.dump.write_text(json.dumps(records))
    print(f"\n({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
