"""The selection set for restoration choices: our own simulator and the real *training* scenes.

Every choice about restoration (the steps' parameters, network-or-classic routing per
kind, the severity floor) is made on this script's numbers, never on
``benchmarks/restoration.py`` (whose foreign simulator is for evaluation only).

For each kind and each strength (0.3, 0.6, 0.9: mild, moderate, severe) of
:func:`napari_textif.training.degrade.degrade_pair` applied to training pairs of the
split in ``heldout.py`` (never held-out pairs), it prints the normalised SSIM gain and
the PSNR gain (as ``restoration.py`` defines them) of the prompted fusion over the neutral
one, both scored against the neutral fusion of the undegraded pair; then the same on the
real ``degraded_pairs/train`` scenes against their references. ``--route`` forces
every kind through the classic steps or through the network, for routing.
``--jpeg Q`` passes every degraded visible image through JPEG at quality Q, as a camera
that compresses its output does (the noise it leaves is spatially correlated).
``--clean`` also prints, per kind, the SSIM between the prompted and the neutral
fusion of the *undegraded* pairs (how much naming an absent degradation changes);
``--chroma`` the chroma gain of each column (``restoration.py``'s ``chroma_error``).
``--figure DIR`` writes, per kind, the first pair at moderate strength as a strip: visible |
degraded visible | neutral fusion of the clean pair (the reference) | neutral fusion |
prompted fusion, for a person to see what the numbers score.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/restoration_selection.py --data ../shared/data/ivif --pairs 6
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heldout import load_pair, load_real, real_degraded, split
from lite_quality import PROMPTS, _strip
from napari_textif.api import fuse
from napari_textif.controls import DEGRADATIONS
from napari_textif.engines.lite import engine as lite_engine
from napari_textif.training.degrade import degrade_pair
from restoration import _mean_rows, gains, ssim

STRENGTHS = {"mild": 0.3, "moderate": 0.6, "severe": 0.9}


#: Engine options of every fusion (``--weights`` sets the lite checkpoint).
OPTIONS: dict[str, object] = {}
#: ``--jpeg Q``: the degraded visible image is saved as JPEG at this quality and read back,
#: as a camera that compresses its output does (None: not compressed).
JPEG: dict[str, int | None] = {"quality": None}


def _compressed(vis: np.ndarray) -> np.ndarray:
    """``vis`` through a JPEG round trip at ``JPEG["quality"]`` (unchanged when that is None)."""
    if JPEG["quality"] is None:
        return vis
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.clip(np.rint(vis * 255.0), 0, 255).astype(np.uint8)).save(
        buffer, "JPEG", quality=JPEG["quality"])
    return np.asarray(Image.open(buffer), dtype=np.float32) / 255.0


def _fused(ir: np.ndarray, vis: np.ndarray, prompt: str, engine: str) -> np.ndarray:
    return fuse(ir, vis, prompt, engine=engine, device="cpu", options=OPTIONS).image


def simulated(pairs, kind: str, engine: str, seed: int = 77) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Mean gains per strength on ``pairs`` degraded by our simulator."""
    out = {}
    for label, strength in STRENGTHS.items():
        rows = []
        for i, (ir, vis, clean) in enumerate(pairs):
            ir_d, vis_d = degrade_pair(ir, vis, {kind: strength}, seed + i)
            vis_d = _compressed(vis_d)
            neutral = _fused(ir_d, vis_d, "", engine)
            rows.append(gains(_fused(ir_d, vis_d, PROMPTS[kind], engine), neutral, clean))
        out[label] = _mean_rows(rows)
    return out


def figure(pair, kind: str, engine: str, path: Path, seed: int = 77) -> None:  # type: ignore[no-untyped-def]
    """Write the strip of ``--figure`` for ``pair`` (``(ir, vis, clean fusion)``) degraded as the
    first pair of :func:`simulated` at moderate strength."""
    from napari_textif.io import write_image

    ir, vis, clean = pair
    ir_d, vis_d = degrade_pair(ir, vis, {kind: STRENGTHS["moderate"]}, seed)
    vis_d = _compressed(vis_d)
    panels = [vis, vis_d, clean, _fused(ir_d, vis_d, "", engine), _fused(ir_d, vis_d, PROMPTS[kind], engine)]
    write_image(path, _strip(panels))


