"""Which restorer should the ``lite`` engine use for each degradation kind?

For every kind, the gain (PSNR to the clean fusion, as in ``lite_quality.py``) of

* **network**: the lite network told about the degradation (its Controls input);
* **classic**: the classic engine's restoration step for that kind on the whole
  image, then the lite network with that control at zero;

on a *selection* set that is not the held-out evaluation set: fresh simulated
degradations (strength 0.5, seeded) of training pairs of the split in
``heldout.py``. The engine's ``CLASSIC_RESTORED`` table follows the column
that wins here; ``lite_quality.py`` then reports the routed engine on held-out
pairs. The real ``degraded_pairs/train`` scenes are printed too but do not
choose: the network was trained on those very inputs, so its column there is
optimistic.

Usage::

    python benchmarks/lite_routing.py --data ../shared/data/ivif --pairs 8
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heldout import load_pair, load_real, real_degraded, split
from lite_quality import PROMPTS, STRENGTH
from napari_textif import metrics
from napari_textif.api import fuse
from napari_textif.controls import DEGRADATIONS, Controls
from napari_textif.engines.lite.engine import CLASSIC_RESTORED, restore_first
from napari_textif.interpretation import interpret
from napari_textif.training.degrade import degrade_pair


def _net(ir: np.ndarray, vis: np.ndarray, controls: Controls, weights: str | None) -> np.ndarray:
    options: dict[str, object] = {"classic_restore": False}
    if weights:
        options["checkpoint"] = weights
    return fuse(ir, vis, engine="lite", controls=controls, device="cpu", options=options).image


def gains(cases, kind: str, weights: str | None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Mean PSNR gain over the neutral fusion of the network and of the classic step."""
    said = interpret(PROMPTS[kind]).controls
    rows = []
    for reference, ir, vis in cases:
        neutral = metrics.psnr(_net(ir, vis, Controls(), weights), reference)
        network = metrics.psnr(_net(ir, vis, said, weights), reference)
        ir_c, vis_c, rest, _ = restore_first(ir, vis, said, frozenset(DEGRADATIONS))
        classic = metrics.psnr(_net(ir_c, vis_c, rest, weights), reference)
        rows.append((network - neutral, classic - neutral))
    mean = np.mean(rows, axis=0)
    return {"cases": len(rows), "network": float(mean[0]), "classic": float(mean[1])}


def simulated_cases(pairs, kind: str, weights: str | None, seed: int = 21):  # type: ignore[no-untyped-def]
    out = []
    for i, (ir, vis) in enumerate(pairs):
        ir_d, vis_d = degrade_pair(ir, vis, {kind: STRENGTH}, seed + i)
        out.append((_net(ir, vis, Controls(), weights), ir_d, vis_d))
    return out


def real_cases(data: Path, kind: str, weights: str | None):  # type: ignore[no-untyped-def]
    out = []
    for item in real_degraded(data, "train"):
        if item["control"] != kind:
            continue
        ir, vis, ir_r, vis_r = load_real(item)
        out.append((_net(ir_r, vis_r, Controls(), weights), ir, vis))
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description="network vs classic restoration per kind (selection set)")
    parser.add_argument("--data", type=Path, required=True, help="the ivif folder")
    parser.add_argument("--weights", default=None, help="a lite .safetensors (default: shipped)")
    parser.add_argument("--pairs", type=int, default=8, help="training pairs degraded per kind")
    parser.add_argument("--real-per-kind", type=int, default=6, help="real training scenes per kind")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train = split(args.data)["train"]
    chosen = train[:: max(len(train) // args.pairs, 1)][: args.pairs]
    pairs = [load_pair(ir, vi) for _, ir, vi in chosen]
    report: dict[str, object] = {}
    print(f"{'kind':<18}{'sim network':>12}{'sim classic':>12}{'real network':>13}{'real classic':>13}"
          "  choice (engine table)")
    for kind in DEGRADATIONS:
        sim = gains(simulated_cases(pairs, kind, args.weights), kind, args.weights)
        cases = real_cases(args.data, kind, args.weights)[: args.real_per_kind]
        real = gains(cases, kind, args.weights) if cases else None
        choice = "classic" if sim["classic"] > sim["network"] else "network"
        table = "classic" if kind in CLASSIC_RESTORED else "network"
        report[kind] = {"simulated": sim, "real": real, "choice": choice, "engine_table": table}
        real_text = f"{real['network']:+13.2f}{real['classic']:+13.2f}" if real else f"{'-':>13}{'-':>13}"
        print(f"{kind:<18}{sim['network']:+12.2f}{sim['classic']:+12.2f}{real_text}  {choice} ({table})",
              flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
