"""Train the ``lite`` network on the real pairs of ``../shared/data/ivif`` (CPU, one thread).

This is the training recipe of the shipped ``lite_v1`` weights. It was written
because the project's general ``napari-textif train`` command was not yet there
when the weights had to be trained; it uses the same trainable-engine protocol
(:meth:`LiteEngine.create_model`, :meth:`LiteEngine.train_forward`).

Recipe
------
* Pairs: RoadScene, LLVIP (halved in size), M3SVD, VIFB and the ``train`` scenes of
  ``degraded_pairs``; a deterministic held-out split (:func:`split`) is never trained on.
* A pool of whole pairs degraded by :mod:`napari_textif.degrade` (none, one or two
  kinds, strength 0.2..1), refreshed ``--refresh`` pairs per step; square crops
  (``--crop``; lite_v1: 445 steps at 128 then 20,209 at 96 from those weights), flips.
* When a degradation is *named* in the Controls (70 %), the targets are the clean
  sources, so the network learns to restore what the words name; when it is not,
  the targets are the degraded sources (faithful fusion of what was given).
* Preferences: ``thermal_emphasis`` moves the intensity target in the regions where the
  infrared is brighter than the visible image from the visible intensity (-1) through
  ``max`` (0) to a boosted infrared (+1); ``detail_emphasis`` scales the target gradient
  magnitudes by ``1 + 0.5 * detail_emphasis``.
* Loss (the paper's terms): 8 * L1 intensity + SSIM to both sources + 10 * L1 Sobel gradient.
* AdamW, lr 2e-3 with warm-up and cosine decay over the wall-clock budget, batch 8.

Usage::

    python benchmarks/lite_train.py --data ../shared/data/ivif --until 09:00 --out local/lite_run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from napari_textif.controls import CONTROL_NAMES, DEGRADATIONS
from napari_textif.degrade import degrade_pair
from napari_textif.io import list_images, read_image

SETS = ("roadscene", "llvip", "m3svd", "vifb")
HELD_OUT_SEQUENCE = "0111_1753"
CROP = 128
BATCH = 8
POOL = 48
REFRESH_PER_STEP = 2
#: degraded_pairs file suffix -> the control it names.
REAL_KINDS = {
    "VI": {"LL": "vis_low_light", "RN": "vis_noise", "Rain": "vis_rain", "Blur": "vis_blur",
           "haze": "vis_haze", "OE": "vis_overexposure"},
    "IR": {"LC": "ir_low_contrast", "RN": "ir_noise", "SN": "ir_stripe_noise"},
}


# --- data -----------------------------------------------------------------------------------


def _to_float(image: np.ndarray) -> np.ndarray:
    data = image.astype(np.float32) / (65535.0 if image.dtype == np.uint16 else 255.0)
    return data[..., :3] if data.ndim == 3 else data


def _ir_gray(image: np.ndarray) -> np.ndarray:
    data = _to_float(image)
    if data.ndim == 3:
        data = 0.299 * data[..., 0] + 0.587 * data[..., 1] + 0.114 * data[..., 2]
    return data.astype(np.float32)


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


def split(root: Path) -> dict[str, list[tuple[str, Path, Path]]]:
    """Deterministic train/validation split: every 5th pair of each set, and one M3SVD sequence.

    Returns ``{"train": [...], "val": [...]}`` of ``(name, ir_path, vis_path)``.
    """
    parts: dict[str, list[tuple[str, Path, Path]]] = {"train": [], "val": []}
    for set_name, folder in set_folders(root):
        ir, vi = list_images(folder / "ir"), list_images(folder / "vi")
        names = sorted(set(ir) & set(vi))
        for i, stem in enumerate(names):
            held = set_name.endswith(HELD_OUT_SEQUENCE) if set_name.startswith("m3svd") else i % 5 == 0
            parts["val" if held else "train"].append((f"{set_name}/{stem}", ir[stem], vi[stem]))
    return parts


def load_pair(ir_path: Path, vis_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a pair as float32 infrared (H, W) and visible RGB (H, W, 3); big pairs are halved."""
    ir, vis = _ir_gray(read_image(ir_path)), _vis_rgb(read_image(vis_path))
    h, w = min(ir.shape[0], vis.shape[0]), min(ir.shape[1], vis.shape[1])
    ir, vis = ir[:h, :w], vis[:h, :w]
    while max(ir.shape) > 900:
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


# --- samples --------------------------------------------------------------------------------


def random_degradation(rng: np.random.Generator) -> dict[str, float]:
    """None (25 %), one (55 %) or two (20 %) kinds at strength 0.2..1."""
    count = rng.choice([0, 1, 2], p=[0.25, 0.55, 0.2])
    kinds = rng.choice(len(DEGRADATIONS), size=count, replace=False)
    chosen = {DEGRADATIONS[k]: float(rng.uniform(0.2, 1.0)) for k in kinds}
    if "vis_low_light" in chosen and "vis_overexposure" in chosen:
        chosen.pop("vis_overexposure")
    return chosen


