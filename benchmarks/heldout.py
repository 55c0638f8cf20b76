"""The held-out and validation splits and pair loading shared by the lite benchmarks.

The held-out split is the one the shipped ``lite`` weights were trained with
(``napari-textif train --holdout-every 5`` on RoadScene, LLVIP, VIFB, two M3SVD
sequences and ``degraded_pairs/train``; see docs/model-card.md): every 5th pair
of each set by name, the first included, and the whole M3SVD sequence
``0111_1753`` are never trained on. ``degraded_pairs/val`` is never trained on.

Runs with ``--validation-every 8`` also keep a validation set out of the rest:
of the pairs not held out, counted from 0, every 8th (the rule of
:func:`napari_textif.training.datasets.split_three`, which :func:`split` calls, so
the benchmarks and training share one rule). The held-out sequence has none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_textif import imaging
from napari_textif.io import list_images, read_image
from napari_textif.training.datasets import PairRecord, split_three

SETS = ("roadscene", "llvip", "m3svd", "vifb")
#: The M3SVD sequence that is held out whole (the others are trained on).
HELD_OUT_SEQUENCE = "0111_1753"
#: ``--holdout-every`` and ``--validation-every`` of the training runs.
HOLDOUT_EVERY, VALIDATION_EVERY = 5, 8
#: ``--split`` choice of the benchmarks -> key of :func:`split`.
SPLIT_KEYS = {"heldout": "val", "validation": "validation"}
#: Pairs with a side above this are halved (as LLVIP) before use.
MAX_SIDE = 900
#: degraded_pairs file suffix -> the control it names.
REAL_KINDS = {
    "VI": {"LL": "vis_low_light", "RN": "vis_noise", "Rain": "vis_rain", "Blur": "vis_blur",
           "haze": "vis_haze", "OE": "vis_overexposure"},
    "IR": {"LC": "ir_low_contrast", "RN": "ir_noise", "SN": "ir_stripe_noise"},
}


def _to_float(image: np.ndarray) -> np.ndarray:
    data = image.astype(np.float32) / (65535.0 if image.dtype == np.uint16 else 255.0)
    return data[..., :3] if data.ndim == 3 else data


def _ir_gray(image: np.ndarray) -> np.ndarray:
    data = _to_float(image)
    return (imaging.to_gray(data) if data.ndim == 3 else data).astype(np.float32)


def _vis_rgb(image: np.ndarray) -> np.ndarray:
    data = _to_float(image)
    return np.repeat(data[..., None], 3, -1) if data.ndim == 2 else data


def _halve(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    x = image[:h, :w]
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def set_folders(root: Path) -> list[tuple[str, Path]]:
    """(set name, folder holding ir/ and vi/) for every training set present."""
    out = []
    for name in SETS:
        folder = root / name
        if name == "m3svd" and folder.is_dir():
            out += [(f"m3svd/{seq.name}", seq) for seq in sorted(folder.iterdir()) if (seq / "ir").is_dir()]
        elif (folder / "ir").is_dir():
            out.append((name, folder))
    return out


def _named(set_name: str, records: list[PairRecord]) -> list[tuple[str, Path, Path]]:
    """``(set/stem, ir_path, vis_path)`` of plain records (one capture each), sorted by name."""
    records = sorted(records, key=lambda r: r.name)
    return [(f"{set_name}/{r.name.rsplit('/', 1)[-1]}", r.infrared[0].path, r.visible[0].path)
            for r in records]


def split(root: Path) -> dict[str, list[tuple[str, Path, Path]]]:
    """Deterministic splits: held out (every 5th pair of each set, one M3SVD sequence) and validation.

    Returns
    -------
    dict of str to list of tuple
        ``(name, ir_path, vis_path)`` with names such as ``roadscene/FLIR_00006`` or
        ``m3svd/0114_1551/0010``, in set order then by name:

        - ``val``: the held-out pairs, every 5th of RoadScene, LLVIP and VIFB and the
          whole sequence :data:`HELD_OUT_SEQUENCE` (never trained on);
        - ``train``: every other pair, validation included (so also the every-5th pairs
          of the other M3SVD sequences, which training holds out but this split never did);
        - ``validation``: the pairs ``split_three(folder, HOLDOUT_EVERY, VALIDATION_EVERY)``
          puts in ``val``, per folder; none of :data:`HELD_OUT_SEQUENCE`.
    """
    parts: dict[str, list[tuple[str, Path, Path]]] = {"train": [], "val": [], "validation": []}
    for set_name, folder in set_folders(root):
        three = split_three(folder, HOLDOUT_EVERY, VALIDATION_EVERY)
        records = three["held_out"] + three["val"] + three["train"]
        whole = set_name == f"m3svd/{HELD_OUT_SEQUENCE}"
        held = records if whole else [] if set_name.startswith("m3svd") else three["held_out"]
        held_names = {r.name for r in held}
        parts["val"] += _named(set_name, held)
        parts["train"] += _named(set_name, [r for r in records if r.name not in held_names])
        parts["validation"] += [] if whole else _named(set_name, three["val"])
    return parts


def by_set(items: list[tuple[str, Path, Path]]) -> dict[str, list[tuple[str, Path, Path]]]:
    """Items of :func:`split` grouped by set (``roadscene``, ``llvip``, ``m3svd``, ``vifb``), in order."""
    out: dict[str, list[tuple[str, Path, Path]]] = {}
    for item in items:
        out.setdefault(set_of(item[0]), []).append(item)
    return out


def set_of(name: str) -> str:
    """The set of a pair name: ``m3svd/0114_1551/0010`` -> ``m3svd``."""
    return name.split("/")[0]


def load_pair(ir_path: Path, vis_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a pair as float32 infrared (H, W) and visible RGB (H, W, 3); big pairs are halved."""
    ir, vis = _ir_gray(read_image(ir_path)), _vis_rgb(read_image(vis_path))
    h, w = min(ir.shape[0], vis.shape[0]), min(ir.shape[1], vis.shape[1])
    ir, vis = ir[:h, :w], vis[:h, :w]
    while max(ir.shape) > MAX_SIDE:
        ir, vis = _halve(ir), _halve(vis)
    return ir, vis


