"""Quality of the ``lite`` engine on held-out real pairs, beside classic and Laplacian fusion.

Three parts, all on pairs the shipped weights were not trained on (the held-out
split of ``benchmarks/heldout.py``: every 5th pair of RoadScene, LLVIP and
VIFB and the whole M3SVD sequence 0111_1753; pairs wider than 900 pixels are
halved as in training):

1. **Normal fusion** (neutral prompt): the eight literature metrics of
   :func:`napari_textif.metrics.compute_all` (SSIM in the ``literature``
   convention unless ``--ssim-convention correct``) for lite, classic and a
   Laplacian-pyramid fusion; every result is rounded to 8 bits as if saved.
2. **Simulated degradations**: each of the nine kinds at strength 0.5 by
   :mod:`napari_textif.training.degrade`; PSNR/SSIM of the fusion made with the matching
   prompt and with a neutral prompt against the lite fusion of the clean pair.
3. **Real degradations**: the ``val`` scenes of ``degraded_pairs``; the same
   comparison against the lite fusion of the restored references.

Usage::

    python benchmarks/lite_quality.py --data ../shared/data/ivif --per-set 8 --json local/q.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heldout import load_pair, load_real, real_degraded, split
from napari_textif import imaging, metrics
from napari_textif.api import fuse
from napari_textif.controls import DEGRADATIONS, Controls
from napari_textif.interpretation import interpret
from napari_textif.io import quantize
from napari_textif.training.degrade import degrade_pair

EIGHT = ("EN", "SD", "SF", "MI", "SCD", "VIF", "Qabf", "SSIM")
#: A plain-words prompt for each degradation kind.
PROMPTS = {
    "vis_low_light": "the visible image is dark",
    "vis_overexposure": "the visible image is overexposed",
    "vis_noise": "the visible image is noisy",
    "vis_haze": "the visible image is hazy",
    "vis_rain": "rain in the visible image",
    "vis_blur": "the visible image is blurry",
    "ir_low_contrast": "the infrared image has low contrast",
    "ir_noise": "the infrared image is noisy",
    "ir_stripe_noise": "the infrared image has stripe noise",
}
STRENGTH = 0.5


def held_out(data: Path, per_set: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Up to ``per_set`` held-out pairs of each set, spread over the set."""
    by_set: dict[str, list[tuple[str, Path, Path]]] = {}
    for name, ir, vi in split(data)["val"]:
        by_set.setdefault(name.split("/")[0], []).append((name, ir, vi))
    chosen = []
    for items in by_set.values():
        step = max(len(items) // per_set, 1) if per_set else 1
        chosen += items[::step][: per_set or None]
    return [(name, *load_pair(ir, vi)) for name, ir, vi in chosen]


def _eight_bit(image: np.ndarray) -> np.ndarray:
    return quantize(np.clip(image, 0.0, 1.0), 8)


def _lite(ir: np.ndarray, vis: np.ndarray, weights: str | None, prompt: str = "",
          controls: Controls | None = None) -> np.ndarray:
    options = {"checkpoint": weights} if weights else {}
    return fuse(ir, vis, prompt, engine="lite", controls=controls, device="cpu", options=options).image


def methods(weights: str | None) -> dict[str, object]:
    from napari_textif.engines.classic.pyramid import laplacian_fusion

    return {
        "lite": lambda ir, vis: _lite(ir, vis, weights),
        "classic": lambda ir, vis: fuse(ir, vis, engine="classic").image,
        "laplacian": lambda ir, vis: imaging.with_luminance(vis, laplacian_fusion(ir, imaging.to_gray(vis))),
    }


def normal_fusion(pairs, weights, convention, cached=None):  # type: ignore[no-untyped-def]
    """Per method and pair, every metric; ``cached`` rows (same pairs) are reused, not recomputed."""
    scores: dict[str, dict[str, dict[str, float]]] = {k: dict(v) for k, v in (cached or {}).items()}
    for pair_name, ir, vis in pairs:
        for name, fn in methods(weights).items():
            if pair_name in scores.get(name, {}):
                continue
            fused = _eight_bit(fn(ir, vis))  # type: ignore[operator]
            scores.setdefault(name, {})[pair_name] = metrics.compute_all(fused, ir, vis,
                                                                         ssim_convention=convention)
    return scores


def mean_table(per_pair, names):  # type: ignore[no-untyped-def]
    """Mean of each metric per method over the pairs ``names``."""
    return {method: {m: float(np.mean([rows[n][m] for n in names])) for m in metrics.METRIC_NAMES}
            for method, rows in per_pair.items()}


def compare(table: dict[str, dict[str, float]]) -> dict[str, dict[str, object]]:
    """Wins of lite over each baseline on the eight metrics, and the worst relative loss."""
    out = {}
    for base in ("classic", "laplacian"):
        rel = {m: (table["lite"][m] - table[base][m]) / abs(table[base][m]) for m in EIGHT}
        out[base] = {"wins": sum(v > 0 for v in rel.values()), "relative": rel,
                     "worst_loss": min(rel.values())}
    return out


def _closeness(image: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    return metrics.psnr(image, reference), metrics.ssim(image, reference)


def simulated(pairs, weights, seed: int = 7):  # type: ignore[no-untyped-def]
    """Per kind: mean PSNR/SSIM to the clean fusion, matching prompt vs neutral prompt."""
    out = {}
    for kind in DEGRADATIONS:
        rows = []
        prompt_controls = interpret(PROMPTS[kind]).controls
        for i, (_, ir, vis) in enumerate(pairs):
            reference = _lite(ir, vis, weights)
            ir_d, vis_d = degrade_pair(ir, vis, {kind: STRENGTH}, seed + i)
            neutral = _closeness(_lite(ir_d, vis_d, weights), reference)
            prompted = _closeness(_lite(ir_d, vis_d, weights, PROMPTS[kind]), reference)
            rows.append((*neutral, *prompted))
        mean = np.mean(np.array(rows), axis=0)
        out[kind] = {"prompt": PROMPTS[kind], "controls": prompt_controls.summary(),
                     "psnr_neutral": mean[0], "ssim_neutral": mean[1], "psnr_prompt": mean[2],
                     "ssim_prompt": mean[3], "psnr_gain": mean[2] - mean[0], "ssim_gain": mean[3] - mean[1]}
    return out


def real(data: Path, weights: str | None):  # type: ignore[no-untyped-def]
    """Per kind on the real degraded val scenes: closeness to the fusion of the references."""
    rows: dict[str, list[tuple[float, ...]]] = {}
    for item in real_degraded(data, "val"):
        ir, vis, ir_r, vis_r = load_real(item)
        reference = _lite(ir_r, vis_r, weights)
        kind = str(item["control"])
        neutral = _closeness(_lite(ir, vis, weights), reference)
        prompted = _closeness(_lite(ir, vis, weights, PROMPTS[kind]), reference)
        rows.setdefault(kind, []).append((*neutral, *prompted))
    out = {}
    for kind, values in rows.items():
        mean = np.mean(np.array(values), axis=0)
        out[kind] = {"scenes": len(values), "psnr_neutral": mean[0], "psnr_prompt": mean[2],
                     "psnr_gain": mean[2] - mean[0], "ssim_gain": mean[3] - mean[1]}
    return out


SWEEP = (-1.0, -0.5, 0.0, 0.5, 1.0)


def preference_sweeps(pairs, weights):  # type: ignore[no-untyped-def]
    """Hot-region intensity along thermal_emphasis and SF/AG along detail_emphasis, per pair."""
    hot_rows, sf_rows, ag_rows = [], [], []
    for _, ir, vis in pairs:
        hot = (ir >= np.quantile(ir, 0.9)) & (ir > imaging.to_gray(vis))
        gray = [imaging.to_gray(_lite(ir, vis, weights, controls=Controls(thermal_emphasis=t)))
                for t in SWEEP]
        hot_rows.append([float(g[hot].mean()) for g in gray])
        sf, ag = [], []
        for d in SWEEP:
            fused = _eight_bit(_lite(ir, vis, weights, controls=Controls(detail_emphasis=d)))
            sf.append(metrics.spatial_frequency(fused))
            ag.append(metrics.average_gradient(fused))
        sf_rows.append(sf)
        ag_rows.append(ag)

    def summary(rows):  # type: ignore[no-untyped-def]
        arr = np.array(rows)
        monotone = np.all(np.diff(arr, axis=1) > 0, axis=1)
        return {"mean": arr.mean(axis=0).tolist(), "monotone_pairs": int(monotone.sum()), "pairs": len(rows)}

    return {"values": list(SWEEP), "thermal_hot_intensity": summary(hot_rows),
            "detail_SF": summary(sf_rows), "detail_AG": summary(ag_rows)}


def _strip(images: list[np.ndarray], height: int = 180) -> np.ndarray:
    """Side-by-side panels (gray ones as RGB), each resized to ``height`` rows."""
    from scipy import ndimage

    panels = []
    for image in images:
        rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, -1)
        zoom = height / rgb.shape[0]
        panels.append(np.clip(ndimage.zoom(rgb, (zoom, zoom, 1), order=1), 0, 1))
        panels.append(np.ones((height, 4, 3), np.float32))
    return np.concatenate(panels[:-1], axis=1)


def figures(pairs, weights, folder: Path, data: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """Write infrared | visible | lite | Laplacian strips for some held-out and degraded cases."""
    from napari_textif.io import write_image

    folder.mkdir(parents=True, exist_ok=True)
    fns = methods(weights)
    written = []
    cases = [(f"normal_{name.replace('/', '_')}", ir, vis, "") for name, ir, vis in pairs[::6][:4]]
    for kind, strength in (("vis_low_light", 0.9), ("vis_overexposure", 0.7), ("ir_stripe_noise", 0.8)):
        _, ir, vis = pairs[len(pairs) // 2]
        ir_d, vis_d = degrade_pair(ir, vis, {kind: strength}, 11)
        cases.append((f"{kind}_{strength}", ir_d, vis_d, PROMPTS[kind]))
    for title, ir, vis, prompt in cases:
        panels = [ir, vis, _lite(ir, vis, weights), fns["laplacian"](ir, vis)]  # type: ignore[operator]
        if prompt:
            panels.insert(3, _lite(ir, vis, weights, prompt))
        path = folder / f"lite_{title}.jpg"
        write_image(path, _strip(panels))
        written.append(path.name)
    for kind in ("vis_rain", "ir_low_contrast"):
        written += _real_failure_figure(data, kind, weights, folder)
    return written


def _real_failure_figure(data: Path, kind: str, weights, folder: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """infrared | visible | lite neutral | lite with the prompt | lite on the restored references."""
    from napari_textif.io import write_image

    items = [item for item in real_degraded(data, "val") if item["control"] == kind]
    if not items:
        return []
    item = items[-1]
    ir, vis, ir_r, vis_r = load_real(item)
    panels = [ir, vis, _lite(ir, vis, weights), _lite(ir, vis, weights, PROMPTS[kind]),
              _lite(ir_r, vis_r, weights)]
    path = folder / f"lite_real_{kind}_{item['scene']}.jpg"
    write_image(path, _strip(panels))
    return [path.name]


def _print_table(table: dict[str, dict[str, float]]) -> None:
    print(f"{'method':<10}" + "".join(f"{m:>8}" for m in metrics.METRIC_NAMES))
    for name, row in table.items():
        print(f"{name:<10}" + "".join(f"{row[m]:8.3f}" for m in metrics.METRIC_NAMES))


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description="lite engine quality on held-out pairs")
    parser.add_argument("--data", type=Path, required=True, help="the ivif folder")
    parser.add_argument("--weights", default=None, help="a lite .safetensors (default: shipped)")
    parser.add_argument("--per-set", type=int, default=8, help="held-out pairs per set (0: all)")
    parser.add_argument("--degraded-pairs", type=int, default=8, help="pairs per simulated kind")
    parser.add_argument("--ssim-convention", default="literature", choices=("literature", "correct"))
    parser.add_argument("--parts", default="normal,simulated,real,preferences")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--figures", type=Path, default=None, help="write example strips here")
    parser.add_argument("--baselines-from", type=Path, default=None,
                        help="reuse the classic/Laplacian scores of an earlier --json report")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    pairs = held_out(args.data, args.per_set)
    report: dict[str, object] = {"pairs": [n for n, _, _ in pairs], "ssim_convention": args.ssim_convention}
    parts = args.parts.split(",")
    if "normal" in parts:
        cached = None
        if args.baselines_from:
            old = json.loads(args.baselines_from.read_text())["per_pair"]
            cached = {k: v for k, v in old.items() if k != "lite"}
        per_pair = normal_fusion(pairs, args.weights, args.ssim_convention, cached)
        table = mean_table(per_pair, report["pairs"])
        report["per_pair"], report["normal"], report["versus"] = per_pair, table, compare(table)
        print(f"normal fusion, {len(pairs)} held-out pairs, SSIM {args.ssim_convention} convention")
        _print_table(table)
        for base, row in report["versus"].items():  # type: ignore[union-attr]
            print(f"lite vs {base}: better on {row['wins']}/8, worst relative loss {row['worst_loss']:+.1%}")
    if "simulated" in parts:
        sim_pairs = pairs[:: max(len(pairs) // args.degraded_pairs, 1)][: args.degraded_pairs]
        report["simulated"] = simulated(sim_pairs, args.weights)
        print(f"simulated degradations (strength {STRENGTH}, {len(sim_pairs)} pairs): "
              "gain of the matching prompt")
        for kind, row in report["simulated"].items():  # type: ignore[union-attr]
            print(f"  {kind:<18} PSNR {row['psnr_neutral']:6.2f} -> {row['psnr_prompt']:6.2f} "
                  f"({row['psnr_gain']:+.2f} dB)  SSIM {row['ssim_gain']:+.4f}  [{row['controls']}]")
    if "real" in parts:
        report["real"] = real(args.data, args.weights)
        print("real degraded_pairs/val scenes: gain of the matching prompt")
        for kind, row in report["real"].items():  # type: ignore[union-attr]
            print(f"  {kind:<18} n={row['scenes']:2d} PSNR {row['psnr_neutral']:6.2f} -> "
                  f"{row['psnr_prompt']:6.2f} ({row['psnr_gain']:+.2f} dB)  SSIM {row['ssim_gain']:+.4f}")
    if "preferences" in parts:
        report["preferences"] = sweeps = preference_sweeps(pairs, args.weights)
        print(f"preference sweeps over {SWEEP}:")
        for key in ("thermal_hot_intensity", "detail_SF", "detail_AG"):
            row = sweeps[key]
            print(f"  {key:<22} " + " ".join(f"{v:7.3f}" for v in row["mean"])
                  + f"  monotone on {row['monotone_pairs']}/{row['pairs']} pairs")
    if args.figures:
        report["figures"] = figures(pairs, args.weights, args.figures, args.data)
        print("figures:", ", ".join(report["figures"]))  # type: ignore[arg-type]
    report["seconds"] = time.time() - t0
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
