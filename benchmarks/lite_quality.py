"""Quality of the ``lite`` engine on held-out real pairs, beside other weights, classic and Laplacian fusion.

Three parts, all on pairs the shipped weights were not trained on (the held-out
split of ``benchmarks/heldout.py``: every 5th pair of RoadScene, LLVIP and
VIFB and the whole M3SVD sequence 0111_1753; or, with ``--split validation``,
the validation pairs of ``napari-textif train --holdout-every 5 --validation-every 8``;
pairs wider than 900 pixels are halved as in training):

1. **Normal fusion** (neutral prompt): the eight literature metrics of
   :func:`napari_textif.metrics.compute_all` (SSIM in the ``literature``
   convention unless ``--ssim-convention correct``) for lite (``--weights``), each
   ``--compare`` weights file (named by its stem, e.g. ``lite_v2``), classic and a
   Laplacian-pyramid fusion; every result is rounded to 8 bits as if saved. Per set
   and over all pairs: on how many of the eight metrics (higher is better on all)
   lite beats each other method, its worst relative shortfall on the rest, and
   whether the bar (at least 6 of 8, within 2% on the rest) holds.
2. **Simulated degradations**: each of the nine kinds at strength 0.5 by
   :mod:`napari_textif.training.degrade`; PSNR/SSIM of the fusion made with the matching
   prompt and with a neutral prompt against the lite fusion of the clean pair.
3. **Real degradations**: the ``val`` scenes of ``degraded_pairs``; the same
   comparison against the lite fusion of the restored references.

Parts 2 and 3 and the preference sweeps run for ``--weights``, and for the
``--compare`` weights too where named in ``--compare-parts`` (default: the sweeps).

Usage::

    python benchmarks/lite_quality.py --data ../shared/data/ivif --per-set 8 --json local/q.json
    OMP_NUM_THREADS=1 python benchmarks/lite_quality.py --data ../shared/data/ivif --split validation \
        --weights lite_v3.safetensors --compare src/napari_textif/engines/lite/weights/lite_v2.safetensors \
        --per-set 0 --parts normal,preferences --json local/q_v3_validation.json
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heldout import SPLIT_KEYS, by_set, load_pair, load_real, real_degraded, set_of, split
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
#: The methods besides the ``--compare`` weights (their names may not be taken by a stem).
FIXED_METHODS = ("lite", "classic", "laplacian")
#: The bar lite must pass against each baseline: this many wins of the eight ...
BAR_WINS = 8 - 2
#: ... and no relative shortfall larger than this on the others.
BAR_TOLERANCE = 0.02


def held_out(data: Path, per_set: int, which: str = "heldout") -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Up to ``per_set`` pairs of each set of split ``which`` (a ``SPLIT_KEYS`` key), spread over the set."""
    chosen = []
    for items in by_set(split(data)[SPLIT_KEYS[which]]).values():
        step = max(len(items) // per_set, 1) if per_set else 1
        chosen += items[::step][: per_set or None]
    return [(name, *load_pair(ir, vi)) for name, ir, vi in chosen]


def _eight_bit(image: np.ndarray) -> np.ndarray:
    return quantize(np.clip(image, 0.0, 1.0), 8)


def _lite(ir: np.ndarray, vis: np.ndarray, weights: str | None, prompt: str = "",
          controls: Controls | None = None) -> np.ndarray:
    options = {"checkpoint": weights} if weights else {}
    return fuse(ir, vis, prompt, engine="lite", controls=controls, device="cpu", options=options).image


def compare_names(paths: list[str]) -> dict[str, str]:
    """Method name (the file stem) -> path of each ``--compare`` weights file.

    Raises
    ------
    ValueError
        When a stem repeats or is one of :data:`FIXED_METHODS`.
    """
    named: dict[str, str] = {}
    for path in paths:
        stem = Path(path).stem
        if stem in named or stem in FIXED_METHODS:
            raise ValueError(f"--compare {path}: the method name {stem!r} repeats or is taken; "
                             "rename the file")
        named[stem] = str(path)
    return named


def methods(weights: str | None, compare: dict[str, str] | None = None) -> dict[str, object]:
    """``fn(ir, vis) -> fused`` per method: lite, each ``compare`` (name -> weights), classic, Laplacian."""
    from napari_textif.engines.classic.pyramid import laplacian_fusion

    return {
        "lite": lambda ir, vis: _lite(ir, vis, weights),
        **{name: functools.partial(_lite, weights=path) for name, path in (compare or {}).items()},
        "classic": lambda ir, vis: fuse(ir, vis, engine="classic").image,
        "laplacian": lambda ir, vis: imaging.with_luminance(vis, laplacian_fusion(ir, imaging.to_gray(vis))),
    }


def normal_fusion(pairs, weights, convention, cached=None, compare=None):  # type: ignore[no-untyped-def]
    """Per method (in :func:`methods` order) and pair, every metric; ``cached`` rows are reused."""
    scores: dict[str, dict[str, dict[str, float]]] = {k: dict(v) for k, v in (cached or {}).items()}
    fns = methods(weights, compare)
    for pair_name, ir, vis in pairs:
        for name, fn in fns.items():
            if pair_name in scores.get(name, {}):
                continue
            fused = _eight_bit(fn(ir, vis))  # type: ignore[operator]
            scores.setdefault(name, {})[pair_name] = metrics.compute_all(fused, ir, vis,
                                                                         ssim_convention=convention)
    rank = list(fns)
    return dict(sorted(scores.items(), key=lambda kv: rank.index(kv[0]) if kv[0] in rank else len(rank)))


def mean_table(per_pair, names):  # type: ignore[no-untyped-def]
    """Mean of each metric per method over the pairs ``names``."""
    return {method: {m: float(np.mean([rows[n][m] for n in names])) for m in metrics.METRIC_NAMES}
            for method, rows in per_pair.items()}


def compare(table: dict[str, dict[str, float]], baselines: list[str] | None = None,
            ours: str = "lite") -> dict[str, dict[str, object]]:
    """Wins of ``ours`` over each baseline on the eight metrics (higher is better on all).

    Parameters
    ----------
    table : dict
        Method -> metric -> value (a :func:`mean_table`).
    baselines : list of str, optional
        Methods to compare against (default: every other method of ``table``).
    ours : str
        The method under test.

    Returns
    -------
    dict
        Per baseline: ``wins`` (metrics strictly better), ``relative`` (per metric,
        ``(ours - base) / |base|``), ``lost`` (the other metrics), ``worst_loss`` (the
        smallest relative value), ``worst_shortfall`` (the smallest over ``lost``, 0 when
        none) and ``bar`` (at least :data:`BAR_WINS` wins, within :data:`BAR_TOLERANCE`
        on the rest).
    """
    out = {}
    for base in baselines or [m for m in table if m != ours]:
        rel = {m: (table[ours][m] - table[base][m]) / max(abs(table[base][m]), 1e-12) for m in EIGHT}
        lost = [m for m in EIGHT if rel[m] <= 0]
        shortfall = min((rel[m] for m in lost), default=0.0)
        out[base] = {"wins": len(EIGHT) - len(lost), "relative": rel, "lost": lost,
                     "worst_loss": min(rel.values()), "worst_shortfall": shortfall,
                     "bar": len(EIGHT) - len(lost) >= BAR_WINS and shortfall >= -BAR_TOLERANCE}
    return out


def per_set(per_pair, names):  # type: ignore[no-untyped-def]
    """Per set of the pairs ``names`` and ``mean`` (over all of them): pairs, mean table, :func:`compare`."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(set_of(name), []).append(name)
    groups["mean"] = list(names)
    out = {}
    for group, members in groups.items():
        table = mean_table(per_pair, members)
        out[group] = {"pairs": len(members), "table": table, "versus": compare(table)}
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
        mean = arr.mean(axis=0)
        return {"mean": mean.tolist(), "range": float(mean[-1] - mean[0]),
                "monotone_pairs": int(monotone.sum()), "pairs": len(rows)}

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


def _print_versus(sets: dict[str, dict[str, object]]) -> None:
    """The :func:`per_set` verdicts: one line per set and baseline."""
    print(f"lite against each method per set (bar: wins >= {BAR_WINS} of {len(EIGHT)} "
          f"and within {BAR_TOLERANCE:.0%} on the rest)")
    print(f"  {'set':<10}{'pairs':>6}  {'method':<12}{'wins':>5}  {'worst':>7}  {'bar':<4} lost (relative)")
    for group, row in sets.items():
        for base, v in row["versus"].items():  # type: ignore[attr-defined]
            lost = ", ".join(f"{m} {v['relative'][m]:+.1%}" for m in v["lost"]) or "-"
            worst = f"{v['worst_shortfall']:+7.1%}" if v["lost"] else f"{'-':>7}"
            print(f"  {group:<10}{row['pairs']:>6}  {base:<12}{v['wins']:>3}/8  "
                  f"{worst}  {'yes' if v['bar'] else 'no':<4} {lost}")


def normal_part(args, pairs, compare_weights):  # type: ignore[no-untyped-def]
    """Part 1 with its printout: ``per_pair``, ``normal`` (mean table), ``versus`` (mean) and ``per_set``."""
    cached = None
    if args.baselines_from:
        old = json.loads(args.baselines_from.read_text())
        if old.get("ssim_convention") != args.ssim_convention:
            raise SystemExit(f"--baselines-from {args.baselines_from}: another SSIM convention")
        cached = {k: v for k, v in old["per_pair"].items() if k in ("classic", "laplacian")}
    per_pair = normal_fusion(pairs, args.weights, args.ssim_convention, cached, compare_weights)
    sets = per_set(per_pair, [n for n, _, _ in pairs])
    print(f"normal fusion, {len(pairs)} {args.split} pairs, SSIM {args.ssim_convention} convention")
    for group, row in sets.items():
        print(f"{group} ({row['pairs']} pairs)")
        _print_table(row["table"])
    _print_versus(sets)
    return {"per_pair": per_pair, "normal": sets["mean"]["table"], "versus": sets["mean"]["versus"],
            "per_set": sets}


def simulated_part(args, pairs, weights, label="lite"):  # type: ignore[no-untyped-def]
    """Part 2 for one weights file, printed."""
    sim_pairs = pairs[:: max(len(pairs) // args.degraded_pairs, 1)][: args.degraded_pairs]
    rows = simulated(sim_pairs, weights)
    print(f"[{label}] simulated degradations (strength {STRENGTH}, {len(sim_pairs)} pairs): "
          "gain of the matching prompt")
    for kind, row in rows.items():
        print(f"  {kind:<18} PSNR {row['psnr_neutral']:6.2f} -> {row['psnr_prompt']:6.2f} "
              f"({row['psnr_gain']:+.2f} dB)  SSIM {row['ssim_gain']:+.4f}  [{row['controls']}]")
    return rows


def real_part(args, pairs, weights, label="lite"):  # type: ignore[no-untyped-def]
    """Part 3 for one weights file, printed."""
    rows = real(args.data, weights)
    print(f"[{label}] real degraded_pairs/val scenes: gain of the matching prompt")
    for kind, row in rows.items():
        print(f"  {kind:<18} n={row['scenes']:2d} PSNR {row['psnr_neutral']:6.2f} -> "
              f"{row['psnr_prompt']:6.2f} ({row['psnr_gain']:+.2f} dB)  SSIM {row['ssim_gain']:+.4f}")
    return rows


def preferences_part(args, pairs, weights, label="lite"):  # type: ignore[no-untyped-def]
    """The preference sweeps for one weights file, printed (``range``: value at +1 minus at -1)."""
    sweeps = preference_sweeps(pairs, weights)
    print(f"[{label}] preference sweeps over {SWEEP}:")
    for key in ("thermal_hot_intensity", "detail_SF", "detail_AG"):
        row = sweeps[key]
        print(f"  {key:<22} " + " ".join(f"{v:7.3f}" for v in row["mean"])
              + f"  range {row['range']:+.3f}  monotone on {row['monotone_pairs']}/{row['pairs']} pairs")
    return sweeps


#: The parts that score one lite weights file, run for ``--weights`` and the ``--compare-parts``.
LITE_PARTS = {"simulated": simulated_part, "real": real_part, "preferences": preferences_part}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="lite engine quality on held-out pairs")
    parser.add_argument("--data", type=Path, required=True, help="the ivif folder")
    parser.add_argument("--weights", default=None, help="a lite .safetensors (default: shipped)")
    parser.add_argument("--compare", nargs="+", default=[], metavar="WEIGHTS",
                        help="other lite .safetensors, each scored as a method named by its stem")
    parser.add_argument("--compare-parts", default="preferences",
                        help="which of simulated,real,preferences also run for the --compare weights")
    parser.add_argument("--split", default="heldout", choices=tuple(SPLIT_KEYS),
                        help="the pairs scored: held out, or the validation pairs of training")
    parser.add_argument("--per-set", type=int, default=8, help="pairs per set (0: all)")
    parser.add_argument("--degraded-pairs", type=int, default=8, help="pairs per simulated kind")
    parser.add_argument("--ssim-convention", default="literature", choices=("literature", "correct"))
    parser.add_argument("--parts", default="normal,simulated,real,preferences")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--figures", type=Path, default=None, help="write example strips here")
    parser.add_argument("--baselines-from", type=Path, default=None,
                        help="reuse the classic/Laplacian scores of an earlier --json report")
    return parser


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = _parser()
    args = parser.parse_args(argv)
    try:
        compare_weights = compare_names(args.compare)
    except ValueError as error:
        parser.error(str(error))
    missing = [p for p in [args.weights, *args.compare] if p and not Path(p).is_file()]
    if missing:
        parser.error(f"weights not found: {', '.join(missing)}")
    torch.set_num_threads(1)
    t0 = time.time()
    pairs = held_out(args.data, args.per_set, args.split)
    report: dict[str, object] = {"split": args.split, "weights": args.weights, "compare": {
        name: {"weights": path} for name, path in compare_weights.items()},
        "pairs": [n for n, _, _ in pairs], "ssim_convention": args.ssim_convention}
    parts = args.parts.split(",")
    if "normal" in parts:
        report.update(normal_part(args, pairs, compare_weights))
    for part, run in LITE_PARTS.items():
        if part not in parts:
            continue
        report[part] = run(args, pairs, args.weights)
        if part in args.compare_parts.split(","):
            for name, path in compare_weights.items():
                report["compare"][name][part] = run(args, pairs, path, name)  # type: ignore[index]
    if args.figures:
        report["figures"] = figures(pairs, args.weights, args.figures, args.data)
        print("figures:", ", ".join(report["figures"]))  # type: ignore[arg-type]
    report["seconds"] = time.time() - t0
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