def real_degraded(root: Path, part: str = "train") -> list[dict[str, object]]:
    """Real degraded inputs of ``degraded_pairs/<part>`` with their clean references."""
    base = root / "degraded_pairs" / part
    if not base.is_dir():
        return []
    out = []
    vi_ref, ir_ref = list_images(base / "VI_enhanced"), list_images(base / "IR_enhanced")
    vi, ir = list_images(base / "VI"), list_images(base / "IR")
    for stem in sorted(vi_ref):
        if f"{stem}_Norm" not in ir or stem not in ir_ref:
            continue
        for suffix, control in REAL_KINDS["VI"].items():
            if f"{stem}_{suffix}" in vi:
                out.append({"scene": stem, "control": control, "ir": ir[f"{stem}_Norm"],
                            "vis": vi[f"{stem}_{suffix}"], "ir_ref": ir_ref[stem], "vis_ref": vi_ref[stem]})
        for suffix, control in REAL_KINDS["IR"].items():
            if f"{stem}_{suffix}" in ir and f"{stem}_Norm" in vi:
                out.append({"scene": stem, "control": control, "ir": ir[f"{stem}_{suffix}"],
                            "vis": vi[f"{stem}_Norm"], "ir_ref": ir_ref[stem], "vis_ref": vi_ref[stem]})
    return out


def load_real(item: dict[str, object]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A :func:`real_degraded` item as infrared, visible and their references, cropped to one size."""
    ir, vis = load_pair(item["ir"], item["vis"])  # type: ignore[arg-type]
    ir_r, vis_r = load_pair(item["ir_ref"], item["vis_ref"])  # type: ignore[arg-type]
    h, w = min(ir.shape[0], ir_r.shape[0]), min(ir.shape[1], ir_r.shape[1])
    return ir[:h, :w], vis[:h, :w], ir_r[:h, :w], vis_r[:h, :w]