def make_entry(pair: tuple[np.ndarray, np.ndarray], rng: np.random.Generator) -> dict[str, object]:
    """One pool entry: degraded inputs, targets and the degradation part of the Controls."""
    ir, vis = pair
    chosen = random_degradation(rng)
    ir_d, vis_d = degrade_pair(ir, vis, chosen, rng) if chosen else (ir, vis)
    named = bool(chosen) and rng.random() < 0.7
    controls = np.zeros(len(CONTROL_NAMES), np.float32)
    if named:
        for kind, s in chosen.items():
            controls[CONTROL_NAMES.index(kind)] = np.clip(s * rng.uniform(0.8, 1.2), 0.0, 1.0)
    ir_t, vis_t = (ir, vis) if named else (ir_d, vis_d)
    return {"ir": ir_d, "vis": vis_d, "ir_t": ir_t, "vis_t": vis_t, "controls": controls}


def real_entry(item: dict[str, object], rng: np.random.Generator) -> dict[str, object]:
    """A pool entry from a real degraded scene (named with the interpreter's default strength)."""
    ir, vis = load_pair(item["ir"], item["vis"])  # type: ignore[arg-type]
    ir_ref, vis_ref = load_pair(item["ir_ref"], item["vis_ref"])  # type: ignore[arg-type]
    images = (ir, vis, ir_ref, vis_ref)
    h, w = min(a.shape[0] for a in images), min(a.shape[1] for a in images)
    controls = np.zeros(len(CONTROL_NAMES), np.float32)
    controls[CONTROL_NAMES.index(item["control"])] = rng.uniform(0.5, 0.8)  # type: ignore[arg-type]
    return {"ir": ir[:h, :w], "vis": vis[:h, :w], "ir_t": ir_ref[:h, :w], "vis_t": vis_ref[:h, :w],
            "controls": controls}


def crop(entry: dict[str, object], rng: np.random.Generator, size: int = CROP) -> dict[str, np.ndarray]:
    """A random square crop (flipped at random) of a pool entry."""
    h, w = entry["ir"].shape  # type: ignore[union-attr]
    r, c = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    flip = rng.random() < 0.5
    out = {}
    for key in ("ir", "vis", "ir_t", "vis_t"):
        x = entry[key][r : r + size, c : c + size]  # type: ignore[index]
        out[key] = np.ascontiguousarray(x[:, ::-1] if flip else x)
    return out


def preferences(rng: np.random.Generator) -> np.ndarray:
    """thermal_emphasis, detail_emphasis: each zero half the time, else uniform in [-1, 1]."""
    return np.array([0.0 if rng.random() < 0.5 else rng.uniform(-1, 1) for _ in range(2)], np.float32)


# --- loss -----------------------------------------------------------------------------------


def _luma(rgb):  # type: ignore[no-untyped-def]
    return 0.299 * rgb[:, 0:1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3]


def _sobel(x):  # type: ignore[no-untyped-def]
    """|Sobel x| + |Sobel y| by slicing (much faster on CPU than a 1-channel conv)."""
    import torch.nn.functional as F

    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    sx = p[..., :, 2:] - p[..., :, :-2]
    gx = sx[..., :-2, :] + 2 * sx[..., 1:-1, :] + sx[..., 2:, :]
    sy = p[..., 2:, :] - p[..., :-2, :]
    gy = sy[..., :, :-2] + 2 * sy[..., :, 1:-1] + sy[..., :, 2:]
    return gx.abs() + gy.abs()


def _ssim(x, y):  # type: ignore[no-untyped-def]
    """Mean SSIM with a 7x7 uniform window (as the metrics), on [0, 1] data."""
    import torch.nn.functional as F

    def blur(t):  # type: ignore[no-untyped-def]
        return F.avg_pool2d(t, 7, stride=1)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean()


def fusion_loss(fused, ir_t, vis_t, prefs):  # type: ignore[no-untyped-def]
    """The paper's intensity + SSIM + gradient loss with preference-shaped targets."""
    import torch

    vis_y = _luma(vis_t)
    te, de = prefs[:, 0, None, None, None], prefs[:, 1, None, None, None]
    k = torch.where(te < 0, te, 0.5 * te)
    target_int = (torch.maximum(ir_t, vis_y) + k * torch.relu(ir_t - vis_y)).clamp(0, 1)
    target_grad = (1.0 + 0.5 * de) * torch.maximum(_sobel(ir_t), _sobel(vis_y))
    l_int = (fused - target_int).abs().mean()
    l_grad = (_sobel(fused) - target_grad).abs().mean()
    l_ssim = 1.0 - 0.5 * (_ssim(fused, ir_t) + _ssim(fused, vis_y))
    parts = {"int": float(l_int.detach()), "ssim": float(l_ssim.detach()), "grad": float(l_grad.detach())}
    return 8.0 * l_int + l_ssim + 10.0 * l_grad, parts


# --- loop -----------------------------------------------------------------------------------


