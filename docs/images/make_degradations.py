"""Draw docs/images/degradations.png: the nine simulated degradations on a real RoadScene pair.

Run from the repository root: ``python docs/images/make_degradations.py [SHARED_DIR]``
(the shared data folder defaults to ``../shared``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from napari_textif.controls import DEGRADATIONS
from napari_textif.training.degrade import degrade

PAIR = "FLIR_05072.jpg"
STRENGTHS = (0.5, 1.0)
TILE_WIDTH = 200


def load(path: Path, mode: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert(mode), np.float32) / 255.0


def tile(image: np.ndarray, label: str) -> Image.Image:
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
    picture = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    picture = picture.resize((TILE_WIDTH, round(TILE_WIDTH * rgb.shape[0] / rgb.shape[1])), Image.LANCZOS)
    canvas = Image.new("RGB", (picture.width, picture.height + 16), "white")
    canvas.paste(picture, (0, 16))
    ImageDraw.Draw(canvas).text((3, 2), label, fill="black")
    return canvas


def main(shared: Path) -> None:
    folder = shared / "data" / "ivif" / "roadscene"
    ir, vis = load(folder / "ir" / PAIR, "L"), load(folder / "vi" / PAIR, "RGB")
    rows = []
    for kind in DEGRADATIONS:
        clean = ir if kind.startswith("ir_") else vis
        tiles = [tile(clean, f"{kind} 0 (clean)")]
        tiles += [tile(degrade(clean, kind, s, 7), f"{kind} {s:g}") for s in STRENGTHS]
        rows.append(tiles)
    width, height = rows[0][0].size
    sheet = Image.new("RGB", (3 * width, len(rows) * height), "white")
    for r, tiles in enumerate(rows):
        for c, t in enumerate(tiles):
            sheet.paste(t, (c * width, r * height))
    out = Path(__file__).with_name("degradations.png")
    sheet.save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared"))
