"""Restoration benchmark on degradations the engines were not made on (issue 13, part 1).

Two sections:

1. **Foreign simulator.** Held-out pairs (the split of ``benchmarks/heldout.py``:
   every 5th pair of RoadScene, LLVIP and VIFB and the whole M3SVD sequence
   0111_1753; ``--pairs`` per set, spread over the set) are degraded by :mod:`foreign_degrade` (written
   independently of the training simulator and used for evaluation only) with each of
   the nine kinds at each severity. With the engine (default ``lite`` through
   :func:`napari_textif.fuse`, with the weights of ``--weights`` if given, else the
   shipped ones):

   - ``clean``: neutral fusion (prompt ``""``) of the undegraded pair;
   - ``neutral``: neutral fusion of the degraded pair;
   - ``prompted``: fusion of the degraded pair with the fixed phrase of :data:`PROMPTS`;
   - ``baseline``: the degraded image restored by a library method (:func:`baseline_restore`),
     then neutral fusion.

   Scores, on gray in [0, 1] (BT.601 luma of the fused RGB):
   normalised SSIM gain ``(SSIM(x, clean) - SSIM(neutral, clean)) / (1 - SSIM(neutral, clean))``
   and PSNR gain ``PSNR(x, clean) - PSNR(neutral, clean)`` for ``x`` = prompted (engine) and
   ``x`` = baseline, each the mean over pairs of the per-pair value. SSIM is
   ``skimage.metrics.structural_similarity(data_range=1)``.
2. **Real scenes** of ``degraded_pairs/val`` (never trained on): the same gains where
   ``clean`` is the neutral fusion of the restored references (``IR_enhanced``,
   ``VI_enhanced``), per kind, reported separately; ``--contact-sheet`` writes every real
   scene (infrared, visible, neutral, prompted, reference fusion) to one image.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/restoration.py --data ../shared/data/ivif --pairs 3 \\
        --json local/restoration.json --contact-sheet docs/images/restoration_real_contact.jpg
    OMP_NUM_THREADS=1 python benchmarks/restoration.py --data ../shared/data/ivif --pairs 3 \\
        --weights lite_v3.safetensors --json local/restoration_v3.json

Nothing measured here may be used to choose or tune anything (see :mod:`foreign_degrade`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foreign_degrade import KINDS, SEVERITIES, degrade
from heldout import by_set, load_pair, load_real, real_degraded, split

# The plain-words prompt per kind of the other lite benchmarks (the same phrase at every severity).
from lite_quality import PROMPTS

#: What the baseline does per kind (printed with the tables).
BASELINE_METHODS = {
    "vis_low_light": "skimage adjust_gamma (mean luma -> 0.45), then denoise_wavelet (BayesShrink)",
    "vis_overexposure": "skimage adjust_gamma (mean luma -> 0.45, gamma >= 1)",
    "vis_noise": "skimage denoise_nl_means, h = 0.8 * estimate_sigma",
    "vis_haze": "napari_textif.restoration.dehaze per channel (scikit-image has no dehazing)",
    "vis_rain": "napari_textif.restoration.derain per channel (scikit-image has no deraining)",
    "vis_blur": "skimage richardson_lucy, Gaussian PSF sigma 1.5, 20 iterations",
    "ir_low_contrast": "skimage rescale_intensity, 1st-99th percentile stretch",
    "ir_noise": "skimage denoise_nl_means, h = 0.8 * estimate_sigma",
    "ir_stripe_noise": "column then row median offset removal (numpy)",
}

#: Floor of ``1 - SSIM(neutral, clean)`` in the normalised gain (avoids 0/0 on near-clean cases).
GAIN_FLOOR = 1e-3


# --------------------------------------------------------------------------- scores


def gray(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB image (gray passes through), float64 clipped to [0, 1].

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, 3)``.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float64.
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim == 3:
        data = data[..., 0] * 0.299 + data[..., 1] * 0.587 + data[..., 2] * 0.114
    return np.clip(data, 0.0, 1.0)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of the grays of ``a`` and ``b`` (``structural_similarity``, ``data_range=1``)."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(gray(a), gray(b), data_range=1.0))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of the grays of ``a`` and ``b`` (peak 1; capped at 100 dB for identical images)."""
    mse = float(np.mean((gray(a) - gray(b)) ** 2))
    return 100.0 if mse <= 1e-10 else float(10.0 * np.log10(1.0 / mse))


