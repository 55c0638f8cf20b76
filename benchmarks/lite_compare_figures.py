"""Strips that put two lite weights side by side on held-out pairs (the lite_v3 failure cases).

Each strip is infrared | visible (degraded where a prompt is given) | weights A | weights B.

Usage::

    python benchmarks/lite_compare_figures.py --data ../shared/data/ivif \\
        --a src/napari_textif/engines/lite/weights/lite_v2.safetensors \\
        --b src/napari_textif/engines/lite/weights/lite_v3.safetensors --out docs/images
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lite_quality import PROMPTS, _lite, _strip, held_out
from napari_textif.io import write_image
from napari_textif.training.degrade import degrade_pair

#: (held-out pair, degradation or None, strength)
CASES = (("llvip/", None, 0.0), ("m3svd/", None, 0.0), ("roadscene/", "vis_haze", 0.6))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--a", required=True, help="first lite .safetensors")
    parser.add_argument("--b", required=True, help="second lite .safetensors")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    pairs = held_out(args.data, 4)
    args.out.mkdir(parents=True, exist_ok=True)
    for prefix, kind, strength in CASES:
        name, ir, vis = next(p for p in pairs if p[0].startswith(prefix))
        prompt = PROMPTS[kind] if kind else ""
        if kind:
            ir, vis = degrade_pair(ir, vis, {kind: strength}, 5)
        panels = [ir, vis, _lite(ir, vis, args.a, prompt), _lite(ir, vis, args.b, prompt)]
        path = args.out / f"compare_{Path(args.a).stem}_{Path(args.b).stem}_{name.replace('/', '_')}.jpg"
        write_image(path, _strip(panels))
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