def real(data: Path, kind: str, engine: str) -> dict[str, float] | None:
    """Mean gains on the real training scenes of ``kind`` (None when there are none)."""
    rows = []
    for item in real_degraded(data, "train"):
        if item["control"] != kind:
            continue
        ir, vis, ir_r, vis_r = load_real(item)
        clean, neutral = _fused(ir_r, vis_r, "", engine), _fused(ir, vis, "", engine)
        rows.append(gains(_fused(ir, vis, PROMPTS[kind], engine), neutral, clean))
    if not rows:
        return None
    return {"n": len(rows), **_mean_rows(rows)}


def training_pairs(data: Path, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` training pairs of the ``heldout.py`` split, spread evenly over it: the selection pairs."""
    train = split(data)["train"]
    chosen = train[:: max(len(train) // count, 1)][:count]
    return [load_pair(ir_path, vis_path) for _, ir_path, vis_path in chosen]


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description="restoration gains on the selection set")
    parser.add_argument("--data", type=Path, required=True, help="the ivif folder")
    parser.add_argument("--pairs", type=int, default=6, help="training pairs per kind")
    parser.add_argument("--engine", default="lite")
    parser.add_argument("--route", choices=("engine", "classic", "network"), default="engine",
                        help="lite: the shipped routing, every kind classic, or every kind network")
    parser.add_argument("--kinds", nargs="*", default=list(DEGRADATIONS))
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--clean", action="store_true", help="also: prompt on undegraded pairs")
    parser.add_argument("--weights", default=None, help="a lite .safetensors (default: shipped)")
    parser.add_argument("--jpeg", type=int, default=None, metavar="Q",
                        help="compress each degraded visible image as JPEG at quality Q (1-95)")
    parser.add_argument("--chroma", action="store_true",
                        help="also: the chroma gain (1/255) per column, on a second line per kind")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--figure", type=Path, default=None, metavar="DIR",
                        help="write a strip per kind (first pair, moderate) into DIR")
    args = parser.parse_args(argv)
    JPEG["quality"] = args.jpeg
    torch.set_num_threads(1)
    if args.weights:
        OPTIONS["checkpoint"] = args.weights
    if args.route != "engine":
        lite_engine.CLASSIC_RESTORED = frozenset(DEGRADATIONS) if args.route == "classic" else frozenset()
    pairs = [(ir, vis, _fused(ir, vis, "", args.engine)) for ir, vis in training_pairs(args.data, args.pairs)]
    if args.figure:
        args.figure.mkdir(parents=True, exist_ok=True)
        stem = Path(args.weights).stem if args.weights else args.engine
    report: dict[str, object] = {}
    print(f"{'kind':<18}" + "".join(f"{s:>16}" for s in STRENGTHS) + f"{'real':>16}"
          + ("  clean SSIM" if args.clean else "") + "   (normalised SSIM gain / PSNR gain dB)")
    for kind in args.kinds:
        sim = simulated(pairs, kind, args.engine)
        found = None if args.no_real else real(args.data, kind, args.engine)
        cells = [f"{v['ssim_gain']:+7.2f}/{v['psnr_gain']:+6.2f}" for v in sim.values()]
        cells.append(f"{found['ssim_gain']:+7.2f}/{found['psnr_gain']:+6.2f}" if found else "-")
        line = f"{kind:<18}" + "".join(f"{c:>16}" for c in cells)
        entry: dict[str, object] = {"simulated": sim, "real": found}
        if args.clean:
            same = min(ssim(_fused(ir, vis, PROMPTS[kind], args.engine), clean) for ir, vis, clean in pairs)
            entry["clean_min_ssim"] = same
            line += f"  {same:10.3f}"
        report[kind] = entry
        print(line, flush=True)
        if args.figure:
            figure(pairs[0], kind, args.engine, args.figure / f"selection_{kind}_{stem}.jpg")
        if args.chroma:
            values = [v["chroma_gain"] for v in sim.values()] + ([found["chroma_gain"]] if found else [])
            print(f"{'  chroma (1/255)':<18}" + "".join(f"{v:>+16.2f}" for v in values), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