def normalized_ssim_gain(ssim_x: float, ssim_neutral: float) -> float:
    """``(SSIM(x, clean) - SSIM(neutral, clean)) / (1 - SSIM(neutral, clean))``.

    Parameters
    ----------
    ssim_x : float
        SSIM of the candidate (prompted or baseline) to the clean fusion.
    ssim_neutral : float
        SSIM of the neutral fusion of the degraded pair to the clean fusion.

    Returns
    -------
    float
        1: the candidate recovers all the structure lost; 0: no better than saying
        nothing; negative: worse. The denominator is floored at :data:`GAIN_FLOOR`.

    Examples
    --------
    >>> normalized_ssim_gain(0.9, 0.8)
    0.5
    """
    return float((ssim_x - ssim_neutral) / max(1.0 - ssim_neutral, GAIN_FLOOR))


def gains(candidate: np.ndarray, neutral: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """Normalised SSIM gain and PSNR gain of ``candidate`` over ``neutral``, both against ``clean``.

    Parameters
    ----------
    candidate, neutral, clean : numpy.ndarray
        Fused images (RGB or gray) of one size, in [0, 1].

    Returns
    -------
    dict
        ``ssim_gain`` (normalised), ``psnr_gain`` (dB), ``chroma_gain`` (how much closer to
        ``clean``'s colour, in 1/255), and the raw ``ssim``/``psnr`` of both.
    """
    s_c, s_n = ssim(candidate, clean), ssim(neutral, clean)
    p_c, p_n = psnr(candidate, clean), psnr(neutral, clean)
    return {"ssim_gain": normalized_ssim_gain(s_c, s_n), "psnr_gain": p_c - p_n,
            "chroma_gain": chroma_error(neutral, clean) - chroma_error(candidate, clean),
            "ssim": s_c, "ssim_neutral": s_n, "psnr": p_c, "psnr_neutral": p_n}


def chroma_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance between the BT.601 chroma (Cb, Cr) of ``a`` and ``b``, in 1/255 (0 for grays).

    The SSIM and PSNR above see luminance only; this sees the colour a step restores or loses.

    Examples
    --------
    >>> chroma_error(np.full((2, 2, 3), 0.5), np.full((2, 2, 3), 0.5))
    0.0
    """
    from napari_textif.imaging import rgb_to_ycbcr

    if np.ndim(a) != 3 or np.ndim(b) != 3:
        return 0.0
    a_cc, b_cc = (rgb_to_ycbcr(np.asarray(x, np.float32))[..., 1:] for x in (a, b))
    return float(np.linalg.norm(a_cc - b_cc, axis=-1).mean() * 255.0)


# --------------------------------------------------------------------------- baseline


def _luma_mean(image: np.ndarray) -> float:
    return float(gray(image).mean())


def _gamma_to(image: np.ndarray, target: float, lo: float, hi: float) -> np.ndarray:
    from skimage import exposure

    mean = min(max(_luma_mean(image), 1e-3), 0.999)
    g = float(np.clip(np.log(target) / np.log(mean), lo, hi))
    return exposure.adjust_gamma(np.clip(image, 0, 1), g)


def _nl_means(image: np.ndarray) -> np.ndarray:
    from skimage.restoration import denoise_nl_means, estimate_sigma

    axis = -1 if image.ndim == 3 else None
    sigma = float(estimate_sigma(image, channel_axis=axis, average_sigmas=True))
    return denoise_nl_means(image, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5,
                            patch_distance=6, channel_axis=axis)


def _per_channel(image: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    if image.ndim == 2:
        return fn(image)
    return np.stack([fn(np.ascontiguousarray(image[..., c])) for c in range(image.shape[-1])], axis=-1)


def _destripe(image: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    out = image.astype(np.float64)
    columns = np.median(out - ndimage.gaussian_filter1d(out, 3.0, axis=1), axis=0)
    out = out - columns[None, :]
    rows = np.median(out - ndimage.gaussian_filter1d(out, 3.0, axis=0), axis=1)
    return out - rows[:, None]


def baseline_restore(image: np.ndarray, kind: str) -> np.ndarray:
    """Restore the degraded image of ``kind`` with the library method of :data:`BASELINE_METHODS`.

    Parameters
    ----------
    image : numpy.ndarray
        The degraded image (visible RGB or infrared gray), float32 in [0, 1].
    kind : str
        A key of :data:`foreign_degrade.KINDS`.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], same shape. Parameters are fixed a priori (never tuned on
        this benchmark).
    """
    from skimage import exposure, restoration

    from napari_textif import restoration as ours

    x = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    if kind == "vis_low_light":
        lifted = _gamma_to(x, 0.45, 0.2, 1.0)
        out = restoration.denoise_wavelet(lifted, channel_axis=-1 if x.ndim == 3 else None,
                                          method="BayesShrink", mode="soft", rescale_sigma=True)
    elif kind == "vis_overexposure":
        out = _gamma_to(x, 0.45, 1.0, 4.0)
    elif kind in ("vis_noise", "ir_noise"):
        out = _nl_means(x)
    elif kind == "vis_haze":
        out = _per_channel(x.astype(np.float32), lambda c: ours.dehaze(c, 1.0))
    elif kind == "vis_rain":
        out = _per_channel(x.astype(np.float32), lambda c: ours.derain(c, 1.0))
    elif kind == "vis_blur":
        r = 5
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        psf = np.exp(-(xx**2 + yy**2) / (2 * 1.5**2))
        out = _per_channel(x, lambda c: restoration.richardson_lucy(c, psf / psf.sum(), num_iter=20))
    elif kind == "ir_low_contrast":
        lo, hi = np.percentile(x, (1, 99))
        band = (float(lo), float(max(hi, lo + 1e-3)))
        out = exposure.rescale_intensity(x, in_range=band, out_range=(0.0, 1.0))
    elif kind == "ir_stripe_noise":
        out = _destripe(x)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return np.clip(out, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------- runs


def held_out_pairs(data: Path, per_set: int) -> list[tuple[str, Path, Path]]:
    """Up to ``per_set`` held-out pairs of each set (RoadScene, LLVIP, M3SVD, VIFB), spread over it.

    Only the held-out split: the foreign simulator is for evaluation, never for a choice,
    so it is not offered on the validation pairs.

    Parameters
    ----------
    data : pathlib.Path
        The ``ivif`` folder.
    per_set : int
        Pairs per set; 0 takes all.

    Returns
    -------
    list of tuple
        ``(name, ir_path, vis_path)``.
    """
    chosen = []
    for items in by_set(split(data)["val"]).values():
        if per_set <= 0 or per_set >= len(items):
            chosen += items
        else:
            idx = np.linspace(0, len(items) - 1, per_set).round().astype(int)
            chosen += [items[i] for i in idx]
    return chosen


def make_fuser(engine: str, weights: str | None = None,
               ) -> Callable[[np.ndarray, np.ndarray, str], np.ndarray]:
    """``fn(ir, vis, prompt) -> fused image`` with ``engine`` on the CPU.

    Parameters
    ----------
    engine : str
        An engine name.
    weights : str, optional
        A weights file, passed as ``options={"checkpoint": weights}`` (default: the engine's own).
    """
    from napari_textif import fuse

    options = {"checkpoint": weights} if weights else {}

    def run(ir: np.ndarray, vis: np.ndarray, prompt: str = "") -> np.ndarray:
        fused = fuse(ir, vis, prompt, engine=engine, device="cpu", options=options).image
        return np.asarray(fused, dtype=np.float32)

    return run


def _mean_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]} if rows else {}


def _standard_error(values: list[float]) -> float:
    """Standard error of the mean over pairs (:func:`scipy.stats.sem`; 0 for fewer than two values)."""
    from scipy import stats

    return float(stats.sem(values)) if len(values) > 1 else 0.0


def spread(engine: list[dict[str, float]], baseline: list[dict[str, float]],
           key: str = "ssim_gain") -> dict[str, float]:
    """How far the pairs agree: the standard error of the engine's mean ``key``, and the mean
    and standard error of the per-pair difference engine - baseline (paired, so the pairs'
    own difficulty cancels).

    Examples
    --------
    >>> out = spread([{"ssim_gain": 0.5}, {"ssim_gain": 0.7}], [{"ssim_gain": 0.4}, {"ssim_gain": 0.5}])
    >>> round(out["difference"], 3), round(out["difference_se"], 3)
    (0.15, 0.05)
    """
    gain = [r[key] for r in engine]
    difference = [e[key] - b[key] for e, b in zip(engine, baseline, strict=True)]
    return {"engine_se": _standard_error(gain), "difference": float(np.mean(difference)),
            "difference_se": _standard_error(difference)}


def foreign(pairs: list[tuple[str, Path, Path]], kinds: list[str], severities: list[str],
            fusion: Callable[..., np.ndarray], seed: int, log: Callable[[str], None] = print,
            ) -> dict[str, dict[str, dict[str, object]]]:
    """The foreign-simulator section: ``{kind: {severity: {"engine": ..., "baseline": ..., "n": ...}}}``.

    Parameters
    ----------
    pairs : list of tuple
        ``(name, ir_path, vis_path)`` from :func:`held_out_pairs`.
    kinds, severities : list of str
        What to run.
    fusion : callable
        From :func:`make_fuser`.
    seed : int
        Base seed; each (pair, kind, severity) gets its own generator from it.
    log : callable
        Progress lines.

    Returns
    -------
    dict
        Mean gains per kind and severity for the engine (prompted) and the baseline.
    """
    per: dict[str, dict[str, dict[str, list[dict[str, float]]]]] = {
        k: {s: {"engine": [], "baseline": []} for s in severities} for k in kinds}
    for p, (name, ir_path, vis_path) in enumerate(pairs):
        t0 = time.time()
        ir, vis = load_pair(ir_path, vis_path)
        clean = fusion(ir, vis, "")
        for k in kinds:
            camera = KINDS[k][0]
            for s in severities:
                rng = np.random.default_rng([seed, p, list(KINDS).index(k), SEVERITIES.index(s)])
                ir_d, vis_d = degrade(ir, vis, k, s, rng)
                neutral = fusion(ir_d, vis_d, "")
                prompted = fusion(ir_d, vis_d, PROMPTS[k])
                if camera == "ir":
                    restored = fusion(baseline_restore(ir_d, k), vis_d, "")
                else:
                    restored = fusion(ir_d, baseline_restore(vis_d, k), "")
                per[k][s]["engine"].append(gains(prompted, neutral, clean))
                per[k][s]["baseline"].append(gains(restored, neutral, clean))
        log(f"  [{p + 1}/{len(pairs)}] {name} {ir.shape[1]}x{ir.shape[0]} {time.time() - t0:.1f} s")
    return {k: {s: {"n": len(v["engine"]), "engine": _mean_rows(v["engine"]),
                    "baseline": _mean_rows(v["baseline"]), "spread": spread(v["engine"], v["baseline"])}
                for s, v in sev.items()}
            for k, sev in per.items()}


def absent(pairs: list[tuple[str, Path, Path]], kinds: list[str], fusion: Callable[..., np.ndarray],
           ) -> dict[str, dict[str, float]]:
    """Naming a degradation the images do not have: SSIM(prompted, neutral) on the clean pairs.

    Returns
    -------
    dict
        ``{kind: {"mean": ..., "min": ..., "n": ...}}`` over ``pairs`` (target: >= 0.95).
    """
    per: dict[str, list[float]] = {k: [] for k in kinds}
    for _, ir_path, vis_path in pairs:
        ir, vis = load_pair(ir_path, vis_path)
        neutral = fusion(ir, vis, "")
        for k in kinds:
            per[k].append(ssim(fusion(ir, vis, PROMPTS[k]), neutral))
    return {k: {"mean": float(np.mean(v)), "min": float(np.min(v)), "n": len(v),
                "below": int(np.sum(np.asarray(v) < 0.95))} for k, v in per.items()}


def real(data: Path, fusion: Callable[..., np.ndarray], sheet: list | None = None,
         ) -> dict[str, dict[str, object]]:
    """The real-scene section on ``degraded_pairs/val``: mean gains per kind.

    Parameters
    ----------
    data : pathlib.Path
        The ``ivif`` folder.
    fusion : callable
        From :func:`make_fuser`.
    sheet : list, optional
        If given, ``(label, [ir, vis, neutral, prompted, reference])`` is appended per scene.

    Returns
    -------
    dict
        ``{kind: {"n", "scenes", "engine": {...}, "baseline": {...}}}``.
    """
    per: dict[str, dict[str, list]] = {}
    for item in real_degraded(data, "val"):
        kind = str(item["control"])
        ir, vis, ir_r, vis_r = load_real(item)
        clean = fusion(ir_r, vis_r, "")
        neutral = fusion(ir, vis, "")
        prompted = fusion(ir, vis, PROMPTS[kind])
        if kind.startswith("ir"):
            restored = fusion(baseline_restore(ir, kind), vis, "")
        else:
            restored = fusion(ir, baseline_restore(vis, kind), "")
        row = per.setdefault(kind, {"engine": [], "baseline": [], "scenes": []})
        row["engine"].append(gains(prompted, neutral, clean))
        row["baseline"].append(gains(restored, neutral, clean))
        row["scenes"].append(str(item["scene"]))
        if sheet is not None:
            sheet.append((f"{item['scene']}  {kind}", [ir, vis, neutral, prompted, clean]))
    order = [k for k in KINDS if k in per]
    return {k: {"n": len(per[k]["scenes"]), "scenes": per[k]["scenes"],
                "engine": _mean_rows(per[k]["engine"]), "baseline": _mean_rows(per[k]["baseline"])}
            for k in order}


# --------------------------------------------------------------------------- output


def foreign_tables(result: dict[str, dict[str, dict[str, object]]]) -> str:
    """Markdown tables of the foreign section: normalised SSIM, PSNR and chroma gains."""
    severities = [s for s in SEVERITIES if any(s in v for v in result.values())]
    lines = []
    for metric, title, fmt in (("ssim_gain", "Normalised SSIM gain", "{:+.2f}"),
                               ("psnr_gain", "PSNR gain (dB)", "{:+.2f}"),
                               ("chroma_gain", "Chroma gain (1/255; a gray pair counts 0)", "{:+.2f}")):
        lines += [f"**{title}** (engine = prompted fusion; baseline = library restore + neutral fusion)", ""]
        head = "| kind | n | " + " | ".join(f"{s} engine | {s} baseline" for s in severities) + " |"
        lines += [head, "|---|---|" + "---|---|" * len(severities)]
        for kind, sev in result.items():
            n = next(iter(sev.values()))["n"]
            cells = []
            for s in severities:
                e, b = sev[s]["engine"], sev[s]["baseline"]  # type: ignore[index]
                cells += [fmt.format(e[metric]), fmt.format(b[metric])]  # type: ignore[index]
            lines.append(f"| {kind} | {n} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["**How far the pairs agree** (normalised SSIM gain: engine mean +- its standard error "
              "over pairs; engine - baseline, paired, mean +- standard error)", ""]
    lines += ["| kind | " + " | ".join(f"{s} engine | {s} engine - baseline" for s in severities) + " |",
              "|---|" + "---|---|" * len(severities)]
    for kind, sev in result.items():
        cells = []
        for s in severities:
            e, d = sev[s]["engine"], sev[s]["spread"]  # type: ignore[index]
            cells += [f"{e['ssim_gain']:+.2f} +- {d['engine_se']:.2f}",  # type: ignore[index]
                      f"{d['difference']:+.2f} +- {d['difference_se']:.2f}"]  # type: ignore[index]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += ["**SSIM to the clean fusion** (neutral -> engine / baseline)", ""]
    lines += ["| kind | " + " | ".join(severities) + " |", "|---|" + "---|" * len(severities)]
    for kind, sev in result.items():
        cells = []
        for s in severities:
            e, b = sev[s]["engine"], sev[s]["baseline"]  # type: ignore[index]
            cells.append(f"{e['ssim_neutral']:.3f} -> {e['ssim']:.3f} / {b['ssim']:.3f}")  # type: ignore[index]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def real_table(result: dict[str, dict[str, object]]) -> str:
    """Markdown table of the real-scene section."""
    lines = ["| kind | scenes | SSIM neutral | norm. SSIM gain engine | baseline | PSNR neutral (dB) "
             "| PSNR gain engine (dB) | baseline | chroma gain engine (1/255) | baseline |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for kind, row in result.items():
        e, b = row["engine"], row["baseline"]
        lines.append(f"| {kind} | {row['n']} | {e['ssim_neutral']:.3f} | {e['ssim_gain']:+.2f} | "  # type: ignore[index]
                     f"{b['ssim_gain']:+.2f} | {e['psnr_neutral']:.2f} | {e['psnr_gain']:+.2f} | "  # type: ignore[index]
                     f"{b['psnr_gain']:+.2f} | {e['chroma_gain']:+.2f} | {b['chroma_gain']:+.2f} |")  # type: ignore[index]
    return "\n".join(lines) + "\n"


def contact_sheet(rows: list, path: Path, height: int = 100) -> None:
    """Write a grid (one row per real scene: infrared, visible, neutral, prompted, reference fusion).

    Parameters
    ----------
    rows : list
        ``(label, [images])`` from :func:`real`.
    path : pathlib.Path
        Output file; JPEG (quality 72) for ``.jpg``/``.jpeg``, else PNG.
    height : int
        Height of each thumbnail in pixels.
    """
    from PIL import Image, ImageDraw

    columns = ["infrared", "visible", "neutral", "prompted", "fusion of references"]
    label_h, pad = 14, 4
    thumbs = []
    for label, images in rows:
        tiles = []
        for image in images:
            data = (np.clip(np.asarray(image, dtype=np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
            pil = Image.fromarray(data).convert("RGB")
            pil = pil.resize((max(1, round(pil.width * height / pil.height)), height), Image.BILINEAR)
            tiles.append(pil)
        thumbs.append((label, tiles))
    width = max(sum(t.width for t in tiles) + pad * (len(tiles) - 1) for _, tiles in thumbs)
    total = label_h + sum(label_h + height + pad for _ in thumbs)
    sheet = Image.new("RGB", (width, total), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for name, tile in zip(columns, thumbs[0][1]):
        draw.text((x + 2, 1), name, fill="black")
        x += tile.width + pad
    y = label_h
    for label, tiles in thumbs:
        draw.text((2, y + 1), label, fill="black")
        y += label_h
        x = 0
        for tile in tiles:
            sheet.paste(tile, (x, y))
            x += tile.width + pad
        y += height + pad
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        sheet.save(path, quality=72, optimize=True)
    else:
        sheet.save(path)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description="restoration on foreign degradations and real scenes")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/ivif",
                        help="the ivif folder (holds roadscene/, llvip/, m3svd/, vifb/, degraded_pairs/)")
    parser.add_argument("--pairs", type=int, default=10,
                        help="held-out pairs per set (0: all); 10 (34 pairs): about 8 minutes on one core")
    parser.add_argument("--engine", default="lite")
    parser.add_argument("--weights", default=None,
                        help="a weights file for the engine (options checkpoint; default: shipped)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds")
    parser.add_argument("--severities", default=",".join(SEVERITIES))
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--parts", default="foreign,absent,real",
                        help="comma-separated: foreign, absent (named on clean pairs), real")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--contact-sheet", type=Path, default=None, help="PNG/JPEG grid of the real scenes")
    args = parser.parse_args(argv)
    if args.weights and not Path(args.weights).is_file():
        parser.error(f"weights not found: {args.weights}")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - the classic engine needs no torch
        pass
    t0 = time.time()
    fusion = make_fuser(args.engine, args.weights)
    parts = args.parts.split(",")
    report: dict[str, object] = {"engine": args.engine, "weights": args.weights,
                                 "prompts": PROMPTS, "baseline": BASELINE_METHODS, "seed": args.seed}
    if "foreign" in parts:
        pairs = held_out_pairs(args.data, args.pairs)
        kinds = [k for k in args.kinds.split(",") if k]
        severities = [s for s in args.severities.split(",") if s]
        print(f"foreign simulator: {len(pairs)} held-out pairs, {len(kinds)} kinds x {len(severities)} "
              f"severities, engine {args.engine}, weights {args.weights or 'shipped'}")
        report["pairs"] = [name for name, _, _ in pairs]
        report["foreign"] = result = foreign(pairs, kinds, severities, fusion, args.seed)
        print()
        print(foreign_tables(result))
    if "absent" in parts:
        pairs = held_out_pairs(args.data, args.pairs)
        kinds = [k for k in args.kinds.split(",") if k]
        report["absent"] = found = absent(pairs, kinds, fusion)
        print(f"named but absent: SSIM(prompted, neutral) on {len(pairs)} clean held-out pairs "
              "(target >= 0.95)\n")
        print("| kind | mean | min | pairs below 0.95 |\n|---|---|---|---|")
        for kind, row in found.items():
            print(f"| {kind} | {row['mean']:.3f} | {row['min']:.3f} | {row['below']} |")
        print()
    if "real" in parts:
        sheet: list | None = [] if args.contact_sheet else None
        report["real"] = result_real = real(args.data, fusion, sheet)
        print("real degraded_pairs/val scenes (clean = neutral fusion of the restored references)\n")
        print(real_table(result_real))
        if sheet:
            contact_sheet(sheet, args.contact_sheet)
            print(f"contact sheet: {args.contact_sheet} ({len(sheet)} scenes)")
    print("baseline methods:")
    for kind, method in BASELINE_METHODS.items():
        print(f"  {kind:<18} {method}")
    report["seconds"] = round(time.time() - t0, 1)
    print(f"\n{report['seconds']} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
