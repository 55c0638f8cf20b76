"""Tiled vs untiled Text-IF inference: seam measures and a difference image for the docs.

Runs the full-size network (PyTorch's default random init unless ``--checkpoint`` is
given) on a 512x512 pair, once on the whole image and once in 256 px tiles with 64 px
overlap, prints the seam report of ``tests/test_textif_engine.py`` and writes
``docs/images/textif_tiling_difference.png``: the tiled result, the untiled result and
``|tiled - untiled|`` (scaled to its maximum).

Usage::

    python benchmarks/textif_tiling.py [--checkpoint text_fusion.pth] [--pair IR VIS]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def load_pair(paths: list[Path] | None, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A real pair cropped to ``size`` if given, else the synthetic sample."""
    from napari_textif import imaging
    from napari_textif.samples import synthetic_pair

    if paths:
        from napari_textif.io import read_image

        ir, vis = (read_image(p) for p in paths)
    else:
        ir, vis = synthetic_pair(shape=(size, size), seed=4)
    ir, vis, _ = imaging.prepare_pair(ir, vis)
    return ir[:size, :size], vis[:size, :size]


def main(argv: list[str] | None = None) -> int:
    import torch

    from napari_textif import imaging
    from napari_textif.engines import FusionRequest
    from napari_textif.engines.textif import engine
    from napari_textif.engines.textif.net import TextIFNet
    from test_textif_engine import seam_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--pair", type=Path, nargs=2, default=None, metavar=("IR", "VIS"))
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "textif_tiling_difference.png")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = TextIFNet().eval()
    if args.checkpoint:
        from napari_textif.engines.textif import checkpoints

        net.load_state_dict(checkpoints.load_checkpoint(args.checkpoint).fusion)
    ir, vis = load_pair(args.pair, args.size)
    visible, infrared = engine._network_inputs(vis, ir)
    runner = engine._Runner(net, torch.randn(1, 512), "fp32", FusionRequest(ir, vis, None, ""))
    with torch.inference_mode():
        whole = np.clip(runner.fuse(visible, infrared, "cpu", {})[0], 0, 1)
        tiled = np.clip(runner.fuse(visible, infrared, "cpu", {"tile_size": args.tile,
                                                                "tile_overlap": args.overlap})[0], 0, 1)
    report = seam_report(tiled, whole, args.tile, args.overlap)
    print(" ".join(f"{k}={v:.4g}" for k, v in report.items()))
    diff = np.abs(tiled - whole).max(axis=-1)
    panel = np.repeat((diff / max(float(diff.max()), 1e-12))[..., None], 3, axis=2)
    framed = [np.pad(im, ((8, 8), (8, 8), (0, 0)), constant_values=1.0) for im in (tiled, whole, panel)]
    for t in imaging.tile_grid(diff.shape, args.tile, args.overlap):
        for edge in (t.rows.start, t.rows.stop - 1, t.cols.start, t.cols.stop - 1):
            # Red ticks in the white margin mark tile borders without hiding any pixel.
            framed[2][edge + 8, :8] = framed[2][edge + 8, -8:] = (1.0, 0.0, 0.0)
            framed[2][:8, edge + 8] = framed[2][-8:, edge + 8] = (1.0, 0.0, 0.0)
    from napari_textif.io import write_image

    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_image(args.out, np.concatenate(framed, axis=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