def to_batch(crops: list[dict[str, np.ndarray]], controls: np.ndarray):  # type: ignore[no-untyped-def]
    import torch

    def stack(key: str, rgb: bool):  # type: ignore[no-untyped-def]
        arr = np.stack([c[key] for c in crops])
        tensor = torch.from_numpy(arr)
        return tensor.permute(0, 3, 1, 2).contiguous() if rgb else tensor[:, None]

    return {"ir": stack("ir", False), "vis": stack("vis", True), "ir_clean": stack("ir_t", False),
            "vis_clean": stack("vis_t", True), "controls": torch.from_numpy(controls),
            "prompt": [""] * len(crops)}


def fixed_val_batches(pairs, n_batches: int, seed: int = 123):  # type: ignore[no-untyped-def]
    """Deterministic validation batches from held-out pairs (same degradations every time)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(n_batches):
        crops, controls = [], []
        for _ in range(BATCH):
            entry = make_entry(pairs[rng.integers(len(pairs))], rng)
            crops.append(crop(entry, rng))
            controls.append(np.concatenate([entry["controls"][: len(DEGRADATIONS)], preferences(rng)]))
        batches.append(to_batch(crops, np.stack(controls)))
    return batches


def lr_at(progress: float, peak: float) -> float:
    """Linear warm-up over 2 % of the budget, then cosine decay to 2 % of the peak."""
    if progress < 0.02:
        return peak * max(progress / 0.02, 0.05)
    t = min((progress - 0.02) / 0.98, 1.0)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def main(argv: list[str] | None = None) -> int:
    import torch

    from napari_textif.engines.lite import LiteEngine, save_weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the ivif folder")
    parser.add_argument("--until", required=True, help="UTC time HH:MM to stop at")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=float, default=300.0, help="seconds between validations")
    parser.add_argument("--init", type=Path, default=None, help="start from these lite weights")
    parser.add_argument("--crop", type=int, default=CROP)
    parser.add_argument("--refresh", type=int, default=REFRESH_PER_STEP, help="pool pairs renewed per step")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    log = open(args.out / "train_log.jsonl", "a", buffering=1)

    parts = split(args.data)
    print(f"train pairs {len(parts['train'])}, val pairs {len(parts['val'])}", flush=True)
    train = [load_pair(ir, vi) for _, ir, vi in parts["train"]]
    train = [p for p in train if min(p[0].shape) >= CROP]
    val = [load_pair(ir, vi) for _, ir, vi in parts["val"]]
    val = [p for p in val if min(p[0].shape) >= CROP]
    real = real_degraded(args.data, "train")
    (args.out / "split.json").write_text(json.dumps(
        {k: [n for n, _, _ in v] for k, v in parts.items()}, indent=1))
    print(f"loaded; real degraded training items {len(real)}", flush=True)

    def new_entry() -> dict[str, object]:
        if real and rng.random() < 0.1:
            return real_entry(real[rng.integers(len(real))], rng)
        return make_entry(train[rng.integers(len(train))], rng)

    pool = [new_entry() for _ in range(POOL)]
    val_batches = fixed_val_batches(val, 12)
    engine = LiteEngine()
    model = engine.create_model()
    if args.init is not None:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(args.init)))
    model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)

    today = dt.datetime.now(dt.timezone.utc)
    hh, mm = (int(v) for v in args.until.split(":"))
    end = today.replace(hour=hh, minute=mm, second=0, microsecond=0).timestamp()
    start = time.time()
    step, best, last_val = 0, float("inf"), start
    running: list[float] = []

    def validate() -> float:
        model.eval()
        with torch.no_grad():
            losses = [float(fusion_loss(engine.train_forward(model, b), b["ir_clean"], b["vis_clean"],
                                        b["controls"][:, len(DEGRADATIONS):])[0]) for b in val_batches]
        model.train()
        return float(np.mean(losses))

    while time.time() < end:
        progress = (time.time() - start) / max(end - start, 1.0)
        for group in opt.param_groups:
            group["lr"] = lr_at(progress, args.lr)
        for _ in range(args.refresh):
            pool[rng.integers(POOL)] = new_entry()
        crops, controls = [], []
        for _ in range(BATCH):
            entry = pool[rng.integers(POOL)]
            crops.append(crop(entry, rng, args.crop))
            controls.append(np.concatenate([entry["controls"][: len(DEGRADATIONS)], preferences(rng)]))
        batch = to_batch(crops, np.stack(controls))
        fused = engine.train_forward(model, batch)
        loss, parts_ = fusion_loss(fused, batch["ir_clean"], batch["vis_clean"],
                                   batch["controls"][:, len(DEGRADATIONS):])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        running.append(float(loss))
        if time.time() - last_val > args.every or time.time() >= end:
            last_val = time.time()
            v = validate()
            record = {"step": step, "elapsed_s": round(time.time() - start),
                      "train_loss": float(np.mean(running)), "val_loss": v,
                      "lr": lr_at(progress, args.lr), **parts_}
            running = []
            log.write(json.dumps(record) + "\n")
            print(record, flush=True)
            save_weights(model, args.out / "last.safetensors", training={"steps": step})
            if v < best:
                best = v
                save_weights(model, args.out / "best.safetensors", training={"steps": step, "val_loss": v})
    print(f"done: {step} steps, best val loss {best:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
