"""Score the classic engine and simple reference fusions on RoadScene pairs and print a table.

Each method fuses the visible luminance with the infrared image (the colour
comes back from the visible image), the result is rounded to 8 bits as if it
were saved, and :func:`napari_textif.metrics.compute_all` scores it against the
source files. Published CDDFuse numbers on RoadScene are printed beside the
table as a scale (a different set of 50 pairs, so not a target).

Usage::

    python benchmarks/score_baselines.py                 # first 50 pairs, SSIM literature convention
    python benchmarks/score_baselines.py --limit 0 --ssim-convention correct --csv scores.csv
    python benchmarks/score_baselines.py --timing       # seconds per metric on a 576x768 pair
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from napari_textif import imaging, metrics
from napari_textif.io import list_images, quantize, read_image

REPO = Path(__file__).resolve().parents[1]
#: CDDFuse (CVPR 2023) on its 50 RoadScene test pairs, SSIM in the literature convention.
PUBLISHED = {
    "CDDFuse (published, other 50 pairs)": dict(
        zip(metrics.METRIC_NAMES, (7.44, 54.67, 16.36, float("nan"), 2.30, 1.81, 0.69, 0.52, 0.98),
            strict=True)
    )
}

Fusion = Callable[[np.ndarray, np.ndarray], np.ndarray]


def luminance_fusion(rule: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Fusion:
    """Fuse infrared with the visible luminance by ``rule`` and put the visible chroma back."""

    def fuse(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
        return imaging.with_luminance(vis, rule(ir, imaging.to_gray(vis)))

    return fuse


def laplacian(ir: np.ndarray, y: np.ndarray) -> np.ndarray:
    from napari_textif.engines.classic.pyramid import laplacian_fusion

    return laplacian_fusion(ir, y)


def classic(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    import napari_textif

    return napari_textif.fuse(ir, vis, engine="classic").image


METHODS: dict[str, Fusion] = {
    "average": luminance_fusion(lambda ir, y: 0.5 * (ir + y)),
    "max": luminance_fusion(np.maximum),
    "laplacian": luminance_fusion(laplacian),
    "classic": classic,
}


def default_data() -> Path:
    root = Path(os.environ.get("NAPARI_TEXTIF_SHARED", REPO.parent / "shared"))
    return root / "data" / "ivif" / "roadscene"


def load_pairs(data: Path, limit: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The first ``limit`` pairs (all when 0) of ``data/ir`` and ``data/vi``, sorted by name."""
    ir_files = list_images(data / "ir", role="infrared")
    vis_files = list_images(data / "vi", role="visible")
    stems = sorted(set(ir_files) & set(vis_files))
    stems = stems[:limit] if limit > 0 else stems
    return [(s, read_image(ir_files[s]), read_image(vis_files[s])) for s in stems]


def score_method(
    fusion: Fusion, pairs: list[tuple[str, np.ndarray, np.ndarray]], convention: str
) -> tuple[dict[str, float], float, float]:
    """Mean scores over the pairs, seconds per fusion, seconds per scoring."""
    rows, fuse_s, score_s = [], 0.0, 0.0
    for _, ir_raw, vis_raw in pairs:
        ir, vis, _ = imaging.prepare_pair(ir_raw, vis_raw)
        t0 = time.perf_counter()
        fused = quantize(fusion(ir, vis), 8)
        t1 = time.perf_counter()
        rows.append(metrics.compute_all(fused, ir_raw, vis_raw, ssim_convention=convention))
        score_s += time.perf_counter() - t1
        fuse_s += t1 - t0
    mean = {k: float(np.mean([r[k] for r in rows])) for k in metrics.METRIC_NAMES}
    return mean, fuse_s / len(pairs), score_s / len(pairs)


def time_metrics(data: Path, repeats: int = 5) -> None:
    """Print the median seconds of each metric on a 576x768 pair (an LLVIP crop, else synthetic)."""
    llvip = data.parent / "llvip"
    if (llvip / "ir").is_dir():
        stem, ir, vis = load_pairs(llvip, 1)[0]
        ir, vis, source = ir[:576, :768], vis[:576, :768], f"LLVIP {stem} cropped"
    else:
        from napari_textif.samples import synthetic_pair

        ir, vis = synthetic_pair(shape=(576, 768))
        source = "synthetic"
    a, b, _ = imaging.prepare_pair(ir, vis)
    fused = quantize(METHODS["laplacian"](a, b), 8)
    calls = {name: getattr(metrics, name) for name in ("vif", "qabf", "ssim_sum", "mutual_information")}
    calls["compute_all"] = metrics.compute_all
    print(f"metric timings on a {ir.shape[0]}x{ir.shape[1]} pair ({source}), median of {repeats}:")
    for name, fn in calls.items():
        wall, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            fn(fused, ir, vis)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        print(f"  {name:<20} {np.median(wall):.3f} s wall  {np.median(cpu):.3f} s cpu")


def format_table(results: dict[str, dict[str, float]], timings: dict[str, tuple[float, float]]) -> str:
    header = f"{'method':<36}" + "".join(f"{k:>8}" for k in metrics.METRIC_NAMES) + "  fuse s  score s"
    lines = [header, "-" * len(header)]
    for name, scores in results.items():
        cells = "".join(f"{scores[k]:8.2f}" if np.isfinite(scores[k]) else f"{'-':>8}" for k in scores)
        fuse_s, score_s = timings.get(name, (float("nan"), float("nan")))
        tail = f"  {fuse_s:6.3f}  {score_s:7.3f}" if np.isfinite(fuse_s) else ""
        lines.append(f"{name:<36}{cells}{tail}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data(), help="folder with ir/ and vi/")
    parser.add_argument("--limit", type=int, default=50, help="number of pairs, sorted by name (0: all)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of methods")
    parser.add_argument("--ssim-convention", choices=tuple(metrics.SSIM_CONVENTIONS), default="literature")
    parser.add_argument("--csv", type=Path, default=None, help="also write the mean table as CSV")
    parser.add_argument("--timing", action="store_true", help="only time each metric on a 576x768 pair")
    args = parser.parse_args(argv)
    if args.timing:
        time_metrics(args.data)
        return 0
    if not (args.data / "ir").is_dir():
        print(f"no RoadScene pairs at {args.data} (set NAPARI_TEXTIF_SHARED or --data)", file=sys.stderr)
        return 2
    pairs = load_pairs(args.data, args.limit)
    results: dict[str, dict[str, float]] = {}
    timings: dict[str, tuple[float, float]] = {}
    for name in args.methods.split(","):
        results[name], *t = score_method(METHODS[name], pairs, args.ssim_convention)
        timings[name] = (t[0], t[1])
        print(f"scored {name}", file=sys.stderr)
    for name, scores in PUBLISHED.items():
        same_ssim = args.ssim_convention == "literature"
        results[name] = {**scores, "SSIM": scores["SSIM"] if same_ssim else float("nan")}
    span = metrics.ssim_data_range(args.ssim_convention)
    print(f"RoadScene, {len(pairs)} pairs from {args.data}; SSIM convention: "
          f"{args.ssim_convention} (data_range {span:g}); seconds are per pair")
    print(format_table(results, timings))
    if args.csv is not None:
        with args.csv.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["method", *metrics.METRIC_NAMES, "ssim_convention"])
            for name, scores in results.items():
                writer.writerow([name, *scores.values(), args.ssim_convention])
    return 0


if __name__ == "__main__":
    sys.exit(main())
